"""Regional location (Pg/Pn, partner stations, great-circle distances) and stable locations.

Issue 11 items 4 and 6: sources at 100-400 km inside the Tien Shan are located with the
first-arrival (Pg or Pn) tables and the partner's stations, with an uncertainty from the
likelihood surface; the distant test rejects only plane waves faster than any regional
Pn; a settled location moves by no more than its uncertainty (:mod:`eew.event.settle`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eew.config import EventConfig
from eew.event.distant import is_distant_wavefront
from eew.event.locate import Location, Locator
from eew.event.settle import bounded_move, has_settled, residual_keep
from eew.event.traveltime import load_stack
from eew.model.geo import distances_km

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_locate.py"


@pytest.fixture(scope="module")
def setup() -> tuple[Locator, object, list[str]]:
    """(locator, grid, station ids) exactly as the event core builds them."""
    spec = importlib.util.spec_from_file_location("bench_locate", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build_locator()


def _error_km(lat: float, lon: float, loc: Location) -> float:
    d = distances_km(lat, lon, np.array([loc.latitude_deg]), np.array([loc.longitude_deg]))
    return float(d[0])


def test_tables_reach_1000_km_with_pn_first_beyond_the_crossover() -> None:
    stack = load_stack()
    reach = (stack.p_s.shape[1] - 1) * stack.distance_step_km
    assert reach >= 1000.0
    i = int(np.searchsorted(stack.depth_km, 11.0))
    row = stack.p_s[i]
    # beyond the Pg/Pn crossover the first P travels at the mantle's 8.0 km/s
    k400, k500 = (int(d / stack.distance_step_km) for d in (400.0, 500.0))
    v = 100.0 / (row[k500] - row[k400])
    assert 7.9 < v < 8.1
    # and Sn at the mantle's 4.55 km/s
    srow = stack.s_s[i]
    vs = 100.0 / (srow[k500] - srow[k400])
    assert 4.45 < vs < 4.65
    # at 100 km the first P is still the crustal Pg (slower)
    k50, k100 = (int(d / stack.distance_step_km) for d in (50.0, 100.0))
    assert 50.0 / (row[k100] - row[k50]) < 6.5


def test_travel_times_use_great_circle_distances(setup) -> None:
    """A source 400 km from a station: the flat projection would be several km off."""
    locator, grid, _ids = setup
    lat, lon = 41.26, 78.63  # Wushi
    x, y = grid.to_xy(lat, lon)
    d_true = distances_km(lat, lon, *np.degrees([locator._slat, locator._slon]))
    assert np.allclose(locator.station_distances_km(float(x), float(y)), d_true, atol=0.05)


@pytest.mark.parametrize(
    ("lat", "lon", "depth", "max_error_km"),
    [
        (41.26, 78.63, 13.0, 5.0),  # Wushi, 264 km SE of Almaty
        (41.70, 73.40, 10.0, 5.0),  # Kambarata, 290 km SW
        # eastern Tien Shan, 300 km E, every station on one side: distance and origin
        # time trade off; only the uncertainty has to say so
        (42.50, 80.50, 15.0, None),
    ],
)
def test_regional_source_is_located_with_an_honest_uncertainty(
    setup, lat, lon, depth, max_error_km
) -> None:
    locator, grid, _ids = setup
    x, y = grid.to_xy(lat, lon)
    tp = locator.p_times(float(x), float(y), depth)
    loc = locator.locate(np.arange(tp.size), tp, np.array([], dtype=np.int64), np.array([]))
    assert loc is not None
    err = _error_km(lat, lon, loc)
    if max_error_km is not None:
        assert err < max_error_km, f"{err:.1f} km"
    assert err <= 2.0 * loc.horizontal_sigma_km + 1.0, (err, loc.horizontal_sigma_km)


def test_uncertainty_grows_with_the_scatter_of_the_picks(setup) -> None:
    locator, grid, _ids = setup
    x, y = grid.to_xy(43.05, 77.3)
    tp = locator.p_times(float(x), float(y), 10.0)
    allp = np.arange(tp.size)
    none = np.array([], dtype=np.int64)
    clean = locator.locate(allp, tp, none, np.array([]))
    rng = np.random.default_rng(11)
    noisy = locator.locate(allp, tp + rng.normal(0.0, 0.8, tp.size), none, np.array([]))
    assert clean is not None and noisy is not None
    assert noisy.horizontal_sigma_km > 2.0 * clean.horizontal_sigma_km


def test_plane_wave_test_spares_regional_pn_and_flags_faster_fronts() -> None:
    cfg = EventConfig()
    rng = np.random.default_rng(5)
    x = rng.uniform(-60.0, 60.0, 12)
    y = rng.uniform(-40.0, 40.0, 12)
    args = (cfg.plane_wave_min_aperture_km, cfg.plane_wave_max_rms_s)
    for slowness, distant in ((1 / 8.0, False), (1 / 6.3, False), (1 / 9.0, True), (0.07, True)):
        t = slowness * x + rng.normal(0.0, 0.03, x.size)
        got = is_distant_wavefront(x, y, t, *args, cfg.teleseism_max_slowness_s_km)
        assert got is distant, f"{slowness:.3f} s/km"


def _loc(lat: float, lon: float, sigma: float) -> Location:
    return Location(lat, lon, 10.0, 100.0, sigma, 2.0, 0.1, 10.0, 10.0, np.zeros(3))


def test_settling_needs_picks_and_a_small_uncertainty() -> None:
    assert has_settled(_loc(43.0, 77.0, 2.0), 6, 3.0, 6)
    assert not has_settled(_loc(43.0, 77.0, 2.0), 5, 3.0, 6)
    assert not has_settled(_loc(43.0, 77.0, 4.0), 20, 3.0, 6)


def test_residual_rejection_keeps_only_consistent_picks() -> None:
    keep = residual_keep(np.array([0.1, -0.4, 6.5, -1.2, 0.9]), 1.0)
    assert keep.tolist() == [True, True, False, False, True]


def test_bounded_move_keeps_a_settled_location_within_its_uncertainty(setup) -> None:
    _locator, grid, _ids = setup
    anchor = _loc(43.0, 77.0, 2.5)
    far = _loc(43.5, 77.0, 1.0)  # 55 km north (an S phase taken for P, say)
    times = np.array([110.0, 112.0, 115.0])

    def travel(x: float, y: float) -> np.ndarray:
        return np.array([10.0, 12.0, 15.0])

    moved = bounded_move(anchor, far, grid, times, travel)
    assert _error_km(43.0, 77.0, moved) == pytest.approx(2.5, abs=0.01)
    assert moved.latitude_deg > 43.0  # towards the new estimate
    assert moved.horizontal_sigma_km >= anchor.horizontal_sigma_km
    assert moved.origin_time_s == pytest.approx(100.0)
    near = replace(far, latitude_deg=43.01)
    assert bounded_move(anchor, near, grid, times, travel) is near
