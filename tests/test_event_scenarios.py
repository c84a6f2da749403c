"""Issue 4 "Done when": the event core on the bundled scenarios, scored by ``eew evaluate``.

Every scenario is replayed once (1-s live packets, see :mod:`eew.evaluate.run`) in a
module-scoped fixture; each test reads the scorecard. Criteria the core does not meet
yet are ``xfail(strict=True)`` with the measured value in the reason: they turn into
failures (XPASS) as soon as the core meets them, so the mark must then be removed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from eew.acquisition.archive import index_archive
from eew.evaluate.run import live_packets, run_packets
from eew.evaluate.scenario import Evaluator, ScenarioResult
from eew.evaluate.score import EventScore
from eew.model.geo import distances_km

SAMPLES = Path(__file__).resolve().parents[1] / "waveforms_samples"
SCENARIOS = (
    "local_m4.5",
    "verny_m7.0",
    "verny_m7.5",
    "kemin_m8.0",
    "chilik_m8.2",
    "wushi_m7.0",
    "kyrgyz_m5.5",
    "small_m3",
    "double_m5",
    "noise_30min",
    "teleseism_m7.5",
    "hindu_kush_m7.0",
    "bishkek_m6.0",
    "regional_m4.5",
    "city_glitch",
)
QUIET = ("noise_30min", "teleseism_m7.5", "hindu_kush_m7.0", "regional_m4.5", "city_glitch")
#: earthquakes whose P onsets on broadband and accelerometer channels must all be kept
EARTHQUAKES = (
    "bishkek_m6.0",
    "regional_m4.5",
    "verny_m7.0",
    "verny_m7.5",
    "kemin_m8.0",
    "chilik_m8.2",
    "wushi_m7.0",
)


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    """The default evaluator (repository configuration, 1-s packets)."""
    return Evaluator.default(1.0)


@pytest.fixture(scope="module")
def results(evaluator: Evaluator) -> dict[str, ScenarioResult]:
    """Every bundled scenario, replayed and scored once."""
    return {name: evaluator.evaluate(SAMPLES / name) for name in SCENARIOS}


def _event(results: dict[str, ScenarioResult], key: str) -> EventScore:
    scenario, ev_id = key.split("/")
    return next(e for e in results[scenario].score.events if e.id == ev_id)


def _xfail(key: str, reason: str) -> pytest.ParameterSet:
    return pytest.param(key, marks=pytest.mark.xfail(strict=True, reason=reason))


_WEST = (
    "double_m5/west: no source alert; the core declares event 2 at 43.54N 76.24E (~25 km "
    "NW of the truth, horizontal sigma 20-39 km), M6.5, likelihood 0.18-0.23 < 0.5"
)

ALERTABLE = (
    "local_m4.5/ev1",
    "verny_m7.0/ev1",
    "verny_m7.5/ev1",
    "kemin_m8.0/ev1",
    "chilik_m8.2/ev1",
    "wushi_m7.0/ev1",
    "kyrgyz_m5.5/ev1",
    "double_m5/east",
    "double_m5/west",
    "bishkek_m6.0/ev1",
)


def test_alertable_set_is_what_the_issue_means(results):
    found = sorted(
        f"{name}/{e.id}" for name, r in results.items() for e in r.score.events if e.alertable
    )
    assert found == sorted(ALERTABLE)


@pytest.mark.parametrize("key", ALERTABLE)
def test_every_m45_event_in_or_near_the_network_is_alerted(results, key):
    ev = _event(results, key)
    assert ev.detected, f"{key}: no source alert within 50 km / 20 s"


@pytest.mark.parametrize(
    "key",
    [
        "local_m4.5/ev1",
        "verny_m7.0/ev1",
        "verny_m7.5/ev1",
        "kemin_m8.0/ev1",
        "chilik_m8.2/ev1",
        "kyrgyz_m5.5/ev1",
        "double_m5/east",
        "double_m5/west",
    ],
)
def test_first_alert_within_2_s_of_p_at_the_fourth_station(results, key):
    ev = _event(results, key)
    assert ev.first_alert_after_p4_s <= 2.0, f"{key}: {ev.first_alert_after_p4_s:.2f} s"


def test_bishkek_m6_alerted_within_2_s_of_p4_and_5_km(results):
    """Issue 11: the M6 by Bishkek that the partner's stations see first, alerted at most 2 s
    after its P wave reaches the fourth station (partner stations count), within 5 km."""
    ev = _event(results, "bishkek_m6.0/ev1")
    assert ev.first_alert_after_p4_s <= 2.0, f"{ev.first_alert_after_p4_s:.2f} s after P4"
    assert ev.first_alert_epicentral_error_km <= 5.0, f"{ev.first_alert_epicentral_error_km:.1f} km"


INSIDE = ("local_m4.5/ev1", "verny_m7.0/ev1", "verny_m7.5/ev1", "kyrgyz_m5.5/ev1")


def test_median_epicentral_error_inside_the_network_under_5_km(results):
    inside = [
        e
        for r in results.values()
        for e in r.score.events
        if e.alertable and e.inside_network and e.detected
    ]
    assert len(inside) >= len(INSIDE)
    first = float(np.median([e.first_alert_epicentral_error_km for e in inside]))
    all_msgs = float(np.median([e.median_epicentral_error_km for e in inside]))
    assert first < 5.0
    assert all_msgs < 5.0


@pytest.mark.parametrize(
    "key",
    [
        *INSIDE,
        "double_m5/east",
        "double_m5/west",
    ],
)
def test_each_inside_event_median_epicentral_error_under_5_km(results, key):
    ev = _event(results, key)
    assert ev.inside_network
    assert ev.median_epicentral_error_km < 5.0


@pytest.mark.parametrize(
    "key",
    [
        "local_m4.5/ev1",
        "kyrgyz_m5.5/ev1",
        "double_m5/east",
        "double_m5/west",
    ],
)
def test_magnitude_within_half_a_unit_once_3_s_of_p_are_in(results, key):
    ev = _event(results, key)
    assert 4.5 <= ev.magnitude <= 6.5
    assert ev.max_magnitude_error_after_p4_3s <= 0.5, (
        f"{key}: |dM| up to {ev.max_magnitude_error_after_p4_3s:.2f} after P4 + 3 s"
    )


@pytest.mark.parametrize(
    "key",
    [
        "verny_m7.0/ev1",
        "verny_m7.5/ev1",
        "kemin_m8.0/ev1",
        _xfail(
            "chilik_m8.2/ev1",
            "chilik_m8.2: first magnitude above 6.5 at 11.4 s (6.94); 4th station P at 10.2 s",
        ),
    ],
)
def test_m7_events_exceed_6_5_within_10_s_of_origin(results, key):
    ev = _event(results, key)
    assert ev.magnitude >= 7.0
    assert ev.magnitude_over_6_5_after_origin_s <= 10.0, (
        f"{key}: {ev.magnitude_over_6_5_after_origin_s} s"
    )


def test_two_event_scenario_gives_two_events(results):
    s = results["double_m5"].score
    assert s.events_found == 2
    assert s.source_alerts == 2
    assert not s.false_alerts
    assert all(len(e.alert_ids) == 1 for e in s.events)


@pytest.mark.parametrize("name", QUIET)
def test_noise_teleseism_and_distant_deep_events_give_no_alert(results, name):
    assert results[name].run.alerts == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_false_source_alerts(results, name):
    assert results[name].score.false_alerts == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_public_alert_decision_agrees_with_the_truth(results, name):
    """Issue 11 item 7: a public alert exactly where one is expected (truth or default)."""
    assert results[name].score.public_alert_right


@pytest.mark.parametrize("name", EARTHQUAKES)
def test_p_onsets_of_earthquakes_are_not_rejected_as_artefacts(results, name):
    """Issue 11 item 5: no calibration, spike, step, boxcar or glitch rejection in scenarios
    that hold only earthquakes (M4.5-7.7 at 5-300 km, HH and HN channels)."""
    stats = results[name].run.statistics
    assert stats is not None
    artefacts = {"calibration", "spike", "step", "boxcar", "glitch"}
    assert not artefacts & set(stats.rejections), stats.rejections


def test_regional_m45_is_an_operators_event_only(results):
    """The October 2025 false alert: declared and followed, but withheld from the public."""
    run = results["regional_m4.5"].run
    assert run.events and not run.alerts
    last = run.events[-1].to_dict()
    assert not last["alerted"] and "forecast MSK" in last["withheld"]
    assert max(f.intensity_msk for e in run.events for f in e.record.forecasts) < 4.0


def test_bishkek_m6_is_alerted_with_the_partner_stations(results):
    ev = results["bishkek_m6.0"].score.events[0]
    assert ev.detected and ev.first_alert_after_p4_s <= 2.0
    assert ev.first_alert_epicentral_error_km <= 5.0


def test_small_event_below_threshold_is_not_alerted(results):
    assert results["small_m3"].run.alerts == []


def test_blind_zone_onsite_alert_within_1_s_of_the_first_p_data(results):
    ev = _event(results, "verny_m7.0/ev1")
    assert math.isfinite(ev.onsite_after_first_p_data_s), "no onsite alert"
    assert ev.onsite_after_first_p_data_s <= 1.0


def test_blind_zone_onsite_alert_is_issued(results):
    ev = _event(results, "verny_m7.0/ev1")
    assert math.isfinite(ev.onsite_after_first_p_s)
    assert results["verny_m7.0"].score.false_onsite_alerts == 0


def _comparable(run) -> dict[str, list[dict]]:
    """Values without ``sent_time`` and what is computed from it.

    That is the warning time of every forecast, and the S arrival of onsite forecasts
    (the source is unknown: the S wave is taken as arriving when the alert is sent).
    """

    def strip(v: object) -> dict:
        d = v.to_dict()  # type: ignore[attr-defined]
        d.pop("sent_time", None)
        for t in d.get("targets", []):
            t.pop("warning_time_s", None)
            if d.get("kind") == "onsite":
                t.pop("s_arrival_time", None)
        return d

    return {
        "picks": [strip(p) for p in run.picks],
        "events": [strip(e) for e in run.events],
        "alerts": [strip(a) for a in run.alerts],
    }


@pytest.fixture(scope="module")
def other_packets(evaluator: Evaluator) -> dict[tuple[str, float], object]:
    """double_m5 and verny_m7.0 replayed with 0.25-s packets and with whole records."""
    out = {}
    for name in ("double_m5", "verny_m7.0"):
        idx = index_archive([SAMPLES / name])
        for packet_s in (0.25, 0.0):
            out[name, packet_s] = run_packets(
                live_packets(idx, packet_s), evaluator.settings, evaluator.inventory
            )
    return out


@pytest.mark.parametrize("name", ["double_m5", "verny_m7.0"])
@pytest.mark.parametrize("packet_s", [0.25, 0.0])
def test_picks_do_not_depend_on_the_packet_size(results, other_packets, name, packet_s):
    """Every pick message is the same; only the interleaving across channels may differ."""
    got = _comparable(other_packets[name, packet_s])["picks"]
    want = _comparable(results[name].run)["picks"]
    key = repr
    assert sorted(got, key=key) == sorted(want, key=key)


def test_replay_output_does_not_depend_on_the_speed(tmp_path):
    """``eew replay --speed 400`` writes what ``--speed max`` writes (the data clock)."""
    from eew.cli import main

    outs = []
    for speed in ("max", "400"):
        out = tmp_path / f"{speed}.jsonl"
        args = ["replay", str(SAMPLES / "local_m4.5"), "--out", str(out), "--speed", speed]
        assert main([*args, "--no-progress"]) == 0
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    assert '"type":"alert"' in outs[0]


# ---- issue 11 "Done when", scored by the scorecard of item 8 --------------------------------
@pytest.mark.parametrize(
    "key",
    [
        _xfail(
            "verny_m7.0/ev1",
            "verny_m7.0: M6.95 at 10 s; released 6.96, seen by any station 6.84",
        ),
        "verny_m7.5/ev1",
        "kemin_m8.0/ev1",
        _xfail(
            "chilik_m8.2/ev1",
            "chilik_m8.2: M6.83 at 10 s (3 stations within 50 km, 2.5-3.5 s P windows); "
            "seen by any station 7.05, by a 4th none",
        ),
    ],
)
def test_great_events_read_at_least_m7_by_10_s(results, key):
    ev = _event(results, key)
    (c10,) = [c for c in ev.magnitude_checks if c.after_origin_s == 10.0]
    assert c10.estimate >= 7.0, f"{key}: M {c10.estimate:.2f} at 10 s"


@pytest.mark.parametrize(
    "key",
    [
        "verny_m7.0/ev1",
        "verny_m7.5/ev1",
        _xfail(
            "kemin_m8.0/ev1",
            "kemin_m8.0: M - M(t) = -0.16 at 10 s, -0.44 at 15 s; the P waves of the "
            "released moment reached no station by 10 s (seen 7.00 vs released 7.46)",
        ),
        _xfail(
            "chilik_m8.2/ev1",
            "chilik_m8.2: M - M(t) = -0.64 at 10 s, -0.86 at 15 s; seen by any station "
            "7.05 / 7.50, by four - / 7.01 against released 7.47 / 7.73",
        ),
    ],
)
def test_great_events_follow_the_released_moment(results, key):
    """Within 0.3 of the magnitude of the part that has broken, at 10 and 15 s."""
    ev = _event(results, key)
    errs = [c.error_released for c in ev.magnitude_checks if c.after_origin_s >= 10.0]
    assert all(abs(e) <= 0.3 for e in errs), f"{key}: M - M(t) = {errs}"


@pytest.mark.parametrize(
    "key",
    [
        "verny_m7.0/ev1",
        _xfail("verny_m7.5/ev1", "verny_m7.5: M7.19 at 26.5 s, 5 s after the rupture ends"),
        "kemin_m8.0/ev1",
        "chilik_m8.2/ev1",
    ],
)
def test_great_events_within_0_3_of_their_magnitude_5_s_after_the_rupture_ends(results, key):
    """Issue 11: within 0.3 of the true magnitude by 5 s after the rupture ends (the
    truth's moment release at its final value). ``wushi_m7.0`` is not here: its rupture
    ends 13 s after origin, its P wave reaches the nearest station about 30 s after it."""
    ev = _event(results, key)
    c = ev.rupture_end_check
    assert c is not None, f"{key}: no moment release in the truth"
    assert abs(c.error) <= 0.3, f"{key}: M {c.estimate:.2f} at {c.after_origin_s:.1f} s"


def test_target_intensities_within_one_msk_unit(results):
    """At least 80 % of the final forecast intensities within +-1 MSK of the observed."""
    from eew.evaluate.report import intensity_totals

    t = intensity_totals([e for r in results.values() for e in r.score.events])
    assert t["intensity_targets_final"] >= 100
    assert t["intensity_within_1_msk_final"] >= 0.8, t


#: issue 11 item 6: the scenarios whose locations must stay put once settled
SETTLING = (
    "bishkek_m6.0",
    "kyrgyz_m5.5",
    "verny_m7.0",
    "verny_m7.5",
    "kemin_m8.0",
    "chilik_m8.2",
    "local_m4.5",
)


@pytest.mark.parametrize("name", SETTLING)
def test_location_within_5_km_of_the_truth_from_settling_to_final(results, name):
    """Every estimate from the first settled one (:mod:`eew.event.settle`: uncertainty
    below ``settled_sigma_km`` with ``settled_min_picks`` stations, confirmed by the next
    estimate) to the last lies within 5 km of the epicentre, and settles early enough."""
    r = results[name]
    truth = r.truth.events[0]
    by_event: dict[int, list] = {}
    for st in r.run.events:
        by_event.setdefault(st.record.number, []).append(st.record)
    records = max(by_event.values(), key=len)
    settled = [k for k, rec in enumerate(records) if rec.settled]
    assert settled, f"{name}: the location never settled"
    assert settled == list(range(settled[0], len(records)))  # settled for good
    assert len(records[settled[0]].stations) <= 20
    errors = [
        float(
            distances_km(
                truth.latitude_deg,
                truth.longitude_deg,
                np.array([rec.location.latitude_deg]),
                np.array([rec.location.longitude_deg]),
            )[0]
        )
        for rec in records[settled[0] :]
    ]
    assert max(errors) <= 5.0, f"{name}: up to {max(errors):.1f} km after settling"


WUSHI = SAMPLES / "wushi_m7.0"


@pytest.mark.skipif(not WUSHI.is_dir(), reason="the Wushi scenario is not bundled")
def test_wushi_m7_is_alerted_for_almaty_30_s_before_its_s_waves(evaluator):
    """A regional M7.0 264 km away: located and alerted, >= 30 s before S in Almaty."""
    r = evaluator.evaluate(WUSHI)
    ev = r.score.events[0]
    assert ev.detected and r.run.alerts
    first = next(a for a in r.run.alerts if a.kind == "source")
    assert first.horizontal_sigma_km <= 0.1 * 200.0
    almaty = [t for t in ev.targets if t.name.startswith("Almaty")]
    assert almaty
    s_first = min(t.true_s_after_origin_s for t in almaty)
    assert s_first - ev.first_alert_after_origin_s >= 30.0
    assert ev.final_epicentral_error_km <= 5.0
