"""Run an archive through the processing chain and keep every value.

The chain is the one ``eew replay`` and ``eew run`` use (:func:`eew.assembly.build_chain`)
on a :class:`~eew.model.clock.DataClock`. The only difference is the packet stream:
records are cut into packets of at most ``packet_s`` seconds and delivered in the order
their last sample was recorded (see :func:`live_packets`).

Why re-packetise
----------------
Live EEW dataloggers send about 1-s packets. The archive's 512-byte Steim-2 records hold
several seconds of quiet data (up to ~10 s at 100 Hz), and a record only becomes
available when its last sample is recorded: replaying whole records would delay every
pick, and so every alert, by up to the record length. Cutting records into 1-s packets and
re-sorting them by end time reproduces what a live system sees with zero telemetry delay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eew.acquisition.archive import ArchiveIndex, index_archive, iter_packets, split_packet
from eew.assembly import build_chain
from eew.daemon.config import Settings, load_settings
from eew.detect.router import PipelineStatistics
from eew.event.core import EventStatistics
from eew.event.lifecycle import EventState
from eew.event.targets import Target, load_targets
from eew.inventory import Inventory, load_inventory
from eew.model.alert import Alert
from eew.model.clock import DataClock
from eew.model.packet import Packet
from eew.model.pick import Pick

DEFAULT_PACKET_S = 1.0


@dataclass
class ReplayRun:
    """Everything a replay produced.

    Attributes
    ----------
    picks : list of Pick
        Every pick message, in emission order.
    events : list of EventState
        Every event estimate (``type: "event"`` values).
    alerts : list of Alert
        Every alert message (source, onsite, PLUM).
    packet_ends_ns : dict
        ``NET.STA`` -> sorted end times of the station's packets [ns] (to find the packet
        that delivered a given sample).
    statistics : PipelineStatistics or None
        Pipeline counters at the end of the run.
    core_counters : EventStatistics or None
        Event-core counters (events, teleseisms, alerts).
    targets : tuple of Target
        Target sites used for the forecasts.
    """

    picks: list[Pick] = field(default_factory=list)
    events: list[EventState] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    packet_ends_ns: dict[str, list[int]] = field(default_factory=dict)
    statistics: PipelineStatistics | None = None
    core_counters: EventStatistics | None = None
    targets: tuple[Target, ...] = ()

    def values(self) -> list[object]:
        """Picks, events and alerts in one list (emission order is not kept across types)."""
        return [*self.picks, *self.events, *self.alerts]

    def packet_end_after(self, station_id: str, t_ns: int) -> int | None:
        """End time of the first packet of a station that holds the sample at ``t_ns`` [ns]."""
        ends = self.packet_ends_ns.get(station_id, [])
        for e in ends:
            if e > t_ns:
                return e
        return None


def live_packets(idx: ArchiveIndex, packet_s: float) -> Iterator[Packet]:
    """Packets of at most ``packet_s`` seconds, in the order a live feed would deliver them.

    Each record is cut into packets of ``round(packet_s * fs)`` samples (per channel), and
    all packets are merged by their end time (ties: channel id, then start time), as
    :func:`~eew.acquisition.archive.iter_packets` orders whole records. ``packet_s <= 0`` keeps
    one record per packet (the plain ``eew replay`` stream).

    Parameters
    ----------
    idx : ArchiveIndex
        From :func:`~eew.acquisition.archive.index_archive`.
    packet_s : float
        Longest packet [s].
    """
    if packet_s <= 0:
        yield from iter_packets(idx, 0)
        return
    # a 1-s packet is available when its last sample is recorded; a record may start
    # seconds before an earlier-ending one, so every record is cut before sorting
    # (scenarios are minutes long: the decoded samples fit in memory)
    pkts: list[tuple[int, str, int, int, Packet]] = []
    for rec in iter_packets(idx, 0):
        n_max = max(1, round(packet_s * rec.sampling_rate_hz))
        for p in split_packet(rec, n_max) if rec.n_samples > n_max else (rec,):
            pkts.append((p.endtime_ns, p.channel_id, p.starttime_ns, len(pkts), p))
    pkts.sort(key=lambda k: k[:4])
    for item in pkts:
        yield item[-1]


def run_packets(
    packets: Iterable[Packet],
    settings: Settings,
    inventory: Inventory,
    targets: tuple[Target, ...] | None = None,
    on_packet: Callable[[Packet], None] | None = None,
) -> ReplayRun:
    """Feed packets through the processing chain; collect picks, events and alerts.

    Parameters
    ----------
    packets : iterable of Packet
        In delivery order.
    settings : Settings
        Configuration.
    inventory : Inventory
        Station metadata.
    targets : tuple of Target, optional
        Target sites (default: the configured file).
    on_packet : callable, optional
        Called before each packet is fed (e.g. a pacer for ``--speed``).
    """
    if targets is None:
        targets = load_targets(settings.config.targets_path())
    out = ReplayRun(targets=targets)

    def sink(value: object) -> None:
        if isinstance(value, Pick):
            out.picks.append(value)
        elif isinstance(value, EventState):
            out.events.append(value)
        elif isinstance(value, Alert):
            out.alerts.append(value)

    chain = build_chain(
        settings.config, settings.hash(), sink, DataClock(), inventory=inventory, targets=targets
    )
    ends: dict[str, list[int]] = {}

    def before(pkt: Packet) -> None:
        if on_packet is not None:
            on_packet(pkt)
        ends.setdefault(pkt.channel_id.rsplit(".", 2)[0], []).append(pkt.endtime_ns)

    chain.run(packets, before)
    out.packet_ends_ns = {sid: sorted(set(v)) for sid, v in ends.items()}
    out.statistics = chain.statistics()
    out.core_counters = chain.event_statistics()
    return out


def replay_paths(
    paths: Sequence[str | Path],
    packet_s: float = DEFAULT_PACKET_S,
    settings: Settings | None = None,
    inventory: Inventory | None = None,
) -> ReplayRun:
    """Index miniSEED files or folders and replay them with ``packet_s`` packets.

    Parameters
    ----------
    paths : sequence of str or Path
        miniSEED files or folders.
    packet_s : float
        Longest packet [s]; ``0`` replays whole records.
    settings : Settings, optional
        Configuration (default: ``config/eew.toml``).
    inventory : Inventory, optional
        Station metadata (default: the configured StationXML files).
    """
    if settings is None:
        settings = load_settings()
    if inventory is None:
        inventory = load_inventory(settings.config.stationxml_paths())
    idx = index_archive(paths)
    return run_packets(live_packets(idx, packet_s), settings, inventory)
