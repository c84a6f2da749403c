"""The processing core shared by the live daemon and archive replay.

:class:`Pipeline` routes each :class:`~eew.model.packet.Packet` to the
:class:`~eew.detect.channel.ChannelProcessor` of its channel (built on first
use from the inventory) and hands every result to one ``sink`` callable. It
never publishes and never reads the wall clock: the clock is injected (the
data clock under replay, so a result's ``sent_time`` is the end time of the
packet that completed it).

Metadata against data (docs/processing.md, section 2). The station is not silenced by
a metadata mistake; each case is one warning per channel and a counter
(:class:`MetadataCounts`, in the statistics, the replay summary and the daemon's
heartbeat):

* the record's rate differs from the inventory's: the channel runs at the **record's**
  rate (filters designed for it), its gain and position from the inventory
  (``rate_mismatch``); a later change of rate restarts the channel at the new rate
  (``rate_changes``);
* no epoch of the channel covers the record: the nearest epoch is used
  (``outside_epoch``);
* the channel is not in the inventory, but exactly one channel of the same station has
  the same instrument and component letters (another location or band code, or a station
  code cut to 5 characters by miniSEED 2): that channel's metadata and id are used
  (``alias``);
* a channel that cannot be processed (unsupported unit, a rate too low for its trigger
  band; :mod:`eew.detect.bands`) is set aside (``set_aside``), its packets counted.

A station without any channel of ``trigger.components`` in the inventory (a
horizontal-only accelerometer such as many strong-motion sites) triggers on its other
channels: a P pick on a horizontal is later and less sharp than on a vertical, but a
station that cannot pick at all is worse for early warning.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial

import numpy as np

from eew.config import Config
from eew.detect.channel import ChannelProcessor
from eew.detect.peaks import PeakSample, PeakStore
from eew.detect.state import ChannelCounts, ChannelData
from eew.errors import ChannelError
from eew.inventory import ChannelInfo, Inventory, InventoryIssues, format_epoch
from eew.model.clock import Clock, DataClock, ObservingClock
from eew.model.packet import Packet
from eew.model.timeutil import ns_to_iso

log = logging.getLogger("eew.detect.router")


@dataclass(frozen=True, slots=True)
class MetadataCounts:
    """Channels whose records and metadata disagree, by how the router resolved it.

    Attributes
    ----------
    rate_mismatch : int
        Channels processed at their records' rate, not the inventory's.
    rate_changes : int
        Restarts of a channel at a new rate within the stream.
    outside_epoch : int
        Channels whose records lie outside every epoch (the nearest epoch was used).
    alias : int
        Record channels matched to another channel id of the same station.
    set_aside : int
        Channels that cannot be processed (their packets are counted and dropped).
    set_aside_packets : int
        Packets of those channels.
    filters_adapted : int
        Channels whose filter corners were lowered for their Nyquist frequency (not a
        problem: the rule of :mod:`eew.detect.bands`).
    """

    rate_mismatch: int = 0
    rate_changes: int = 0
    outside_epoch: int = 0
    alias: int = 0
    set_aside: int = 0
    set_aside_packets: int = 0
    filters_adapted: int = 0

    def as_dict(self) -> dict[str, int]:
        """The non-zero counters, by name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


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
    metadata: MetadataCounts = field(default_factory=MetadataCounts)
    inventory: InventoryIssues = field(default_factory=InventoryIssues)
    set_aside: dict[str, str] = field(default_factory=dict, repr=False)


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
        #: record channel id -> why it is set aside; its packets are counted in _aside_packets
        self._aside: dict[str, str] = {}
        self._aside_packets = 0
        #: counts of replaced processors (rate changes), added to the channel's statistics
        self._retired: dict[str, ChannelCounts] = {}
        #: record channel id -> inventory channel id it was matched to (alias)
        self._alias: dict[str, str] = {}
        self._meta: Counter[str] = Counter()
        self._triggering: dict[str, bool] = {}
        #: running peak acceleration per station (for the finite-fault estimator)
        self.peaks = PeakStore()

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
        if proc is None or packet.sampling_rate_hz != proc.fs:
            proc = self._make_channel(packet, proc)
            if proc is None:
                return
        proc.feed(packet)
        sid = proc.station_id
        self.peaks.add(sid, end, proc.last_peak_acc_cm_s2, proc.last_peak_vel_cm_s)
        if end > self._station_end.get(sid, 0):
            self._station_end[sid] = end
        if self._after_packet is not None:
            self._after_packet(self.clock.now_ns())

    def has_channel(self, channel_id: str) -> bool:
        """True if the channel has a processor (it was fed and is in the inventory)."""
        return channel_id in self._channels

    def peak_sample(self, channel_id: str, end_ns: int) -> PeakSample | None:
        """The last packet's peak motion of a channel, for a parallel replay's parent."""
        proc = self._channels.get(channel_id)
        if proc is None:
            return None
        return PeakSample(
            proc.station_id, end_ns, proc.last_peak_acc_cm_s2, proc.last_peak_vel_cm_s
        )

    def peak_acceleration_cm_s2(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest unclipped |acceleration| of a station between two data times [cm/s²]."""
        return self.peaks.peak(station_id, start_ns, end_ns)

    def peak_velocity_cm_s(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest unclipped |velocity| of a station between two data times [cm/s]."""
        return self.peaks.peak_velocity(station_id, start_ns, end_ns)

    def data_end_ns(self, station_id: str) -> int | None:
        """End time of the newest data seen from a station (``NET.STA``) [ns], or None."""
        return self._station_end.get(station_id)

    def _make_channel(
        self, packet: Packet, old: ChannelProcessor | None
    ) -> ChannelProcessor | None:
        """Build the processor of a new channel, or rebuild one for a new sample rate.

        Returns None (and counts) when the packet is not processed: channel unknown or set
        aside. Every case logs one line per channel (see the module docstring).
        """
        cid = packet.channel_id
        if cid in self._aside:
            self._aside_packets += 1
            return None
        fs = packet.sampling_rate_hz
        if old is not None:
            if abs(fs - old.fs) <= 1e-6 * old.fs:
                return old  # the same rate, written differently: keep the channel
            self._meta["rate_changes"] += 1
            log.warning(
                "%s: records change from %g Hz to %g Hz at %s; the channel restarts at %g Hz",
                cid,
                old.fs,
                fs,
                ns_to_iso(packet.starttime_ns),
                fs,
            )
            old.reset()
            self._retired[cid] = self._retired.get(cid, ChannelCounts()) + old.statistics()
            del self._channels[cid]
            info = old.info
        else:
            found = self.inventory.match(cid, packet.starttime_ns)
            if found is None:
                if self._unknown[cid] == 0:
                    log.warning("%s: channel not in the inventory; its data are ignored", cid)
                self._unknown[cid] += 1
                return None
            info = found.info
            if found.how == "outside_epoch":
                self._meta["outside_epoch"] += 1
                log.warning(
                    "%s: no inventory epoch covers %s; the nearest (%s) is used",
                    cid,
                    ns_to_iso(packet.starttime_ns),
                    format_epoch(info.start_ns, info.end_ns),
                )
            elif found.how == "alias":
                used = self._alias.values()
                if info.channel_id in used or info.channel_id in self._channels:
                    self._set_aside(cid, f"its inventory match {info.channel_id} is already in use")
                    return None
                self._meta["alias"] += 1
                self._alias[cid] = info.channel_id
                log.warning(
                    "%s: channel not in the inventory; processed with the metadata and id "
                    "of %s (same station, instrument and component)",
                    cid,
                    info.channel_id,
                )
            if abs(fs - info.sampling_rate_hz) > 1e-6 * info.sampling_rate_hz:
                self._meta["rate_mismatch"] += 1
                log.warning(
                    "%s: records at %g Hz but the inventory says %g Hz; processed at the "
                    "records' %g Hz with the inventory's gain and position",
                    cid,
                    fs,
                    info.sampling_rate_hz,
                    fs,
                )
            else:
                fs = info.sampling_rate_hz
        c = self.config
        try:
            proc = ChannelProcessor(
                info,
                c.processing,
                c.trigger,
                c.picker,
                c.rejection,
                self._sink,
                self.clock.now_ns,
                self._filter_cache,
                sampling_rate_hz=fs,
                can_trigger=self._can_trigger(info),
                siblings=partial(self._siblings, info.channel_id),
            )
        except ChannelError as exc:
            self._set_aside(cid, str(exc))
            return None
        if proc.filters.adapted and old is None:
            self._meta["filters_adapted"] += 1
            f = proc.filters
            log.info(
                "%s: at %g Hz the filters are adapted to its Nyquist frequency: band "
                "%g-%g Hz, high-pass %g Hz, tau_p low-pass %g Hz",
                cid,
                fs,
                f.band_low_hz,
                f.band_high_hz,
                f.highpass_hz,
                f.taup_lowpass_hz,
            )
        self._channels[cid] = proc
        return proc

    def _siblings(self, channel_id: str) -> list[ChannelData]:
        """The data of the other components of a channel's sensor (same id but the last letter)."""
        sensor = channel_id[:-1]
        return [
            p.data
            for cid, p in self._channels.items()
            if cid != channel_id and cid[:-1] == sensor and len(cid) == len(channel_id)
        ]

    def _set_aside(self, channel_id: str, why: str) -> None:
        self._aside[channel_id] = why
        self._aside_packets += 1
        log.warning("%s: channel set aside: %s", channel_id, why)

    def _can_trigger(self, info: ChannelInfo) -> bool:
        """``trigger.components``, or any component of a station without such a channel."""
        trig = self.config.trigger
        if info.component in trig.components:
            return True
        sid = info.station_id
        if sid not in self._triggering:
            prefix = sid + "."
            self._triggering[sid] = any(
                cid.startswith(prefix) and cid[-1] in trig.components for cid in self.inventory
            )
            if not self._triggering[sid]:
                log.info(
                    "%s: no channel of components %r; its other components may trigger",
                    sid,
                    trig.components,
                )
        return not self._triggering[sid]

    def metadata_counts(self) -> MetadataCounts:
        """The metadata-against-data counters (cheap: for every heartbeat)."""
        return MetadataCounts(
            **self._meta, set_aside=len(self._aside), set_aside_packets=self._aside_packets
        )

    def flush(self) -> None:
        """End of data: finish every pick in progress (used at the end of a replay)."""
        for proc in self._channels.values():
            proc.reset()

    def slow_states(self) -> dict[str, np.ndarray]:
        """:meth:`~eew.detect.channel.ChannelProcessor.slow_state` of every channel."""
        return {cid: p.slow_state() for cid, p in self._channels.items()}

    @property
    def fed_span_ns(self) -> tuple[int, int] | None:
        """Start of the earliest and end of the latest packet fed [ns] (None before any)."""
        if self._first_ns is None or self._last_ns is None:
            return None
        return self._first_ns, self._last_ns

    def statistics(self) -> PipelineStatistics:
        """Counters summed over channels, plus the per-channel detail."""
        per = {cid: p.statistics() for cid, p in sorted(self._channels.items())}
        for cid, counts in self._retired.items():
            per[cid] = counts + per[cid] if cid in per else counts
        total = sum(per.values(), ChannelCounts())
        span = 0.0
        if self._first_ns is not None and self._last_ns is not None:
            span = (self._last_ns - self._first_ns) / 1e9
        return PipelineStatistics(
            channels=len(self._channels),
            packets=total.packets + sum(self._unknown.values()) + self._aside_packets,
            samples=total.samples,
            picks=total.picks,
            pick_messages=total.pick_messages,
            rejections=dict(sorted(total.rejections.items())),
            data_problems=total.data_problems(),
            unknown_channels=len(self._unknown),
            data_span_s=span,
            per_channel=per,
            metadata=self.metadata_counts(),
            inventory=self.inventory.issues,
            set_aside=dict(sorted(self._aside.items())),
        )
