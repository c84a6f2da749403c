"""Partner exchange without sockets: configuration, relay trust, merge policy, loop prevention."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_bus_support import sample_alert

from eew.bus import MessageGate, Signer, SubscriberConfig, Verifier
from eew.bus.errors import KeyFileError
from eew.bus.keys import generate_keys, load_verify_key
from eew.bus.wire import encode_payload, make_topic
from eew.daemon.publish import MemoryPublisher
from eew.model.alert import Alert
from eew.model.clock import ManualClock
from eew.model.pick import Pick
from eew.partner.config import PartnerConfig
from eew.partner.exchange import PartnerExchange
from eew.partner.link import partner_verifier
from eew.partner.merge import AlertMerger, IdMemory, MergeStatistics
from eew.partner.relay import Exporter, ExportStatistics

NS = 1_000_000_000
T0 = 1_717_243_205_000_000_000
KN = {"KN.TKM2": (42.921, 75.597, 1500.0), "KN.BOOM": (42.492, 75.941, 1700.0)}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partner_keys")
    generate_keys(root, "KZ-AEWS", curve=False)
    generate_keys(root, "KG-MES", curve=False)
    generate_keys(root / "rogue", "KG-MES", curve=False)
    return root


def alert(agency: str, eid: str, version: int = 0, mtype: str = "new", **kw: object) -> Alert:
    fields = {"origin_time_ns": T0, "latitude_deg": 42.62, "longitude_deg": 75.55, **kw}
    return sample_alert(event_id=eid, agency=agency, version=version, message_type=mtype, **fields)


def pick(channel: str = "KN.TKM2..HHZ", pid: str = "p1", sent_ns: int = T0) -> Pick:
    return Pick(
        pid, channel, T0, T0, sent_ns, 0, False, 1.0, 0.01, 0.1, 1.0, 0.5, 0.5, 20.0, "HH",
        0.0, 0.0, 0.0,
    )  # fmt: skip


def frames(signer: Signer, kind: str, topic_agency: str, body: object, sent_ns: int, seq: int):
    topic = make_topic(kind, topic_agency)
    payload = encode_payload(body)  # type: ignore[arg-type]
    return [topic, payload, signer.sign(topic, payload, sent_time_ns=sent_ns, seq=seq)]


# ---- configuration --------------------------------------------------------------------------
def test_partner_config_defaults_and_errors_name_the_key() -> None:
    PartnerConfig().check()  # disabled by default
    ok = PartnerConfig(
        enabled=True, endpoints=("tcp://kg:5581",), trusted_key_file="k", inventory_file="i"
    )
    ok.check()
    assert ok.importing and ok.exporting
    for changes, key in (
        ({"endpoints": ()}, "endpoints"),
        ({"trusted_key_file": ""}, "trusted_key_file"),
        ({"inventory_file": ""}, "inventory_file"),
        ({"agency": "KG.MES"}, "agency"),
        ({"merge_distance_km": 0.0}, "merge_distance_km"),
        ({"max_clock_skew_s": float("nan")}, "max_clock_skew_s"),
        ({"curve_key_file": "a"}, "curve_key_file"),
        ({"export_endpoint": "kg:1"}, "export_endpoint"),
    ):
        with pytest.raises(ValueError, match=key):
            dataclasses.replace(ok, **changes).check()
    only_alerts = dataclasses.replace(ok, import_picks=False, inventory_file="")
    only_alerts.check()


# ---- trust: relays and the partner's gate ---------------------------------------------------
def test_relayed_alerts_need_a_relay_permission(keys: Path, tmp_path: Path) -> None:
    kz = Signer.from_file(keys / "KZ-AEWS.ed25519_secret")
    trusted = {a: (load_verify_key(keys / f"{a}.ed25519")[1],) for a in ("KZ-AEWS", "KG-MES")}
    clock = ManualClock(T0)
    relayed = alert("KG-MES", "KG-MES-1")
    strict = MessageGate(Verifier(trusted), clock, SubscriberConfig())
    assert strict.check(frames(kz, "alert", "KZ-AEWS", relayed, T0, 0)) is None
    assert strict.statistics().dropped_forged == 1

    d = tmp_path / "trusted"
    d.mkdir()
    for a in trusted:
        (d / f"{a}.ed25519").write_bytes((keys / f"{a}.ed25519").read_bytes())
    (d / "relays.toml").write_text('KZ-AEWS = ["KG-MES"]\n')
    gate = MessageGate(Verifier.from_dir(d), clock, SubscriberConfig())
    msg = gate.check(frames(kz, "alert", "KZ-AEWS", relayed, T0, 0))
    assert msg is not None and msg.agency == "KZ-AEWS" and msg.body.agency == "KG-MES"
    # our own alerts still pass; an agency not in the list does not
    assert gate.check(frames(kz, "alert", "KZ-AEWS", alert("KZ-AEWS", "KZ-1"), T0, 1))
    assert gate.check(frames(kz, "alert", "KZ-AEWS", alert("XX-NET", "XX-1"), T0, 2)) is None
    # the partner may not relay for us
    kg = Signer.from_file(keys / "KG-MES.ed25519_secret")
    assert gate.check(frames(kg, "alert", "KG-MES", alert("KZ-AEWS", "KZ-2"), T0, 0)) is None
    assert gate.statistics().dropped_forged == 2

    with pytest.raises(ValueError, match="not a trusted agency"):
        Verifier(trusted, relays={"XX-NET": ["KG-MES"]})
    with pytest.raises(ValueError, match="itself"):
        Verifier(trusted, relays={"KZ-AEWS": ["KZ-AEWS"]})
    (d / "relays.toml").write_text('KZ-AEWS = "KG-MES"\n')
    with pytest.raises(KeyFileError, match="list of agency codes"):
        Verifier.from_dir(d)


def test_partner_gate_drops_forged_stale_and_foreign_agency(keys: Path) -> None:
    cfg = PartnerConfig(agency="KG-MES")
    verifier = partner_verifier(cfg, keys / "KG-MES.ed25519")
    with pytest.raises(KeyFileError, match="KZ-AEWS"):
        partner_verifier(cfg, keys / "KZ-AEWS.ed25519")
    clock = ManualClock(T0)
    gate = MessageGate(verifier, clock, SubscriberConfig(max_clock_skew_s=30.0))
    kg = Signer.from_file(keys / "KG-MES.ed25519_secret")
    rogue = Signer.from_file(keys / "rogue/KG-MES.ed25519_secret")
    kz = Signer.from_file(keys / "KZ-AEWS.ed25519_secret")
    assert gate.check(frames(kg, "pick", "KG-MES", pick(), T0, 0)) is not None
    assert gate.check(frames(rogue, "pick", "KG-MES", pick(pid="p2"), T0, 1)) is None
    assert gate.check(frames(kz, "pick", "KZ-AEWS", pick(pid="p3"), T0, 0)) is None
    assert gate.check(frames(kg, "pick", "KG-MES", pick(pid="p4"), T0 - 100 * NS, 2)) is None
    s = gate.statistics()
    assert (s.accepted, s.dropped_forged, s.dropped_stale) == (1, 2, 1)


# ---- merge policy ---------------------------------------------------------------------------
def merger() -> AlertMerger:
    return AlertMerger("KZ-AEWS", "KG-MES", merge_origin_s=5.0, merge_distance_km=30.0)


def test_partner_alert_of_an_event_we_alerted_on_is_merged_not_relayed() -> None:
    m = merger()
    assert m.own_alert(alert("KZ-AEWS", "KZ-1"), T0).relay == ()
    d = m.partner_alert(alert("KG-MES", "KG-1", origin_time_ns=T0 + 2 * NS, latitude_deg=42.7), T0)
    assert (d.action, d.relay, d.related_event_id) == ("merged", (), "KZ-1")
    assert m.partner_alert(alert("KG-MES", "KG-1", 1, "update"), T0).action == "merged"
    assert m.related("KG-1") == "KZ-1"
    # a different earthquake (origin 20 s later, or 100 km away) is relayed
    far = m.partner_alert(alert("KG-MES", "KG-2", latitude_deg=41.7), T0)
    late = m.partner_alert(alert("KG-MES", "KG-3", origin_time_ns=T0 + 20 * NS), T0)
    assert far.action == late.action == "relayed"
    assert m.statistics() == MergeStatistics(relayed=2, merged=2, closed=0, ignored=0)


def test_relayed_partner_event_is_closed_when_ours_appears() -> None:
    m = merger()
    first = alert("KG-MES", "KG-1")
    assert m.partner_alert(first, T0).relay == (first,)
    upd = alert("KG-MES", "KG-1", 1, "update", magnitude=5.1)
    assert m.partner_alert(upd, T0).relay == (upd,)
    d = m.own_alert(alert("KZ-AEWS", "KZ-1", latitude_deg=42.65), T0 + NS)
    assert d.action == "closed" and d.related_event_id == "KZ-1"
    [closing] = d.relay
    assert (closing.event_id, closing.version, closing.message_type) == ("KG-1", 2, "final")
    assert closing.magnitude == 5.1 and closing.agency == "KG-MES"
    assert closing.sent_time_ns == T0 + NS
    # later partner versions are merged into ours; a duplicate is ignored
    assert m.partner_alert(alert("KG-MES", "KG-1", 2, "update"), T0).action == "merged"
    assert m.partner_alert(alert("KG-MES", "KG-1", 2, "update"), T0).action == "ignored"


def test_partner_cancellations_and_endings() -> None:
    m = merger()
    # a delete of an event never shown needs no relay
    assert m.partner_alert(alert("KG-MES", "KG-1", 0, "delete"), T0).action == "ignored"
    # a relayed event's delete and final are relayed, then it is no longer active
    m.partner_alert(alert("KG-MES", "KG-2"), T0)
    d = m.partner_alert(alert("KG-MES", "KG-2", 1, "delete"), T0)
    assert d.action == "relayed" and d.relay[0].message_type == "delete"
    assert m.own_alert(alert("KZ-AEWS", "KZ-1"), T0).relay == ()  # nothing left to close
    # our event ended: a partner alert for it is relayed again
    m.own_alert(alert("KZ-AEWS", "KZ-1", 1, "final"), T0)
    assert m.partner_alert(alert("KG-MES", "KG-3"), T0).action == "relayed"
    assert m.partner_alert(alert("KZ-AEWS", "KZ-9"), T0).action == "ignored"  # not the partner


def test_id_memory_forgets_the_oldest() -> None:
    mem = IdMemory(2)
    for i in "abc":
        mem.add(i)
    assert "a" not in mem and "b" in mem and "c" in mem and len(mem) == 2


# ---- import and export rules ----------------------------------------------------------------
def exchange(publisher: MemoryPublisher | None = None) -> PartnerExchange:
    cfg = PartnerConfig(enabled=True, agency="KG-MES")
    return PartnerExchange(cfg, "KZ-AEWS", KN, ManualClock(T0), export_publisher=publisher)


def test_partner_picks_use_the_partner_inventory_and_never_go_back() -> None:
    pub = MemoryPublisher()
    ex = exchange(pub)
    assert ex.import_pick(pick("AW.ALMY..HHZ", "echo")) is None  # not a partner station
    got = ex.import_pick(pick("KN.TKM2..HHZ", "kn1"))
    assert got is not None and (got.latitude_deg, got.longitude_deg) == (42.921, 75.597)
    forwarded: list[object] = []
    sink = ex.filter_sink(forwarded.append)
    sink(got)
    own = pick("AW.ALMY..HHZ", "aw1")
    sink(own)
    assert forwarded == [own]  # the imported pick is not re-published as ours

    for value in (got, own, alert("KG-MES", "KG-1"), alert("KZ-AEWS", "KZ-1")):
        ex.observe(value)
    assert pub.picks == [own]
    assert [a.event_id for a in pub.alerts] == ["KZ-1"]
    assert ex.exporter is not None
    assert ex.exporter.statistics() == ExportStatistics(picks=1, alerts=1, loop_blocked=2)
    s = ex.statistics()
    assert s.picks_imported == 1 and s.picks_foreign_station == 1
    assert s.export == ex.exporter.statistics() and s.link is None


def test_exporter_honours_what_to_export() -> None:
    pub = MemoryPublisher()
    exp = Exporter(pub, "KZ-AEWS", KN, IdMemory(10), picks=False, alerts=True)
    exp(pick("AW.ALMY..HHZ"))
    exp(alert("KZ-AEWS", "KZ-1"))
    assert pub.picks == [] and len(pub.alerts) == 1


def test_import_alert_relays_to_our_publisher() -> None:
    ex = exchange()
    bus = MemoryPublisher()
    ex.relay_to = bus
    ex.import_alert(alert("KG-MES", "KG-1"))
    ex.observe(alert("KZ-AEWS", "KZ-1"))
    assert [(a.event_id, a.message_type) for a in bus.alerts] == [
        ("KG-1", "new"),
        ("KG-1", "final"),
    ]
    with pytest.raises(ValueError, match="ourselves"):
        PartnerExchange(PartnerConfig(agency="KZ-AEWS"), "KZ-AEWS", {}, ManualClock(T0))
