"""One assembly of the processing chain, for replay, evaluation and the live daemon.

:func:`build_chain` wires inventory -> per-channel router (:class:`~eew.detect.router.Pipeline`)
-> event core (:class:`~eew.event.core.EventCore`) -> sink from a configuration. ``eew
replay``, ``eew evaluate`` and ``eew run`` all call it: the live path and the replay path
are the same objects, and only what is injected differs:

* the **clock**: a :class:`~eew.model.clock.DataClock` that follows the data (replay,
  evaluation, a daemon with ``processing_clock = "data"``) or the wall clock (a daemon in
  production);
* the **data source**: an archive's packets (:meth:`Chain.run`), or the live client's
  (the daemon calls :meth:`Chain.feed` for each packet it takes from the SeedLink queue,
  and :meth:`Chain.feed_pick` for each pick from an upstream station or a partner);
* the **sink**: a JSON Lines writer, a collector, or the daemon's outputs.

The event core is evaluated after every packet (``deferred``: a burst of pick updates
from one packet costs one evaluation per event), live as in replay, so the same packets in
the same order give the same alerts.

Stage selection: ``channels`` (the per-channel router; no router in the central role,
whose picks come from the bus) and ``events`` (the event core; none in the station role,
nor for ``eew replay --picks-only``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from eew import __version__
from eew.acquisition.archive import ArchiveIndex, iter_records
from eew.config import Config
from eew.detect.router import Pipeline, PipelineStatistics
from eew.event.core import EventCore, EventStatistics
from eew.event.targets import Target, load_targets
from eew.event.traveltime import load_stack
from eew.inventory import Inventory, load_inventory
from eew.model.clock import Clock, ObservingClock
from eew.model.packet import Packet
from eew.model.pick import Pick

Sink = Callable[[object], None]


@dataclass(frozen=True)
class Stages:
    """Which stages a chain has.

    Attributes
    ----------
    channels : bool
        The per-channel router (packets in, picks out).
    events : bool
        The event core (picks in, events and alerts out).
    """

    channels: bool = True
    events: bool = True

    @classmethod
    def for_role(cls, role: str) -> Stages:
        """The stages of a daemon role: ``station``, ``central`` or ``all``."""
        return cls(channels=role in ("station", "all"), events=role in ("central", "all"))


class Chain:
    """The assembled processing chain (built by :func:`build_chain`).

    Parameters
    ----------
    clock : Clock
        Time of the processing (see the module docstring).
    router : Pipeline or None
        Per-channel stage.
    core : EventCore or None
        Event stage.
    data_end_ns : callable
        ``data_end_ns(station_id)`` -> end time of the station's newest data [ns] or None
        (the router's, or the upstream feeds' in the central role).
    """

    def __init__(
        self,
        clock: Clock,
        router: Pipeline | None,
        core: EventCore | None,
        data_end_ns: Callable[[str], int | None],
    ) -> None:
        self.clock = clock
        self.router = router
        self.core = core
        self.data_end_ns = data_end_ns
        self._observing = clock if isinstance(clock, ObservingClock) else None
        #: arrival time [ns] of the input being processed, packet or pick (0 before any):
        #: where the latency of a result it completes begins
        self.arrival_ns = 0
        self.packets = 0
        self.picks = 0

    def feed(self, packet: Packet) -> None:
        """Process one packet (and evaluate the events it changed).

        Raises
        ------
        RuntimeError
            If the chain has no per-channel stage.
        """
        router = self.router
        if router is None:
            raise RuntimeError("this chain has no per-channel stage (central role)")
        self.arrival_ns = packet.available_ns
        router.feed(packet)
        self.packets += 1

    def feed_pick(self, pick: Pick, arrival_ns: int) -> None:
        """Process one pick received from elsewhere (upstream station, partner network).

        A data clock advances to the pick's sent time. A deferred core (one that also
        receives our own packets' picks) is evaluated at once, not at the next packet.

        Raises
        ------
        RuntimeError
            If the chain has no event stage.
        """
        core = self.core
        if core is None:
            raise RuntimeError("this chain has no event stage (station role)")
        if self._observing is not None:
            self._observing.observe_ns(pick.sent_time_ns)
        self.arrival_ns = arrival_ns
        core(pick)
        self.picks += 1
        if core.deferred:
            core.tick(self.clock.now_ns())

    def tick(self) -> None:
        """Evaluate changed events and close expired ones at the clock's time."""
        if self.core is not None:
            self.core.tick(self.clock.now_ns())

    def run(
        self, packets: Iterable[Packet], on_packet: Callable[[Packet], None] | None = None
    ) -> None:
        """Feed a finite packet stream, then :meth:`flush` (replay and evaluation).

        Parameters
        ----------
        packets : iterable of Packet
            In delivery order.
        on_packet : callable, optional
            Called with each packet before it is fed (pacing, progress, bookkeeping).
        """
        router = self.router
        if router is None:  # raises at the first packet
            for pkt in packets:
                if on_packet is not None:
                    on_packet(pkt)
                self.feed(pkt)
            self.flush()
            return
        feed = router.feed
        n = 0
        try:
            # :meth:`feed`, inlined: one Python call less per packet
            for pkt in packets:
                if on_packet is not None:
                    on_packet(pkt)
                self.arrival_ns = pkt.endtime_ns if pkt.arrival_ns is None else pkt.arrival_ns
                feed(pkt)
                n += 1
        finally:
            self.packets += n
        self.flush()

    def run_windows(self, indexes: Iterable[ArchiveIndex]) -> None:
        """Feed an archive's records window by window, then :meth:`flush` (replay).

        The same as :meth:`run` on their packets (``iter_records``), with the common packet
        fed many at a time by :class:`eew.detect.batch.BatchRunner`. Falls back to
        :meth:`run` for a chain without a router on a data clock.
        """
        router = self.router
        if router is None or router._observe is None:
            self.run(pkt for idx in indexes for _k, pkt in iter_records(idx))
            return
        from eew.detect.batch import BatchRunner

        BatchRunner(self).run(indexes)
        self.flush()

    def flush(self) -> None:
        """End of data: finish every pick in progress, close every event (final alerts)."""
        if self.router is not None:
            self.router.flush()
        if self.core is not None:
            self.core.flush()

    def statistics(self) -> PipelineStatistics | None:
        """The per-channel stage's counters (None without one)."""
        return self.router.statistics() if self.router is not None else None

    def event_statistics(self) -> EventStatistics | None:
        """The event stage's counters (None without one)."""
        return self.core.statistics() if self.core is not None else None


def build_chain(
    config: Config,
    config_hash: str,
    sink: Sink,
    clock: Clock,
    *,
    stages: Stages = Stages(),
    inventory: Inventory | None = None,
    extra_stationxml: Sequence[str] = (),
    targets: tuple[Target, ...] | None = None,
    data_end_ns: Callable[[str], int | None] | None = None,
    peak_acceleration: Callable[[str, int, int], float | None] | None = None,
    peak_velocity: Callable[[str, int, int], float | None] | None = None,
    software_version: str = __version__,
    deferred: bool | None = None,
) -> Chain:
    """Build inventory -> router -> event core -> ``sink`` from a configuration.

    Parameters
    ----------
    config : Config
        Processing configuration.
    config_hash : str
        Hash of the whole configuration file (:meth:`eew.daemon.config.Settings.hash`),
        stamped on every alert.
    sink : callable
        Receives every result: picks and rejections (forwarded by the event core when
        there is one), events, alerts.
    clock : Clock
        Processing time (see the module docstring).
    stages : Stages
        Which stages to build (default: both).
    inventory : Inventory, optional
        Station metadata (default: the configured StationXML files).
    extra_stationxml : sequence of str
        StationXML files added to the default inventory (``eew replay --inventory``).
    targets : tuple of Target, optional
        Target sites (default: the configured file).
    data_end_ns : callable, optional
        Newest data time of a station, for a chain without router (central role: the
        upstream feeds'); a chain with a router uses the router's.
    peak_acceleration : callable, optional
        The stations' peak accelerations for a chain without router (a parallel replay's
        parent, :mod:`eew.parallel`); a chain with a router uses the router's.
    peak_velocity : callable, optional
        The same for the stations' peak velocities.
    software_version : str
        Stamped on every alert.
    deferred : bool, optional
        Evaluate the event core once per packet (default: when the chain has a router). A
        parallel replay (:mod:`eew.parallel`) sets it for an event-only chain fed with the
        workers' picks packet by packet.

    Raises
    ------
    ValueError
        If neither stage is asked for, or a central chain has no ``data_end_ns``.
    """
    if not (stages.channels or stages.events):
        raise ValueError("a chain needs at least one stage")
    if inventory is None:
        inventory = load_inventory([*config.stationxml_paths(), *extra_stationxml])
    router: Pipeline | None = None

    def router_data_end(station_id: str) -> int | None:
        assert router is not None
        return router.data_end_ns(station_id)

    def router_peak(station_id: str, start_ns: int, end_ns: int) -> float | None:
        assert router is not None
        return router.peak_acceleration_cm_s2(station_id, start_ns, end_ns)

    def router_peak_vel(station_id: str, start_ns: int, end_ns: int) -> float | None:
        assert router is not None
        return router.peak_velocity_cm_s(station_id, start_ns, end_ns)

    if stages.channels:
        data_end_ns = router_data_end
    elif data_end_ns is None:
        raise ValueError("an event stage without a router needs data_end_ns")
    core: EventCore | None = None
    if stages.events:
        core = EventCore(
            config.event,
            config.alert,
            config.onsite,
            config_hash,
            inventory,
            sink,
            clock,
            data_end_ns,
            load_stack(),
            targets if targets is not None else load_targets(config.targets_path()),
            software_version,
            # with a router: evaluate once per packet; picks from the bus one by one
            deferred=stages.channels if deferred is None else deferred,
            finite_fault=config.finite_fault,
            peak_acceleration=router_peak if stages.channels else peak_acceleration,
            peak_velocity=router_peak_vel if stages.channels else peak_velocity,
        )
    if stages.channels:
        router = Pipeline(
            config,
            inventory,
            core if core is not None else sink,
            clock,
            after_packet=core.tick if core is not None else None,
        )
    assert data_end_ns is not None
    return Chain(clock, router, core, data_end_ns)
