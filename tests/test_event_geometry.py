"""The event core never crashes on geometry (issue 10, item 3).

* the location grid follows the inventory unless the configuration pins it
  (:mod:`eew.event.grid`); the shipped configuration pins the Almaty grid;
* picks of stations outside the grid are set aside and counted, one log line per station;
* property tests (hypothesis): random station geometries anywhere on Earth (poles and
  the antimeridian included, 3 to 200 stations, any spacing) and random pick sets at
  the locator and at the event core's association: no exception, every location inside
  its grid, finite uncertainties.

The number of examples is the hypothesis profile's (``tests/conftest.py``): ``default``
runs 100 per test, ``thorough`` (``--hypothesis-profile=thorough``) the issue's 10 000.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eew.cli import main as eew_main
from eew.config import Config, EventConfig
from eew.daemon.config import Settings, dump_settings, load_settings
from eew.event.core import EventCore
from eew.event.grid import (
    BEYOND_TABLES,
    GRID_MARGIN_KM,
    OUTSIDE_GRID,
    grid_spec,
    max_half_width_km,
    station_coverage,
)
from eew.event.locate import Grid, Location, Locator, TravelTimeStack
from eew.event.targets import Target, load_targets
from eew.event.traveltime import load_stack
from eew.inventory import ChannelInfo, Inventory, load_inventory
from eew.model.clock import ManualClock
from eew.model.pick import Pick

ROOT = Path(__file__).resolve().parents[1]
UH = ROOT / "waveforms_real" / "obspy_uh"
NS = 1_000_000_000
T0 = 1_700_000_000 * NS
FOLLOW = EventConfig()  # every grid key unset: the grid follows the inventory


@dataclasses.dataclass(frozen=True)
class Shared:
    """What every example shares, built once per module: read-only inputs of the core."""

    stack: TravelTimeStack
    targets: tuple[Target, ...]
    config: Config


@pytest.fixture(scope="module")
def shared() -> Shared:
    return Shared(load_stack(), load_targets(ROOT / "config" / "targets.csv"), Config())


@pytest.fixture(scope="module")
def stack(shared: Shared) -> TravelTimeStack:
    return shared.stack


# ---- helpers ----------------------------------------------------------------------------
def inventory_of(coords: list[tuple[float, float]]) -> Inventory:
    """One HHZ channel per station at the given coordinates."""
    channels = []
    for i, (lat, lon) in enumerate(coords):
        sta = f"S{i:03d}"
        channels.append(
            ChannelInfo(
                f"XX.{sta}..HHZ", "XX", sta, "", "HHZ", lat, lon, 0.0, 0.0, 100.0, 1e9, 1.0,
                "M/S", 0.0, -90.0, None, None,
            )
        )
    return Inventory(channels)


def pick_at(sid: str, lat: float, lon: float, t_ns: int, n: int = 0) -> Pick:
    return Pick(
        f"{sid}..HHZ:{t_ns}", f"{sid}..HHZ", t_ns, t_ns, t_ns + NS, n, n >= 2, 1.0 + n,
        1e-3, 1e-2, 5.0, 1.0, 1.0, 10.0, "velocity", lat, lon, 0.0,
    )


def in_grid(grid: Grid, loc: Location) -> bool:
    x, y = grid.to_xy(loc.latitude_deg, loc.longitude_deg)
    return grid.contains(float(x), float(y))


def finite(loc: Location) -> bool:
    values = (
        loc.latitude_deg, loc.longitude_deg, loc.depth_km, loc.origin_time_s,
        loc.horizontal_sigma_km, loc.depth_sigma_km, loc.origin_time_sigma_s, loc.likelihood,
    )
    return all(math.isfinite(v) for v in values) and bool(np.all(np.isfinite(loc.residuals_s)))


def wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


# ---- geometry strategy ------------------------------------------------------------------
special_lat = st.sampled_from([90.0, -90.0, 89.999, -89.999, 0.0, 42.9, 60.0])
special_lon = st.sampled_from([180.0, -180.0, 179.999, -179.999, 0.0, 76.0])


@st.composite
def geometries(draw: st.DrawFn) -> list[tuple[float, float]]:
    """3 to 200 stations in one to three clusters anywhere, spacing from metres to global.

    Hypothesis draws the structure (count, cluster centres with the poles and the
    antimeridian among them, spreads, coincident stations); a seeded generator places the
    stations (drawing 400 floats per example would make the test ten times slower).
    """
    n = draw(st.integers(3, 200))
    clusters = []
    for _ in range(draw(st.integers(1, 3))):
        lat0 = draw(st.one_of(special_lat, st.floats(-90.0, 90.0)))
        lon0 = draw(st.one_of(special_lon, st.floats(-180.0, 180.0)))
        spread_km = 10.0 ** draw(st.floats(-3.0, 4.3))  # 1 m to 20 000 km
        clusters.append((lat0, lon0, spread_km))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u, v = rng.uniform(-1.0, 1.0, (2, n))
    on_centre = rng.random(n) < draw(st.sampled_from([0.0, 0.0, 0.2, 1.0]))
    u[on_centre] = v[on_centre] = 0.0  # stations exactly at their cluster's centre
    coords = []
    for i in range(n):
        lat0, lon0, spread = clusters[i % len(clusters)]
        lat = min(max(lat0 + v[i] * spread / 111.19, -90.0), 90.0)
        c = max(math.cos(math.radians(lat)), 1e-3)
        coords.append((lat, wrap_lon(lon0 + u[i] * spread / (111.19 * c))))
    return coords


@st.composite
def pick_sets(draw: st.DrawFn, n_stations: int) -> list[tuple[int, float]]:
    """Up to 30 picks: (station index, time [s]); repeats and simultaneous picks allowed."""
    k = draw(st.integers(0, 30))
    idx = st.integers(0, n_stations - 1)
    times = st.one_of(st.just(0.0), st.floats(0.0, 120.0))
    return draw(st.lists(st.tuples(idx, times), min_size=k, max_size=k))


# ---- the grid rule ----------------------------------------------------------------------
def test_shipped_configuration_pins_the_calibrated_grid(stack: TravelTimeStack) -> None:
    ev = load_settings().config.event
    assert (ev.grid_center_lat_deg, ev.grid_center_lon_deg) == (42.9, 76.0)
    assert (ev.grid_half_width_km, ev.grid_half_height_km) == (500.0, 300.0)
    inv = load_inventory(load_settings().config.stationxml_paths())
    lat, lon = zip(*[(v[0], v[1]) for v in inv.stations().values()], strict=True)
    spec = grid_spec(ev, np.array(lat), np.array(lon), stack)
    assert spec.followed == ()
    assert (spec.lat0_deg, spec.lon0_deg, spec.half_width_km, spec.half_height_km) == (
        42.9, 76.0, 500.0, 300.0,
    )
    assert not any(station_coverage(spec, np.array(lat), np.array(lon), stack))


def test_default_grid_follows_the_shipped_inventory(stack: TravelTimeStack) -> None:
    inv = load_inventory(load_settings().config.stationxml_paths())
    coords = np.array([(v[0], v[1]) for v in inv.stations().values()])
    spec = grid_spec(FOLLOW, coords[:, 0], coords[:, 1], stack)
    assert len(spec.followed) == 4
    assert spec.lat0_deg == pytest.approx(42.97, abs=0.01)
    assert spec.lon0_deg == pytest.approx(76.17, abs=0.01)
    # the stations' east-west extent (206 km) + the 100 km margin, rounded up to 10 km
    assert (spec.half_width_km, spec.half_height_km) == (310.0, 200.0)
    assert not any(station_coverage(spec, coords[:, 0], coords[:, 1], stack))


def test_unset_keys_dump_as_comments_and_read_back() -> None:
    text = dump_settings(Settings())
    assert "# grid_center_lat_deg = ...  (unset: follows the station inventory)" in text
    from eew.daemon.config import settings_from_dict

    back = settings_from_dict({"event": {"grid_half_width_km": 150}})
    assert back.config.event.grid_half_width_km == 150.0
    assert back.config.event.grid_center_lat_deg is None


def test_grid_across_the_antimeridian(stack: TravelTimeStack) -> None:
    lat = np.array([-17.0, -18.0, -16.5, -17.5])
    lon = np.array([179.6, -179.7, 179.9, -179.5])  # Fiji
    spec = grid_spec(FOLLOW, lat, lon, stack)
    assert abs(abs(spec.lon0_deg) - 180.0) < 0.5
    assert spec.half_width_km < 200.0
    assert not any(station_coverage(spec, lat, lon, stack))


def test_network_on_two_continents_follows_the_larger_cluster(stack: TravelTimeStack) -> None:
    inv = load_inventory([*load_settings().config.stationxml_paths(), UH / "stations.xml"])
    ids = sorted(inv.stations())
    lat = np.array([inv.stations()[s][0] for s in ids])
    lon = np.array([inv.stations()[s][1] for s in ids])
    spec = grid_spec(FOLLOW, lat, lon, stack)
    why = dict(zip(ids, station_coverage(spec, lat, lon, stack), strict=True))
    assert {s for s, w in why.items() if w} == {"BW.UH1", "BW.UH2", "BW.UH3", "BW.UH4"}
    assert set(why.values()) == {"", OUTSIDE_GRID}


def test_pinned_grid_larger_than_the_tables_sets_far_stations_aside(
    stack: TravelTimeStack,
) -> None:
    ev = dataclasses.replace(
        FOLLOW, grid_center_lat_deg=0.0, grid_center_lon_deg=0.0,
        grid_half_width_km=1200.0, grid_half_height_km=1200.0,
    )
    lat = np.array([0.0, 0.0, 9.5])
    lon = np.array([0.0, 2.0, 0.0])  # the third is 1056 km away: the tables reach 1000 km
    spec = grid_spec(ev, lat, lon, stack)
    assert station_coverage(spec, lat, lon, stack) == ["", "", BEYOND_TABLES]


def test_no_stations_and_a_pole(stack: TravelTimeStack) -> None:
    spec = grid_spec(FOLLOW, np.array([]), np.array([]), stack)
    assert (spec.half_width_km, spec.half_height_km) == (GRID_MARGIN_KM, GRID_MARGIN_KM)
    spec = grid_spec(FOLLOW, np.array([90.0, 89.5, 89.0]), np.array([0.0, 120.0, -120.0]), stack)
    grid = spec.build(stack.depth_km)
    lat, lon = grid.to_latlon(float(grid.x_km[-1]), float(grid.y_km[-1]))
    assert -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
    assert spec.half_width_km <= max_half_width_km(stack)


# ---- the event core -----------------------------------------------------------------------
def make_core(
    shared: Shared, inventory: Inventory, event: EventConfig, sink: list, data_end_ns: int
) -> EventCore:
    cfg = shared.config
    return EventCore(
        event, cfg.alert, cfg.onsite, "test", inventory, sink.append, ManualClock(T0),
        lambda _sid: data_end_ns, shared.stack, shared.targets, "test",
    )


def test_picks_outside_the_grid_are_set_aside_and_logged_once(shared: Shared, caplog) -> None:
    coords = [(43.2, 76.9), (43.3, 77.1), (43.1, 76.7), (48.1, 11.6), (48.2, 11.7)]
    pinned = load_settings().config.event
    out: list = []
    core = make_core(shared, inventory_of(coords), pinned, out, T0)
    with caplog.at_level(logging.WARNING, logger="eew.event"):
        for n in range(3):  # three messages per pick
            for i in (3, 4):
                core(pick_at(f"XX.S{i:03d}", *coords[i], T0 + i * NS, n))
    stats = core.statistics()
    assert stats.picks_outside_grid == 6
    assert stats.picks_beyond_tables == 0
    lines = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert sorted(r.getMessage().split()[2] for r in lines) == ["XX.S003", "XX.S004"]
    assert len(out) == 6  # forwarded all the same
    assert not core.pool and not core.events


def test_set_aside_stations_never_count_as_silent(shared: Shared, monkeypatch) -> None:
    coords = [(43.2, 76.9), (43.3, 77.1), (43.1, 76.7), (43.0, 77.3), (48.1, 11.6)]
    core = make_core(shared, inventory_of(coords), load_settings().config.event, [], T0 + 100 * NS)
    assert core.set_aside == {"XX.S004": OUTSIDE_GRID}
    calls = []
    real = core.locator.locate

    def spy(picked, t_pick, silent, ends, edt_only=False):
        calls.append((list(picked), list(silent)))
        return real(picked, t_pick, silent, ends, edt_only=edt_only)

    monkeypatch.setattr(core.locator, "locate", spy)
    for i in range(3):
        core(pick_at(f"XX.S{i:03d}", *coords[i], T0 + i * NS // 2))
    assert calls
    for _picked, silent in calls:
        assert silent == [3]  # XX.S003 only; XX.S004 (Germany) is never silent


def test_the_bundled_uh_records_replay_without_a_traceback(tmp_path, capsys, caplog) -> None:
    out = tmp_path / "uh.jsonl"
    with caplog.at_level(logging.WARNING, logger="eew.event"):
        rc = eew_main(
            [
                "replay", str(UH), "--inventory", str(UH / "stations.xml"),
                "--no-progress", "--out", str(out),
            ]
        )
    assert rc == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "set aside (station outside the location grid" in err
    set_aside = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert 1 <= len(set_aside) <= 4  # one line per station, not per pick
    assert out.stat().st_size > 0


# ---- properties ---------------------------------------------------------------------------
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), coords=geometries())
def test_locator_never_raises_and_stays_in_its_grid(
    stack: TravelTimeStack, data: st.DataObject, coords
) -> None:
    lat = np.array([c[0] for c in coords])
    lon = np.array([c[1] for c in coords])
    spec = grid_spec(FOLLOW, lat, lon, stack)
    grid = spec.build(stack.depth_km)
    locator = Locator(grid, lat, lon, stack, 0.2, 1.0)
    picks = data.draw(pick_sets(len(coords)))
    seen: dict[int, float] = {}
    for i, t in picks:
        seen.setdefault(i, t)  # one pick per station, any station (outside the grid too)
    picked = np.array(sorted(seen), dtype=np.int64)
    t_pick = np.array([seen[i] for i in picked])
    rest = [i for i in range(len(coords)) if i not in seen]
    silent = np.array(rest[: data.draw(st.integers(0, len(rest)))], dtype=np.int64)
    ends = np.full(silent.size, data.draw(st.floats(-10.0, 200.0)))
    edt_only = data.draw(st.booleans())
    loc = locator.locate(picked, t_pick, silent, ends, edt_only=edt_only)
    if picked.size == 0:
        assert loc is None
        return
    assert loc is not None
    assert in_grid(grid, loc)
    assert finite(loc)
    assert stack.depth_km[0] <= loc.depth_km <= stack.depth_km[-1]


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), coords=geometries())
def test_association_never_raises_and_events_stay_in_the_grid(
    shared: Shared, data: st.DataObject, coords
) -> None:
    inv = inventory_of(coords)
    picks = data.draw(pick_sets(len(coords)))
    out: list = []
    core = make_core(shared, inv, FOLLOW, out, T0 + 60 * NS)
    clock = core._clock
    assert isinstance(clock, ManualClock)
    messages = []
    for i, t in picks:
        t_ns = T0 + round(t * NS)
        for n in range(data.draw(st.integers(1, 3))):
            messages.append(pick_at(f"XX.S{i:03d}", *coords[i], t_ns, n))
    messages.sort(key=lambda p: p.sent_time_ns + p.update)
    for p in messages:
        clock.set_ns(max(clock.now_ns(), p.sent_time_ns + p.update * NS))
        core(p)
        core.tick()
    core.flush()
    n_aside = sum(1 for p in messages if p.channel_id[:7] in core.set_aside)
    stats = core.statistics()
    assert stats.picks_outside_grid + stats.picks_beyond_tables == n_aside
    aside = set(core.set_aside)
    # a set-aside pick is never associated: not pooled, not absorbed, in no event
    assert not {sp.station_id for sp in (*core.pool, *core.absorbed)} & aside
    for ev in core.events:
        assert ev.location is not None
        assert in_grid(core.grid, ev.location)
        assert finite(ev.location)
        assert not set(ev.picks) & aside
        assert not {sp.station_id for sp in ev.secondary} & aside
