"""Subscriber library: receive, verify and hand on bus messages.

A :class:`Subscriber` owns one SUB socket and must be used from the thread
that created it. ZMQ reconnects by itself (with back-off) and re-sends the
subscriptions after a reconnection; the CURVE keys are socket options, so they
survive too. ZMTP heartbeats detect a dead TCP connection. On every
(re)connection the publisher answers the subscription with its last-value
cache, so a restarted subscriber immediately has the current alerts.

Every message goes through a :class:`~eew.bus.gate.MessageGate` (signature,
freshness, replay, schema) and a :class:`~eew.bus.gate.HeartbeatWatchdog`
watches the heartbeats.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import zmq

from eew.bus.config import SubscriberConfig
from eew.bus.errors import BusError
from eew.bus.gate import GateStatistics, HeartbeatWatchdog, MessageGate, WatchdogEvent
from eew.bus.keys import CurveKeyPair, load_curve_keypair, load_curve_public_key
from eew.bus.signing import Verifier
from eew.bus.wire import KINDS, BusMessage, Heartbeat
from eew.model.clock import Clock

logger = logging.getLogger(__name__)

#: what a subscriber listens to by default (heartbeats are always added)
DEFAULT_KINDS = ("alert", "status")
_POLL_MAX_MS = 100  # the watchdog is checked at least this often [ms]
_MAX_MESSAGE_BYTES = 2 << 20


@dataclass(frozen=True, slots=True)
class CurveClient:
    """CURVE settings of a subscriber: its own key pair and the server's public key."""

    keypair: CurveKeyPair
    server_key: bytes

    @classmethod
    def from_files(
        cls, secret_file: str | os.PathLike[str], server_key_file: str | os.PathLike[str]
    ) -> CurveClient:
        """Load our ``NAME.key_secret`` and the publisher's public ``.key`` certificate."""
        return cls(load_curve_keypair(secret_file), load_curve_public_key(server_key_file))


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
    """

    messages: GateStatistics
    heartbeats_alive: bool
    heartbeat_losses: int


class Subscriber:
    """Receive verified alerts (and optionally picks, status) from a publisher.

    Parameters
    ----------
    endpoint : str
        The publisher's endpoint, e.g. ``tcp://eew.example.kz:5571``.
    verifier : Verifier or None
        Trusted agency keys; ``None`` accepts unsigned messages (insecure).
    clock : Clock
        Our clock, for freshness checks and the heartbeat watchdog.
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
        self._gate = MessageGate(verifier, clock, config)
        self._watchdog = HeartbeatWatchdog(
            clock, config.heartbeat_interval_s, config.heartbeat_missed_intervals
        )
        self._on_watchdog = on_watchdog
        self._losses = 0
        self._own_context = context is None
        self._context = context if context is not None else zmq.Context()
        self._socket = self._context.socket(zmq.SUB)
        try:
            self._configure(config, curve, {*kinds, "heartbeat"})
            self._socket.connect(endpoint)
        except zmq.ZMQError as exc:
            self.close()
            raise BusError(f"cannot subscribe to {endpoint}: {exc}") from exc
        self._endpoint = endpoint
        logger.info("subscribed to %s (CURVE %s)", endpoint, curve is not None)

    def _configure(
        self, config: SubscriberConfig, curve: CurveClient | None, kinds: set[str]
    ) -> None:
        s = self._socket
        s.linger = 0
        s.rcvhwm = config.rcvhwm_messages
        s.maxmsgsize = _MAX_MESSAGE_BYTES
        s.reconnect_ivl = round(config.reconnect_interval_s * 1000)
        s.reconnect_ivl_max = round(config.reconnect_interval_max_s * 1000)
        s.heartbeat_ivl = 2000  # ZMTP pings detect a dead TCP peer [ms]
        s.heartbeat_timeout = 6000
        if curve is not None:
            s.curve_secretkey = curve.keypair.secret_key
            s.curve_publickey = curve.keypair.public_key
            s.curve_serverkey = curve.server_key
        for kind in sorted(kinds):
            s.setsockopt(zmq.SUBSCRIBE, f"{kind}.".encode("ascii"))

    def receive(self, timeout_s: float) -> BusMessage | None:
        """Wait up to ``timeout_s`` [s, real time] for the next verified message.

        Dropped messages are counted and logged, never returned. Heartbeats
        are returned too (after feeding the watchdog).

        Returns
        -------
        BusMessage or None
            ``None`` if nothing valid arrived in time.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_watchdog()
            remaining_ms = (deadline - time.monotonic()) * 1000
            if remaining_ms <= 0:
                return None
            if not self._socket.poll(min(_POLL_MAX_MS, max(1, int(remaining_ms))), zmq.POLLIN):
                continue
            try:
                frames = self._socket.recv_multipart(zmq.DONTWAIT)
            except zmq.Again:
                continue
            message = self._gate.check(frames)
            if message is None:
                continue
            if isinstance(message.body, Heartbeat):
                self._emit(self._watchdog.beat(message.body))
            return message

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
        return SubscriberStatistics(self._gate.statistics(), self._watchdog.alive, self._losses)

    def close(self) -> None:
        """Close the socket (linger 0) and our own context."""
        if not self._socket.closed:
            self._socket.close(linger=0)
        if self._own_context and not self._context.closed:
            self._context.term()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
