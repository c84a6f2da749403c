"""EDT location with silent stations, on synthetic picks from the travel-time tables.

The locator is the event core's (configured grid, the 38 stations of the configured
inventory). Picks are exact table times from a source; at a time ``T`` the stations
whose P has arrived have picked and every other station is silent with data up to ``T``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from eew.evaluate.truth import _convex_hull
from eew.event.locate import Location, Locator, TravelTimeStack
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


def _locate_at(
    setup, src: tuple[float, float, float], t_now: float
) -> tuple[Location, int, np.ndarray]:
    locator, grid, _ids = setup
    x, y = grid.to_xy(src[0], src[1])
    tp = locator.p_times(float(x), float(y), src[2])
    picked = np.flatnonzero(tp <= t_now)
    silent = np.flatnonzero(tp > t_now)
    loc = locator.locate(picked, tp[picked], silent, np.full(silent.size, t_now))
    return loc, picked.size, tp


def _p_sorted(setup, src) -> np.ndarray:
    locator, grid, _ids = setup
    x, y = grid.to_xy(src[0], src[1])
    return np.sort(locator.p_times(float(x), float(y), src[2]))


def _error_km(src, loc: Location) -> float:
    return float(
        distances_km(src[0], src[1], np.array([loc.latitude_deg]), np.array([loc.longitude_deg]))[0]
    )


#: the epicentres of the bundled scenarios inside the network
SCENARIO_SOURCES = [
    (43.21, 76.95, 10.0),
    (43.05, 77.3, 10.0),
    (43.35, 76.55, 12.0),
    (43.22, 76.93, 15.0),
    (43.15, 78.35, 15.0),
]


@pytest.mark.parametrize("src", SCENARIO_SOURCES)
@pytest.mark.parametrize("n", [6, 8, 12])
def test_six_or_more_picks_locate_within_2_km(setup, src, n):
    t_now = _p_sorted(setup, src)[n - 1] + 0.01
    loc, n_picked, _tp = _locate_at(setup, src, t_now)
    assert n_picked >= n
    assert _error_km(src, loc) < 2.0
    assert abs(loc.origin_time_s) < 0.5  # depth and origin time trade off


def _random_inside_sources(setup, count: int, seed: int) -> list[tuple[float, float, float]]:
    locator, grid, ids = setup
    aw = [i for i, s in enumerate(ids) if s.startswith("AW.")]
    lat, lon = grid.to_latlon(locator.sx, locator.sy)
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        la = rng.uniform(lat[aw].min(), lat[aw].max())
        lo = rng.uniform(lon[aw].min(), lon[aw].max())
        c = np.cos(np.radians(la))
        hull = _convex_hull([((lon[i] - lo) * c, lat[i] - la) for i in aw])
        if all(
            x1 * y2 - x2 * y1 >= 0
            for (x1, y1), (x2, y2) in zip(hull, hull[1:] + hull[:1], strict=True)
        ):
            out.append((float(la), float(lo), float(rng.uniform(5.0, 20.0))))
    return out


@pytest.mark.xfail(
    strict=True,
    reason="3 of 120 cases > 2 km (4.3-4.7 km, sources at the network's eastern and "
    "northern edges, 6-8 exact picks): with few picks on one side the likelihood is a "
    "valley along the back-azimuth and the distance prior pulls the estimate inward",
)
def test_random_sources_inside_the_network_locate_within_2_km(setup):
    bad = []
    for src in _random_inside_sources(setup, 40, seed=1):
        ts = _p_sorted(setup, src)
        for n in (6, 8, 12):
            loc, _n, _tp = _locate_at(setup, src, ts[n - 1] + 0.01)
            err = _error_km(src, loc)
            if err >= 2.0:
                bad.append((src, n, round(err, 1)))
    assert not bad


#: sources whose first station is far enough from the others for a one-pick region
SPARSE = [(43.6, 77.0, 10.0), (43.05, 77.3, 10.0), (43.35, 76.55, 12.0), (42.8, 77.6, 12.0)]


@pytest.mark.parametrize("src", SPARSE)
def test_one_pick_gives_the_first_station_cell_shrinking_with_silent_time(setup, src):
    locator, grid, ids = setup
    ts = _p_sorted(setup, src)
    sigmas = []
    for frac in (0.0, 0.5, 0.98):
        t_now = ts[0] + frac * (ts[1] - ts[0])
        loc, n_picked, tp = _locate_at(setup, src, t_now)
        assert n_picked == 1
        first = int(np.argmin(tp))
        sx, sy = grid.to_xy(loc.latitude_deg, loc.longitude_deg)
        d = np.hypot(locator.sx - sx, locator.sy - sy)
        assert int(np.argmin(d)) == first, f"estimate nearer {ids[int(np.argmin(d))]}"
        sigmas.append(loc.horizontal_sigma_km)
    assert sigmas[2] < sigmas[0]
    assert sigmas == sorted(sigmas, reverse=True)


def test_a_silent_station_whose_data_are_not_current_does_not_veto(setup):
    locator, grid, _ids = setup
    src = (43.05, 77.3, 10.0)
    x, y = grid.to_xy(src[0], src[1])
    tp = locator.p_times(float(x), float(y), src[2])
    order = np.argsort(tp)
    picked = order[:6]
    t_now = tp[order[5]] + 0.01
    silent = order[6:]
    ok = locator.locate(picked, tp[picked], silent, np.full(silent.size, t_now))
    # without the silent stations (dead, or data too old): the same place from 6 picks
    alone = locator.locate(picked, tp[picked], np.zeros(0, np.int64), np.zeros(0))
    assert _error_km(src, ok) < 2.0
    assert _error_km(src, alone) < 2.0


def test_travel_time_stack_resampling():
    class T:
        def __init__(self, z: float) -> None:
            self.depth_km = z
            self.distance_km = np.array([0.0, 100.0])
            self.p_s = np.array([z / 6.0, z / 6.0 + 100 / 6.0])
            self.s_s = self.p_s * 1.73

    stack = TravelTimeStack.from_tables([T(5.0), T(10.0)], 50.0, 0.5)
    assert stack.p_s.shape == (2, 101)
    assert stack.p_s[1, 100] == pytest.approx(10 / 6 + 50 / 6)
