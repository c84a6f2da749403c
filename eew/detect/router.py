"""The processing core shared by the live daemon and archive replay.

:class:`Pipeline` routes each :class:`~eew.model.packet.Packet` to the
:class:`~eew.detect.channel.ChannelProcessor` of its channel (built on first
use from the inventory) and hands every result to one ``sink`` callable. It
never publishes and never reads the wall clock: the clock is injected (the
data clock under replay, so a result's ``sent_time`` is the end time of the
packet that completed it).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eew.config import Config
from eew.detect.channel import ChannelProcessor
from eew.detect.state import ChannelCounts
from eew.inventory import Inventory
from eew.model.clock import Clock, DataClock, ObservingClock
from eew.model.packet import Packet

log = logging.getLogger("eew.detect.router")


@dataclass(frozen=True)
class PipelineStatistics:
    """A snapshot of the pipeline's counters."""

    channels: int
    packets: int
    samples: int
    picks: int
    pick_messages: int
    rejections: dict[str, int]
    data_problems: dict[str, int]
    unknown_channels: int
    data_span_s: float
    per_channel: dict[str, ChannelCounts] = field(repr=False)


class Pipeline:
    """Packets in, picks out.

    Parameters
    ----------
    config : Config
        Validated processing configuration; each channel gets its sections ``processing``,
        ``trigger``, ``picker`` and ``rejection``.
    inventory : Inventory
        Station metadata; packets of channels not in it are dropped and counted.
    sink : callable
        Receives every result (:class:`~eew.model.pick.Pick`,
        :class:`~eew.model.pick.RejectedTrigger`).
    clock : Clock, optional
        Time source; default a :class:`~eew.model.clock.DataClock` that follows the data.
    after_packet : callable, optional
        Called with the clock's time after every packet (the event core's ``tick``).
    """

    def __init__(
        self,
        config: Config,
        inventory: Inventory,
        sink: Callable[[object], None],
        clock: Clock | None = None,
        after_packet: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self._after_packet = after_packet
        self.inventory = inventory
        self._sink = sink
        self.clock: Clock = clock if clock is not None else DataClock()
        self._observe = self.clock.observe_ns if isinstance(self.clock, ObservingClock) else None
        self._channels: dict[str, ChannelProcessor] = {}
        self._unknown: Counter[str] = Counter()
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self._station_end: dict[str, int] = {}
        self._filter_cache: dict[tuple[object, ...], np.ndarray] = {}

    def feed(self, packet: Packet) -> None:
        """Process one packet: advance the data clock, route it to its channel."""
        end = packet.endtime_ns
        if self._observe is not None:
            self._observe(end)
        start = packet.starttime_ns
        if self._first_ns is None or start < self._first_ns:
            self._first_ns = start
        if self._last_ns is None or end > self._last_ns:
            self._last_ns = end
        proc = self._channels.get(packet.channel_id)
        if proc is None:
            proc = self._make_channel(packet)
            if proc is None:
                return
        proc.feed(packet)
        sid = proc.station_id
        if end > self._station_end.get(sid, 0):
            self._station_end[sid] = end
        if self._after_packet is not None:
            self._after_packet(self.clock.now_ns())

    def has_channel(self, channel_id: str) -> bool:
        """True if the channel has a processor (it was fed and is in the inventory)."""
        return channel_id in self._channels

    def data_end_ns(self, station_id: str) -> int | None:
        """End time of the newest data seen from a station (``NET.STA``) [ns], or None."""
        return self._station_end.get(station_id)

    def _make_channel(self, packet: Packet) -> ChannelProcessor | None:
        info = self.inventory.get(packet.channel_id, packet.starttime_ns)
        if info is None:
            if self._unknown[packet.channel_id] == 0:
                log.warning(
                    "%s: channel not in the inventory; its data are ignored", packet.channel_id
                )
            self._unknown[packet.channel_id] += 1
            return None
        c = self.config
        proc = ChannelProcessor(
            info,
            c.processing,
            c.trigger,
            c.picker,
            c.rejection,
            self._sink,
            self.clock.now_ns,
            self._filter_cache,
            source=c.source,
        )
        self._channels[packet.channel_id] = proc
        return proc

    def flush(self) -> None:
        """End of data: finish every pick in progress (used at the end of a replay)."""
        for proc in self._channels.values():
            proc.reset()

    def statistics(self) -> PipelineStatistics:
        """Counters summed over channels, plus the per-channel detail."""
        per = {cid: p.statistics() for cid, p in sorted(self._channels.items())}
        total = sum(per.values(), ChannelCounts())
        span = 0.0
        if self._first_ns is not None and self._last_ns is not None:
            span = (self._last_ns - self._first_ns) / 1e9
        return PipelineStatistics(
            channels=len(self._channels),
            packets=total.packets + sum(self._unknown.values()),
            samples=total.samples,
            picks=total.picks,
            pick_messages=total.pick_messages,
            rejections=dict(sorted(total.rejections.items())),
            data_problems=total.data_problems(),
            unknown_channels=len(self._unknown),
            data_span_s=span,
            per_channel=per,
        )
