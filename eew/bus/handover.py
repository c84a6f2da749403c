"""The bounded, thread-safe queue from the processing core to the publisher thread.

Drop policy (also in ``docs/alert_bus.md``):

- **alerts: never refused, first alerts never dropped, updates coalesce.**
  Up to ``alert_capacity`` queued alerts every version is kept. Beyond it an
  event keeps at most two entries: its oldest queued entry (which is the
  event's first alert whenever that has not been sent yet: it is never
  replaced) and one newest entry, which each further version replaces in
  place (counted in ``alerts_superseded``; subscribers only need the newest
  version, and ``final``/``delete`` are newest by definition). So a burst of
  any number of distinct events is queued whole, and the queue never holds
  more than ``alert_capacity + 2 x`` (distinct events with queued alerts);
- **picks: drop oldest.** A full pick queue discards its oldest pick (a stale
  pick is worth less than a fresh one), counted in ``picks_dropped``;
- **status: drop oldest**, counted.

The publisher drains alerts first, then status, then picks. Producers wake
the publisher thread through a self-pipe whose read end the thread polls
together with its ZMQ socket, so nothing waits on a timer.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from eew.model.alert import Alert
from eew.model.pick import Pick


@dataclass(frozen=True, slots=True)
class HandoverStatistics:
    """Queue depths and drop counters of a :class:`Handover`."""

    alerts_queued: int
    picks_queued: int
    status_queued: int
    alert_capacity: int
    pick_capacity: int
    picks_dropped: int
    status_dropped: int
    alerts_superseded: int
    alerts_peak: int = 0


class Handover:
    """Bounded queues for alerts, picks and status messages.

    Parameters
    ----------
    alert_capacity, pick_capacity, status_capacity : int
        Queue sizes [messages].
    """

    def __init__(self, alert_capacity: int, pick_capacity: int, status_capacity: int) -> None:
        self._lock = threading.Lock()
        self._alert_capacity = alert_capacity
        #: (event id, slot) -> alert, in sending order; slot 0 is the event's oldest entry
        self._alerts: OrderedDict[tuple[str, int], Alert] = OrderedDict()
        self._slots: dict[str, int] = {}  # event id -> its newest slot
        self._picks: deque[Pick] = deque(maxlen=pick_capacity)
        self._status: deque[tuple[str, str]] = deque(maxlen=status_capacity)
        self._picks_dropped = 0
        self._status_dropped = 0
        self._superseded = 0
        self._peak = 0
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def fileno(self) -> int:
        """File descriptor that becomes readable when something was queued."""
        return self._read_fd

    def _wake(self) -> None:
        try:
            os.write(self._write_fd, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is already pending

    def put_alert(self, alert: Alert) -> None:
        """Queue an alert; never refuses, never drops a first alert (module docstring)."""
        event_id = alert.event_id
        with self._lock:
            newest = self._slots.get(event_id)
            if newest is not None and newest >= 1 and len(self._alerts) >= self._alert_capacity:
                self._alerts[(event_id, newest)] = alert  # coalesce, keeping the position
                self._superseded += 1
            else:
                slot = 0 if newest is None else newest + 1
                self._alerts[(event_id, slot)] = alert
                self._slots[event_id] = slot
            self._peak = max(self._peak, len(self._alerts))
        self._wake()

    def put_pick(self, pick: Pick) -> bool:
        """Queue a pick; return False if the oldest queued pick had to be dropped."""
        with self._lock:
            full = len(self._picks) == self._picks.maxlen
            self._picks_dropped += full
            self._picks.append(pick)
        self._wake()
        return not full

    def put_status(self, state: str, detail: str = "") -> None:
        """Queue a status message (drop oldest)."""
        with self._lock:
            self._status_dropped += len(self._status) == self._status.maxlen
            self._status.append((state, detail))
        self._wake()

    def drain(self) -> tuple[list[Alert], list[tuple[str, str]], list[Pick]]:
        """Take everything queued: ``(alerts, status, picks)``, each oldest first."""
        try:
            while os.read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            pass  # pipe emptied
        with self._lock:
            out = (list(self._alerts.values()), list(self._status), list(self._picks))
            self._alerts.clear()
            self._slots.clear()
            self._status.clear()
            self._picks.clear()
        return out

    def statistics(self) -> HandoverStatistics:
        """Snapshot of depths and counters."""
        with self._lock:
            return HandoverStatistics(
                alerts_queued=len(self._alerts),
                picks_queued=len(self._picks),
                status_queued=len(self._status),
                alert_capacity=self._alert_capacity,
                pick_capacity=self._picks.maxlen or 0,
                picks_dropped=self._picks_dropped,
                status_dropped=self._status_dropped,
                alerts_superseded=self._superseded,
                alerts_peak=self._peak,
            )

    def close(self) -> None:
        """Release the wake-up pipe."""
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1
