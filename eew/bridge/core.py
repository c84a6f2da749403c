"""The loop every bridge shares: verified alerts from the bus in, one sink out.

:func:`run_bridge` owns a bus :class:`~eew.bus.subscriber.Subscriber` (made in the
calling thread, which it then belongs to) and hands each verified alert to a
:class:`Sink`; every ``heartbeat_interval_s`` it tells the sink to send a
heartbeat, with the state of the bus feed (``True`` while the publisher's
heartbeats arrive), and between messages it lets the sink reconnect
(:meth:`Sink.poll`). The bus side reconnects by itself (see ``docs/alert_bus.md``).
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from eew.errors import EEWError
from eew.model.alert import Alert
from eew.model.clock import Clock

if TYPE_CHECKING:
    from eew.bus.subscriber import Subscriber, SubscriberStatistics
    from eew.bus.wire import BusMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BridgeError(EEWError):
    """A bridge cannot start or go on (bad TLS files, a port in use, a broker refusing us)."""


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS for a bridge's connection (client side) or its server (CAP feed).

    Attributes
    ----------
    enabled : bool
        Use TLS.
    ca_file : str, optional
        PEM bundle of the certificate authorities that sign the peer's certificate;
        ``None``: the system's. A client always verifies the server (certificate and
        host name); a server that is given one also requires client certificates.
    cert_file, key_file : str, optional
        Our PEM certificate and key: a client certificate for a broker that asks for
        one, the server certificate of the CAP feed (required there).
    """

    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def client_context(self) -> ssl.SSLContext:
        """An :class:`ssl.SSLContext` for connecting to a broker (verifies the server)."""
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
            if self.cert_file:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise BridgeError(f"TLS: cannot load the certificates: {exc}") from exc
        return ctx

    def server_context(self) -> ssl.SSLContext:
        """An :class:`ssl.SSLContext` for serving (the CAP feed over HTTPS)."""
        if not self.cert_file:
            raise BridgeError("TLS: a server needs --tls-cert (and --tls-key)")
        try:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.cert_file, self.key_file)
            if self.ca_file:
                ctx.load_verify_locations(self.ca_file)
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise BridgeError(f"TLS: cannot load the certificates: {exc}") from exc
        return ctx


class Backoff:
    """Reconnection delays: ``initial_s``, doubling up to ``max_s``; reset on success.

    Parameters
    ----------
    initial_s, max_s : float
        First and largest delay [s].
    """

    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0) -> None:
        if not 0 < initial_s <= max_s:
            raise BridgeError(f"back-off: need 0 < initial ({initial_s}) <= max ({max_s})")
        self._initial_s = initial_s
        self._max_s = max_s
        self._next_s = initial_s

    def next_delay_s(self) -> float:
        """The delay before the next attempt [s]; the one after is twice as long."""
        delay = self._next_s
        self._next_s = min(self._max_s, 2 * self._next_s)
        return delay

    def reset(self) -> None:
        """Start again from the initial delay (after a successful connection)."""
        self._next_s = self._initial_s


class Outbox(Generic[T]):
    """Messages waiting for a connection: bounded, the oldest dropped (and counted) when full.

    Parameters
    ----------
    capacity : int
        Most messages kept.
    what : str
        Name for the log line of a drop.
    """

    def __init__(self, capacity: int, what: str) -> None:
        if capacity < 1:
            raise BridgeError(f"{what}: outbox capacity must be >= 1")
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._what = what
        self.dropped = 0

    def put(self, item: T) -> None:
        """Queue ``item``; drop the oldest when full (ERROR, counted)."""
        if len(self._items) >= self._capacity:
            self._items.popleft()
            self.dropped += 1
            logger.error(
                "%s: outbox full (%d): oldest message dropped (%d so far)",
                self._what,
                self._capacity,
                self.dropped,
            )
        self._items.append(item)

    def peek(self) -> T | None:
        """The oldest message, left in place; ``None`` when empty."""
        return self._items[0] if self._items else None

    def pop(self) -> T:
        """Remove and return the oldest message."""
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)

    def statistics(
        self, connected: bool, sent: int, confirmed: int, dropped: int, beats: int, reconnects: int
    ) -> SinkStatistics:
        """A sink's counters with this outbox's: ``queued`` now, ``dropped`` added to the sink's."""
        return SinkStatistics(
            connected=connected,
            sent=sent,
            confirmed=confirmed,
            queued=len(self._items),
            dropped=dropped + self.dropped,
            heartbeats=beats,
            reconnects=reconnects,
        )


@dataclass(frozen=True, slots=True)
class SinkStatistics:
    """Counters of a bridge's output.

    Attributes
    ----------
    connected : bool
        Connected to the broker now (the CAP feed: serving).
    sent : int
        Alert messages handed to the broker (or added to the feed).
    confirmed : int
        Of those, acknowledged by the broker (MQTT PUBACK, STOMP RECEIPT); the CAP
        feed counts what it serves.
    queued : int
        Waiting for a connection now.
    dropped : int
        Lost: dropped from a full outbox, or not writable in the format.
    heartbeats : int
        Heartbeat messages sent.
    reconnects : int
        Successful connections after the first.
    """

    connected: bool
    sent: int
    confirmed: int
    queued: int
    dropped: int
    heartbeats: int
    reconnects: int


class Sink(Protocol):
    """The broker side of a bridge; every method is called from the bridge's thread."""

    def deliver(self, message: BusMessage, alert: Alert) -> None:
        """Send one verified alert (``message.payload`` is its bus JSON); never block long."""

    def heartbeat(self, now_ns: int, feed_alive: bool) -> None:
        """Send a heartbeat; ``feed_alive`` tells whether the bus feed is up."""

    def poll(self) -> None:
        """Periodic work: reconnect when due, flush the outbox, raise on a fatal error."""

    def statistics(self) -> SinkStatistics:
        """A snapshot of the counters."""

    def close(self) -> None:
        """Flush what can be flushed quickly and disconnect."""


@dataclass(frozen=True, slots=True)
class BridgeStatistics:
    """What :func:`run_bridge` did.

    Attributes
    ----------
    alerts : int
        Verified alerts received from the bus and handed to the sink.
    bus : SubscriberStatistics
        The bus subscriber's counters (drops, gaps, reconnects).
    sink : SinkStatistics
        The sink's counters.
    """

    alerts: int
    bus: SubscriberStatistics
    sink: SinkStatistics


def run_bridge(
    open_subscriber: Callable[[], Subscriber],
    sink: Sink,
    clock: Clock,
    *,
    heartbeat_interval_s: float,
    stop: threading.Event | None = None,
    duration_s: float | None = None,
    max_alerts: int | None = None,
    tick_s: float = 0.1,
) -> BridgeStatistics:
    """Forward alerts from the bus to ``sink`` until ``stop`` is set (or a limit is reached).

    Parameters
    ----------
    open_subscriber : callable
        Makes the bus subscriber (called here, so that it belongs to this thread).
    sink : Sink
        Where the alerts go; closed on return.
    clock : Clock
        Time for heartbeat payloads.
    heartbeat_interval_s : float
        Heartbeat period [s] (real time); the first is sent at once.
    stop : threading.Event, optional
        Set from another thread (or a signal handler) to end the loop.
    duration_s : float, optional
        End after this long [s].
    max_alerts : int, optional
        End after this many alerts.
    tick_s : float
        Longest wait for a bus message before the sink is polled [s].
    """
    if not heartbeat_interval_s > 0:
        raise BridgeError("heartbeat interval must be > 0")
    end = math.inf if duration_s is None else time.monotonic() + duration_s
    n_alerts = 0
    next_beat = time.monotonic()
    try:
        with open_subscriber() as sub:
            while (stop is None or not stop.is_set()) and (
                max_alerts is None or n_alerts < max_alerts
            ):
                now = time.monotonic()
                if now >= end:
                    break
                if now >= next_beat:
                    sink.heartbeat(clock.now_ns(), sub.statistics().heartbeats_alive)
                    next_beat = now + heartbeat_interval_s
                sink.poll()
                wait_s = max(0.001, min(tick_s, next_beat - now, end - now))
                msg = sub.receive(wait_s)
                if msg is not None and isinstance(msg.body, Alert):
                    n_alerts += 1
                    sink.deliver(msg, msg.body)
            sink.poll()
            bus_stats = sub.statistics()
    finally:
        sink.close()
    return BridgeStatistics(n_alerts, bus_stats, sink.statistics())
