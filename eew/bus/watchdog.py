"""The subscriber's heartbeat watchdog: silence, impostors and recovery, told apart.

:class:`HeartbeatWatchdog` is fed every verified heartbeat (:meth:`~HeartbeatWatchdog.beat`)
and every heartbeat the :class:`~eew.bus.gate.MessageGate` dropped
(:meth:`~HeartbeatWatchdog.reject`); :meth:`~HeartbeatWatchdog.check` returns a ``lost``
event once when none valid came for ``missed_intervals`` periods (naming why: never
any, stopped, or arriving but failing verification), and ``beat`` a ``resumed`` one.
Free of sockets, on the subscriber's injected clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eew.bus.wire import Heartbeat
from eew.model.clock import Clock

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatchdogEvent:
    """A change of the heartbeat watchdog's state.

    Attributes
    ----------
    state : str
        ``lost`` (heartbeats stopped) or ``resumed``.
    silence_s : float
        How long no heartbeat had come [s] (subscriber clock).
    message : str
        Human-readable explanation.
    """

    state: str
    silence_s: float
    message: str


class HeartbeatWatchdog:
    """Tells when heartbeats stop for more than N intervals, and when they resume.

    Parameters
    ----------
    clock : Clock
        The subscriber's clock.
    interval_s : float
        Expected heartbeat period until a heartbeat announces its own [s].
    missed_intervals : float
        How many periods may pass without a heartbeat.
    label : str
        Whose heartbeats: the endpoint and the expected agency (named in every message).
    """

    def __init__(
        self, clock: Clock, interval_s: float, missed_intervals: float, label: str = ""
    ) -> None:
        self._label = label or "the publisher"
        #: heartbeats dropped by the gate since the last valid one, per reason
        self.rejected: dict[str, int] = {}
        self._clock = clock
        self._interval_s = interval_s
        self._missed = missed_intervals
        self._last_ns = clock.now_ns()
        self._ever = False
        self._lost = False

    @property
    def alive(self) -> bool:
        """False while heartbeats are overdue."""
        return not self._lost

    def beat(self, heartbeat: Heartbeat) -> WatchdogEvent | None:
        """Record a heartbeat; return a ``resumed`` event if they had stopped."""
        now = self._clock.now_ns()
        silence_s = (now - self._last_ns) / 1e9
        self._interval_s = heartbeat.interval_s
        self._last_ns = now
        self._ever = True
        self.rejected = {}
        if not self._lost:
            return None
        self._lost = False
        msg = (
            f"heartbeats from {self._label} ({heartbeat.agency}) resumed after "
            f"{silence_s:.1f} s of silence"
        )
        logger.warning(msg)
        return WatchdogEvent("resumed", silence_s, msg)

    def reject(self, reason: str) -> None:
        """Count a heartbeat the gate dropped (forged, unsigned, stale...)."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def check(self) -> WatchdogEvent | None:
        """Return a ``lost`` event once when heartbeats have become overdue."""
        silence_s = (self._clock.now_ns() - self._last_ns) / 1e9
        if self._lost or silence_s <= self._missed * self._interval_s:
            return None
        self._lost = True
        if self.rejected:
            why = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()))
            msg = (
                f"HEARTBEATS REJECTED from {self._label} for {silence_s:.1f} s: heartbeats "
                f"arrive but fail verification ({why}): an impostor or a wrong key, "
                "not a silent publisher; alerts may be missed"
            )
        elif self._ever:
            msg = (
                f"NO HEARTBEAT for {silence_s:.1f} s from {self._label} "
                f"({silence_s / self._interval_s:.1f} intervals): the alert feed may be down; "
                "alerts may be missed"
            )
        else:
            msg = (
                f"NO HEARTBEAT since start ({silence_s:.1f} s) from {self._label}: publisher "
                "down, wrong endpoint, wrong server key, or this subscriber's CURVE key is not "
                "allowed"
            )
        logger.error(msg)
        return WatchdogEvent("lost", silence_s, msg)
