"""What the parts of one channel share, and the typed snapshot of its counters.

:class:`ChannelData` is the narrow interface between
:class:`~eew.detect.channel.ChannelProcessor`, which writes it for every packet, and
:class:`~eew.detect.picker.Picker`, which reads it: the recent samples, their time base and
the clipped and calibration episodes. The picker never sees the processor.

:class:`ChannelCounts` is the frozen record of one channel's counters
(:meth:`~eew.detect.channel.ChannelProcessor.statistics`); records add up with ``+``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from eew.detect.ring import History


class ChannelData:
    """Recent samples of one channel with their time base and quality episodes.

    Parameters
    ----------
    history : History
        The ring of recent samples (rows of :mod:`eew.dsp.chain` plus the raw counts).
    period_ns : float
        Sample period [ns].

    Attributes
    ----------
    anchor_ns, anchor_k : int
        Start time [ns] and absolute index of the newest packet (the time base of
        :meth:`time_of`).
    clip_spans, calibration_spans : list of (int, int)
        ``(first, last)`` absolute indices of the recent clipped samples, one entry per
        clip episode, and ``[start, end)`` of the recent records flagged as calibration.
    """

    __slots__ = ("anchor_k", "anchor_ns", "calibration_spans", "clip_spans", "history", "period_ns")

    def __init__(self, history: History, period_ns: float) -> None:
        self.history = history
        self.period_ns = period_ns
        self.anchor_ns = 0
        self.anchor_k = 0
        self.clip_spans: list[tuple[int, int]] = []
        self.calibration_spans: list[tuple[int, int]] = []

    def time_of(self, k: int) -> int:
        """Time of absolute sample ``k`` [ns], from the newest packet's start time."""
        return self.anchor_ns + round((k - self.anchor_k) * self.period_ns)

    def clipped_between(self, k_start: int, k_end: int) -> bool:
        """True if any sample in ``[k_start, k_end)`` was clipped (only data already seen)."""
        return any(a < k_end and b >= k_start for a, b in self.clip_spans)

    def clear(self) -> None:
        """Forget the samples and the episodes (a reset: gap, overlap, revived channel)."""
        self.history.clear()
        self.clip_spans = []
        self.calibration_spans = []


@dataclass(frozen=True, slots=True)
class ChannelCounts:
    """Counters of one channel (or, summed with ``+``, of several).

    Attributes
    ----------
    packets, samples : int
        Packets fed, samples processed.
    gaps, overlaps, duplicates, rate_mismatch, empty_packets : int
        Continuity problems (state resets, dropped records).
    dead, revived, clip_episodes : int
        Channels declared dead, dead channels come back, clip episodes.
    triggers, picks, pick_messages : int
        Trigger-ons, accepted picks, pick messages (every update counts).
    rejections : mapping
        Rejected triggers per reason (``low_snr``, ``clipped``...); only reasons seen.
    """

    packets: int = 0
    samples: int = 0
    gaps: int = 0
    overlaps: int = 0
    duplicates: int = 0
    rate_mismatch: int = 0
    empty_packets: int = 0
    dead: int = 0
    revived: int = 0
    clip_episodes: int = 0
    triggers: int = 0
    picks: int = 0
    pick_messages: int = 0
    rejections: Mapping[str, int] = field(default_factory=dict)

    def data_problems(self) -> dict[str, int]:
        """The non-zero data-problem counters, by name, in a fixed order."""
        pairs = (
            ("gaps", self.gaps),
            ("overlaps", self.overlaps),
            ("duplicates", self.duplicates),
            ("rate_mismatch", self.rate_mismatch),
            ("empty_packets", self.empty_packets),
            ("dead", self.dead),
            ("revived", self.revived),
            ("clip_episodes", self.clip_episodes),
        )
        return {k: v for k, v in pairs if v}

    def __add__(self, other: ChannelCounts) -> ChannelCounts:
        if not isinstance(other, ChannelCounts):
            return NotImplemented
        rejections = dict(self.rejections)
        for reason, n in other.rejections.items():
            rejections[reason] = rejections.get(reason, 0) + n
        sums = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "rejections"
        }
        return ChannelCounts(**sums, rejections=rejections)
