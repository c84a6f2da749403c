"""The duration lower bound on the magnitude (:mod:`eew.event.duration`, issue 11)."""

from __future__ import annotations

import math

import pytest

from eew.config import FiniteFaultConfig
from eew.event.duration import (
    magnitude_from_duration,
    source_duration_s,
    station_duration_s,
    strong_motion_end,
)
from eew.event.magnitude import EventMagnitude, with_lower_bound
from eew.model.timeutil import NS_PER_S


def test_duration_scaling_is_the_gcmt_half_duration_with_hanks_kanamori() -> None:
    for mw in (5.0, 6.0, 7.0, 8.0):
        m0_dyne_cm = 10 ** (1.5 * mw + 16.05)
        duration = 2.0 * 1.05e-8 * m0_dyne_cm ** (1.0 / 3.0)
        assert magnitude_from_duration(duration) == pytest.approx(mw)
    # self-similar: ten times longer is two magnitude units
    assert magnitude_from_duration(40.0) - magnitude_from_duration(4.0) == pytest.approx(2.0)


def test_strong_motion_end_is_the_last_bin_above_the_fraction_of_the_peak() -> None:
    bins = {0: 0.1, 1: 10.0, 2: 5.0, 3: 1.0, 4: 2.5, 5: 0.3}
    assert strong_motion_end(bins.get, 0, 5, 0.2) == 4
    assert strong_motion_end(bins.get, 0, 5, 0.3) == 2
    # a gap in the data is skipped; no data at all gives None
    assert strong_motion_end({0: 4.0, 2: 1.0}.get, 0, 3, 0.2) == 2
    assert strong_motion_end({}.get, 0, 3, 0.2) is None


def test_source_duration_is_the_median_less_the_path_part() -> None:
    assert source_duration_s([10.0, 30.0, 20.0, 50.0], 8.0, 3) == pytest.approx(17.0)
    assert source_duration_s([10.0, 12.0], 8.0, 3) is None  # too few stations
    assert source_duration_s([5.0, 6.0, 7.0], 8.0, 3) is None  # path and site explain it


def _peaks(bins: dict[int, float]):
    def peak(station_id: str, start_ns: int, end_ns: int) -> float | None:
        assert station_id == "AW.TEST"
        vals = [bins[s] for s in range(start_ns // NS_PER_S, end_ns // NS_PER_S + 1) if s in bins]
        return max(vals) if vals else None

    return peak


def test_station_duration_runs_from_s_to_the_end_of_the_last_strong_bin() -> None:
    # P at 100 s, S at 103.5 s, strong until the bin of second 120 (ends at 121 s)
    bins = {99: 0.1, 100: 3.0, 103: 50.0, 110: 20.0, 120: 11.0, 121: 5.0, 125: 0.2}
    peak = _peaks(bins)
    p, s = 100 * NS_PER_S, round(103.5 * NS_PER_S)
    assert station_duration_s(peak, "AW.TEST", p, s, 130 * NS_PER_S, 0.2) == pytest.approx(17.5)
    # while the shaking goes on, the duration grows with the data
    assert station_duration_s(peak, "AW.TEST", p, s, 110 * NS_PER_S, 0.2) == pytest.approx(7.5)
    # before the S wave there is no duration
    assert station_duration_s(peak, "AW.TEST", p, s, 102 * NS_PER_S, 0.2) is None


def test_a_lower_bound_lifts_only_an_estimate_below_it() -> None:
    p = EventMagnitude(7.2, 0.23, 20, False, "Mfd")
    assert with_lower_bound(p, None) is p
    assert with_lower_bound(p, 5.5) is p  # far below: nothing changes
    up = with_lower_bound(p, 7.9)
    assert 7.9 < up.magnitude < 8.1
    assert up.sigma >= 0.15 and up.magnitude_type == "Mfd"
    near = with_lower_bound(p, 7.0)
    assert p.magnitude < near.magnitude < p.magnitude + 0.1


def test_duration_keys_are_checked() -> None:
    FiniteFaultConfig().check()
    with pytest.raises(ValueError, match="duration_fraction"):
        FiniteFaultConfig(duration_fraction=1.5).check()
    with pytest.raises(ValueError, match="duration_min_stations"):
        FiniteFaultConfig(duration_min_stations=0).check()
    with pytest.raises(ValueError, match="duration_path_s"):
        FiniteFaultConfig(duration_path_s=-1.0).check()
    assert math.isfinite(FiniteFaultConfig().duration_radius_km)
