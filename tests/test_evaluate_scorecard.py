"""Scorecard arithmetic on hand-made truths (issue 11 item 8): magnitude at 5, 10 and 15 s
after origin against the final and the released magnitude, target intensity within one
MSK unit, warning time against the truth's S arrival at the targets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from eew.evaluate.report import format_scenario, intensity_totals, magnitude_totals
from eew.evaluate.score import (
    EventScore,
    ScenarioScore,
    TargetScore,
    _target_scores,
    magnitude_checks,
    rupture_end_check,
    within_tolerance,
)
from eew.evaluate.truth import TrueEvent, TrueTarget, load_truth
from eew.event.targets import Target
from eew.model.timeutil import NS_PER_S

T0 = 1_700_000_000 * NS_PER_S


def _event(**kw: Any) -> TrueEvent:
    base: dict[str, Any] = {
        "id": "ev1",
        "kind": "local",
        "origin_ns": T0,
        "latitude_deg": 43.0,
        "longitude_deg": 77.0,
        "depth_km": 15.0,
        "magnitude": 8.0,
        "arrivals": (),
    }
    base.update(kw)
    return TrueEvent(**base)


def _state(after_s: float, mag: float, forecasts: tuple[Any, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(
        sent_time_ns=T0 + round(after_s * NS_PER_S),
        record=SimpleNamespace(magnitude=SimpleNamespace(magnitude=mag), forecasts=forecasts),
    )


def test_released_magnitude_follows_the_series() -> None:
    ev = _event(moment_release=((0.5, 6.0), (1.0, 6.5), (2.0, 7.5)))
    assert math.isnan(ev.released_magnitude(0.2))
    assert ev.released_magnitude(0.75) == pytest.approx(6.25)
    assert ev.released_magnitude(1.5) == pytest.approx(7.0)
    # after the series the whole moment is out
    assert ev.released_magnitude(30.0) == 8.0
    # a point source without a series: the final magnitude
    assert _event(magnitude=5.0).released_magnitude(3.0) == 5.0


def test_magnitude_checks_take_the_latest_estimate_before_each_time() -> None:
    ev = _event(moment_release=((0.5, 6.0), (10.0, 7.6), (20.0, 8.0)))
    states = [_state(4.0, 6.0), _state(9.9, 6.8), _state(10.5, 7.0), _state(15.0, 7.4)]
    c5, c10, c15 = magnitude_checks(ev, states)  # type: ignore[arg-type]
    assert (c5.after_origin_s, c5.estimate) == (5.0, 6.0)
    assert c5.error == pytest.approx(-2.0)
    # released by 5 s: interpolated between (0.5, 6.0) and (10, 7.6)
    assert c5.released == pytest.approx(6.0 + 1.6 * 4.5 / 9.5)
    assert c5.error_released == pytest.approx(6.0 - c5.released)
    assert c10.estimate == 6.8 and c10.released == pytest.approx(7.6)
    assert c10.error_released == pytest.approx(-0.8)
    # an estimate sent exactly at the checkpoint counts
    assert c15.estimate == 7.4 and c15.released == pytest.approx(7.8)
    # nothing sent yet: NaN, and NaN errors
    (early,) = magnitude_checks(ev, states, (3.0,))  # type: ignore[arg-type]
    assert math.isnan(early.estimate) and math.isnan(early.error)


def test_rupture_end_check_5_s_after_the_release_reaches_its_final_value() -> None:
    ev = _event(moment_release=((0.5, 6.0), (10.0, 7.6), (20.0, 7.9995), (30.0, 8.0)))
    # the series is at its final value (within the 0.001 rounding) from 20 s on
    assert ev.rupture_end_s() == 20.0
    states = [_state(10.0, 7.0), _state(24.9, 7.5), _state(25.1, 7.8)]
    c = rupture_end_check(ev, states)  # type: ignore[arg-type]
    assert c is not None
    assert c.after_origin_s == 25.0 and c.estimate == 7.5
    assert c.error == pytest.approx(-0.5) and c.error_released == pytest.approx(-0.5)
    # a point source has no rupture end to check
    assert math.isnan(_event(magnitude=5.0).rupture_end_s())
    assert rupture_end_check(_event(magnitude=5.0), states) is None  # type: ignore[arg-type]
    score = EventScore("a", 8.0, 15.0, 43.0, 77.0, True, True, True, rupture_end_check=c)
    t = magnitude_totals([score])
    assert t["rupture_end_events"] == 1 and t["rupture_end_within_0_3"] == 0
    assert t["median_abs_magnitude_error_after_rupture_end"] == pytest.approx(0.5)
    card = ScenarioScore("s", "", 1.0, [score], 0, [], 0, 0, 0, 0, 0, 0)
    assert "5 s after the rupture ends (25.0 s) 7.50 (true 8.00, error -0.50)" in (
        format_scenario(card)
    )


def test_within_tolerance_counts_pairs_with_both_values() -> None:
    pred = [4.0, 5.5, math.nan, 7.0, 6.0]
    obs = [5.0, 4.0, 3.0, math.nan, 5.2]
    # (4, 5) at exactly one unit counts; (5.5, 4) does not; (6, 5.2) does
    assert within_tolerance(pred, obs) == pytest.approx(2 / 3)
    assert math.isnan(within_tolerance([math.nan], [4.0]))


def _fc(name: str, msk: float, warn: float, s_ns: int) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        intensity_msk=msk,
        warning_time_s=warn,
        s_arrival_time_ns=s_ns,
        pga_cm_s2=10.0,
    )


def test_target_scores_use_the_truth_s_arrival_and_intensity() -> None:
    near = Target("Near", 43.0, 77.1, 400.0)
    far = Target("Far", 43.5, 77.0, 400.0)
    ev = _event(
        targets={
            "Near": TrueTarget("Near", T0 + 4 * NS_PER_S, 8.0, 7.5, 300.0),
            "Far": TrueTarget("Far", T0 + 20 * NS_PER_S, 5.0, 4.5, 20.0),
        }
    )
    first = SimpleNamespace(
        sent_time_ns=T0 + 6 * NS_PER_S,
        targets=[
            _fc("Near", 6.5, -1.5, T0 + round(4.5 * NS_PER_S)),
            _fc("Far", 4.5, 13.0, T0 + 19 * NS_PER_S),
        ],
    )
    last = SimpleNamespace(
        sent_time_ns=T0 + 30 * NS_PER_S,
        targets=[_fc("Near", 7.2, 0.0, 0), _fc("Far", 6.5, 0.0, 0)],
    )
    run = SimpleNamespace(targets=(near, far))
    rows = _target_scores(ev, first, None, None, run, None, last)  # type: ignore[arg-type]
    by = {t.name: t for t in rows}
    # warning time = truth S arrival - first alert; negative inside the blind zone
    assert by["Near"].true_warning_s == pytest.approx(-2.0)
    assert by["Far"].true_warning_s == pytest.approx(14.0)
    assert by["Far"].s_arrival_error_s == pytest.approx(-1.0)
    assert by["Near"].true_s_after_origin_s == pytest.approx(4.0)
    assert (by["Near"].observed_msk, by["Near"].predicted_msk) == (8.0, 6.5)
    assert by["Far"].final_predicted_msk == 6.5
    score = EventScore("ev1", 8.0, 15.0, 43.0, 77.0, True, True, True, targets=rows)
    # first: Near 6.5 vs 8 (no), Far 4.5 vs 5 (yes); final: Near 7.2 (yes), Far 6.5 (no)
    got = intensity_totals([score])
    assert got["intensity_within_1_msk_first"] == pytest.approx(0.5)
    assert got["intensity_within_1_msk_final"] == pytest.approx(0.5)
    assert got["intensity_targets_final"] == 2


def test_estimates_without_alert_score_intensity_but_no_warning() -> None:
    ev = _event(targets={"A": TrueTarget("A", T0 + 9 * NS_PER_S, 3.0, 3.0, 5.0)})
    state = _state(7.0, 4.5, (_fc("A", 3.4, 2.0, T0 + 9 * NS_PER_S),))
    run = SimpleNamespace(targets=(Target("A", 43.1, 77.0, 400.0),))
    (row,) = _target_scores(ev, None, state, state, run, None)  # type: ignore[arg-type]
    assert math.isnan(row.true_warning_s) and math.isnan(row.predicted_warning_s)
    assert row.predicted_msk == 3.4 and row.final_predicted_msk == 3.4


def test_magnitude_totals_and_the_m7_by_10_s_count() -> None:
    big = EventScore("a", 8.0, 15.0, 43.0, 77.0, True, True, True)
    small = EventScore("b", 5.0, 10.0, 43.0, 77.0, True, True, True)
    big.magnitude_checks = magnitude_checks(
        _event(moment_release=((0.5, 6.0), (20.0, 8.0))),
        [_state(4.0, 6.5), _state(9.0, 7.1)],  # type: ignore[list-item]
    )
    small.magnitude_checks = magnitude_checks(
        _event(magnitude=5.0),
        [_state(6.0, 5.2)],  # type: ignore[list-item]
    )
    t = magnitude_totals([big, small])
    assert t["events_with_magnitude_at_5s"] == 1
    assert t["median_abs_magnitude_error_at_5s"] == pytest.approx(1.5)
    assert t["events_with_magnitude_at_10s"] == 2
    # 10 s: big 7.1 vs 8.0 (0.9), small 5.2 vs 5.0 (0.2): median 0.55
    assert t["median_abs_magnitude_error_at_10s"] == pytest.approx(0.55)
    assert t["large_events"] == 1 and t["large_events_m7_by_10s"] == 1
    card = ScenarioScore("s", "", 1.0, [big, small], 0, [], 0, 0, 0, 0, 0, 0)
    assert "M at 5 s 6.50" in format_scenario(card)


def test_truth_reads_targets_and_moment_release(tmp_path: Path) -> None:
    doc = {
        "scenario": "hand",
        "start_time": "2024-01-01T00:00:00.000Z",
        "end_time": "2024-01-01T00:01:00.000Z",
        "stations": [],
        "events": [
            {
                "id": "ev1",
                "origin_time": "2024-01-01T00:00:05.000Z",
                "latitude_deg": 43.0,
                "longitude_deg": 77.0,
                "depth_km": 15.0,
                "magnitude": 7.5,
                "moment_release": {"step_s": 0.5, "mw": [[0.0, None], [0.5, 6.1], [1.0, 6.6]]},
                "targets": [
                    {"name": "X", "s_time": "2024-01-01T00:00:09.500Z", "msk": 7.2, "mmi": 6.0}
                ],
            }
        ],
    }
    (tmp_path / "truth.json").write_text(json.dumps(doc), encoding="utf-8")
    (ev,) = load_truth(tmp_path).events
    assert ev.moment_release == ((0.5, 6.1), (1.0, 6.6))
    x = ev.targets["X"]
    assert (x.s_ns - ev.origin_ns) / NS_PER_S == pytest.approx(4.5)
    assert (x.msk, x.mmi) == (7.2, 6.0) and math.isnan(x.pga_cm_s2)


def test_target_score_defaults_keep_older_cards() -> None:
    row = TargetScore("A", 1.0, 2.0, 3.0, 3.0, 0.0, 5.0, 10.0)
    assert math.isnan(row.observed_msk) and math.isnan(row.final_predicted_msk)
