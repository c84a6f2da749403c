"""Injected clocks.

The processing core never reads the wall clock. Whoever builds the pipeline
passes a clock: the live daemon a :class:`WallClock`, a replay a
:class:`DataClock` that follows the data (its time is the end time of the last
packet handed to the core; any :class:`ObservingClock` does), tests a
:class:`ManualClock`.

Times are integer nanoseconds since the Unix epoch (UTC), as in libmseed.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    """Anything that can tell the current time in ns since the epoch."""

    def now_ns(self) -> int:
        """Return the current time [ns since 1970-01-01 UTC]."""
        ...


@runtime_checkable
class ObservingClock(Clock, Protocol):
    """A clock that follows the data: told the time of each input, it never runs back.

    The processing chain (:mod:`eew.assembly`) tells such a clock the end time of every
    packet and the sent time of every pick from elsewhere; :class:`DataClock` is one.
    """

    def observe_ns(self, t_ns: int) -> None:
        """Advance to ``t_ns`` [ns] if it is later than the current time."""
        ...


class WallClock:
    """The system clock; only the daemon and the CLI create one."""

    def now_ns(self) -> int:
        """Return the system time [ns since 1970-01-01 UTC]."""
        return time.time_ns()


class ManualClock:
    """A clock that only moves when told to (for tests)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = int(start_ns)

    def now_ns(self) -> int:
        """Return the current manual time [ns]."""
        return self._now_ns

    def set_ns(self, t_ns: int) -> None:
        """Jump to ``t_ns`` [ns]; time may not run backwards."""
        if t_ns < self._now_ns:
            raise ValueError("ManualClock cannot run backwards")
        self._now_ns = int(t_ns)

    def advance_s(self, dt_s: float) -> None:
        """Move forward by ``dt_s`` seconds."""
        self.set_ns(self._now_ns + round(dt_s * 1e9))


class DataClock(ManualClock):
    """Replay clock: the time is the end of the newest packet seen.

    Under replay "now" is the data: a result that depends on a packet is
    stamped with that packet's end time, as it would be live with zero
    telemetry delay. The clock never runs backwards (late packets do not
    rewind it).
    """

    def observe_ns(self, t_ns: int) -> None:
        """Advance to ``t_ns`` if it is later than the current time."""
        if t_ns > self._now_ns:
            self._now_ns = int(t_ns)
