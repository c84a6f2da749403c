"""STOMP bridge: ShakeAlert ``event_message`` XML on ActiveMQ topics, with heartbeats.

Every alert becomes one ShakeAlert XML message (:mod:`eew.formats.shakealert`; its
``category`` says whether it is a drill) on the data topic (default
``/topic/eew.sys.dm.data``, ShakeAlert's decision-module topic). Every heartbeat
interval an ``<hb>`` element goes to the heartbeat topic (default
``/topic/eew.sys.dm.hb``), in the form SeisComP's sceewlog and ShakeAlert's
``HBProducer`` use, with ``feed="up"`` or ``"down"`` for the state of the bus feed.

Delivery: each message asks for a STOMP RECEIPT. Until the broker confirms it,
the message is kept; after a lost connection the unconfirmed ones are sent again,
before anything newer (a consumer may see a version twice: ``event_id`` and
``version`` tell). While the broker is away new messages wait in a bounded outbox
(oldest dropped, counted). STOMP heart-beats (negotiated, both directions) tell a
dead connection; the bridge reconnects with back-off.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import stomp
from lxml import etree

from eew.bridge.core import Backoff, BridgeError, Outbox, SinkStatistics, TlsOptions
from eew.errors import DataError
from eew.formats.shakealert import alert_to_shakealert
from eew.model.alert import Alert
from eew.model.timeutil import ns_to_iso

if TYPE_CHECKING:
    from eew.bus.wire import BusMessage

logger = logging.getLogger(__name__)

DATA_TOPIC = "/topic/eew.sys.dm.data"
HEARTBEAT_TOPIC = "/topic/eew.sys.dm.hb"


@dataclass(frozen=True, slots=True)
class StompConfig:
    """Where and how the STOMP bridge connects.

    Attributes
    ----------
    host, port : str, int
        The broker's STOMP transport connector (ActiveMQ: ``stomp://`` 61613,
        ``stomp+ssl://`` 61612 by convention).
    topic, heartbeat_topic : str
        Destinations of the alerts and of the heartbeats.
    username, password : str, optional
        STOMP ``login`` and ``passcode``.
    tls : TlsOptions
        TLS to the broker (server certificate and host name verified).
    heartbeat_ms : int
        STOMP heart-beat period asked for in both directions [ms]; 0 disables.
    sender, originator : str
        ``sender`` and ``originator`` of the ``<hb>`` heartbeats.
    outbox_size : int
        Messages kept while the broker is away.
    connect_timeout_s : float
        TCP connect and STOMP CONNECTED wait [s].
    reconnect_initial_s, reconnect_max_s : float
        Reconnection back-off [s].
    """

    host: str
    port: int
    topic: str = DATA_TOPIC
    heartbeat_topic: str = HEARTBEAT_TOPIC
    username: str | None = None
    password: str | None = None
    tls: TlsOptions = field(default_factory=TlsOptions)
    heartbeat_ms: int = 10_000
    sender: str = "eew-bridge"
    originator: str = "eew"
    outbox_size: int = 1000
    connect_timeout_s: float = 5.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True, slots=True)
class _Frame:
    destination: str
    body: bytes
    headers: dict[str, str]


def heartbeat_xml(sender: str, originator: str, now_ns: int, feed_alive: bool) -> bytes:
    """The ``<hb>`` heartbeat element (UTF-8 XML)."""
    hb = etree.Element("hb")
    hb.set("originator", originator)
    hb.set("sender", sender)
    hb.set("timestamp", ns_to_iso(now_ns))
    hb.set("feed", "up" if feed_alive else "down")
    return bytes(etree.tostring(hb, xml_declaration=True, encoding="UTF-8"))


class StompSink:
    """The STOMP side of ``eew bridge stomp`` (see the module docstring).

    Parameters
    ----------
    config : StompConfig
        Broker, topics, TLS, heartbeats.
    """

    def __init__(self, config: StompConfig) -> None:
        self._config = config
        if config.tls.enabled:
            config.tls.client_context()  # fail now on unreadable certificate files
        self._lock = threading.Lock()
        self._unconfirmed: dict[str, _Frame] = {}  # receipt id -> frame, in send order
        self._outbox: Outbox[_Frame] = Outbox(config.outbox_size, "stomp bridge")
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self._conn: Any = None
        self._connected = threading.Event()
        self._lost = threading.Event()
        self._next_attempt = 0.0
        self._ever_connected = False
        self._sent = self._confirmed = self._dropped = self._beats = self._reconnects = 0
        self._where = f"{config.host}:{config.port}"

    # ---- connection -----------------------------------------------------------------------
    def _listener(self) -> Any:
        sink = self

        class Listener(stomp.ConnectionListener):  # type: ignore[misc]
            def on_receipt(self, frame: Any) -> None:
                sink._on_receipt(str(frame.headers.get("receipt-id", "")))

            def on_error(self, frame: Any) -> None:
                logger.error("stomp bridge: broker %s: ERROR %s", sink._where, frame.body)

            def on_heartbeat_timeout(self) -> None:
                logger.warning("stomp bridge: no heart-beat from %s", sink._where)

            def on_disconnected(self) -> None:
                sink._on_disconnected()

        return Listener()

    def _on_receipt(self, receipt_id: str) -> None:
        with self._lock:
            if self._unconfirmed.pop(receipt_id, None) is not None:
                self._confirmed += 1

    def _on_disconnected(self) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self._lost.set()

    def _connect(self) -> None:
        c = self._config
        host_port = (c.host, c.port)
        conn = stomp.Connection12(
            [host_port],
            heartbeats=(c.heartbeat_ms, c.heartbeat_ms),
            reconnect_attempts_max=1,
            timeout=c.connect_timeout_s,
        )
        if c.tls.enabled:
            conn.set_ssl(
                for_hosts=[host_port],
                ca_certs=c.tls.ca_file,
                cert_file=c.tls.cert_file,
                key_file=c.tls.key_file,
            )
        conn.set_listener("eew", self._listener())
        try:
            conn.connect(c.username, c.password, wait=True, headers={"client-id": c.sender})
        except (stomp.exception.StompException, OSError) as exc:
            self._close_conn(conn)
            delay = self._backoff.next_delay_s()
            self._next_attempt = time.monotonic() + delay
            logger.warning(
                "stomp bridge: cannot connect to %s (%s); next try in %.1f s",
                self._where,
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                delay,
            )
            return
        self._conn = conn
        self._backoff.reset()
        self._lost.clear()
        self._connected.set()
        if self._ever_connected:
            self._reconnects += 1
            logger.warning("stomp bridge: reconnected to %s", self._where)
        else:
            logger.info("stomp bridge: connected to %s (TLS %s)", self._where, c.tls.enabled)
        self._ever_connected = True

    @staticmethod
    def _close_conn(conn: Any) -> None:
        try:
            conn.disconnect()
        except (stomp.exception.StompException, OSError):
            logger.debug("stomp bridge: disconnect of a dead connection", exc_info=True)

    def _send(self, frame: _Frame) -> bool:
        """Send now; ``False`` (frame not sent) when the connection is gone."""
        receipt = uuid.uuid4().hex
        with self._lock:
            self._unconfirmed[receipt] = frame
        try:
            self._conn.send(
                frame.destination, frame.body, headers={**frame.headers, "receipt": receipt}
            )
        except (stomp.exception.StompException, OSError):
            with self._lock:
                self._unconfirmed.pop(receipt, None)
            self._on_disconnected()
            return False
        return True

    def _flush(self) -> None:
        while self._connected.is_set() and len(self._outbox):
            frame = self._outbox.peek()
            assert frame is not None
            if not self._send(frame):
                return
            self._outbox.pop()

    # ---- the Sink protocol --------------------------------------------------------------------
    def deliver(self, message: BusMessage, alert: Alert) -> None:
        """Send ``alert`` as ShakeAlert XML (queued while the broker is away)."""
        try:
            body = alert_to_shakealert(alert)
        except DataError as exc:
            self._dropped += 1
            logger.error("stomp bridge: %s v%d not sent: %s", alert.event_id, alert.version, exc)
            return
        frame = _Frame(
            self._config.topic,
            body,
            {
                "content-type": "application/xml",
                "eew_event_id": alert.event_id,
                "eew_version": str(alert.version),
                "eew_message_type": alert.message_type,
            },
        )
        self._sent += 1
        if self._connected.is_set() and not len(self._outbox) and self._send(frame):
            return
        self._outbox.put(frame)

    def heartbeat(self, now_ns: int, feed_alive: bool) -> None:
        """Send an ``<hb>`` now if connected (heartbeats are never queued)."""
        if not self._connected.is_set():
            return
        c = self._config
        body = heartbeat_xml(c.sender, c.originator, now_ns, feed_alive)
        try:
            self._conn.send(c.heartbeat_topic, body, content_type="application/xml")
        except (stomp.exception.StompException, OSError):
            self._on_disconnected()
            return
        self._beats += 1

    def poll(self) -> None:
        """Reconnect when due (unconfirmed messages first), then flush the outbox."""
        if self._lost.is_set():
            self._lost.clear()
            logger.warning("stomp bridge: connection to %s lost", self._where)
            if self._conn is not None:
                self._close_conn(self._conn)
                self._conn = None
            with self._lock:
                resend = list(self._unconfirmed.values())
                self._unconfirmed.clear()
            pending = [*resend]
            while len(self._outbox):
                pending.append(self._outbox.pop())
            for frame in pending:
                self._outbox.put(frame)
            self._next_attempt = time.monotonic() + self._backoff.next_delay_s()
        if not self._connected.is_set() and time.monotonic() >= self._next_attempt:
            self._connect()
        self._flush()

    def statistics(self) -> SinkStatistics:
        """A snapshot of the counters."""
        with self._lock:
            confirmed = self._confirmed
        connected, reconnects = self._connected.is_set(), self._reconnects
        return self._outbox.statistics(
            connected, self._sent, confirmed, self._dropped, self._beats, reconnects
        )

    def close(self, timeout_s: float = 2.0) -> None:
        """Wait up to ``timeout_s`` for outstanding receipts, then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self._connected.is_set() and time.monotonic() < deadline:
            self._flush()
            with self._lock:
                if not self._unconfirmed and not len(self._outbox):
                    break
            time.sleep(0.01)
        if self._conn is not None:
            self._close_conn(self._conn)
            self._conn = None
        self._connected.clear()
        n_left = len(self._outbox) + len(self._unconfirmed)
        if n_left:
            logger.error("stomp bridge: %d message(s) not confirmed at close", n_left)


def check_config(config: StompConfig) -> None:
    """Reject a configuration that cannot work (before connecting)."""
    if not 0 < config.port < 65536:
        raise BridgeError(f"STOMP port {config.port} out of range")
    for name in (config.topic, config.heartbeat_topic):
        if not name.startswith(("/topic/", "/queue/")):
            raise BridgeError(f"STOMP destination {name!r}: start it with /topic/ or /queue/")
