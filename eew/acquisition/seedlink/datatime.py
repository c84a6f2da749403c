"""De-duplication by data time for the SeedLink client (:mod:`.session`).

After a server's ring was reset, or when a client restarted on its state file, sequence
numbers cannot tell records already delivered from new ones; data times can. Per
channel the session keeps a :class:`Seen` (the end of what the channel delivered and the
start times of its last records); :func:`after_end` gives what a record holds after such
an end.
"""

from __future__ import annotations

from collections import deque

from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S

#: record start times remembered per channel for de-duplication by data time
RECENT_RECORDS = 64


class Seen:
    """What one channel delivered, by data time.

    The end of its newest record and the start times of its last :data:`RECENT_RECORDS`
    records.
    """

    __slots__ = ("last_end_ns", "order", "starts", "tol_ns")

    def __init__(self, pkt: Packet) -> None:
        self.last_end_ns = pkt.endtime_ns
        self.tol_ns = round(0.5 * NS_PER_S / pkt.sampling_rate_hz)
        self.order: deque[int] = deque()
        self.starts: set[int] = set()
        self.add(pkt)

    def add(self, pkt: Packet) -> None:
        """Note a record the channel delivered."""
        self.last_end_ns = max(self.last_end_ns, pkt.endtime_ns)
        t = pkt.starttime_ns
        if t in self.starts:
            return
        self.starts.add(t)
        self.order.append(t)
        if len(self.order) > RECENT_RECORDS:
            self.starts.discard(self.order.popleft())

    def repeats(self, pkt: Packet) -> bool:
        """True if a record with this start time was delivered (recently)."""
        return pkt.starttime_ns in self.starts

    def before_memory(self, pkt: Packet) -> bool:
        """True if the record ends before the oldest remembered start (too old to tell)."""
        return bool(self.order) and pkt.endtime_ns <= min(self.order) + self.tol_ns


def starts_after(pkt: Packet, end_ns: int) -> bool:
    """True if ``pkt`` starts at or after ``end_ns``, within half a sample interval."""
    return pkt.starttime_ns >= end_ns - round(0.5 * NS_PER_S / pkt.sampling_rate_hz)


def after_end(pkt: Packet, end_ns: int) -> Packet | None:
    """What ``pkt`` holds after ``end_ns`` (the end of the samples its channel delivered).

    ``pkt`` itself if it starts there or later (within half a sample interval), None if
    it ends there or earlier, else a copy with only its samples from ``end_ns`` on (a
    record that straddles it: the server packs the channel into records other than those
    delivered, after a restart or a fail-over; delivered whole, the processing chain would
    take the overlap for a fault and reset the channel, dropped whole, its new samples
    would be lost).
    """
    if starts_after(pkt, end_ns):
        return pkt
    period = NS_PER_S / pkt.sampling_rate_hz
    k = round((end_ns - pkt.starttime_ns) / period)
    if k >= pkt.n_samples:
        return None
    return pkt.replace(starttime_ns=pkt.starttime_ns + round(k * period), data=pkt.data[k:])
