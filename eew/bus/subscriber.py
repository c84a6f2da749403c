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
- what it missed comes back by sequence number (:mod:`eew.bus.resend`): a gap
  in a topic's sequence, and after a publisher restart the new session's first
  messages, are asked for at once; after every (re)connection the tail of every
  stream is asked for (what was published while the link was down). A request
  unanswered for :data:`RESEND_TIMEOUT_S` or answered only in part is made again,
  :data:`RESEND_TRIES` times in all; then the messages are counted as lost and
  logged (WARNING), as are those the publisher no longer holds;
- alerts lost for good ask the publisher for its last-value cache again (at most
  once a second, backing off to once a minute while losses keep coming), so the
  newest version of every event (and every cancellation) still arrives.

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
from eew.bus.gate import RESENT_KINDS, GateStatistics, MessageGate
from eew.bus.resend import PREFIX as RESEND_PREFIX
from eew.bus.resend import Request, make_request, parse_done
from eew.bus.signing import Verifier
from eew.bus.watchdog import HeartbeatWatchdog, WatchdogEvent
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
#: a resend request without progress for this long is made again [s, real time]
RESEND_TIMEOUT_S = 5.0
#: requests for the same missing messages before they are given up
RESEND_TRIES = 3
#: resend requests open at the same time
_MAX_REQUESTS = 16
_NO_END = 1 << 63


@dataclass(slots=True)
class _Outstanding:
    """A resend request waiting for its answer."""

    request: Request
    progress_at: float  # monotonic time of the request or of its latest answer
    tries: int
    received: int = 0


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
    resend_requests : int
        Resend requests made (:mod:`eew.bus.resend`); what came back is counted in
        ``messages.recovered``, what did not in ``messages.lost``.
    """

    messages: GateStatistics
    heartbeats_alive: bool
    heartbeat_losses: int
    reconnects: int = 0
    cache_refreshes: int = 0
    heartbeats_rejected: int = 0
    resend_requests: int = 0


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
        self._requests: dict[bytes, _Outstanding] = {}
        self._resend_requests = 0
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
        if frames and frames[0].startswith(RESEND_PREFIX):
            return self._accept_resent(frames)
        message = self._gate.check(frames)
        self._after_check()
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
            self._gate.note_newest(
                message.agency, message.envelope.session, message.body.newest_seq
            )
            self._after_check()
        return message

    # ---- resend (eew.bus.resend) -------------------------------------------------------------
    def _accept_resent(self, frames: list[bytes]) -> BusMessage | None:
        out = self._requests.get(frames[0])
        if len(frames) == 3 and frames[1] == b"done":
            if out is not None:
                self._done(out, frames[2])
            return None
        if out is not None:
            out.received += 1
            out.progress_at = time.monotonic()
        message = self._gate.check(frames[1:], resent=True)
        self._after_check()
        return message

    def _after_check(self) -> None:
        for topic in self._gate.pop_gaps():
            self._request_missing(topic, tries=1)
        for agency, session in self._gate.pop_restarts():
            self._request_new_session(agency, session)
        for topic, (session, newest) in self._gate.pop_retired().items():
            self._request_previous(topic, session, newest, tries=1)
        self._refresh_after_losses()

    def _request(
        self, topic: bytes, session: int, first: int, last: int | None, tries: int
    ) -> None:
        if self._conn is None or len(self._requests) >= _MAX_REQUESTS:
            return  # asked for at the next (re)connection or after a timeout
        req = make_request(topic, session, first, last)
        self._requests[req.prefix] = _Outstanding(req, time.monotonic(), tries)
        self._resend_requests += 1
        self._conn.request(req.prefix)

    def _covered(self, topic: bytes, session: int, first: int, last: int) -> bool:
        for out in self._requests.values():
            r = out.request
            if r.topic == topic and r.session == session and r.first <= first:
                if r.last is None or r.last >= last:
                    return True
        return False

    def _request_missing(
        self, topic: bytes, tries: int, within: tuple[int, int | None] = (0, None)
    ) -> None:
        """Ask for the missing messages of ``topic`` not asked for yet (within a span)."""
        held = [self._gate.missing(topic)]
        prev = self._gate.previous(topic)
        if prev is not None:
            held.append((prev.session, [(lo, hi) for lo, hi in prev.ranges]))
        lo_span, hi_span = within
        for session, ranges in filter(None, held):
            for lo, hi in ranges:
                lo, hi = max(lo, lo_span), hi if hi_span is None else min(hi, hi_span)
                if lo <= hi and not self._covered(topic, session, lo, hi):
                    self._request(topic, session, lo, hi, tries)

    def _request_previous(self, topic: bytes, session: int, newest: int, tries: int) -> None:
        """A publisher restarted: its previous session's gaps, and its tail after ``newest``."""
        if topic.startswith(self._prefixes):
            self._request_missing(topic, tries)
            self._request(topic, session, newest + 1, None, tries)

    def _request_tails(self) -> None:
        """After a (re)connection: what each stream missed while the link was down."""
        for out in self._requests.values():
            if self._conn is not None:
                self._conn.release(out.request.prefix)
        self._requests.clear()  # a new link: everything open is asked for again
        for topic, (session, seq) in self._gate.streams().items():
            if topic.startswith(RESENT_KINDS) and topic.startswith(self._prefixes):
                self._request_missing(topic, tries=1)
                self._request(topic, session, seq + 1, None, tries=1)
        for topic in self._gate.previous_topics():  # a restart's previous session, unfinished
            prev = self._gate.previous(topic)
            if prev is not None and not prev.end_known:
                self._request_previous(topic, prev.session, prev.newest, tries=1)

    def _request_new_session(self, agency: str, session: int) -> None:
        """A publisher restarted: what its new session sent before we were back, per topic."""
        streams = self._gate.streams()
        for prefix in self._prefixes:
            topic = prefix + agency.encode("ascii")
            if not topic.startswith(RESENT_KINDS):
                continue
            seen = streams.get(topic)
            if seen is None or seen[0] != session:  # (else its own gap was recorded)
                self._request(topic, session, 0, None, tries=1)

    def _done(self, out: _Outstanding, frame: bytes) -> None:
        """The publisher has answered: what is still missing is lost, or asked for again.

        An answer cut short at ``upto`` (the publisher's ``answer_limit``) settles
        ``first .. upto`` only; the rest is asked for at once, as the same try.
        """
        req = out.request
        self._release(req.prefix)
        try:
            sent, oldest, newest, upto = parse_done(frame)
        except ValueError:
            logger.warning("malformed resend answer from %s: %r", self._endpoint, frame[:80])
            return
        if req.last is None:  # a tail: a previous session's end is now known
            self._gate.end_previous(req.topic, req.session, newest)
        last = req.last if req.last is not None else (newest if newest is not None else req.first)
        if upto is not None and req.first <= upto < last:
            last = upto
        else:
            upto = None
        if oldest is None:  # another session (the publisher restarted), or nothing kept
            self._gate.give_up(
                req.topic,
                req.session,
                req.first,
                req.last if req.last is not None else _NO_END,
                "the publisher no longer holds them",
            )
        elif req.first < oldest:
            self._gate.give_up(
                req.topic, req.session, req.first, oldest - 1, "older than the publisher keeps"
            )
        if oldest is not None and out.received >= sent:  # all it had came: the rest never was
            self._gate.give_up(
                req.topic, req.session, req.first, last, "never held by the publisher"
            )
        self._retry(out, last)
        if upto is not None:  # the rest of a long answer
            if req.last is None:
                self._request(req.topic, req.session, upto + 1, None, out.tries)
            else:
                self._request_missing(req.topic, out.tries, (upto + 1, req.last))
        self._refresh_after_losses()

    def _retry(self, out: _Outstanding, last: int) -> None:
        req = out.request
        if out.tries >= RESEND_TRIES:
            self._gate.give_up(
                req.topic, req.session, req.first, last, f"not resent after {out.tries} requests"
            )
        else:
            self._request_missing(req.topic, out.tries + 1, (req.first, last))

    def _release(self, prefix: bytes) -> None:
        self._requests.pop(prefix, None)
        if self._conn is not None:
            self._conn.release(prefix)

    def _check_requests(self) -> None:
        now = time.monotonic()
        for prefix, out in list(self._requests.items()):
            if now - out.progress_at > RESEND_TIMEOUT_S:
                self._release(prefix)
                req = out.request
                last = req.last if req.last is not None else req.first
                if req.last is None:  # a tail: gaps it left were recorded and asked for
                    prev = self._gate.previous(req.topic)
                    if prev is not None and prev.session == req.session and not prev.end_known:
                        if out.tries < RESEND_TRIES:  # (else its end stays unknown: logged)
                            self._request_previous(
                                req.topic, req.session, prev.newest, out.tries + 1
                            )
                        else:
                            logger.warning(
                                "%r: no answer about the end of the previous session %#x",
                                req.topic,
                                req.session,
                            )
                    continue
                self._retry(out, last)
        for topic in self._gate.missing_topics():  # gaps not asked for (too many requests open)
            self._request_missing(topic, RESEND_TRIES)  # a last chance, then given up
        self._refresh_after_losses()

    def _refresh_after_losses(self) -> None:
        lost = self._gate.pop_lost()
        if _ALERT_PREFIX not in self._prefixes or not any(t.startswith(b"alert.") for t in lost):
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
        logger.warning("alerts lost from %s: asking for the last-value cache", self._endpoint)
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
                continue
            if self._lost_since is None:
                logger.info("bus link to %s: %s", self._endpoint, describe(event))
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._request_tails()
        if self._requests or self._gate.missing_topics():
            self._check_requests()
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
        self._requests.clear()  # asked for again once the new socket is connected
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
            self._resend_requests,
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
