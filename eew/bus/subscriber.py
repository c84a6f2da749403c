"""Subscriber library: receive, verify and hand on bus messages.

A :class:`Subscriber` owns one SUB socket (a
:class:`~eew.bus.connection.Connection`) and must be used from the thread that
created it. It keeps the link up by itself:

- ZMQ reconnects after an ordinary connection loss and re-sends the
  subscriptions; the publisher answers with its last-value cache;
- the socket's monitor reports a disconnection or a failed handshake: the
  socket is then re-created at once (libzmq does not reconnect after a protocol
  error such as an oversized message), with back-off while it keeps failing;
- the application heartbeats tell a silent link (a half-open TCP connection):
  after ``silence_reconnect_intervals`` heartbeat intervals without any message
  the socket is re-created, again with back-off. No ZMTP heartbeats are set
  (libzmq issue 3937: they abort a subscriber that stalls and then resumes);
- before a socket is replaced, what it already received is kept and delivered;
- a sequence gap on the alert topic asks the publisher for its last-value
  cache again (at most once a second, backing off to once a minute while gaps
  keep coming), so the newest version of every event (and every cancellation)
  lost in the gap arrives.

Every message goes through a :class:`~eew.bus.gate.MessageGate` (signature,
freshness, replay, schema) and a :class:`~eew.bus.gate.HeartbeatWatchdog`
watches the heartbeats.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import zmq

from eew.bus.config import SubscriberConfig
from eew.bus.connection import LOST_EVENTS, Connection, CurveClient, describe
from eew.bus.errors import BusError
from eew.bus.gate import GateStatistics, HeartbeatWatchdog, MessageGate, WatchdogEvent
from eew.bus.signing import Verifier
from eew.bus.wire import KINDS, BusMessage, Heartbeat
from eew.model.clock import Clock

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_KINDS", "CurveClient", "Subscriber", "SubscriberStatistics"]

#: what a subscriber listens to by default (heartbeats are always added)
DEFAULT_KINDS = ("alert", "status")
_POLL_MAX_MS = 100  # the watchdog is checked at least this often [ms]
_REFRESH_MIN_S = 1.0  # cache refreshes after sequence gaps, at most this often [s] ...
_REFRESH_MAX_S = 60.0  # ... backing off to this while gaps keep coming [s]
_ALERT_PREFIX = b"alert."


@dataclass(frozen=True, slots=True)
class SubscriberStatistics:
    """Counters of a :class:`Subscriber`.

    Attributes
    ----------
    messages : GateStatistics
        Received, accepted and dropped messages (per reason), sequence gaps.
    heartbeats_alive : bool
        False while heartbeats are overdue.
    heartbeat_losses : int
        How often heartbeats stopped.
    reconnects : int
        How often the socket was re-created (lost connection or silence).
    cache_refreshes : int
        How often the last-value cache was asked for again after a gap.
    heartbeats_rejected : int
        Heartbeats the gate dropped (forged, unsigned, stale...): told apart from silence.
    """

    messages: GateStatistics
    heartbeats_alive: bool
    heartbeat_losses: int
    reconnects: int = 0
    cache_refreshes: int = 0
    heartbeats_rejected: int = 0


class Subscriber:
    """Receive verified alerts (and optionally picks, status) from a publisher.

    Parameters
    ----------
    endpoint : str
        The publisher's endpoint, e.g. ``tcp://eew.example.kz:5571``.
    verifier : Verifier or None
        Trusted agency keys; ``None`` accepts unsigned messages (insecure).
    clock : Clock
        Our clock, for freshness checks, the heartbeat watchdog and silence.
        Back-off delays are real time.
    config : SubscriberConfig, optional
        Limits and socket settings.
    curve : CurveClient, optional
        CURVE keys; required by a publisher that has CURVE on.
    kinds : sequence of str
        Message kinds to subscribe to; ``heartbeat`` is always added.
    context : zmq.Context, optional
        ZMQ context; by default the subscriber creates and ends its own.
    on_watchdog : callable, optional
        Called with a :class:`WatchdogEvent` when heartbeats stop or resume
        (they are also logged: ERROR when they stop).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        verifier: Verifier | None,
        clock: Clock,
        config: SubscriberConfig | None = None,
        curve: CurveClient | None = None,
        kinds: Sequence[str] = DEFAULT_KINDS,
        context: zmq.SyncContext | None = None,
        on_watchdog: Callable[[WatchdogEvent], None] | None = None,
    ) -> None:
        config = config or SubscriberConfig()
        config.check()
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise BusError(f"unknown message kinds {sorted(unknown)}")
        self._config = config
        self._clock = clock
        self._curve = curve
        self._endpoint = endpoint
        self._prefixes = tuple(f"{k}.".encode("ascii") for k in sorted({*kinds, "heartbeat"}))
        self._gate = MessageGate(verifier, clock, config)
        agencies = ", ".join(verifier.agencies) if verifier is not None else "unsigned"
        self._watchdog = HeartbeatWatchdog(
            clock,
            config.heartbeat_interval_s,
            config.heartbeat_missed_intervals,
            label=f"{endpoint} ({agencies})",
        )
        self._heartbeats_rejected = 0
        self._interval_s = config.heartbeat_interval_s
        self._on_watchdog = on_watchdog
        self._losses = 0
        self._reconnects = 0
        self._refreshes = 0
        self._pending: deque[list[bytes]] = deque()
        self._last_heard_ns = clock.now_ns()  # anything received, valid or not
        self._recreate_at: float | None = None  # monotonic time of a scheduled re-creation
        self._backoff_s = 0.0
        self._next_silence_check = 0.0  # monotonic
        self._next_refresh = 0.0  # monotonic
        self._refresh_interval_s = _REFRESH_MIN_S / 2
        self._lost_since: float | None = None
        self._own_context = context is None
        self._context = context if context is not None else zmq.Context()
        self._conn: Connection | None = None
        try:
            self._conn = self._connect()
        except zmq.ZMQError as exc:
            self.close()
            raise BusError(f"cannot subscribe to {endpoint}: {exc}") from exc
        logger.info("subscribed to %s (CURVE %s)", endpoint, curve is not None)

    def _connect(self) -> Connection:
        return Connection(self._context, self._endpoint, self._config, self._curve, self._prefixes)

    def receive(self, timeout_s: float) -> BusMessage | None:
        """Wait up to ``timeout_s`` [s, real time] for the next verified message.

        Dropped messages are counted and logged, never returned. Heartbeats
        are returned too (after feeding the watchdog). A lost or silent
        connection is re-created here, so keep calling it.

        Returns
        -------
        BusMessage or None
            ``None`` if nothing valid arrived in time.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            frames = self._next_frames()
            if frames is not None:
                message = self._accept(frames)
                if message is not None:
                    return message
                continue
            self._check_link()
            remaining_ms = (deadline - time.monotonic()) * 1000
            if remaining_ms <= 0:
                return None
            conn = self._conn
            if conn is None:
                raise BusError("subscriber is closed")
            wait_ms = min(_POLL_MAX_MS, max(1, int(remaining_ms)))
            if self._recreate_at is not None:
                wait_ms = min(wait_ms, max(1, int((self._recreate_at - time.monotonic()) * 1000)))
            conn.poller.poll(wait_ms)

    def _next_frames(self) -> list[bytes] | None:
        if self._pending:
            return self._pending.popleft()
        if self._conn is None:
            return None
        return self._conn.recv()

    def _accept(self, frames: list[bytes]) -> BusMessage | None:
        self._last_heard_ns = self._clock.now_ns()
        message = self._gate.check(frames)
        self._refresh_after_gaps()
        if message is None:
            topic, reason = self._gate.last_rejected
            if topic.startswith(b"heartbeat.") and reason != "duplicate":
                self._heartbeats_rejected += 1
                self._watchdog.reject(reason)
            return None
        self._backoff_s = 0.0
        if self._lost_since is not None:
            logger.warning(
                "bus link to %s back after %.1f s",
                self._endpoint,
                time.monotonic() - self._lost_since,
            )
            self._lost_since = None
        if isinstance(message.body, Heartbeat):
            self._interval_s = message.body.interval_s
            self._emit(self._watchdog.beat(message.body))
        return message

    def _refresh_after_gaps(self) -> None:
        gaps = self._gate.pop_gaps()
        if _ALERT_PREFIX not in self._prefixes or not any(t.startswith(b"alert.") for t in gaps):
            return
        now = time.monotonic()
        if now < self._next_refresh or self._conn is None:
            return
        # a cache larger than the publisher's high-water mark makes a gap of its own:
        # back off while refreshes follow each other, start again from the minimum after a lull
        lull = now - self._next_refresh > 2 * self._refresh_interval_s
        self._refresh_interval_s = (
            _REFRESH_MIN_S if lull else min(2 * self._refresh_interval_s, _REFRESH_MAX_S)
        )
        self._next_refresh = now + self._refresh_interval_s
        self._refreshes += 1
        logger.warning("alerts missed from %s: asking for the last-value cache", self._endpoint)
        self._conn.refresh(_ALERT_PREFIX)

    def _check_link(self) -> None:
        """Watchdog, monitor events and silence; re-create the socket when due."""
        self._check_watchdog()
        conn = self._conn
        if conn is None:
            return
        now = time.monotonic()
        for event in conn.events():
            if event & LOST_EVENTS:
                if self._recreate_at is None:
                    self._schedule(now, describe(event))
            elif self._lost_since is None:
                logger.info("bus link to %s: %s", self._endpoint, describe(event))
        silence_s = (self._clock.now_ns() - self._last_heard_ns) / 1e9
        limit_s = self._config.silence_reconnect_intervals * self._interval_s
        if silence_s > limit_s and self._recreate_at is None and now >= self._next_silence_check:
            self._schedule(now, f"nothing received for {silence_s:.1f} s")
            self._next_silence_check = now + max(self._backoff_s, limit_s)
        if self._recreate_at is not None and now >= self._recreate_at:
            self._recreate()

    def _schedule(self, now: float, why: str) -> None:
        self._recreate_at = now + self._backoff_s
        if self._lost_since is None:
            self._lost_since = now
            logger.warning(
                "bus link to %s lost (%s): re-creating the socket%s",
                self._endpoint,
                why,
                f" in {self._backoff_s:.1f} s" if self._backoff_s else "",
            )
        else:
            logger.info("bus link to %s still down (%s)", self._endpoint, why)

    def _recreate(self) -> None:
        old = self._conn
        self._recreate_at = None
        if old is not None:
            self._pending.extend(old.drain(self._config.rcvhwm_messages))
            old.close()
        self._conn = None
        self._conn = self._connect()
        self._reconnects += 1
        c = self._config
        self._backoff_s = min(
            c.reconnect_interval_max_s, max(2 * self._backoff_s, c.reconnect_interval_s)
        )
        self._last_heard_ns = self._clock.now_ns()

    def _check_watchdog(self) -> None:
        event = self._watchdog.check()
        if event is not None:
            self._losses += 1
            self._emit(event)

    def _emit(self, event: WatchdogEvent | None) -> None:
        if event is not None and self._on_watchdog is not None:
            self._on_watchdog(event)

    def statistics(self) -> SubscriberStatistics:
        """A frozen snapshot of the counters."""
        return SubscriberStatistics(
            self._gate.statistics(),
            self._watchdog.alive,
            self._losses,
            self._reconnects,
            self._refreshes,
            self._heartbeats_rejected,
        )

    def close(self) -> None:
        """Close the sockets (linger 0) and our own context."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._own_context and not self._context.closed:
            self._context.term()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
