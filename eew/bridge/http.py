"""HTTP(S) server of the CAP feed (stdlib :class:`~http.server.ThreadingHTTPServer`).

Routes: ``GET``/``HEAD`` ``/cap/feed.atom`` (Atom index), ``/cap/SENDER/IDENTIFIER.xml``
(one CAP message, immutable), ``/health`` (JSON, 200 or 503). Every answer has a
strong ``ETag``; ``If-None-Match`` gives 304, so a gateway polling every second costs
a few hundred bytes while nothing changes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from eew.bridge.capfeed import ATOM_MIME, CAP_MIME, CapFeed, etag_of
from eew.bridge.core import BridgeError, SinkStatistics, TlsOptions
from eew.model.alert import Alert

if TYPE_CHECKING:
    from eew.bus.wire import BusMessage

logger = logging.getLogger(__name__)

FEED_PATH = "/cap/feed.atom"


def _handler(feed: CapFeed, base_url: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "eew-cap-feed"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("cap feed %s: " + format, self.client_address[0], *args)

        def _answer(self, status: int, body: bytes, ctype: str, cache: str, etag: str) -> None:
            if status == HTTPStatus.OK and etag in self.headers.get("If-None-Match", ""):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.send_header("Cache-Control", cache)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", cache)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == FEED_PATH:
                body = feed.atom(base_url())
                self._answer(
                    HTTPStatus.OK, body, f"{ATOM_MIME}; charset=utf-8", "no-cache", etag_of(body)
                )
            elif path == "/health":
                ok, details = feed.health()
                body = json.dumps(details).encode("utf-8")
                status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
                self._answer(status, body, "application/json", "no-store", etag_of(body))
            elif (entry := feed.message(path)) is not None:
                self._answer(
                    HTTPStatus.OK,
                    entry.xml,
                    f"{CAP_MIME}; charset=utf-8",
                    "public, max-age=86400, immutable",
                    entry.etag,
                )
            else:
                body = b"not found\n"
                self._answer(HTTPStatus.NOT_FOUND, body, "text/plain", "no-store", etag_of(body))

        do_HEAD = do_GET  # noqa: N815 (the stdlib name)

    return Handler


class CapSink:
    """The CAP side of ``eew bridge cap``: a :class:`CapFeed` served over HTTP(S).

    Parameters
    ----------
    feed : CapFeed
        The messages.
    host, port : str, int
        Where to listen (port 0: a free port, see :attr:`port`).
    tls : TlsOptions
        HTTPS (``cert_file`` required); with ``ca_file``, client certificates required.
    public_url : str, optional
        Base of the absolute URLs in the Atom index (behind a proxy); default
        ``http(s)://HOST:PORT``.
    """

    def __init__(
        self,
        feed: CapFeed,
        host: str,
        port: int,
        *,
        tls: TlsOptions | None = None,
        public_url: str | None = None,
    ) -> None:
        tls = tls or TlsOptions()
        self.feed = feed
        context = tls.server_context() if tls.enabled else None
        try:
            server = ThreadingHTTPServer((host, port), _handler(feed, lambda: self.base_url))
        except OSError as exc:
            raise BridgeError(f"cap feed: cannot listen on {host}:{port}: {exc}") from exc
        server.daemon_threads = True
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = int(server.server_address[1])
        scheme = "https" if context is not None else "http"
        self.base_url = (public_url or f"{scheme}://{host}:{self.port}").rstrip("/")
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="cap-feed-http"
        )
        self._thread.daemon = True
        self._thread.start()
        logger.info("cap feed: serving %s%s", self.base_url, FEED_PATH)

    def deliver(self, message: BusMessage, alert: Alert) -> None:
        """Add ``alert`` to the feed as CAP."""
        self.feed.add(alert)

    def heartbeat(self, now_ns: int, feed_alive: bool) -> None:
        """Record the heartbeat (``/health``) and drop what is past retention."""
        self.feed.heartbeat(now_ns, feed_alive)

    def poll(self) -> None:
        """Raise if the server thread died."""
        if not self._thread.is_alive():
            raise BridgeError("cap feed: the HTTP server stopped")

    def statistics(self) -> SinkStatistics:
        """The feed's counters."""
        return self.feed.statistics()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
