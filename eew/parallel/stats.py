"""The counters of a parallel replay's parts added up (:mod:`eew.parallel`).

The channel split's workers each count a share of the channels over the whole archive;
the time chunks each count every channel over their own stretch (a snapshot taken where the
warm-up ends subtracted from the counters at the end: :func:`minus_statistics`).
:func:`sum_statistics` adds either kind up into the single run's counters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields, replace
from typing import Any

from eew.detect.router import PipelineStatistics
from eew.detect.state import ChannelCounts
from eew.event.core import EventStatistics


def sum_statistics(
    parts: list[PipelineStatistics], span_s: float, *, same_channels: bool
) -> PipelineStatistics:
    """The counters of the whole replay from those of its parts.

    Parameters
    ----------
    parts : list of PipelineStatistics
        One per worker (channel split) or per time chunk.
    span_s : float
        Data span of the whole replay [s].
    same_channels : bool
        False: the parts hold different channels (the channel split); their channels not in
        the inventory are added up, and the per-channel notes (metadata, inventory, set
        aside) are not kept. True: every part holds the same channels over another stretch
        (time chunks); the channels not in the inventory are the most any part saw, the
        metadata and inventory notes are the last part's and the channels set aside all
        parts'.
    """
    per: dict[str, ChannelCounts] = {}
    for s in parts:
        for cid, c in s.per_channel.items():
            per[cid] = per[cid] + c if cid in per else c
    per = dict(sorted(per.items()))
    total = sum(per.values(), ChannelCounts())
    unknown_packets = sum(s.packets - sum(c.packets for c in s.per_channel.values()) for s in parts)
    unknown = [s.unknown_channels for s in parts]
    out = PipelineStatistics(
        channels=len(per),
        packets=total.packets + unknown_packets,
        samples=total.samples,
        picks=total.picks,
        pick_messages=total.pick_messages,
        rejections=dict(sorted(total.rejections.items())),
        data_problems=total.data_problems(),
        unknown_channels=max(unknown, default=0) if same_channels else sum(unknown),
        data_span_s=span_s,
        per_channel=per,
    )
    if not same_channels or not parts:
        return out
    return replace(
        out,
        metadata=parts[-1].metadata,
        inventory=parts[-1].inventory,
        set_aside={k: v for s in parts for k, v in s.set_aside.items()},
    )


def sum_events(parts: list[EventStatistics | None]) -> EventStatistics | None:
    """The event counters of the time chunks added up (None without an event stage)."""
    if any(p is None for p in parts):
        return None
    return EventStatistics(
        *(sum(getattr(p, f.name) for p in parts) for f in fields(EventStatistics))
    )


def _minus_counts(a: ChannelCounts, b: ChannelCounts) -> ChannelCounts:
    values: dict[str, Any] = {}
    for f in fields(ChannelCounts):
        if f.name == "rejections":
            r = Counter(a.rejections)
            r.subtract(b.rejections)
            values[f.name] = dict(sorted((+r).items()))
        else:
            values[f.name] = getattr(a, f.name) - getattr(b, f.name)
    return ChannelCounts(**values)


def minus_statistics(a: PipelineStatistics, b: PipelineStatistics) -> PipelineStatistics:
    """The counters of what was processed between snapshot ``b`` and snapshot ``a``."""
    per = {
        cid: _minus_counts(c, b.per_channel.get(cid, ChannelCounts()))
        for cid, c in a.per_channel.items()
    }
    return replace(a, per_channel=per, packets=a.packets - b.packets)


def minus_events(a: EventStatistics | None, b: EventStatistics | None) -> EventStatistics | None:
    """The event counters between snapshot ``b`` and snapshot ``a`` (None without a stage)."""
    if a is None or b is None:
        return a
    return EventStatistics(*(getattr(a, f.name) - getattr(b, f.name) for f in fields(a)))
