"""Planar ruptures, moment release, observed intensity and target truth (issue 11 item 1)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from obspy import UTCDateTime

from eew.errors import ConfigError
from eew.simulate import engine, relations, source
from eew.simulate.scenario import SourceSpec, parse_scenario
from eew.simulate.stations import select_stations
from eew.simulate.testing import ring_channels
from eew.simulate.truth import build_truth

T0 = "2024-05-01T12:00:00Z"
CENTER = (43.0, 77.0)


@pytest.fixture(scope="module")
def tt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tt")


def _spec(**kw: float) -> SourceSpec:
    base = {"strike_deg": 90.0, "length_km": 60.0}
    base.update(kw)
    return SourceSpec("a", UTCDateTime(T0), CENTER[0], CENTER[1], 20.0, 7.6, **base)  # type: ignore[arg-type]


def test_planar_rupture_grid_depths_and_rupture_times() -> None:
    subs = source.subevents(_spec(width_km=24.0, dip_deg=30.0, nucleation_dip_fraction=0.75))
    # 11 along strike, 3 rows up dip and 1 down (6 km apart)
    assert len(subs) == 11 * 5
    depths = sorted({round(float(s.depth_km), 3) for s in subs})
    assert depths == pytest.approx([20.0 + y * 0.5 for y in (-18.0, -12.0, -6.0, 0.0, 6.0)])
    # equal moment split: the sub-events add up to the whole moment
    m0 = sum(source.moment_dyne_cm(s.magnitude) for s in subs)
    assert m0 == pytest.approx(source.moment_dyne_cm(7.6), rel=1e-9)
    hypo = [s for s in subs if s.delay_s == 0.0]
    assert len(hypo) == 1 and hypo[0].depth_km == 20.0
    # delay = in-plane distance / rupture speed; dip 30 deg: up-dip rows move north
    # (strike 90 dips to the south, so up dip is north)
    top = [s for s in subs if math.isclose(s.depth_km, 11.0)]
    for s in top:
        north_km = (s.latitude_deg - CENTER[0]) * 111.19492664455873
        assert north_km == pytest.approx(18.0 * math.cos(math.radians(30.0)), abs=1e-6)
        east_km = (
            (s.longitude_deg - CENTER[1]) * 111.19492664455873 * math.cos(math.radians(CENTER[0]))
        )
        assert s.delay_s == pytest.approx(math.hypot(east_km, 18.0) / 2.8, rel=1e-9)


def test_line_source_is_unchanged_without_width() -> None:
    subs = source.subevents(_spec())
    assert len(subs) == 11
    assert {float(s.depth_km) for s in subs} == {20.0}
    assert [round(s.delay_s, 6) for s in subs[:3]] == [
        round(x / 2.8, 6) for x in (30.0, 24.0, 18.0)
    ]


def test_plane_above_the_surface_and_width_without_line_are_errors() -> None:
    src = {
        "origin_time": "2024-05-01T12:00:05Z",
        "latitude_deg": 43.0,
        "longitude_deg": 77.0,
        "depth_km": 10.0,
        "magnitude": 7.6,
        "strike_deg": 90.0,
        "length_km": 60.0,
        "width_km": 30.0,
        "dip_deg": 90.0,
    }
    doc = {"scenario": {"name": "t", "seed": 1, "start_time": T0, "length_s": 10.0}}
    with pytest.raises(ConfigError, match="above the surface"):
        parse_scenario({**doc, "source": [src]})
    bad = {k: v for k, v in src.items() if k not in ("strike_deg", "length_km")}
    with pytest.raises(ConfigError, match="width_km needs"):
        parse_scenario({**doc, "source": [bad]})


def test_moment_release_grows_to_the_magnitude() -> None:
    subs = source.subevents(_spec(width_km=24.0, nucleation_dip_fraction=0.5))
    series = source.moment_release(subs)
    t = [x[0] for x in series]
    m = [x[1] for x in series]
    assert t[0] == 0.0 and m[0] is None and np.allclose(np.diff(t), source.MOMENT_STEP_S)
    vals = np.array(m[1:], dtype=float)
    assert np.all(np.diff(vals) >= -1e-9)
    assert vals[-1] == pytest.approx(7.6, abs=0.01)
    # half way through a bilateral 60 km rupture (30 km each side at 2.8 km/s) the
    # released moment is well below the total
    mid = dict(series)[5.0]
    assert mid is not None and 6.5 < mid < 7.4
    assert t[-1] > max(s.delay_s for s in subs)


def test_msk_and_mmi_from_ground_motion() -> None:
    # Medvedev: degree VI starts at 25 cm/s2 and 2 cm/s, each degree doubles
    assert relations.msk64_from_motion(25.0, 2.0) == pytest.approx((5.5, 5.5, 5.5))
    assert relations.msk64_from_motion(100.0, 4.0) == pytest.approx((7.5, 6.5, 7.0))
    # Worden et al. (2012): below the kink MMI = 1.78 + 1.55 log10 PGA
    ia, iv, mmi = relations.mmi_worden2012(10.0, 0.5)
    assert ia == pytest.approx(3.33) and mmi == pytest.approx(ia)
    # strong motion: the PGV relation takes over (Wald et al. 1999 weights)
    ia, iv, mmi = relations.mmi_worden2012(400.0, 60.0)
    assert ia > 7.0 and mmi == pytest.approx(iv)
    assert relations.observed_intensity(None, 1.0) == {}


def test_truth_has_moment_release_station_and_target_intensity(tt_cache: Path) -> None:
    src = {
        "origin_time": "2024-05-01T12:00:05Z",
        "latitude_deg": CENTER[0],
        "longitude_deg": CENTER[1],
        "depth_km": 15.0,
        "magnitude": 6.0,
    }
    scn = parse_scenario(
        {
            "scenario": {"name": "t", "seed": 3, "start_time": T0, "length_s": 40.0},
            "source": [src],
        }
    )
    chans = ring_channels(*CENTER, [20.0], 2, codes=("HNZ", "HNN", "HNE"))
    sim = engine.simulate(scn, select_stations(chans, ["*"], ["*"]), tt_cache)
    truth = build_truth(sim)
    (ev,) = truth["events"]
    assert ev["moment_release"]["mw"][-1][1] == pytest.approx(6.0, abs=0.01)
    for arr in ev["arrivals"]:
        table = relations.msk64_from_motion(arr["pga_cm_s2"], arr["pgv_cm_s"])[2]
        assert arr["msk64_table"] == pytest.approx(table, abs=0.01)
        mmi = relations.mmi_worden2012(arr["pga_cm_s2"], arr["pgv_cm_s"])[2]
        assert arr["msk"] == arr["mmi"] == pytest.approx(mmi, abs=0.01)
        assert 1.0 <= arr["mmi"] <= 10.0
    names = [t["name"] for t in ev["targets"]]
    assert "Almaty-Almaly" in names and "Bishkek" in names
    by = {t["name"]: t for t in ev["targets"]}
    # S from a point source: TauP on the model, about R / 3.5 km/s
    almaty = by["Almaty-Almaly"]
    r = math.hypot(almaty["epicentral_distance_km"], 15.0)
    assert almaty["s_after_origin_s"] == pytest.approx(r / 3.5, rel=0.12)
    origin = UTCDateTime(ev["origin_time"])
    assert UTCDateTime(almaty["s_time"]) - origin == pytest.approx(
        almaty["s_after_origin_s"], abs=0.002
    )
    # shaking decays with distance: Bishkek (about 200 km) far below Almaty (about 30 km)
    assert by["Bishkek"]["pga_cm_s2"] < 0.3 * almaty["pga_cm_s2"]
    assert by["Bishkek"]["msk"] < almaty["msk"]
