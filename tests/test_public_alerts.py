"""Issue 11 items 7 and 8: public alerts by forecast shaking, never from one station.

The scenario-level checks (the unfelt regional M4.5 and the city station's glitches give no
public alert; the scorecard's public-alert decision) are in ``test_event_scenarios.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eew.config import AlertConfig, OnsiteConfig
from eew.evaluate.report import format_scenario, format_totals, totals
from eew.evaluate.truth import load_truth
from eew.event import groundmotion as gm
from eew.event import magnitude as mag
from eew.event.forecast import forecast_targets
from eew.event.lifecycle import AlertLifecycle, EventRecord
from eew.event.locate import Location
from eew.event.magnitude import EventMagnitude
from eew.event.targets import Target
from eew.model.alert import Alert, TargetForecast
from eew.simulate.scenario import load_scenario

SAMPLES = Path(__file__).resolve().parents[1] / "waveforms_samples"
ALMATY = Target("Almaty-Almaly", 43.255, 76.925, 450.0)
KASKELEN = Target("Kaskelen", 43.200, 76.620, 450.0)


def _record(msk: float, n_stations: int, n_magnitudes: int | None = None) -> EventRecord:
    loc = Location(42.3, 75.7, 10.0, 0.0, 2.0, 5.0, 0.3, 1.0, 1.0, np.zeros(0))
    fc = TargetForecast("Kaskelen", 43.2, 76.62, 3.0, 0.28, msk, msk, 0.7, 125.0, 0, 20.0)
    m = EventMagnitude(4.8, 0.2, n_stations if n_magnitudes is None else n_magnitudes, False)
    stations = tuple(f"KN.S{i}" for i in range(n_stations))
    return EventRecord(1, loc, 0, m, 0.9, stations, (fc,))


@pytest.mark.parametrize(
    ("msk", "n", "n_mag", "public"),
    [
        (4.3, 6, None, True),
        (3.4, 30, None, False),  # many stations, forecast below MSK IV: operators only
        (5.0, 1, None, False),  # one station: never public
        (5.0, 3, None, False),
        (5.0, 6, 2, False),  # located by 6, but only 2 give a magnitude
    ],
)
def test_public_alert_needs_forecast_shaking_and_agreeing_stations(msk, n, n_mag, public):
    life = AlertLifecycle(AlertConfig(), "hash", "0")
    out = list(life.update(_record(msk, n, n_mag), 10))
    alerts = [o for o in out if isinstance(o, Alert)]
    assert bool(alerts) is public
    state = out[0].to_dict()
    assert state["type"] == "event" and state["alerted"] is public
    assert (state["withheld"] == "") is public
    if msk < 4.0:
        assert "forecast MSK 3.4 < 4" in state["withheld"]
    if n < 4:
        assert f"{n} stations < 4" in state["withheld"]


def test_one_station_can_never_be_enough():
    with pytest.raises(ValueError, match="min_stations"):
        AlertConfig(min_stations=1).check()
    with pytest.raises(ValueError, match="min_stations"):
        OnsiteConfig(min_stations=1).check()
    AlertConfig(min_stations=2).check()


def _forecast(target: Target, m: float, depth_km: float) -> TargetForecast:
    (f,) = forecast_targets([target], 42.30, 75.70, depth_km, m, 0.2, 0, 0, np.array([40.0]))
    return f


def test_forecast_of_the_unfelt_regional_m45_is_below_msk_iv_whatever_the_depth():
    """The October 2025 false alert: M4.5 at 140 km, forecast MSK 4.05-4.26 at four targets.

    With the free-depth IPE a depth error of 10 -> 33 km raised the forecast by ~0.9
    units at 110-140 km; the fixed-depth form does not depend on the (poorly constrained)
    depth of a source outside the network.
    """
    for target in (ALMATY, KASKELEN):
        shallow, deep = _forecast(target, 4.8, 10.0), _forecast(target, 4.8, 33.0)
        assert shallow.intensity_msk == pytest.approx(deep.intensity_msk)
        assert shallow.intensity_msk < 3.6
    free_deep = float(gm.intensity_msk_bindi2011(4.8, 125.0, 33.0))
    assert free_deep > 4.0  # what the free-depth form gave


def test_uqturpan_m7_at_260_km_is_still_felt_at_about_iv():
    # press reports: felt in Almaty at about IV ("four points out of seven")
    assert 4.0 <= float(gm.intensity_msk_bindi2011(7.0, 260.0)) < 5.0


def test_tau_magnitudes_only_from_near_stations():
    assert mag.TAU_MAX_DISTANCE_KM == 60.0
    near = mag.station_magnitude("A.B", 0.004, 0.9, 1.0, 40.0, 3.0, False)
    far = mag.station_magnitude(
        "A.B", 0.004, 0.9, 1.0, 140.0, 3.0, False, use_tau=140.0 <= mag.TAU_MAX_DISTANCE_KM
    )
    assert near is not None and far is not None
    assert far.magnitude == pytest.approx(mag.magnitude_from_pd(0.004, 140.0))
    assert near.sigma < far.sigma


def test_scenario_expectation_reaches_truth_and_scorecard(tmp_path):
    scen = load_scenario(SAMPLES / "regional_m4.5" / "scenario.toml")
    assert scen.sources[0].expect_public_alert is False
    truth = json.loads((SAMPLES / "regional_m4.5" / "truth.json").read_text())
    assert truth["events"][0]["expect_public_alert"] is False
    assert load_truth(SAMPLES / "regional_m4.5").events[0].expect_public_alert is False
    assert load_truth(SAMPLES / "bishkek_m6.0").events[0].expect_public_alert is True
    assert load_truth(SAMPLES / "local_m4.5").events[0].expect_public_alert is None
    bad = tmp_path / "s.toml"
    text = (SAMPLES / "regional_m4.5" / "scenario.toml").read_text()
    bad.write_text(text.replace("expect_public_alert = false", 'expect_public_alert = "no"'))
    with pytest.raises(Exception, match="expect_public_alert"):
        load_scenario(bad)


def test_report_prints_the_public_alert_decision():
    from eew.evaluate.score import ScenarioScore

    s = ScenarioScore("x", "", 1.0, [], 1, ["e"], 0, 0, 0, 0, 0, 3, False, True)
    assert not s.public_alert_right
    assert "public alert: expected no, sent yes (WRONG)" in format_scenario(s)
    t = totals([s])
    assert t["public_alert_decisions_right"] == 0 and t["public_alert_wrong"] == ["x"]
    assert "public-alert decision right in 0/1 scenarios (wrong: x)" in format_totals(t)
    assert s.to_dict()["public_alert_right"] is False
