"""The alert publisher: the one place where alerts meet ZeroMQ.

The processing core calls :meth:`Publisher.publish_alert` /
:meth:`~Publisher.publish_pick` from its own thread; these only put the value
into a bounded :class:`~eew.bus.handover.Handover` queue and never block on
the network. A dedicated thread owns the XPUB socket (sockets are not thread
safe): it signs and sends, sends heartbeats, keeps the last-value cache and
answers new subscriptions with it.

If that thread dies, the next call of any public method raises
:class:`~eew.bus.errors.PublisherCrashedError` with the original exception as
its cause: errors surface in the caller, they are not left on stderr.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import zmq

from eew.bus.cache import LastValueCache
from eew.bus.config import BusConfig, SecurityConfig
from eew.bus.errors import BusError, PublisherCrashedError
from eew.bus.handover import Handover
from eew.bus.keys import CurveKeyPair, load_allowed_curve_keys, load_curve_keypair
from eew.bus.resend import (
    KEPT_KINDS,
    PACE_MS,
    ResendBuffer,
    parse_request,
)
from eew.bus.signing import Signer, unsigned_block
from eew.bus.wire import (
    MAX_PAYLOAD_BYTES,
    Health,
    Heartbeat,
    Status,
    encode_payload,
    make_topic,
)
from eew.bus.zap import ZapHandler
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.pick import Pick

logger = logging.getLogger(__name__)

_POLL_MAX_MS = 50  # the injected clock is re-read at least this often [ms]


@dataclass(frozen=True, slots=True)
class CurveServer:
    """CURVE settings of the publisher: its key pair and the allowed client keys."""

    keypair: CurveKeyPair
    allowed_keys_dir: Path

    @classmethod
    def from_files(
        cls, secret_file: str | os.PathLike[str], allowed_keys_dir: str | os.PathLike[str]
    ) -> CurveServer:
        """Load the server certificate and check the allowed-keys directory."""
        load_allowed_curve_keys(allowed_keys_dir)
        return cls(load_curve_keypair(secret_file), Path(allowed_keys_dir))


@dataclass(frozen=True, slots=True)
class PublisherStatistics:
    """Counters of a :class:`Publisher` (a frozen snapshot).

    ``send_dropped`` counts sends refused by ZMQ; messages ZMQ discards for one
    slow subscriber at its high-water mark are invisible here (subscribers
    count them as sequence gaps). ``active_alerts`` counts the cached events
    without ``final``/``delete``, ``cached_alerts`` every cache entry.
    ``refused_oversize`` counts messages not sent because their payload was
    over the size limit (each logged at ERROR), ``clients_refused`` the CURVE
    handshakes refused by the ZAP handler. ``alerts_peak`` is the deepest the
    alert queue has been. ``resend_requests`` counts the resend requests answered
    (:mod:`eew.bus.resend`), ``resent`` the messages sent again for them and
    ``resend_refused`` the requests refused while too many were open.
    ``tail_write_errors`` counts failed writes of the resend tail file (each logged
    at ERROR; after one the tail is no longer kept on disk in this session).
    """

    running: bool
    alerts_sent: int
    picks_sent: int
    heartbeats_sent: int
    status_sent: int
    cache_resends: int
    subscriptions: int
    send_dropped: int
    active_alerts: int
    alerts_queued: int
    picks_queued: int
    picks_dropped: int
    status_dropped: int
    alerts_superseded: int
    crashes: int = 0
    cached_alerts: int = 0
    refused_oversize: int = 0
    clients_refused: int = 0
    alerts_peak: int = 0
    resend_requests: int = 0
    resent: int = 0
    resend_refused: int = 0
    tail_write_errors: int = 0


class Publisher:
    """Publish signed alerts, picks, heartbeats and status on an XPUB socket.

    Parameters
    ----------
    config : BusConfig
        Endpoint, heartbeat period, queue sizes, high-water mark.
    agency : str
        Agency code of the topics; must match the signer's.
    clock : Clock
        Source of sent times and heartbeat schedule.
    signer : Signer or None
        The agency's signing key; ``None`` sends unsigned messages (which
        verifying subscribers drop): tests and benchmarks only.
    curve : CurveServer or None
        CURVE server keys and allowed clients; ``None`` means plain TCP.
    health : callable, optional
        Returns the daemon's :class:`Health` for each heartbeat; called in the
        publisher thread, so it must be thread safe and fast.
    context : zmq.Context, optional
        Context for the socket and the ZAP handler (one publisher per context
        when CURVE is on). By default the publisher creates and ends its own.
    """

    def __init__(
        self,
        config: BusConfig,
        *,
        agency: str,
        clock: Clock,
        signer: Signer | None,
        curve: CurveServer | None,
        health: Callable[[], Health] | None = None,
        context: zmq.SyncContext | None = None,
        resend_tail_file: str | os.PathLike[str] | None = None,
    ) -> None:
        config.check()
        self._relay_agencies: frozenset[str] = frozenset()
        if signer is not None and signer.agency != agency:
            raise BusError(f"signing key belongs to {signer.agency}, not to agency {agency}")
        if signer is None:
            logger.warning("alert bus publisher sends UNSIGNED messages (insecure)")
        if curve is None:
            logger.warning("alert bus publisher without CURVE: anyone can listen (insecure)")
        self._config = config
        self._agency = agency
        self._clock = clock
        self._signer = signer
        self._curve = curve
        self._health = health or Health
        self._own_context = context is None
        self._context = context if context is not None else zmq.Context()
        self._handover = Handover(
            config.alert_queue_size, config.pick_queue_size, config.status_queue_size
        )
        self._topics = {k: make_topic(k, agency) for k in ("alert", "pick", "heartbeat", "status")}
        self._seq = dict.fromkeys(self._topics, 0)
        #: drawn at each start and signed into every message: a restart is not a loss
        self._session = int.from_bytes(os.urandom(8), "big") or 1
        self._cache = LastValueCache(round(config.alert_cache_ttl_s * 1e9))
        self._resend = ResendBuffer(
            config.resend_buffer_messages,
            self._session,
            answer_limit=max(1, config.sndhwm_messages // 2),
        )
        self._tail_file = None if resend_tail_file is None else Path(resend_tail_file)
        if self._tail_file is not None:
            self._resend.read_tail(self._tail_file)
            self._resend.journal_to(self._tail_file)
        self._kept = frozenset(self._topics[k] for k in KEPT_KINDS)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            (
                "alert",
                "pick",
                "heartbeat",
                "status",
                "cache_resends",
                "subscriptions",
                "send_dropped",
                "crashes",
                "refused_oversize",
                "clients_refused",
                "resend_requests",
                "resent",
                "resend_refused",
            ),
            0,
        )
        self._active = (0, 0)  # (active, cached) alerts, for statistics()
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._endpoint = ""
        self._closed = False

    @classmethod
    def from_config(
        cls,
        bus: BusConfig,
        security: SecurityConfig,
        *,
        agency: str,
        clock: Clock,
        base_dir: str | os.PathLike[str] = ".",
        health: Callable[[], Health] | None = None,
        resend_tail_file: str | os.PathLike[str] | None = None,
    ) -> Self:
        """Build a publisher from the ``[bus]`` and ``[bus_security]`` settings.

        Relative key paths are resolved against ``base_dir`` (the directory of
        the configuration file); ``resend_tail_file`` as for the constructor.
        """
        security.check()
        base = Path(base_dir)
        signer = Signer.from_file(base / security.signing_key_file)
        curve = None
        if security.curve_enabled:
            curve = CurveServer.from_files(
                base / security.curve_secret_key_file, base / security.curve_allowed_keys_dir
            )
        return cls(
            bus,
            agency=agency,
            clock=clock,
            signer=signer,
            curve=curve,
            health=health,
            resend_tail_file=resend_tail_file,
        )

    # ---- life cycle ------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> str:
        """Start the publisher thread; return the bound endpoint once it listens.

        Raises
        ------
        BusError
            Already started, or the socket could not be bound (cause attached).
        """
        if self._thread is not None:
            raise BusError("publisher already started")
        self._handover.put_status("up", f"publisher of {self._agency} started")
        self._thread = threading.Thread(
            target=self._run, name=f"eew-publisher-{self._agency}", daemon=True
        )
        self._thread.start()
        if not self._bound.wait(timeout_s):
            raise BusError(f"publisher did not bind {self._config.endpoint} within {timeout_s} s")
        if self._error is not None and not self._endpoint:
            raise BusError(f"cannot bind {self._config.endpoint}: {self._error}") from self._error
        self.check()
        return self._endpoint

    @property
    def endpoint(self) -> str:
        """The endpoint actually bound (with the real port), once started."""
        return self._endpoint

    def check(self) -> None:
        """Raise :class:`PublisherCrashedError` if the publisher thread has died."""
        if self._error is not None:
            raise self._crashed() from self._error
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            raise PublisherCrashedError("alert publisher thread ended unexpectedly")

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued and a ``down`` status, stop the thread, release everything.

        Raises
        ------
        PublisherCrashedError
            If the thread had died (after releasing resources).
        BusError
            If the thread did not stop within ``timeout_s``.
        """
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            # queued before the stop flag is set: the thread's last drain includes it
            self._handover.put_status("down", f"publisher of {self._agency} stopping")
        self._stop.set()
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                raise BusError(f"publisher thread did not stop within {timeout_s} s")
        self._handover.close()
        if self._own_context:
            self._context.term()
        if self._tail_file is not None and thread is not None and self._endpoint:
            self._resend.write_tail()
        if self._error is not None and self._endpoint:  # (a bind failure: start() raised it)
            raise self._crashed() from self._error

    def _newest_seq(self) -> dict[str, int]:
        """Kind -> sequence number of the newest message sent, for the kept kinds sent."""
        return {k: n - 1 for k, n in self._seq.items() if k in KEPT_KINDS and n > 0}

    def _crashed(self) -> PublisherCrashedError:
        return PublisherCrashedError(f"alert publisher thread died: {self._error!r}")

    def __enter__(self) -> Publisher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- producer side (any thread) -------------------------------------------------------
    def _accepting(self) -> None:
        self.check()
        if self._closed or self._thread is None:
            raise BusError("publisher is not running")

    def allow_relay(self, agencies: Collection[str]) -> None:
        """Let this bus also carry the alerts of these (partner) agencies, signed by us.

        Subscribers accept them only where their trusted-keys folder says that our agency
        may relay those agencies (``relays.toml``, see :mod:`eew.bus.signing`).
        """
        self._relay_agencies = frozenset(agencies)

    def publish_alert(self, alert: Alert) -> None:
        """Queue an alert for sending (never refused; updates may coalesce, see Handover).

        The alert must be ours, or of an agency allowed with :meth:`allow_relay`.
        """
        self._accepting()
        if alert.agency != self._agency and alert.agency not in self._relay_agencies:
            raise BusError(f"alert {alert.event_id} of {alert.agency} on the {self._agency} bus")
        self._handover.put_alert(alert)

    def publish_pick(self, pick: Pick) -> bool:
        """Queue a pick; False if the oldest queued pick was dropped to make room."""
        self._accepting()
        if not self._config.publish_picks:
            return True
        return self._handover.put_pick(pick)

    def publish_status(self, state: str, detail: str = "") -> None:
        """Queue a status message (``status.<agency>``)."""
        self._accepting()
        self._handover.put_status(state, detail)

    def statistics(self) -> PublisherStatistics:
        """A frozen snapshot of the counters and queue depths."""
        q = self._handover.statistics()
        with self._lock:
            c = dict(self._counts)
            active, cached = self._active
        return PublisherStatistics(
            running=self._thread is not None and self._thread.is_alive(),
            alerts_sent=c["alert"],
            picks_sent=c["pick"],
            heartbeats_sent=c["heartbeat"],
            status_sent=c["status"],
            cache_resends=c["cache_resends"],
            subscriptions=c["subscriptions"],
            send_dropped=c["send_dropped"],
            active_alerts=active,
            alerts_queued=q.alerts_queued,
            picks_queued=q.picks_queued,
            picks_dropped=q.picks_dropped,
            status_dropped=q.status_dropped,
            alerts_superseded=q.alerts_superseded,
            crashes=c["crashes"],
            cached_alerts=cached,
            refused_oversize=c["refused_oversize"],
            clients_refused=c["clients_refused"],
            alerts_peak=q.alerts_peak,
            resend_requests=c["resend_requests"],
            resent=c["resent"],
            resend_refused=c["resend_refused"],
            # an int the publisher thread alone writes: read without the lock
            tail_write_errors=self._resend.tail_write_errors,
        )

    # ---- publisher thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # thread boundary: kept, re-raised by check()/close()/publish
            if self._bound.is_set():
                logger.exception("alert publisher thread crashed")
            else:  # start() raises it, with its cause: no traceback in the log for a bind
                logger.debug("alert publisher could not start: %r", exc)
            with self._lock:
                self._counts["crashes"] += 1
            self._error = exc
        finally:
            self._bound.set()

    def _serve(self) -> None:
        zap: ZapHandler | None = None
        sock: zmq.SyncSocket | None = None
        try:
            if self._curve is not None:  # bound before the CURVE socket: see eew.bus.zap
                zap = ZapHandler(self._context, self._curve.allowed_keys_dir, self._clock)
            sock = self._context.socket(zmq.XPUB)
            sock.linger = 0
            sock.sndhwm = self._config.sndhwm_messages
            if self._config.sndbuf_bytes > 0:  # ZMQ's 0 would ask the kernel for its minimum
                sock.sndbuf = self._config.sndbuf_bytes
            sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription, for the last-value cache
            if self._curve is not None:
                sock.curve_secretkey = self._curve.keypair.secret_key
                sock.curve_publickey = self._curve.keypair.public_key
                sock.curve_server = True
            endpoint = self._config.endpoint
            if endpoint.endswith(":*"):
                sock.bind_to_random_port(endpoint[:-2])
            else:
                sock.bind(endpoint)
            self._endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
            logger.info(
                "alert bus publishing on %s (CURVE %s, session %#x)",
                self._endpoint,
                zap is not None,
                self._session,
            )
            self._heartbeat(sock, self._clock.now_ns())  # a broken health callable fails start()
            self._bound.set()
            self._loop(sock, zap)
        finally:
            if sock is not None:
                sock.close(linger=0)
            if zap is not None:
                zap.close()

    def _loop(self, sock: zmq.SyncSocket, zap: ZapHandler | None) -> None:
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._handover.fileno(), zmq.POLLIN)
        if zap is not None:
            poller.register(zap.socket, zmq.POLLIN)
        interval_ns = round(self._config.heartbeat_interval_s * 1e9)
        next_beat_ns = self._clock.now_ns() + interval_ns
        while True:
            now_ns = self._clock.now_ns()
            if now_ns >= next_beat_ns:
                self._heartbeat(sock, now_ns)
                next_beat_ns = now_ns + interval_ns
            if self._cache.expire(now_ns):
                self._set_active()
            timeout_ms = min(_POLL_MAX_MS, max(0, (next_beat_ns - now_ns) // 1_000_000))
            if self._resend.pending:
                timeout_ms = min(timeout_ms, PACE_MS)
            events = dict(poller.poll(timeout_ms))
            if zap is not None and zap.socket in events:
                zap.handle()
                with self._lock:
                    self._counts["clients_refused"] = zap.refused
            if sock in events:
                self._subscriptions(sock)
            stopping = self._stop.is_set()  # read before draining: see close()
            alerts, status, picks = self._handover.drain()
            for alert in alerts:
                self._send_alert(sock, alert)
            for state, detail in status:
                body = Status(self._agency, self._clock.now_ns(), state, detail)
                self._send(sock, "status", encode_payload(body))
            for pick in picks:
                self._send(sock, "pick", encode_payload(pick))
            if self._resend.pending:  # after the live messages: a resend never delays them
                self._send_resends(sock)
            self._resend.tidy_journal()
            if stopping:
                return

    def _send(self, sock: zmq.SyncSocket, kind: str, payload: bytes, counter: str = "") -> bool:
        """Sign and send one message; False (logged, counted) if it is over the size limit."""
        topic = self._topics[kind]
        if len(payload) > MAX_PAYLOAD_BYTES:
            # a subscriber would drop the connection for good at its maxmsgsize: never send
            logger.error(
                "NOT SENT: %s message of %d bytes is over the %d-byte limit: %r...",
                kind,
                len(payload),
                MAX_PAYLOAD_BYTES,
                payload[:120],
            )
            self._count("refused_oversize")  # after the log line: a reader sees both
            return False
        seq = self._seq[kind]
        self._seq[kind] = seq + 1
        sent_ns = self._clock.now_ns()
        if self._signer is not None:
            block = self._signer.sign(
                topic, payload, sent_time_ns=sent_ns, seq=seq, session=self._session
            )
        else:
            block = unsigned_block(
                topic,
                payload,
                sent_time_ns=sent_ns,
                seq=seq,
                agency=self._agency,
                session=self._session,
            )
        self._count(counter or kind)  # before sending: whoever receives it sees it counted
        if topic in self._kept:  # sent or not: a subscriber may ask for it by its seq
            self._resend.keep(topic, seq, payload, block)
        try:
            sock.send_multipart([topic, payload, block], flags=zmq.DONTWAIT)
        except zmq.Again:
            self._count(counter or kind, -1)
            self._count("send_dropped")
        return True

    def _send_resends(self, sock: zmq.SyncSocket) -> None:
        for frames in self._resend.batch():
            try:
                sock.send_multipart(frames, flags=zmq.DONTWAIT)
            except zmq.Again:
                self._count("send_dropped")  # the subscriber asks again for what is still missing
        with self._lock:
            self._counts["resent"] = self._resend.resent
            self._counts["resend_requests"] = self._resend.served
            self._counts["resend_refused"] = self._resend.refused

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def _send_alert(self, sock: zmq.SyncSocket, alert: Alert) -> None:
        payload = encode_payload(alert)
        if self._send(sock, "alert", payload):
            self._cache.put(alert, payload, self._clock.now_ns())
            self._set_active()

    def _set_active(self) -> None:
        with self._lock:
            self._active = (self._cache.active, len(self._cache))

    def _subscriptions(self, sock: zmq.SyncSocket) -> None:
        while True:
            try:
                msg = sock.recv(zmq.DONTWAIT)
            except zmq.Again:
                return
            if not msg or msg[0] not in (0, 1):
                continue
            prefix = bytes(msg[1:])
            request = parse_request(prefix)
            if request is not None:  # a resend request (eew.bus.resend), not a subscription
                if msg[0] == 1:
                    self._resend.open(request)
                else:
                    self._resend.cancel(prefix)  # its subscriber has what it needed, or gave up
                self._send_resends(sock)
                continue
            if msg[0] != 1:
                continue  # unsubscription
            self._count("subscriptions")
            logger.info("new subscription to %r", prefix)
            if self._topics["alert"].startswith(prefix):
                for payload in self._cache.payloads():
                    self._send(sock, "alert", payload, counter="cache_resends")

    def _heartbeat(self, sock: zmq.SyncSocket, now_ns: int) -> None:
        q = self._handover.statistics()
        beat = Heartbeat(
            agency=self._agency,
            sent_time_ns=now_ns,
            interval_s=self._config.heartbeat_interval_s,
            health=self._health(),
            active_alerts=self._cache.active,
            picks_dropped=q.picks_dropped,
            newest_seq=self._newest_seq(),
        )
        self._send(sock, "heartbeat", encode_payload(beat))
