"""Cross-border exchange under faults (issue 12 item 7): merge, partner clock, liveness.

* **merge** (:class:`eew.partner.merge.SameEvent`): two centres' solutions of one
  earthquake more than 30 km apart are one event when their uncertainties and magnitudes
  allow it (one id on our bus: the partner's relayed event is closed into ours); two
  well-located events as far apart stay two;
* **partner clock** (:mod:`eew.partner.clock`): picks of a partner whose data time
  stamps are 2.76 s late, fed with ours through the real event core, split an earthquake
  into two events; the offset is measured on that shared event (WARNING, metrics), and
  under the ``correct`` policy the next earthquake is one event with the partner's
  stations in it (under ``report`` it splits again). The partner's wall-clock offset
  is measured from heartbeats over a real bus on a random loopback port;
* **liveness and counts in bus heartbeats**: our publisher's heartbeats carry the
  partner block (``eew.heartbeat/1`` ``partner``), read back by a real subscriber.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from eew import __version__
from eew.daemon.config import load_settings
from eew.event.core import EventCore
from eew.event.targets import load_targets
from eew.event.traveltime import load_stack
from eew.inventory import load_inventory
from eew.model.alert import Alert
from eew.model.clock import ManualClock
from eew.model.geo import distances_km
from eew.model.pick import Pick
from eew.partner.clock import ClockMonitor, ClockPolicy, group_offset
from eew.partner.config import PartnerConfig
from eew.partner.exchange import PartnerExchange
from eew.partner.merge import AlertMerger, SameEvent, chi2_3_quantile, rupture_length_km
from tests.test_bus_support import sample_alert

ROOT = Path(__file__).resolve().parents[1]
KN_XML = ROOT / "stations" / "kyrgyzstan_kn.xml"
NS = 1_000_000_000
T0 = 1_717_243_200 * NS
STACK = load_stack()
KN = load_inventory([KN_XML]).stations()


def alert(agency: str, eid: str, version: int = 0, mtype: str = "new", **kw: object) -> Alert:
    fields = {"origin_time_ns": T0, "latitude_deg": 42.62, "longitude_deg": 75.55, **kw}
    return sample_alert(event_id=eid, agency=agency, version=version, message_type=mtype, **fields)


# ---- (a) merge with both solutions' uncertainties -----------------------------------------
def test_chi_square_quantile_and_rupture_length() -> None:
    assert chi2_3_quantile(0.99) == pytest.approx(11.345, abs=1e-3)
    assert chi2_3_quantile(0.999) == pytest.approx(16.266, abs=1e-3)
    assert rupture_length_km(7.0) == pytest.approx(10 ** (-2.44 + 0.59 * 7.0))
    assert rupture_length_km(math.nan) == 0.0


def test_same_event_uses_both_uncertainties_and_the_magnitudes() -> None:
    rule = SameEvent()  # 5 s / 30 km always; chi-square gate 0.999 beyond
    km45 = 45.0 / 111.195  # 45 km north
    ours = alert("KZ-AEWS", "KZ-1", latitude_deg=42.62 + km45, origin_time_ns=T0 + 2 * NS)
    # our solution from one side of the border: 25 km uncertain; theirs 3 km
    loose = ours.with_(horizontal_sigma_km=25.0, origin_time_sigma_s=1.5, magnitude=5.8)
    theirs = alert("KG-MES", "KG-1", horizontal_sigma_km=3.0, origin_time_sigma_s=0.3)
    theirs = theirs.with_(magnitude=5.8)
    assert rule(loose, theirs) is not None  # 45 km apart, but within the uncertainties
    # both well located (1 km): 45 km apart are two earthquakes
    tight = loose.with_(horizontal_sigma_km=1.0, origin_time_sigma_s=0.2)
    assert rule(tight, theirs.with_(horizontal_sigma_km=1.0)) is None
    # ...unless the rupture is long (M7.5: L ~ 96 km, the centres see different parts)
    big = {"magnitude": 7.5}
    assert rule(tight.with_(**big), theirs.with_(horizontal_sigma_km=1.0, **big)) is not None
    # the origin times count too: 45 km and 20 s apart is not one event
    late = loose.with_(origin_time_ns=T0 + 20 * NS)
    assert rule(late, theirs) is None
    # never beyond max_distance_km, whatever the sigmas
    far = loose.with_(latitude_deg=42.62 + 200 / 111.195, horizontal_sigma_km=500.0)
    assert rule(far, theirs) is None
    # unknown sigmas count as the fixed tolerances
    unknown = tight.with_(horizontal_sigma_km=math.nan, origin_time_sigma_s=math.nan)
    assert rule(unknown, theirs.with_(horizontal_sigma_km=math.nan)) is not None


def test_alerts_only_two_solutions_45_km_apart_are_one_event_for_subscribers() -> None:
    """The issue's case: with alerts-only import, the partner's event (relayed first) and
    ours, more than 30 km apart, were two events finalised separately."""
    shown: list[Alert] = []

    class Bus:
        def publish_alert(self, a: Alert) -> None:
            shown.append(a)

    cfg = PartnerConfig(enabled=True, import_picks=False)
    ex = PartnerExchange(cfg, "KZ-AEWS", KN, ManualClock(T0), stack=STACK)
    ex.relay_to = Bus()
    km45 = 45.0 / 111.195
    kg = alert("KG-MES", "KG-1", horizontal_sigma_km=3.0, origin_time_sigma_s=0.3, magnitude=5.8)
    ex.import_alert(kg)
    assert [a.event_id for a in shown] == ["KG-1"]  # nothing of ours yet: relayed
    ours = alert(
        "KZ-AEWS", "KZ-1", latitude_deg=42.62 + km45, origin_time_ns=T0 + 2 * NS,
        horizontal_sigma_km=25.0, origin_time_sigma_s=1.5, magnitude=5.6,
    )  # fmt: skip
    old = AlertMerger("KZ-AEWS", "KG-MES", 5.0, 30.0, rule=SameEvent(confidence=1e-12))
    old.partner_alert(kg, T0)
    assert old.own_alert(ours, T0).action == "ignored"  # the fixed 30 km: two events
    ex.observe(ours)
    closing = shown[-1]
    assert (closing.event_id, closing.message_type, closing.version) == ("KG-1", "final", 1)
    assert ex.merger.related("KG-1") == "KZ-1"
    # the partner's later versions (moving, still 40+ km off) stay merged: nothing relayed
    for v in (1, 2, 3):
        upd = kg.with_(version=v, message_type="update", latitude_deg=42.62 + v * 0.01)
        assert ex.import_alert(upd) == ()
    assert ex.import_alert(kg.with_(version=4, message_type="final")) == ()
    assert len(shown) == 2 and ex.statistics().alerts.closed == 1


# ---- (b) partner clock offset ---------------------------------------------------------------
def _station_picks(
    stations: dict[str, tuple[float, float, float]],
    ev: tuple[float, float, float],
    origin_ns: int,
    shift_s: float,
    rng: np.random.Generator,
    max_km: float = 250.0,
) -> list[Pick]:
    """Four messages (growing windows) per station within ``max_km``: P times from the
    tables plus 0.1 s noise, time stamps ``shift_s`` late; sent 1-4 s after the onset."""
    out = []
    for sid, (lat, lon, elev) in stations.items():
        d = float(distances_km(ev[0], ev[1], lat, lon))
        if d > max_km:
            continue
        tt = float(np.interp(d, np.arange(STACK.p_s.shape[1]) * STACK.distance_step_km,
                             STACK.p_s[np.searchsorted(STACK.depth_km, ev[2])]))  # fmt: skip
        onset = origin_ns + round((tt + rng.normal(0.0, 0.1)) * NS)
        stamp = onset + round(shift_s * NS)
        ch = f"{sid}..HHZ"
        pd = 10 ** (5.5 - 1.2 * math.log10(max(d, 5.0)) - 4.5)
        for n in range(4):
            out.append(
                Pick(
                    f"{ch}:{stamp}", ch, stamp, stamp, onset + (n + 1) * NS, n, n == 3,
                    1.0 + n, pd, 10 * pd, 10 * pd, 1.0, 1.0, 30.0, "velocity", lat, lon, elev,
                )
            )  # fmt: skip
    return out


def _two_earthquakes(
    policy: str, offset_s: float
) -> tuple[dict[str, list[Alert]], PartnerExchange]:
    """Two earthquakes near Bishkek, 3 min apart, through the real event core: our AW
    picks as they are, the partner's KN picks through the exchange, stamped late."""
    settings = load_settings()
    cfg = settings.config
    inventory = load_inventory(cfg.stationxml_paths()).merged(load_inventory([KN_XML]))
    clock = ManualClock(T0)
    ex = PartnerExchange(
        PartnerConfig(enabled=True), "KZ-AEWS", KN, clock, stack=STACK,
        clock_policy=ClockPolicy(policy=policy),
    )  # fmt: skip
    alerts: dict[str, list[Alert]] = {}

    def sink(value: object) -> None:
        if isinstance(value, Alert) and value.kind == "source":
            alerts.setdefault(value.event_id, []).append(value)
        ex.observe(value)

    core = EventCore(
        cfg.event, cfg.alert, cfg.onsite, "test", inventory, ex.filter_sink(sink), clock,
        lambda _sid: clock.now_ns(), STACK, load_targets(cfg.targets_path()), __version__,
    )  # fmt: skip
    rng = np.random.default_rng(3)
    aw = {s: v for s, v in inventory.stations().items() if s not in KN}
    msgs: list[tuple[int, bool, Pick]] = []
    for k, ev in enumerate(((42.85, 74.9, 10.0), (42.80, 75.0, 10.0))):
        origin = T0 + (10 + 180 * k) * NS
        msgs += [(p.sent_time_ns, False, p) for p in _station_picks(aw, ev, origin, 0.0, rng)]
        msgs += [(p.sent_time_ns, True, p) for p in _station_picks(KN, ev, origin, offset_s, rng)]
    msgs.sort(key=lambda m: m[0])
    for arrival, partner, p in msgs:
        clock.advance_s(max(0.0, (arrival - clock.now_ns()) / NS))
        if partner:
            q = ex.import_pick(p)
            if q is not None:
                core(q)
        else:
            core(p)
        core.tick()
    for _ in range(40):
        clock.advance_s(1.0)
        core.tick()
    core.flush()
    return alerts, ex


def _events(alerts: dict[str, list[Alert]], after_ns: int) -> list[list[Alert]]:
    return [v for v in alerts.values() if v[0].origin_time_ns >= after_ns]


def test_clock_offset_is_measured_on_a_shared_event_and_corrected_for_the_next(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="eew.partner.clock"):
        alerts, ex = _two_earthquakes("correct", 2.76)
    est = ex.clock_monitor.estimate()
    assert est.known and est.offset_s == pytest.approx(2.76, abs=0.5), est
    assert est.picks >= 4 and est.own_picks >= 4
    warned = [r for r in caplog.records if r.getMessage() == "partner clock offset"]
    assert warned and warned[0].levelno == logging.WARNING
    assert warned[0].kv["agency"] == "KG-MES"  # type: ignore[attr-defined]
    # the first earthquake split (the offset was not known yet); the second is one event
    # with the partner's stations in it
    second = _events(alerts, T0 + 100 * NS)
    assert len(second) == 1, [v[-1].event_id for v in second]
    assert sum(s.startswith("KN.") for s in second[0][-1].stations) >= 4
    assert est.corrected >= 4 * 4
    st = ex.statistics()
    assert st.clock.corrected == est.corrected


def test_without_correction_the_offset_splits_every_shared_event() -> None:
    alerts, ex = _two_earthquakes("report", 2.76)
    assert ex.clock_monitor.estimate().known
    assert len(_events(alerts, T0)) >= 4  # two per earthquake
    assert ex.clock_monitor.estimate().corrected == 0


def test_no_offset_no_warning_nothing_corrected(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="eew.partner.clock"):
        alerts, ex = _two_earthquakes("correct", 0.0)
    est = ex.clock_monitor.estimate()
    assert not est.known and abs(est.offset_s) < 0.3 and est.corrected == 0
    assert not [r for r in caplog.records if "clock" in r.getMessage()]
    assert len(_events(alerts, T0)) == 2


def test_policies_report_correct_discard_on_a_known_offset() -> None:
    rng = np.random.default_rng(5)
    ev, origin = (42.85, 74.9, 10.0), T0 + 10 * NS
    settings = load_settings()
    aw = load_inventory(settings.config.stationxml_paths()).stations()
    own = [p for p in _station_picks(aw, ev, origin, 0.0, rng) if p.update == 0]
    theirs = [p for p in _station_picks(KN, ev, origin, -1.5, rng) if p.update == 0]
    ref = alert(
        "KZ-AEWS", "KZ-1", origin_time_ns=origin, latitude_deg=42.9, longitude_deg=74.95,
        depth_km=10.0, horizontal_sigma_km=8.0, stations=tuple(sorted(aw)), kind="source",
    )  # fmt: skip
    results = {}
    for policy in ("report", "correct", "discard"):
        mon = ClockMonitor("KG-MES", "KZ-AEWS", KN, STACK, ClockPolicy(policy=policy))
        for p in own:
            mon.own_pick(p)
        mon.own_alert(ref)
        for p in theirs[:-1]:
            mon.apply(p)
        results[policy] = (mon.apply(theirs[-1]), mon.estimate())
    last = theirs[-1]
    (rep, est), (cor, _), (dis, est_d) = results.values()
    assert est.known and est.offset_s == pytest.approx(-1.5, abs=0.3)
    assert rep == last
    assert cor is not None and cor.time_ns - last.time_ns == -round(est.offset_s * NS)
    assert cor.trigger_time_ns - last.trigger_time_ns == cor.time_ns - last.time_ns
    assert dis is None and est_d.discarded >= 1


def test_group_offset_is_not_fooled_by_our_mislocation() -> None:
    """Our epicentre 20 km off: the time term still comes out (the search relocates)."""
    rng = np.random.default_rng(11)
    ev = (42.62, 75.55, 10.0)
    aw = load_inventory(load_settings().config.stationxml_paths()).stations()

    def arrays(st: dict[str, tuple[float, float, float]], shift: float):
        ps = [p for p in _station_picks(st, ev, T0, shift, rng, 200.0) if p.update == 0]
        return (
            np.array([p.latitude_deg for p in ps]),
            np.array([p.longitude_deg for p in ps]),
            np.array([(p.time_ns - T0) / NS for p in ps]),
        )

    own, partner = arrays(aw, 0.0), arrays(KN, 2.76)
    off, sigma, lat, lon, _depth = group_offset(STACK, 42.62 + 0.18, 75.55, 40.0, own, partner)
    assert off == pytest.approx(2.76, abs=max(3 * sigma, 0.3))
    assert float(distances_km(lat, lon, *ev[:2])) < 10.0


# ---- heartbeats: the partner's wall clock; our bus heartbeats carry the partner block ------
class SkewedClock:
    """The partner's wall clock, ``skew_s`` ahead of ours."""

    def __init__(self, skew_s: float) -> None:
        self.skew_ns = round(skew_s * NS)

    def now_ns(self) -> int:
        import time

        return time.time_ns() + self.skew_ns


def test_partner_wall_clock_offset_from_heartbeats_reaches_our_bus_heartbeats(caplog) -> None:
    """KG-MES publishes with a clock 2.76 s ahead (random loopback port); our exchange
    measures it from the verified heartbeats, warns, and our own bus publisher's
    heartbeats carry the partner block (liveness, counts, offsets, and the partner's own
    measurement of our clock from its heartbeats) to a subscriber."""
    import asyncio
    import time

    from eew.bus import Publisher, Subscriber
    from eew.bus.config import BusConfig, SubscriberConfig
    from eew.bus.wire import Health, Heartbeat
    from eew.daemon.health import DaemonHealth, partner_fields
    from eew.model.clock import WallClock
    from eew.partner.link import PartnerLink

    theirs = Publisher(
        BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.1),
        agency="KG-MES", clock=SkewedClock(2.76), signer=None, curve=None,
        health=lambda: Health(partner={"agency": "KZ-AEWS", "clock_offset_s": -2.7}),
    )  # fmt: skip
    endpoint = theirs.start()
    cfg = PartnerConfig(enabled=True, endpoints=(endpoint,), import_picks=False)
    clock = WallClock()
    link = PartnerLink(cfg, None, clock)
    ex = PartnerExchange(cfg, "KZ-AEWS", KN, clock, link=link, stack=STACK)

    def health():
        fields = partner_fields(ex.statistics(), cfg.agency, cfg.endpoints, "KZ-AEWS")
        return DaemonHealth(clock.now_ns(), "central", partner=fields).bus_health()

    ours = Publisher(
        BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.2),
        agency="KZ-AEWS", clock=clock, signer=None, curve=None, health=health,
    )  # fmt: skip

    async def main() -> Heartbeat | None:
        await ex.start(None)
        our_endpoint = await asyncio.to_thread(ours.start)
        got: Heartbeat | None = None

        def receive() -> Heartbeat | None:
            with Subscriber(
                our_endpoint, verifier=None, clock=clock, config=SubscriberConfig()
            ) as sub:
                t_end = time.monotonic() + 20
                while time.monotonic() < t_end:
                    msg = sub.receive(0.2)
                    body = msg.body if msg is not None else None
                    block = body.health.partner if isinstance(body, Heartbeat) else {}
                    beats = block.get("heartbeats")
                    if isinstance(beats, int) and beats >= 5:  # offset from 5 beats or more
                        assert isinstance(body, Heartbeat)
                        return body
            return None

        def warned() -> bool:
            return any(r.getMessage() == "partner wall clock off" for r in caplog.records)

        try:
            got = await asyncio.to_thread(receive)
            t_end = time.monotonic() + 10  # the warning needs 3 heartbeats
            while not warned() and time.monotonic() < t_end:
                await asyncio.sleep(0.1)
        finally:
            await ex.close()
            await asyncio.to_thread(ours.close)
        return got

    try:
        with caplog.at_level(logging.WARNING, logger="eew.partner.clock"):
            beat = asyncio.run(main())
    finally:
        theirs.close()
    assert beat is not None, "no heartbeat of ours carried the partner block"
    p = beat.health.partner
    assert p["agency"] == "KG-MES" and p["endpoints"] == endpoint
    assert p["up"] == 1 and p["feeds"] == 1
    assert p["heartbeat_clock_offset_s"] == pytest.approx(2.76, abs=0.3)
    assert p["remote_clock_offset_s"] == -2.7  # how the partner sees our clock
    for key in ("picks_imported", "alerts_merged", "alerts_relayed", "exported_picks",
                "exported_alerts", "loop_blocked", "heartbeats_rejected"):  # fmt: skip
        assert key in p
    warned = [r for r in caplog.records if r.getMessage() == "partner wall clock off"]
    assert warned and warned[0].levelno == logging.WARNING
    est = ex.clock_monitor.estimate()
    assert est.heartbeat_offset_s == pytest.approx(2.76, abs=0.3)
    assert math.isnan(est.offset_s)  # no shared event: no data-time measurement


def test_heartbeat_partner_block_round_trips_and_is_checked() -> None:
    from eew.bus.wire import Health, Heartbeat, decode_payload, encode_payload
    from eew.errors import DataError

    block = {"agency": "KG-MES", "up": 0, "heartbeat_age_s": math.inf, "clock_offset_s": 2.7}
    beat = Heartbeat("KZ-AEWS", T0, 1.0, Health(0.5, 3, T0, block))
    back = decode_payload("heartbeat", "KZ-AEWS", encode_payload(beat))
    assert isinstance(back, Heartbeat)
    assert back.health.partner == {**block, "heartbeat_age_s": None}  # inf is not JSON
    plain = Heartbeat("KZ-AEWS", T0, 1.0, Health())
    assert "partner" not in plain.to_dict()  # without a partner: the payload as before
    bad = {**beat.to_dict(), "partner": {"nested": {"a": 1}}}
    with pytest.raises(DataError, match="partner"):
        Heartbeat.from_dict(bad)


def test_clock_offset_and_policy_counts_reach_the_line_and_the_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from eew.daemon.health import DaemonHealth, HealthCollector, partner_fields
    from eew.partner.clock import ClockOffset
    from eew.partner.exchange import PartnerStatistics
    from eew.partner.merge import MergeStatistics

    clock = ClockOffset(2.76, 0.08, 10, 24, "KZ-1", True, 0.012, corrected=40, discarded=0)
    stats = PartnerStatistics(3, 0, 0, MergeStatistics(0, 1, 0, 0), None, None, clock)
    fields = partner_fields(stats, "KG-MES", ["tcp://10.1.1.1:5581"])
    h = DaemonHealth(T0, "central", partner=fields)
    line = h.log_fields()
    assert line["partner_clock_offset_s"] == 2.76 and line["partner_clock_offset_known"] == 1
    assert line["partner_picks_clock_corrected"] == 40
    assert h.bus_health().partner["heartbeat_clock_offset_s"] == 0.012
    collector = HealthCollector()
    collector.latest = h
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    text = generate_latest(reg).decode()
    assert 'eew_partner_clock_offset_seconds{agency="KG-MES",source="picks"} 2.76' in text
    assert 'eew_partner_clock_offset_seconds{agency="KG-MES",source="heartbeats"} 0.012' in text
    assert 'eew_partner_clock_offset_known{agency="KG-MES"} 1.0' in text
    assert 'eew_partner_total{agency="KG-MES",what="picks_clock_corrected"} 40.0' in text
