"""The handover from the processing chain to the console: bounded, never blocking.

The chain's sink and packet hook call :meth:`ConsoleTap.observe` and
:meth:`ConsoleTap.observe_packet` in the processing thread. Each is one ``deque.append``
(atomic under the GIL, O(1), no lock, no I/O, no allocation beyond the deque's slot): the
console can never slow the processing down or make it wait. The console's own thread takes
what is there with :meth:`ConsoleTap.drain`.

Drop policy (counted in :meth:`ConsoleTap.statistics`):

* alerts: their own queue of ``alert_queue_size``; full: the oldest is dropped (a burst of
  that many alert versions between two console updates does not happen in practice);
* picks and rejected triggers (events are not shown): ``queue_size``; full: the oldest is dropped;
* packets: ``packet_queue_size``; full: the oldest is dropped (the console then shows a
  gap in a trace, and the latency and age of the next packet are still right).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from eew.model.alert import Alert
from eew.model.packet import Packet
from eew.model.pick import Pick, RejectedTrigger


@dataclass(frozen=True, slots=True)
class TapStatistics:
    """Counters of a :class:`ConsoleTap` (all since the start)."""

    alerts: int
    results: int
    packets: int
    dropped_alerts: int
    dropped_results: int
    dropped_packets: int


class ConsoleTap:
    """Bounded, drop-oldest queues between the processing thread and the console.

    Parameters
    ----------
    queue_size : int
        Picks and rejected triggers held [items].
    packet_queue_size : int
        Packets held [items].
    alert_queue_size : int
        Alerts held [items].
    """

    def __init__(
        self, queue_size: int = 4096, packet_queue_size: int = 8192, alert_queue_size: int = 256
    ) -> None:
        self._alerts: deque[Alert] = deque(maxlen=alert_queue_size)
        self._results: deque[Any] = deque(maxlen=queue_size)
        self._packets: deque[Packet] = deque(maxlen=packet_queue_size)
        # written by the processing thread only; read (approximately) by the console
        self._n = [0, 0, 0]
        self._dropped = [0, 0, 0]

    def observe(self, value: object) -> None:
        """Take one result of the chain (alerts, picks, rejections; the rest is ignored)."""
        if isinstance(value, Alert):
            self._put(0, self._alerts, value)
        elif isinstance(value, (Pick, RejectedTrigger)):
            self._put(1, self._results, value)

    def observe_packet(self, packet: Packet) -> None:
        """Take one packet (the packet is a value: never modified, so shared as is)."""
        self._put(2, self._packets, packet)

    def _put(self, i: int, q: deque[Any], value: Any) -> None:
        if len(q) == q.maxlen:
            self._dropped[i] += 1
        q.append(value)
        self._n[i] += 1

    def drain(self, limit: int = 100_000) -> tuple[list[Alert], list[Any], list[Packet]]:
        """Take what is queued (console thread): alerts, other results, packets, each in order."""
        return _take(self._alerts, limit), _take(self._results, limit), _take(self._packets, limit)

    def statistics(self) -> TapStatistics:
        """Counters (a snapshot)."""
        n, d = self._n, self._dropped
        return TapStatistics(n[0], n[1], n[2], d[0], d[1], d[2])


def _take(q: deque[Any], limit: int) -> list[Any]:
    out: list[Any] = []
    while q and len(out) < limit:
        try:
            out.append(q.popleft())
        except IndexError:  # emptied between the test and the pop
            break
    return out
