"""Finite-fault estimator (eew.event.finder), its fusion with the P-wave magnitude, the
line source on the alert and in the formats, and the forecast from the rupture."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eew.detect.peaks import PeakStore
from eew.errors import DataError
from eew.event import finder as fd
from eew.event import groundmotion as gm
from eew.event import magnitude as mag
from eew.event.forecast import forecast_targets
from eew.event.pgrowth import fuse_correlated, pd_growth
from eew.event.stations import StationPick
from eew.event.targets import Target
from eew.formats import native
from eew.formats.shakealert import alert_from_shakealert, alert_to_shakealert
from eew.model.alert import LineSource
from eew.model.geo import KM_PER_DEG
from eew.model.pick import Pick

LAT0, LON0 = 43.0, 77.0


def _network(n: int = 36, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return LAT0 + rng.uniform(-0.9, 0.9, n), LON0 + rng.uniform(-1.4, 1.4, n)


def _field(
    lat: np.ndarray,
    lon: np.ndarray,
    length_km: float,
    strike_deg: float,
    fraction: float,
    scatter: float = 0.2,
    seed: int = 1,
) -> np.ndarray:
    """PGA [cm/s²] of a line through the epicentre (the estimator's own forward model)."""
    cos = math.cos(math.radians(LAT0))
    sx, sy = (lon - LON0) * KM_PER_DEG * cos, (lat - LAT0) * KM_PER_DEG
    th = math.radians(strike_deg)
    ux, uy = math.sin(th), math.cos(th)
    a = fraction * length_km
    px, py = sx + a * ux, sy + a * uy
    t = np.clip(px * ux + py * uy, 0.0, length_km)
    d = np.hypot(px - t * ux, py - t * uy)
    m = float(fd.magnitude_from_length(length_km))
    rng = np.random.default_rng(seed)
    pga: np.ndarray = gm.pga_akkar_bommer2010(m, d, 800.0) * 10 ** rng.normal(0, scatter, d.size)
    return pga


@pytest.mark.parametrize(
    ("length", "strike", "fraction"), [(150.0, 80.0, 0.35), (60.0, 30.0, 0.5), (100.0, 120.0, 0.0)]
)
def test_recovers_a_long_line(length: float, strike: float, fraction: float) -> None:
    lat, lon = _network()
    pga = _field(lat, lon, length, strike, fraction)
    ff = fd.FiniteFaultEstimator().estimate(LAT0, LON0, 15.0, lat, lon, pga, 120.0)
    assert ff is not None
    m_true = float(fd.magnitude_from_length(length))
    assert abs(ff.magnitude - m_true) < 0.3
    assert 0.6 * length <= ff.line.length_km <= 1.5 * length
    d_strike = abs((ff.line.strike_deg - strike + 90.0) % 180.0 - 90.0)
    assert d_strike <= 20.0  # 5-degree templates; a 60 km line among 36 stations
    assert 0.2 < ff.sigma < 0.6
    ends = fd.line_geometry(ff.line, np.array([LAT0]), np.array([LON0]))[0]
    assert float(ends[0]) <= 7.0  # the line passes by the epicentre


def test_a_small_event_gives_a_short_line() -> None:
    lat, lon = _network()
    pga = _field(lat, lon, 3.0, 45.0, 0.5)
    ff = fd.FiniteFaultEstimator().estimate(LAT0, LON0, 10.0, lat, lon, pga, 120.0)
    assert ff is not None
    assert ff.line.length_km <= 10.0


def test_numba_kernel_equals_numpy_twin() -> None:
    lat, lon = _network(20)
    pga = _field(lat, lon, 80.0, 100.0, 0.3)
    pga[:3] = 0.5  # censored
    lower = np.zeros(pga.size, dtype=np.bool_)
    lower[5:8] = True
    cos = math.cos(math.radians(LAT0))
    sx = np.ascontiguousarray((lon - LON0) * KM_PER_DEG * cos)
    sy = np.ascontiguousarray((lat - LAT0) * KM_PER_DEG)
    obs = np.log10(pga)
    args = (
        sx, sy, obs, lower, math.log10(2.0),
        np.array([5.0, 40.0, 80.0, 150.0]), np.radians([0.0, 45.0, 100.0]),
        np.array([0.0, 0.3, 1.0]), np.array([-3.0, 0.0]),
        60.0, fd.PHI_LOG10, fd.TAU_LOG10, np.array([25.0, 15.0, 2.8, 3.5, 10.0]),
    )  # fmt: skip
    a, ca = fd.template_misfit(*args, 25.0)
    b, cb = fd.template_misfit_np(*args, 25.0)
    assert np.isinf(a).sum() > 0  # the causality prior cuts templates longer than 60 km a side
    np.testing.assert_allclose(a, b, rtol=1e-9)
    np.testing.assert_allclose(ca, cb, rtol=1e-9, atol=1e-9)
    assert (ca > 0).any() and (ca == 0).any()


def test_unseen_length_is_the_part_beyond_the_stations() -> None:
    """Stations every 10 km from -50 to 50 km east: an east-west line is seen on [-75, 75]."""
    sx = np.arange(-50.0, 51.0, 10.0)
    sy = np.zeros(sx.size)
    lo, hi = fd.coverage_extent(sx, sy, math.radians(90.0), 0.0, 25.0)
    assert lo == pytest.approx(-75.0) and hi == pytest.approx(75.0)
    args = (
        sx, sy, np.full(sx.size, 2.0), np.zeros(sx.size, dtype=np.bool_), math.log10(2.0),
        np.array([100.0, 200.0]), np.radians([90.0, 0.0]), np.array([0.5, 1.0]),
        np.array([0.0]), 500.0, fd.PHI_LOG10, fd.TAU_LOG10,
        np.array([100.0, 10.0, 2.8, 3.5, 10.0]), 25.0,
    )  # fmt: skip
    for kernel in (fd.template_misfit, fd.template_misfit_np):
        unseen = kernel(*args)[1]
        assert unseen[0, 0, 0, 0] == pytest.approx(0.0)  # [-50, 50]: inside
        assert unseen[1, 0, 0, 0] == pytest.approx(50.0)  # [-100, 100]: 25 km beyond each end
        assert unseen[0, 0, 1, 0] == pytest.approx(25.0)  # [-100, 0]
        assert unseen[0, 1, 0, 0] == pytest.approx(50.0)  # north-south: 25 km seen each side


def test_no_magnitude_prior_inside_the_network() -> None:
    """While every station is a lower bound, the network's lines carry no prior."""
    lat, lon = _network()
    pga = _field(lat, lon, 30.0, 80.0, 0.5)  # so far: the rupture may be up to 80 km long
    low = np.ones(lat.size, dtype=np.bool_)
    seen = fd.FiniteFaultEstimator().estimate(LAT0, LON0, 15.0, lat, lon, pga, 12.0, low)
    flat = fd.FiniteFaultEstimator(b_value=0.0).estimate(LAT0, LON0, 15.0, lat, lon, pga, 12.0, low)
    whole = fd.FiniteFaultEstimator(coverage_km=0.0).estimate(
        LAT0, LON0, 15.0, lat, lon, pga, 12.0, low
    )
    assert seen is not None and flat is not None and whole is not None
    assert seen.magnitude == pytest.approx(flat.magnitude, abs=0.01)
    assert whole.magnitude < seen.magnitude - 0.03  # a prior on all of it pulls it down


def test_causality_limits_the_line_early_on() -> None:
    lat, lon = _network()
    pga = _field(lat, lon, 150.0, 80.0, 0.5)
    ff = fd.FiniteFaultEstimator().estimate(LAT0, LON0, 15.0, lat, lon, pga, 10.0)
    assert ff is not None
    assert ff.line.length_km <= 2 * 3.5 * 10.0


def test_lower_bounds_do_not_shorten_the_line() -> None:
    """Stations whose shaking may still grow, at the far end, do not cut the line short."""
    lat, lon = _network()
    pga = _field(lat, lon, 150.0, 90.0, 0.2)
    cos = math.cos(math.radians(LAT0))
    east = (lon - LON0) * KM_PER_DEG * cos > 60.0
    early = pga.copy()
    early[east] = 0.5  # not shaken yet
    est = fd.FiniteFaultEstimator()
    cut = est.estimate(LAT0, LON0, 15.0, lat, lon, early, 200.0)
    held = est.estimate(LAT0, LON0, 15.0, lat, lon, early, 200.0, lower_bound=east)
    assert cut is not None and held is not None
    assert held.magnitude > cut.magnitude


def test_no_estimate_without_shaken_stations() -> None:
    lat, lon = _network()
    est = fd.FiniteFaultEstimator()
    assert est.estimate(LAT0, LON0, 10.0, lat, lon, np.full(lat.size, 0.3), 30.0) is None
    assert est.estimate(LAT0, LON0, 10.0, lat[:0], lon[:0], np.zeros(0), 30.0) is None


def test_length_magnitude_scaling() -> None:
    # Wells & Coppersmith (1994), M on subsurface rupture length (all slip types)
    assert float(fd.magnitude_from_length(10.0)) == pytest.approx(5.87)
    assert float(fd.magnitude_from_length(100.0)) == pytest.approx(7.36)
    # the regression the other way (L on M, used by the forecasts) agrees within 0.25
    for m in (6.5, 7.0, 7.7, 8.2):
        assert float(fd.magnitude_from_length(gm.rupture_length_km(m))) == pytest.approx(
            m, abs=0.25
        )


# ---- fusion -------------------------------------------------------------------------


def _ff(m: float, length: float, sigma: float = 0.3) -> fd.FiniteFault:
    line = LineSource(43.0, 76.0, 43.0, 77.5, 15.0, length, 90.0)
    return fd.FiniteFault(m, sigma, line, 10.0, 20, 25)


def test_fusion_leaves_small_events_alone() -> None:
    p = mag.EventMagnitude(4.6, 0.2, 6, False)
    assert mag.with_finite_fault(p, None, 30.0, 6.5, False) is p
    assert mag.with_finite_fault(p, _ff(5.9, 10.0), 30.0, 6.5, False) is p


def test_fusion_finite_fault_dominates_a_saturated_p_magnitude() -> None:
    p = mag.EventMagnitude(6.9, 0.15, 20, False)
    out = mag.with_finite_fault(p, _ff(7.7, 150.0), 30.0, 6.5, True)
    assert out.magnitude_type == "Mfd"
    assert out.line is not None and out.line.length_km == 150.0
    # a P-wave 6.9 at slope 0.5 beyond 6.5 means about M 7.3 +- 0.3; with the line's 7.7
    assert 7.4 < out.magnitude < 7.7
    assert out.is_lower_bound


def test_saturated_fusion_model() -> None:
    # the P-wave magnitude alone (a very wide finite-fault term) is inverted through g(M)
    m, s = mag.saturated_fusion(7.0, 0.1, 7.5, 50.0, 6.5, 0.5)
    assert m == pytest.approx(7.5, abs=0.02)
    assert s == pytest.approx(0.2, abs=0.02)
    # a P-wave magnitude that does not saturate (slope 1) gives the inverse-variance mean
    m, s = mag.saturated_fusion(7.0, 0.3, 7.6, 0.3, 6.5, 1.0)
    assert m == pytest.approx(7.3, abs=0.01)
    assert s == pytest.approx(0.3 / math.sqrt(2.0), abs=0.01)


def test_truncated_normal() -> None:
    m, s = mag.truncated_normal(7.0, 0.3, 7.0)
    assert m == pytest.approx(7.0 + 0.3 * math.sqrt(2.0 / math.pi), rel=1e-6)
    assert s < 0.3


# ---- alert model and formats --------------------------------------------------------


def _alert(datapath: Path):
    return native.loads((datapath / "formats" / "alert_update.json").read_bytes())[0]


def test_line_source_round_trips_natively(datapath: Path) -> None:
    line = LineSource(42.82, 76.41, 42.82, 78.23, 20.0, 150.0, 90.0)
    a = _alert(datapath).with_(line_source=line, magnitude_type="Mfd")
    d = a.to_dict()
    assert d["line_source"]["length_km"] == 150.0
    back = type(a).from_dict(d)
    assert back.line_source == line
    assert "line_source" not in _alert(datapath).to_dict()  # written only when known
    bad = dict(d, line_source=dict(d["line_source"], length_km="long"))
    with pytest.raises(DataError, match="length_km"):
        type(a).from_dict(bad)


def test_line_source_in_shakealert(datapath: Path) -> None:
    line = LineSource(42.8, 76.4, 42.9, 78.2, 20.0, 148.5, 85.0)
    a = _alert(datapath).with_(line_source=line, magnitude_type="Mfd")
    xml = alert_to_shakealert(a)
    assert b"<finite_fault" in xml and b'segment_shape="line"' in xml
    back = alert_from_shakealert(xml)
    assert back.magnitude_type == "Mfd"
    assert back.line_source is not None
    assert back.line_source.length_km == pytest.approx(148.5)
    assert back.line_source.end_longitude_deg == pytest.approx(78.2)


# ---- forecast -----------------------------------------------------------------------


def test_forecast_uses_the_distance_to_the_rupture() -> None:
    # a target 100 km east of the epicentre, next to the far end of a 120 km line
    tgt = Target(
        "east", LAT0 + 0.1, LON0 + 100.0 / (KM_PER_DEG * math.cos(math.radians(LAT0))), 400
    )
    line = LineSource(LAT0, LON0 - 0.1, LAT0, LON0 + 1.4, 15.0, 122.0, 90.0)
    args = ((tgt,), LAT0, LON0, 15.0, 7.6, 0.3, 0, 0, np.array([30.0]))
    point = forecast_targets(*args)[0]
    rupture = forecast_targets(*args, line=line)[0]
    assert point.distance_km == pytest.approx(100.0, abs=1.0)
    assert rupture.distance_km == pytest.approx(11.1, abs=0.5)
    assert rupture.intensity_msk > point.intensity_msk + 1.0
    assert rupture.pga_cm_s2 > 2 * point.pga_cm_s2


# ---- peak store ---------------------------------------------------------------------


def test_peak_store_spans_and_bounds() -> None:
    st = PeakStore(keep_s=5)
    s = 1_000_000_000
    for k in range(10):
        st.add("AW.X", (100 + k) * s + s // 2, float(k))
    st.add("AW.X", 104 * s, 50.0)  # a late packet of an earlier second
    st.add("AW.X", 109 * s, math.nan)  # clipped: ignored
    assert st.peak("AW.X", 105 * s, 109 * s) == 9.0
    assert st.peak("AW.X", 100 * s, 106 * s) == 6.0  # bins before 105 were dropped
    assert st.peak("AW.X", 200 * s, 300 * s) is None
    assert st.peak("AW.Y", 0, 10 * s) is None


def test_event_magnitude_defaults_are_p_wave() -> None:
    p = mag.EventMagnitude(5.0, 0.2, 5, False)
    assert p.magnitude_type == "Mpd" and p.line is None
    assert replace(p, magnitude=5.1).magnitude_type == "Mpd"


# ---- P-wave displacement growth -----------------------------------------------------


def _station(sid: str, pds: list[float], t0_ns: int = 10**18) -> StationPick:
    sp = StationPick(sid, t0_ns, 43.0, 77.0)
    for k, pd in enumerate(pds):
        w = 0.5 * (k + 1)
        sp.add(
            Pick(
                f"{sid}..HHZ@x", f"{sid}..HHZ", t0_ns, t0_ns, t0_ns + round(w * 1e9), k,
                False, w, pd, 0.1, 1.0, 1.0, 1.0, 10.0, "velocity", 43.0, 77.0, 0.0,
            )
        )  # fmt: skip
    return sp


def test_pd_growth_plateau_and_growth() -> None:
    r = np.array([20.0, 30.0, 40.0])
    far = np.full(3, 2e18)
    flat = [_station(f"AW.S{i}", [0.01, 0.02] + [0.03] * 8) for i in range(3)]
    g = pd_growth(flat, far, r)
    assert g is not None and g.plateau and g.n_stations == 3
    assert g.magnitude == pytest.approx(
        np.mean([mag.magnitude_from_pd(0.03, x) for x in r]), abs=1e-9
    )
    rising = [_station(f"AW.S{i}", [0.01 * 1.3**k for k in range(10)]) for i in range(3)]
    g2 = pd_growth(rising, far, r)
    assert g2 is not None and not g2.plateau
    assert g2.magnitude > g.magnitude
    # windows that end after the S wave are not used
    cut = pd_growth(rising, np.full(3, 10**18 + 2.2e9), r)
    assert cut is not None and cut.windows_s[-1] == pytest.approx(2.0)
    assert pd_growth(rising[:2], far[:2], r[:2]) is None  # fewer than 3 stations


def test_fuse_correlated_limits() -> None:
    m, s = fuse_correlated(6.0, 0.2, 7.0, 0.2, 0.5)
    assert m == pytest.approx(6.5) and 0.14 < s < 0.2
    m, s = fuse_correlated(6.0, 0.1, 7.0, 0.4, 0.0)
    assert m == pytest.approx(6.0 + 1.0 / 17.0)


# ---- end to end on the bundled line-source scenario --------------------------------

SAMPLES = Path(__file__).resolve().parents[1] / "waveforms_samples"


def _source_alerts(tmp_path: Path, name: str) -> list[dict[str, object]]:
    import json

    from eew.cli import main

    out = tmp_path / f"{name}.jsonl"
    assert main(["replay", str(SAMPLES / name), "--out", str(out), "--no-progress"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["type"] == "alert" and r["kind"] == "source"]


def test_kemin_line_source_end_to_end(tmp_path: Path) -> None:
    """The bundled Kemin-type line source: the magnitude no longer saturates."""
    import json

    name = sorted(p.name for p in SAMPLES.glob("kemin_m*"))[-1]
    truth = json.loads((SAMPLES / name / "truth.json").read_text(encoding="utf-8"))
    ev = truth["events"][0]
    alerts = _source_alerts(tmp_path, name)
    final = alerts[-1]
    assert final["magnitude_type"] == "Mfd"
    assert abs(final["magnitude"] - ev["magnitude"]) <= 0.3  # main at e19cba5: 7.09 for M7.7
    line = LineSource.from_dict(final["line_source"])
    assert line.length_km >= 80.0
    strike = ev["line_source"]["strike_deg"]
    assert abs((line.strike_deg - strike + 90.0) % 180.0 - 90.0) <= 20.0
    # target distances are to the line
    lat = np.array([t["latitude_deg"] for t in final["targets"]])
    lon = np.array([t["longitude_deg"] for t in final["targets"]])
    d = fd.line_geometry(line, lat, lon)[0]
    np.testing.assert_allclose([t["distance_km"] for t in final["targets"]], d, atol=0.01)
    # the first estimates are P-wave magnitudes: the line needs the S waves
    assert all(a["magnitude_type"] == "Mpd" for a in alerts[:3])


def test_small_event_has_no_line_source(tmp_path: Path) -> None:
    for a in _source_alerts(tmp_path, "local_m4.5"):
        assert a["magnitude_type"] == "Mpd" and "line_source" not in a
