"""The partner's merge tolerances and clock policy as ``[partner]`` keys; the clock offset
kept across a restart.

* every key is read from a file, validated (a bad value or an unknown key is an error
  naming the key and the file) and changes what the exchange does: ``clock_policy =
  "discard"`` drops the partner's picks while its offset is known, a larger
  ``clock_warn_s`` leaves them alone, a smaller ``merge_max_distance_km`` keeps two
  solutions 45 km apart as two events, the heartbeat window forgets old heartbeats;
* the defaults of the keys are the rules' defaults (the shipped behaviour is unchanged);
* the measured offset is written next to the SeedLink state and read back by a new
  monitor (and by the daemon), which acts on it before any new shared event.
"""

from __future__ import annotations

import json
import logging
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from eew.daemon.config import Settings, dump_settings, load_settings, settings_from_dict
from eew.errors import ConfigError
from eew.inventory import load_inventory
from eew.model.alert import Alert
from eew.model.clock import ManualClock
from eew.model.pick import Pick
from eew.partner.clock import ClockMonitor, ClockPolicy
from eew.partner.clockstate import clock_state_path, load_offset, save_offset
from eew.partner.config import PartnerConfig
from eew.partner.exchange import PartnerExchange
from eew.partner.merge import SameEvent
from tests.test_partner_faults import KN, NS, STACK, T0, _station_picks, alert

KM45 = 45.0 / 111.195  # 45 km north [deg]


def _settings(tmp_path: Path, partner: str) -> Settings:
    path = tmp_path / "eew.toml"
    path.write_text("[partner]\n" + textwrap.dedent(partner), encoding="utf-8")
    return load_settings(path)


# ---- the keys: defaults, file, validation -------------------------------------------------
def test_the_keys_defaults_are_the_rules_defaults() -> None:
    cfg = PartnerConfig()
    assert SameEvent.from_config(cfg) == SameEvent()
    assert ClockPolicy.from_config(cfg) == ClockPolicy()


def test_changed_keys_are_read_from_the_file_and_dumped(tmp_path: Path) -> None:
    s = _settings(
        tmp_path,
        """
        merge_confidence = 0.99
        merge_model_sigma_km = 7.5
        merge_model_sigma_s = 2.0
        merge_unknown_sigma_km = 40.0
        merge_unknown_sigma_s = 6.0
        merge_max_distance_km = 100.0
        clock_policy = "discard"
        clock_warn_s = 0.8
        clock_significance = 4.0
        clock_min_picks = 6
        clock_window_s = 12.0
        clock_heartbeat_window = 10
        """,
    )
    rule, policy = SameEvent.from_config(s.partner), ClockPolicy.from_config(s.partner)
    assert rule == SameEvent(5.0, 30.0, 0.99, 7.5, 2.0, 100.0, 40.0, 6.0)
    assert policy == ClockPolicy(0.8, 6, 12.0, "discard", 4.0, 10)
    text = dump_settings(s)
    assert 'clock_policy = "discard"' in text and "merge_max_distance_km = 100.0" in text
    again = tmp_path / "again.toml"
    again.write_text(text, encoding="utf-8")
    assert load_settings(again).partner == s.partner
    assert s.hash() != Settings().hash()  # a changed key changes the stamped hash


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('clock_policy = "fix"', "partner.clock_policy: one of report, correct, discard"),
        ("clock_policy = 1", "partner.clock_policy: expected a string"),
        ("merge_confidence = 1.0", "partner.merge_confidence: must be a probability in (0, 1)"),
        ("merge_confidence = 0.0", "partner.merge_confidence: must be a probability"),
        ("merge_confidence = nan", "partner.merge_confidence: must be a probability"),
        ("merge_model_sigma_km = -1.0", "partner.merge_model_sigma_km: must be > 0"),
        ("merge_model_sigma_s = 0", "partner.merge_model_sigma_s: must be > 0"),
        ("merge_unknown_sigma_km = inf", "partner.merge_unknown_sigma_km: must be finite"),
        ("merge_unknown_sigma_s = nan", "partner.merge_unknown_sigma_s: must be > 0"),
        ("merge_max_distance_km = 0.0", "partner.merge_max_distance_km: must be > 0"),
        ("clock_warn_s = 0.0", "partner.clock_warn_s: must be > 0"),
        ("clock_significance = -3.0", "partner.clock_significance: must be > 0"),
        ("clock_window_s = 0.5", "partner.clock_window_s: must be > clock_warn_s"),
        ("clock_min_picks = 1", "partner.clock_min_picks: must be >= 2"),
        ("clock_min_picks = 4.5", "partner.clock_min_picks: expected an integer"),
        ("clock_heartbeat_window = 0", "partner.clock_heartbeat_window: must be > 0"),
        ("clock_sigma = 3.0", "unknown key partner.clock_sigma"),
        ("merge_max_distance = 100.0", "unknown key partner.merge_max_distance"),
    ],
)
def test_a_bad_value_or_unknown_key_names_key_and_file(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _settings(tmp_path, line)
    assert str(err.value).startswith(str(tmp_path / "eew.toml") + ": ")
    assert message in str(err.value)


def test_no_cap_is_allowed(tmp_path: Path) -> None:
    s = _settings(tmp_path, "merge_max_distance_km = inf")
    assert SameEvent.from_config(s.partner).max_distance_km == math.inf


# ---- the keys change the behaviour ----------------------------------------------------------
def _merge_45_km(cfg: PartnerConfig) -> tuple[list[Alert], PartnerExchange]:
    """The partner's solution relayed, then ours 45 km off within the uncertainties."""
    shown: list[Alert] = []

    class Bus:
        def publish_alert(self, a: Alert) -> None:
            shown.append(a)

    ex = PartnerExchange(cfg, "KZ-AEWS", KN, ManualClock(T0), stack=STACK)
    ex.relay_to = Bus()
    kg = alert("KG-MES", "KG-1", horizontal_sigma_km=3.0, origin_time_sigma_s=0.3, magnitude=5.8)
    ex.import_alert(kg)
    ours = alert(
        "KZ-AEWS", "KZ-1", latitude_deg=42.62 + KM45, origin_time_ns=T0 + 2 * NS,
        horizontal_sigma_km=25.0, origin_time_sigma_s=1.5, magnitude=5.6,
    )  # fmt: skip
    ex.observe(ours)
    ex.import_alert(kg.with_(version=1, message_type="update"))
    return shown, ex


def test_a_smaller_cap_keeps_two_events_apart(tmp_path: Path) -> None:
    shown, ex = _merge_45_km(_settings(tmp_path, "import_picks = false\n").partner)
    assert [(a.version, a.message_type) for a in shown] == [(0, "new"), (1, "final")]
    assert ex.merger.related("KG-1") == "KZ-1"  # the default: one event
    capped = _settings(tmp_path, "import_picks = false\nmerge_max_distance_km = 40.0\n")
    shown, ex = _merge_45_km(capped.partner)
    assert [(a.version, a.message_type) for a in shown] == [(0, "new"), (1, "update")]
    assert ex.merger.related("KG-1") is None  # two events: the partner's still relayed
    assert ex.statistics().alerts.closed == 0


def test_a_stricter_gate_keeps_two_events_apart(tmp_path: Path) -> None:
    # D2 of the two solutions is 7.02: within the 0.999 and 0.99 quantiles (16.27, 11.34),
    # beyond the 0.9 quantile (6.25)
    for confidence, merged in ((0.999, True), (0.99, True), (0.9, False)):
        keys = f"import_picks = false\nmerge_confidence = {confidence}\n"
        _, ex = _merge_45_km(_settings(tmp_path, keys).partner)
        assert (ex.merger.related("KG-1") == "KZ-1") == merged, confidence


def _shared_event(mon_or_ex: ClockMonitor | PartnerExchange, shift_s: float) -> list[Pick]:
    """Our picks and source alert of an event near Bishkek; the partner's picks to come."""
    rng = np.random.default_rng(5)
    ev, origin = (42.85, 74.9, 10.0), T0 + 10 * NS
    aw = load_inventory(load_settings().config.stationxml_paths()).stations()
    own = [p for p in _station_picks(aw, ev, origin, 0.0, rng) if p.update == 0]
    theirs = [p for p in _station_picks(KN, ev, origin, shift_s, rng) if p.update == 0]
    ref = alert(
        "KZ-AEWS", "KZ-1", origin_time_ns=origin, latitude_deg=42.9, longitude_deg=74.95,
        depth_km=10.0, horizontal_sigma_km=8.0, stations=tuple(sorted(aw)), kind="source",
    )  # fmt: skip
    if isinstance(mon_or_ex, PartnerExchange):
        for p in own:
            mon_or_ex.observe(p)
        mon_or_ex.observe(ref)
    else:
        for p in own:
            mon_or_ex.own_pick(p)
        mon_or_ex.own_alert(ref)
    return theirs


@pytest.mark.parametrize(
    ("keys", "used"),
    [
        ("", "corrected"),
        ('clock_policy = "report"', "as is"),
        ('clock_policy = "discard"', "dropped"),
        ('clock_policy = "discard"\nclock_warn_s = 2.0\nclock_window_s = 10.0', "as is"),
        ('clock_policy = "discard"\nclock_significance = 1000.0', "as is"),
        ('clock_policy = "discard"\nclock_min_picks = 60', "as is"),
    ],
)
def test_the_clock_keys_decide_what_happens_to_the_partners_picks(
    tmp_path: Path, keys: str, used: str
) -> None:
    cfg = _settings(tmp_path, keys).partner
    ex = PartnerExchange(cfg, "KZ-AEWS", KN, ManualClock(T0), stack=STACK)
    theirs = _shared_event(ex, -1.5)
    out = [ex.import_pick(p) for p in theirs]
    last, got = theirs[-1], out[-1]
    est = ex.clock_monitor.estimate()
    if used == "as is":
        assert got == last and est.corrected == est.discarded == 0
        return
    assert est.known and est.offset_s == pytest.approx(-1.5, abs=0.3)
    if used == "dropped":
        assert got is None and est.discarded >= 1 and est.corrected == 0
        assert ex.statistics().picks_imported == sum(p is not None for p in out)
    else:
        assert got is not None and got.time_ns - last.time_ns == -round(est.offset_s * NS)


def test_the_heartbeat_window_forgets_old_heartbeats(tmp_path: Path) -> None:
    for window, expect in ((30, 2.0), (3, 0.1)):
        keys = f"clock_heartbeat_window = {window}"
        ex = PartnerExchange(
            _settings(tmp_path, keys).partner, "KZ-AEWS", KN, ManualClock(T0), stack=STACK
        )
        for k, off in enumerate((2.0, 0.1, 0.1, 0.1)):
            ex.clock_monitor.heartbeat(T0 + k * NS + round(off * NS), T0 + k * NS)
        assert ex.clock_monitor.estimate().heartbeat_offset_s == pytest.approx(expect)


# ---- the offset across a restart ------------------------------------------------------------
def test_the_measured_offset_survives_a_restart(tmp_path: Path, caplog) -> None:
    state = clock_state_path(tmp_path / "seedlink.state")
    assert state == tmp_path / "seedlink.partner_clock.json"
    assert clock_state_path(None) is None
    policy = ClockPolicy(policy="correct")
    first = ClockMonitor("KG-MES", "KZ-AEWS", KN, STACK, policy, state_path=state)
    theirs = _shared_event(first, -1.5)
    for p in theirs[:-1]:
        first.apply(p)
    before = first.estimate()
    assert before.known and state.exists()
    doc = json.loads(state.read_text(encoding="utf-8"))
    assert doc["offset_s"] == before.offset_s and doc["event_id"] == "KZ-1"
    assert doc["origin_time_ns"] == T0 + 10 * NS
    # a new run: no shared event yet, the offset is known and the policy acts on it
    with caplog.at_level(logging.WARNING, logger="eew.partner.clock"):
        second = ClockMonitor("KG-MES", "KZ-AEWS", KN, STACK, policy, state_path=state)
        after = second.estimate()
        assert after.known and after.offset_s == before.offset_s
        assert (after.sigma_s, after.picks, after.event_id) == (
            before.sigma_s, before.picks, before.event_id
        )  # fmt: skip
        late = theirs[-1]
        got = second.apply(late)
    assert got is not None and got.time_ns - late.time_ns == -round(before.offset_s * NS)
    assert any(r.getMessage() == "partner clock offset" for r in caplog.records)
    # without a state file nothing is carried over
    assert not ClockMonitor("KG-MES", "KZ-AEWS", KN, STACK, policy).estimate().known
    # a new shared event replaces the restored measurement (and the file)
    third = ClockMonitor("KG-MES", "KZ-AEWS", KN, STACK, policy, state_path=state)
    theirs = _shared_event(third, 0.0)
    for p in theirs:
        third.apply(p)
    fresh = third.estimate()
    assert not fresh.known and abs(fresh.offset_s) < 0.3
    assert json.loads(state.read_text(encoding="utf-8"))["offset_s"] == fresh.offset_s


def test_a_bad_or_foreign_state_file_is_ignored(tmp_path: Path, caplog) -> None:
    path = tmp_path / "s.partner_clock.json"
    assert load_offset(path, "KG-MES") is None  # absent
    assert save_offset(path, "KG-MES", "KZ-1", 2.0, 0.1, 8, 12, T0)
    assert load_offset(path, "KG-MES") == ("KZ-1", 2.0, 0.1, 8, 12, T0)
    assert load_offset(path, "UZ-RC") is None  # another partner's
    with caplog.at_level(logging.WARNING, logger="eew.partner.clock"):
        for text in ("{", '{"format": "other"}', json.dumps({"format": "eew.partner-clock/1"})):
            path.write_text(text, encoding="utf-8")
            assert load_offset(path, "KG-MES") is None
            mon = ClockMonitor("KG-MES", "KZ-AEWS", KN, STACK, state_path=path)
            assert math.isnan(mon.estimate().offset_s)
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 6
    assert not save_offset(tmp_path / "missing" / "x.json", "KG-MES", "KZ-1", 2.0, 0.1, 8, 8, T0)


def test_the_daemon_keeps_the_offset_next_to_the_seedlink_state(tmp_path: Path) -> None:
    from eew.daemon.publish import MemoryPublisher
    from eew.daemon.runner import Daemon

    save_offset(tmp_path / "sl.partner_clock.json", "KG-MES", "KZ-7", 2.76, 0.2, 9, 14, T0)
    raw = {
        "daemon": {"role": "central", "insecure_bus": True},
        "seedlink": {"state_file": "sl.state"},
        "partner": {"enabled": True, "import_picks": False, "import_alerts": False,
                    "export_picks": False, "export_alerts": False},
    }  # fmt: skip
    daemon = Daemon(settings_from_dict(raw, "<test>", tmp_path), publisher=MemoryPublisher())
    assert daemon.partner is not None
    est = daemon.partner.clock_monitor.estimate()
    assert est.known and est.offset_s == 2.76 and est.event_id == "KZ-7"
    raw["seedlink"] = {"state_file": ""}  # no state kept: nothing read back
    daemon = Daemon(settings_from_dict(raw, "<test>", tmp_path), publisher=MemoryPublisher())
    assert daemon.partner is not None and not daemon.partner.clock_monitor.estimate().known
