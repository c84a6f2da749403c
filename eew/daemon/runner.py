"""The daemon: the role's stages as supervised asyncio tasks, and a clean stop.

The processing is the chain of :mod:`eew.assembly`, the same objects ``eew replay``
builds; the daemon injects its clock and its data sources. Stages and their bounded
queues (drop policies in ``docs/operations.md``):

``station``
    SeedLink client (inbox of ``seedlink.queue_size`` packets; full: the sockets are no
    longer read, TCP pushes back to the server) -> :class:`~eew.detect.router.Pipeline` ->
    picks to the bus publisher (handover queue: picks drop-oldest).
``central``
    Upstream pick feeds (``upstream.queue_size`` picks, drop-oldest) ->
    :class:`~eew.event.core.EventCore` -> alerts to the publisher (never dropped).
``all``
    SeedLink -> Pipeline -> EventCore -> publisher, in one process.
``[partner]`` (central and all, optional)
    The partner's feeds (``partner.queue_size`` picks, drop-oldest) -> partner picks to the
    EventCore, partner alerts through the merge policy to our publisher; our own picks and
    alerts to the partner on an export publisher (:mod:`eew.partner`).

Processing runs in the event loop thread (no lock anywhere in the core); the event
core is evaluated after every packet, as in replay; the intake task yields to the loop
every few packets so the links, heartbeats and signals stay served. Every task is
supervised: the first one that fails stops the daemon, and :meth:`Daemon.run` re-raises
its exception after the clean-up.

Stop (:meth:`Daemon.request_stop`, wired to SIGTERM/SIGINT by the CLI): the links are
closed (no new data), the packets already received are processed until ``drain_s``
after the stop request, the SeedLink state is written (the last packet *processed* per station, so
a restart neither loses nor duplicates), the publisher sends what it has queued plus a
``down`` status, and everything is released within ``shutdown_timeout_s``. Picks in
progress are not finalised: a stop is not the end of the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from eew import __version__
from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.assembly import Chain, Stages, build_chain
from eew.bus.wire import Health
from eew.daemon.config import Settings
from eew.daemon.eventstate import EventJournal, journal_path
from eew.daemon.health import DaemonHealth, HealthCollector, MetricsServer
from eew.daemon.outputs import Outputs
from eew.daemon.publish import AlertPublisher, build_publisher, resend_tail_path
from eew.daemon.snapshot import health_snapshot
from eew.daemon.startup import ca_context, listening, warn_ignored_sections
from eew.daemon.upstream import Upstream
from eew.daemon.warmup import WarmupReport, warm_up_off_loop
from eew.detect.router import Pipeline
from eew.event.core import EventCore
from eew.event.targets import Target, load_targets
from eew.inventory import Inventory, load_inventory
from eew.model.alert import Alert
from eew.model.clock import Clock, DataClock, WallClock
from eew.model.packet import Packet
from eew.model.pick import Pick
from eew.partner.clockstate import clock_state_path
from eew.partner.config import PartnerConfig
from eew.partner.exchange import PartnerExchange, build_relay_publisher

if TYPE_CHECKING:
    from eew.console.server import ConsoleServer

log = logging.getLogger("eew.daemon")

_YIELD_EVERY = 32  # packets processed between two yields to the event loop


class Daemon:
    """One ``eew run`` process.

    Parameters
    ----------
    settings : Settings
        Role, intake, bus and processing configuration.
    clock : Clock, optional
        Wall clock of arrival times, the SeedLink client, the bus and the upstream
        feeds (default :class:`~eew.model.clock.WallClock`). The processing core runs on it
        too unless ``daemon.processing_clock = "data"``.
    publisher : AlertPublisher, optional
        Injected publisher (tests); by default built from ``[bus]`` unless
        ``daemon.publish`` is false.
    inventory : Inventory, optional
        Station metadata (default: the configured StationXML files).
    targets : tuple of Target, optional
        Target sites (default: the configured CSV file).
    observers : sequence of callable
        Called with every result value (picks, events, alerts, rejections).
        With ``[console] enabled`` the console's tap is one of them, and it takes every
        packet after the chain (:mod:`eew.console.tap`: bounded, never blocking).
    partner : PartnerConfig, optional
        Exchange with a partner network (central and all roles); by default the
        ``partner`` section of the settings, if the schema has one.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        publisher: AlertPublisher | None = None,
        inventory: Inventory | None = None,
        targets: tuple[Target, ...] | None = None,
        observers: Sequence[Callable[[object], None]] = (),
        partner: PartnerConfig | None = None,
    ) -> None:
        self.settings = settings
        d = settings.daemon
        self.role = d.role
        self.clock: Clock = clock or WallClock()
        self.proc_clock: Clock = DataClock() if d.processing_clock == "data" else self.clock
        self.publisher = publisher
        self._own_publisher = publisher is None and d.publish
        self._health = DaemonHealth(self.clock.now_ns(), self.role)
        self.collector = HealthCollector()
        self.metrics: MetricsServer | None = None
        self._stop = asyncio.Event()
        #: monotonic time the stop was asked for (the signal's arrival) [s]
        self._stop_requested_s: float | None = None
        self._signalled = False  # set by signal_stop(), checked after every packet
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.client: SeedLinkClient | None = None
        self.upstream: Upstream | None = None
        self._processed = 0
        #: from arrival to the end of processing: first packet, longest so far [s]
        self._first_wait_s = math.nan
        self._wait_max_s = math.nan
        self._intake_started = False
        #: the warm-up's report (None until it ran)
        self.warmup: WarmupReport | None = None
        cfg = settings.config
        self.console: ConsoleServer | None = None
        self._packet_tap: Callable[[Packet], None] | None = None
        partner = partner or getattr(settings, "partner", None)
        self.partner: PartnerExchange | None = None
        if partner is not None and partner.enabled and self.role in ("central", "all"):
            self.partner = PartnerExchange.build(
                settings.bus_setup(),
                partner,
                self.clock,
                clock_state_path(settings.path(settings.seedlink.state_file)),
            )
            observers = (*observers, self.partner.observe)
            inventory = inventory or load_inventory(cfg.stationxml_paths())
            extra = self.partner.inventory(settings.bus_setup())
            inventory = inventory.merged(extra) if extra is not None else inventory
        if settings.console.enabled:
            inventory = inventory or load_inventory(cfg.stationxml_paths())
            targets = targets or load_targets(cfg.targets_path())
            self.console = self._build_console(inventory, targets)
            observers = (*observers, self.console.tap.observe)
            self._packet_tap = self.console.tap.observe_packet
        self.outputs = Outputs(
            None,
            self.clock,
            lambda: self.chain.arrival_ns,
            publish_picks=self.role != "central",
            observers=observers,
        )
        stages = Stages.for_role(self.role)
        #: our open events across restarts (roles with an event core)
        self.events: EventJournal | None = None
        if stages.events:
            self.events = EventJournal(
                journal_path(settings.path(settings.seedlink.state_file)), cfg.alert.agency
            )
        if stages.channels:
            self.client = SeedLinkClient(
                [ServerSpec.parse(s, settings.seedlink.streams) for s in settings.seedlink.servers],
                self.clock,
                self._client_options(),
            )
        else:
            self.upstream = Upstream(settings.upstream, settings.base_dir, self.clock)
        sink = self._own_outputs if self.events is not None else self.outputs
        self.chain: Chain = build_chain(
            cfg,
            settings.hash(),
            self.partner.filter_sink(sink) if self.partner else sink,
            self.proc_clock,
            stages=stages,
            inventory=inventory,
            targets=targets,
            data_end_ns=self.upstream.data_end_ns if self.upstream is not None else None,
        )

    def _own_outputs(self, value: object) -> None:
        """The sink with the event journal: continued ids, then persisted after publishing."""
        events = self.events
        assert events is not None
        if isinstance(value, Alert):
            value = events.rewrite(value)
            self.outputs(value)
            events.record(value)
        else:
            self.outputs(value)

    def _build_console(self, inventory: Inventory, targets: tuple[Target, ...]) -> ConsoleServer:
        from eew.console.assemble import build_console

        return build_console(
            self.settings.console,
            inventory.stations(),
            targets,
            self.proc_clock.now_ns,
            mode="live",
            health=self._console_health,
            base_dir=self.settings.base_dir,
        )

    def _console_health(self) -> dict[str, object]:
        """Bus and partner link health for the console (its thread reads one snapshot)."""
        h = self._health
        out: dict[str, object] = {
            "role": h.role,
            "bus": getattr(self.publisher, "endpoint", "off") or "off",
            "live_stations": f"{h.live_stations}/{h.stations}",
            "data_latency_s": h.data_latency_s if h.data_latency_s == h.data_latency_s else "?",
            "partner_link": "off" if self.partner is None else "on",
        }
        out.update({f"partner_{k}": v for k, v in h.partner.items()})
        out.update({f"queue_{k}": v for k, v in h.queues.items()})
        out.update({f"dropped_{k}": v for k, v in h.drops.items()})
        return out

    @property
    def pipeline(self) -> Pipeline | None:
        """The chain's per-channel stage (station and all roles)."""
        return self.chain.router

    @property
    def core(self) -> EventCore | None:
        """The chain's event stage (central and all roles)."""
        return self.chain.core

    def _client_options(self) -> ClientOptions:
        s = self.settings.seedlink
        return ClientOptions(
            keepalive_s=s.keepalive_s,
            timeout_s=s.timeout_s,
            connect_timeout_s=s.connect_timeout_s,
            backoff_initial_s=s.backoff_initial_s,
            backoff_max_s=s.backoff_max_s,
            state_file=self.settings.path(s.state_file),
            state_interval_s=s.state_interval_s,
            queue_size=s.queue_size,
            late_s=s.late_s,
            future_s=None if math.isinf(s.future_s) else s.future_s,
            gap_tolerance_samples=s.gap_tolerance_samples,
            protocol=s.protocol,
            ssl_context=ca_context(self.settings.path(s.tls_ca_file)),
        )

    # ---- control --------------------------------------------------------------------------
    def request_stop(self, requested_s: float | None = None) -> None:
        """Ask the daemon to stop (signal handlers call this).

        Parameters
        ----------
        requested_s : float, optional
            ``time.monotonic()`` when the stop was asked for (the signal's arrival, which
            can precede this call when the event loop was busy); default: now. The logged
            ``stop_s`` counts from there.
        """
        if self._stop_requested_s is None:
            self._stop_requested_s = time.monotonic() if requested_s is None else requested_s
        self._signalled = True
        self._stop.set()

    def signal_stop(self) -> None:
        """Note a stop signal at once (one attribute store: safe in a signal handler).

        The intake then hands the event loop the stop after the packet in hand, not
        after its batch of :data:`_YIELD_EVERY`; :meth:`request_stop` must follow.
        """
        self._signalled = True

    @property
    def health(self) -> DaemonHealth:
        """The newest health snapshot."""
        return self._health

    def bus_health(self) -> Health:
        """Heartbeat content for the publisher thread (reads one immutable snapshot)."""
        return self._health.bus_health()

    async def run(self) -> int:
        """Run until stopped, until the intake ends, or until a task fails.

        Returns
        -------
        int
            0 after a clean stop.

        Raises
        ------
        Exception
            The error of the first failed task, after everything was shut down.
        """
        d = self.settings.daemon
        try:
            await self._start()
            log.info(
                "daemon started",
                extra={
                    "kv": {
                        "role": self.role,
                        "version": __version__,
                        "config": self.settings.hash(),
                        "source": self.settings.source,
                        "clock": d.processing_clock,
                        "bus": getattr(self.publisher, "endpoint", "off"),
                        "metrics": f"{self.metrics.host}:{self.metrics.port}"
                        if self.metrics
                        else "off",
                    }
                },
            )
            stopper = asyncio.create_task(self._stop.wait(), name="stop")
            done, _ = await asyncio.wait(
                [stopper, *self._tasks.values()], return_when=asyncio.FIRST_COMPLETED
            )
            stopper.cancel()
            failed = [t for t in done if t is not stopper and not t.cancelled() and t.exception()]
            for t in failed:
                log.error(
                    "task failed; stopping",
                    extra={"kv": {"task": t.get_name()}},
                    exc_info=t.exception(),
                )
        finally:
            await asyncio.wait_for(self._shutdown(), d.shutdown_timeout_s)
        if failed:
            exc = failed[0].exception()
            assert exc is not None
            raise exc
        return 0

    async def _start(self) -> None:
        """Listen on every port, warm the kernels up, then connect to the data.

        A port in use raises :class:`~eew.errors.EndpointInUseError` naming the endpoint
        and its ``section.key``. A stop asked for during the warm-up ends the start there.
        """
        d = self.settings.daemon
        warn_ignored_sections(self.settings)
        if self.events is not None:
            self.events.load()
        tail = resend_tail_path(self.settings.path(self.settings.seedlink.state_file))
        if self._own_publisher and self.partner is not None and self.partner.cfg.import_alerts:
            self.publisher = build_relay_publisher(
                self.settings.bus_setup(),
                (self.partner.cfg.agency,),
                self.clock,
                self.bus_health,
                tail,
            )
        elif self._own_publisher:
            self.publisher = build_publisher(
                self.settings.bus_setup(), self.clock, self.bus_health, tail
            )
        if self.publisher is not None:
            with listening("bus.endpoint", self.settings.bus.endpoint):
                await asyncio.to_thread(self.publisher.start)
            self.outputs.publisher = self.publisher
        if d.metrics_listen:
            host, _, port = d.metrics_listen.rpartition(":")
            with listening("daemon.metrics_listen", d.metrics_listen):
                self.metrics = MetricsServer(self.collector, host, int(port))
        self._refresh_health()
        if self.console is not None:
            c = self.settings.console
            with listening("console.port", f"{c.host}:{c.port}"):
                await asyncio.to_thread(self.console.start)
            log.info("console", extra={"kv": {"url": self.console.url.split("?")[0]}})
        if self.partner is not None:  # the export binds now; partner values wait in the link
            with listening("partner.export_endpoint", self.partner.cfg.export_endpoint):
                await self.partner.start(self.publisher)
        self._spawn("heartbeat", self._heartbeat())
        if not await self._warm_up():
            return
        if self.client is not None:
            await self.client.start()
            self._intake_started = True
            self._spawn("intake", self._intake())
        if self.upstream is not None:
            self.upstream.start()
            self._spawn("upstream", self._central())
        if self.partner is not None and self.partner.link is not None:
            self._spawn("partner", self._partner())
        if self.core is not None:
            self._spawn("event-tick", self._event_tick())

    async def _warm_up(self) -> bool:
        """Warm the kernels up off the event loop; False if a stop came meanwhile."""
        report = await warm_up_off_loop(self.chain, self._stop)
        if report is None:
            log.info("stop requested during the warm-up")
            return False
        self.warmup = report
        log.info("warm-up", extra={"kv": self.warmup.log_fields()})
        return True

    def _spawn(self, name: str, coro: object) -> None:
        self._tasks[name] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]

    # ---- stages ---------------------------------------------------------------------------
    async def _intake(self) -> None:
        client = self.client
        assert client is not None
        n = 0
        while (item := await client.get()) is not None:
            self._process(item.packet)
            n += 1
            if n % _YIELD_EVERY == 0 or self._signalled:  # a stop waits for no batch
                await asyncio.sleep(0)
        log.info("SeedLink intake ended (every server said END)")

    def _process(self, packet: Packet) -> None:
        """Process one SeedLink packet (intake and stop drain alike: counted, tapped)."""
        self.chain.feed(packet)  # the packet carries its arrival time
        self._waited(packet)
        if self._packet_tap is not None:
            self._packet_tap(packet)  # one deque append: never blocks
        self._processed += 1

    def _waited(self, packet: Packet) -> None:
        """Note how long ``packet`` waited from its arrival to the end of its processing."""
        wait_s = (self.clock.now_ns() - packet.available_ns) / 1e9
        if math.isnan(self._first_wait_s):
            self._first_wait_s = self._wait_max_s = wait_s
        elif wait_s > self._wait_max_s:
            self._wait_max_s = wait_s

    async def _central(self) -> None:
        upstream = self.upstream
        assert upstream is not None
        n = 0
        while True:
            self._central_one(*await upstream.get())  # (no suspension while picks are queued)
            n += 1
            if n % _YIELD_EVERY == 0 or self._signalled:  # links, heartbeats, the stop
                await asyncio.sleep(0)

    async def _partner(self) -> None:
        partner = self.partner
        assert partner is not None and partner.link is not None
        n = 0
        while True:
            value, arrival_ns = await partner.link.get()  # (no suspension while queued)
            pick = partner.accept(value)  # alerts: merge policy and relay; picks: checked
            if pick is not None:
                self._central_one(pick, arrival_ns)
            n += 1
            if n % _YIELD_EVERY == 0 or self._signalled:  # a resent burst shares the loop
                await asyncio.sleep(0)

    def _central_one(self, pick: Pick, arrival_ns: int) -> None:
        self.chain.feed_pick(pick, arrival_ns)
        self._processed += 1

    async def _event_tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.daemon.event_tick_s)
            self.chain.tick()
            if self.events is not None:
                for final in self.events.expired(self.proc_clock.now_ns()):
                    self._own_outputs(final)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.daemon.heartbeat_interval_s)
            if self.publisher is not None:
                self.publisher.check()
            if self.partner is not None:
                self.partner.check()
            self._refresh_health()
            log.info("heartbeat", extra={"kv": self._health.log_fields()})

    # ---- health ---------------------------------------------------------------------------
    def _refresh_health(self) -> DaemonHealth:
        h = health_snapshot(
            now_ns=self.proc_clock.now_ns(),
            role=self.role,
            station_live_s=self.settings.daemon.station_live_s,
            processed=self._processed,
            first_wait_s=self._first_wait_s,
            wait_max_s=self._wait_max_s,
            output_counts=self.outputs.counts,
            client=self.client,
            upstream=self.upstream,
            publisher=self.publisher,
            partner=self.partner,
            events=self.events,
            router=self.chain.router,
        )
        self._health = h
        self.collector.latest = h
        return h

    # ---- stop -----------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        t0 = self._stop_requested_s if self._stop_requested_s is not None else time.monotonic()
        for t in self._tasks.values():
            t.cancel()
        for t in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t  # failures were reported by run()
        drained = 0
        drain_s = self.settings.daemon.drain_s

        def budget_s() -> float:
            # the drain ends drain_s after the stop request, not after its own start: a
            # loop that was busy with a backlog when the signal came does not add to it
            return max(0.0, drain_s - (time.monotonic() - t0))

        if self.client is not None:
            await self.client.close()  # links closed: no new data
            if self._intake_started:  # (not when the start failed or was stopped before)
                drained = await self._drain(budget_s())
                self.client.save_state()
        if self.upstream is not None:
            await self.upstream.close()  # feeds closed: no new picks
            drained += self._drain_picks(budget_s())
        try:
            if self.partner is not None:
                await self.partner.close()  # partner feeds and export publisher closed
        finally:
            await self._close_outputs(t0, drained)

    async def _close_outputs(self, t0: float, drained: int) -> None:
        self._refresh_health()
        if self.publisher is not None and self.outputs.publisher is not None:
            await asyncio.to_thread(self.publisher.close)
        if self.metrics is not None:
            self.metrics.close()
        if self.console is not None:
            await asyncio.to_thread(self.console.close)
        log.info(
            "daemon stopped",
            extra={
                "kv": {
                    "drained": drained,
                    "stop_s": round(time.monotonic() - t0, 3),
                    **self._health.log_fields(),
                }
            },
        )

    def _drain_picks(self, budget_s: float) -> int:
        """Process the picks already received, for at most ``budget_s``."""
        upstream = self.upstream
        assert upstream is not None
        deadline = time.monotonic() + budget_s
        n = 0
        while time.monotonic() < deadline and (item := upstream.get_nowait()) is not None:
            self._central_one(*item)
            n += 1
        return n

    async def _drain(self, budget_s: float) -> int:
        """Process the packets already received, for at most ``budget_s``."""
        client = self.client
        assert client is not None
        deadline = time.monotonic() + budget_s
        n = 0
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(0.02):
                    item = await client.get()
            except TimeoutError:
                break
            if item is None:
                break
            self._process(item.packet)
            n += 1
        return n
