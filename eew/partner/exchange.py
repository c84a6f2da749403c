"""The exchange with one partner network, as the daemon wires it.

:class:`PartnerExchange` holds the pieces and the rules between them:

* **import of picks** (:meth:`PartnerExchange.import_pick`): a verified partner pick is
  used only if its station is in the partner's inventory (a trusted partner cannot speak
  for our stations, and our own picks coming back are refused: ``echo``); its position is
  taken from that inventory; its id is remembered so it is never exported back; the
  partner's clock offset, when known, is corrected or the pick discarded
  (:mod:`eew.partner.clock`);
* **import of alerts** (:meth:`PartnerExchange.import_alert`): the merge policy of
  :mod:`eew.partner.merge` decides; relayed versions go to our bus publisher;
* **our outputs** (:meth:`PartnerExchange.observe`, an observer of the daemon's outputs):
  our alerts update the merge state (and may close a relayed partner event); our picks and
  located events are the reference of the clock measurement; our own picks and alerts
  are exported (:class:`~eew.partner.relay.Exporter`);
* **our sink** (:meth:`PartnerExchange.filter_sink`): imported picks that the event core
  forwards are not re-published as ours.

Everything except the feed threads runs in the daemon's event loop. The exchange knows
nothing of the daemon: it gets its ``[partner]`` section, an :class:`BusSetup` (our
agency, bus sections and key directory) and publishers through the narrow protocols of
:mod:`eew.partner.relay`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from eew.bus import BusSetup, CurveClient, CurveServer, Signer
from eew.bus.wire import Health
from eew.event.locate import TravelTimeStack
from eew.event.traveltime import load_stack
from eew.inventory import Inventory, load_inventory
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.pick import Pick
from eew.partner.clock import ClockMonitor, ClockOffset, ClockPolicy
from eew.partner.config import PartnerConfig
from eew.partner.link import LinkStatistics, PartnerLink, partner_verifier
from eew.partner.merge import AlertMerger, IdMemory, MergeStatistics, SameEvent
from eew.partner.relay import (
    AlertSink,
    Exporter,
    ExportPublisher,
    ExportStatistics,
    RelayPublisher,
)

log = logging.getLogger("eew.partner")


@dataclass(frozen=True, slots=True)
class PartnerStatistics:
    """Counters of a :class:`PartnerExchange`.

    Attributes
    ----------
    picks_imported, picks_foreign_station : int
        Partner picks given to our event core; refused (station not in their inventory).
    alerts_relayed : int
        Partner alert versions published on our bus.
    alerts : MergeStatistics
        The merge decisions on partner alerts.
    export : ExportStatistics or None
        What went to the partner (None: nothing is exported).
    link : LinkStatistics or None
        The partner feeds, their queue and gate (None: nothing is imported over the bus).
    clock : ClockOffset
        The partner's clock offset as measured, and what the policy did.
    """

    picks_imported: int
    picks_foreign_station: int
    alerts_relayed: int
    alerts: MergeStatistics
    export: ExportStatistics | None
    link: LinkStatistics | None
    clock: ClockOffset = dataclasses.field(default_factory=ClockOffset)


class PartnerExchange:
    """Import and export rules for one partner (see the module docstring).

    Parameters
    ----------
    cfg : PartnerConfig
        The ``[partner]`` section.
    own_agency : str
        Our agency code.
    partner_stations : mapping
        ``NET.STA`` -> (latitude [deg], longitude [deg], elevation [m]) of the partner.
    clock : Clock
        Our clock (sent time of closing versions).
    link : PartnerLink or None
        The partner feeds (None: nothing imported over the bus).
    export_publisher : ExportPublisher or None
        Our publisher for the partner (None: nothing exported).
    stack : TravelTimeStack, optional
        P travel-time tables for the clock measurement (default: the event core's).
    rule : SameEvent, optional
        The same-event test of the merge (default: the section's ``merge_*`` keys,
        :meth:`SameEvent.from_config`).
    clock_policy : ClockPolicy, optional
        Clock-offset thresholds and policy (default: the section's ``clock_*`` keys,
        :meth:`ClockPolicy.from_config`).
    clock_state : Path, optional
        Where the measured clock offset is kept across restarts
        (:mod:`eew.partner.clockstate`; None: not kept).
    """

    def __init__(
        self,
        cfg: PartnerConfig,
        own_agency: str,
        partner_stations: Mapping[str, tuple[float, float, float]],
        clock: Clock,
        link: PartnerLink | None = None,
        export_publisher: ExportPublisher | None = None,
        stack: TravelTimeStack | None = None,
        rule: SameEvent | None = None,
        clock_policy: ClockPolicy | None = None,
        clock_state: Path | None = None,
    ) -> None:
        if cfg.agency == own_agency:
            raise ValueError(f"agency: the partner cannot be ourselves ({own_agency})")
        self.cfg = cfg
        self.own_agency = own_agency
        self.stations = dict(partner_stations)
        self.clock = clock
        self.link = link
        self.imported = IdMemory(cfg.memory_messages)
        rule = rule or SameEvent.from_config(cfg)
        self.merger = AlertMerger(
            own_agency,
            cfg.agency,
            cfg.merge_origin_s,
            cfg.merge_distance_km,
            cfg.memory_messages,
            rule,
        )
        self.clock_monitor = ClockMonitor(
            cfg.agency,
            own_agency,
            self.stations,
            stack if stack is not None else load_stack(),
            clock_policy or ClockPolicy.from_config(cfg),
            clock_state,
        )
        if link is not None:
            link.on_heartbeat = self.clock_monitor.heartbeat
        self.export_publisher = export_publisher
        self.exporter = (
            Exporter(
                export_publisher,
                own_agency,
                self.stations,
                self.imported,
                picks=cfg.export_picks,
                alerts=cfg.export_alerts,
            )
            if export_publisher is not None
            else None
        )
        #: where relayed partner alerts go (our bus publisher), set by :meth:`start`
        self.relay_to: AlertSink | None = None
        self._counts: Counter[str] = Counter()

    # ---- construction from the configuration ------------------------------------------------
    @classmethod
    def build(
        cls, own: BusSetup, cfg: PartnerConfig, clock: Clock, clock_state: Path | None = None
    ) -> PartnerExchange:
        """Build the link and the export publisher from ``[partner]`` and our bus sections.

        With ``own.insecure`` the export is unsigned and without CURVE, and partner
        messages are accepted unsigned (tests and demos only). ``clock_state``: where the
        measured clock offset is kept across restarts (None: not kept).

        Raises
        ------
        eew.bus.KeyFileError, eew.errors.InventoryError
            Unusable keys or partner inventory.
        """
        cfg.check()
        insecure = own.insecure
        path = own.path
        stations: dict[str, tuple[float, float, float]] = {}
        if cfg.inventory_file:
            inv_path = path(cfg.inventory_file)
            assert inv_path is not None
            stations = load_inventory([inv_path]).stations()
        link = None
        if cfg.importing:
            verifier = None
            if not insecure:
                key_file = path(cfg.trusted_key_file)
                assert key_file is not None
                verifier = partner_verifier(cfg, key_file)
            curve = None
            own_key, server_key = path(cfg.curve_key_file), path(cfg.curve_server_key_file)
            if own_key is not None and server_key is not None and not insecure:
                curve = CurveClient.from_files(own_key, server_key)
            link = PartnerLink(cfg, verifier, clock, curve)
        export = None
        if cfg.exporting:
            export = build_export_publisher(own, cfg, clock)
        return cls(cfg, own.agency, stations, clock, link, export, clock_state=clock_state)

    def inventory(self, own: BusSetup) -> Inventory | None:
        """The partner's inventory (to merge into ours), or None if not configured."""
        p = own.path(self.cfg.inventory_file)
        return load_inventory([p]) if p is not None else None

    # ---- life cycle (event loop) ------------------------------------------------------------
    async def start(self, relay_to: AlertSink | None) -> None:
        """Start the export publisher and the feeds; relayed alerts go to ``relay_to``.

        Call from the event loop that will drain :attr:`link`.
        """
        self.relay_to = relay_to
        if self.export_publisher is not None:
            endpoint = await asyncio.to_thread(self.export_publisher.start)
            log.info("partner export", extra={"kv": {"to": self.cfg.agency, "endpoint": endpoint}})
        if self.link is not None:
            self.link.start()

    async def close(self) -> None:
        """Stop the feeds, then the export publisher (sends what it has queued)."""
        try:
            if self.link is not None:
                await self.link.close()
        finally:
            if self.export_publisher is not None:
                await asyncio.to_thread(self.export_publisher.close)

    def check(self) -> None:
        """Raise what the export publisher or a feed thread died of."""
        if self.export_publisher is not None:
            self.export_publisher.check()
        if self.link is not None and self.link.error is not None:
            raise self.link.error

    # ---- rules ------------------------------------------------------------------------------
    def accept(self, value: Pick | Alert) -> Pick | None:
        """Handle one partner value: an alert is merged/relayed, a pick checked.

        Returns
        -------
        Pick or None
            The pick for our event core (None for alerts and refused picks).
        """
        if isinstance(value, Alert):
            self.import_alert(value)
            return None
        return self.import_pick(value)

    def import_pick(self, pick: Pick) -> Pick | None:
        """The pick to give our event core, or None if it is refused (counted)."""
        station = pick.channel_id.rsplit(".", 2)[0]
        pos = self.stations.get(station)
        if pos is None:
            self._counts["picks_foreign_station"] += 1
            log.warning(
                "partner pick of a station not in its inventory dropped",
                extra={"kv": {"agency": self.cfg.agency, "channel": pick.channel_id}},
            )
            return None
        self.imported.add(pick.pick_id)
        lat, lon, elev = pos
        pick = dataclasses.replace(pick, latitude_deg=lat, longitude_deg=lon, elevation_m=elev)
        used = self.clock_monitor.apply(pick)
        if used is not None:
            self._counts["picks_imported"] += 1
        return used

    def import_alert(self, alert: Alert) -> tuple[Alert, ...]:
        """Apply the merge policy to a partner alert; publish and return what is relayed."""
        decision = self.merger.partner_alert(alert, self.clock.now_ns())
        self._relay(decision.relay)
        return decision.relay

    def observe(self, value: object) -> None:
        """Observer of our outputs: merge state from our alerts, then export."""
        if isinstance(value, Alert) and value.agency == self.own_agency:
            self._relay(self.merger.own_alert(value, self.clock.now_ns()).relay)
            self.clock_monitor.own_alert(value)
        elif isinstance(value, Pick) and value.pick_id not in self.imported:
            self.clock_monitor.own_pick(value)
        if self.exporter is not None:
            self.exporter(value)

    def filter_sink(self, sink: Callable[[object], None]) -> Callable[[object], None]:
        """Wrap the event core's sink so imported picks are not re-published as ours."""

        def filtered(value: object) -> None:
            if isinstance(value, Pick) and value.pick_id in self.imported:
                return
            sink(value)

        return filtered

    def statistics(self) -> PartnerStatistics:
        """Import, merge, export and feed counters."""
        c = self._counts
        return PartnerStatistics(
            picks_imported=c["picks_imported"],
            picks_foreign_station=c["picks_foreign_station"],
            alerts_relayed=c["alerts_relayed"],
            alerts=self.merger.statistics(),
            export=self.exporter.statistics() if self.exporter is not None else None,
            link=self.link.statistics() if self.link is not None else None,
            clock=self.clock_monitor.estimate(),
        )

    def _relay(self, alerts: tuple[Alert, ...]) -> None:
        for a in alerts:
            self._counts["alerts_relayed"] += 1
            if self.relay_to is not None:
                self.relay_to.publish_alert(a)


def build_export_publisher(own: BusSetup, cfg: PartnerConfig, clock: Clock) -> RelayPublisher:
    """Our publisher for the partner: own endpoint, our keys, the partner's CURVE key only."""
    bus = dataclasses.replace(own.bus, endpoint=cfg.export_endpoint, publish_picks=cfg.export_picks)
    agency = own.agency
    if own.insecure:
        return RelayPublisher(bus, agency=agency, clock=clock, signer=None, curve=None)
    sec = own.security
    signer = Signer.from_file(own.base_dir / sec.signing_key_file)
    curve = None
    allowed = own.path(cfg.export_curve_allowed_keys_dir)
    if sec.curve_enabled and allowed is not None:
        curve = CurveServer.from_files(own.base_dir / sec.curve_secret_key_file, allowed)
    return RelayPublisher(bus, agency=agency, clock=clock, signer=signer, curve=curve)


def build_relay_publisher(
    own: BusSetup,
    relay_agencies: tuple[str, ...],
    clock: Clock,
    health: Callable[[], Health],
    resend_tail_file: Path | None = None,
) -> RelayPublisher:
    """Our bus publisher (as :func:`eew.daemon.publish.build_publisher`) that may relay."""
    agency = own.agency
    if own.insecure:
        pub = RelayPublisher(
            own.bus,
            agency=agency,
            clock=clock,
            signer=None,
            curve=None,
            health=health,
            resend_tail_file=resend_tail_file,
        )
    else:
        pub = RelayPublisher.from_config(
            own.bus,
            own.security,
            agency=agency,
            clock=clock,
            base_dir=own.base_dir,
            health=health,
            resend_tail_file=resend_tail_file,
        )
    pub.allow_relay(relay_agencies)
    return pub
