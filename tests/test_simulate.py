"""Physics of the scenario simulator: travel times, Pd, PGA, spectra, noise."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from obspy import UTCDateTime
from obspy.signal.spectral_estimation import get_nhnm, get_nlnm
from scipy.signal import welch

from eew.errors import ConfigError
from eew.simulate import engine, noise, relations, source, synth
from eew.simulate.scenario import parse_scenario
from eew.simulate.stations import select_stations
from eew.simulate.testing import ring_channels
from eew.simulate.velocity import TravelTimes

T0 = "2024-05-01T12:00:00Z"
CENTER = (42.6, 75.8)  # rural, away from Almaty


@pytest.fixture(scope="session")
def tt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ttcache")


def _scenario(seed: int, sources: list[dict], length_s: float = 60.0, **extra) -> object:
    doc = {"scenario": {"name": "t", "seed": seed, "start_time": T0, "length_s": length_s},
           "source": sources, **extra}
    return parse_scenario(doc)


def _src(mag: float, depth: float = 10.0, **kw) -> dict:
    return {"origin_time": "2024-05-01T12:00:05Z", "latitude_deg": CENTER[0],
            "longitude_deg": CENTER[1], "depth_km": depth, "magnitude": mag, **kw}


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[scenario]\nname="x"\nseed=1\nstart_time="2024-01-01T00:00:00Z"\n'
                 'length_s=10\nlenght_s=3\n')
    from eew.simulate.scenario import load_scenario

    with pytest.raises(ConfigError, match=r"lenght_s.*|.*bad.toml.*lenght_s"):
        load_scenario(p)
    with pytest.raises(ConfigError, match="magnitud"):
        _scenario(1, [{**_src(4.0), "magnitud": 3}])


def test_arrivals_match_travel_time_model(tt_cache: Path) -> None:
    chans = ring_channels(*CENTER, [3.0, 20.0, 70.0, 180.0], 4, codes=("HHZ",))
    scn = _scenario(3, [_src(4.0, depth=12.0)], length_s=70.0)
    sim = engine.simulate(scn, select_stations(chans, ["*"], ["*"]), tt_cache)
    tt = TravelTimes(tt_cache)
    origin = UTCDateTime(scn.sources[0].origin_time)
    for res in sim.stations:
        arr = res.arrivals[0]
        tp, ts = tt.exact(12.0, arr["epicentral_distance_km"])
        got_p = arr["p_offset_s"] - float(origin - scn.start_time) - res.site.delay_p_s
        got_s = arr["s_offset_s"] - float(origin - scn.start_time) - res.site.delay_s_s
        assert got_p == pytest.approx(tp, abs=0.005)
        assert got_s == pytest.approx(ts, abs=0.005)
        assert abs(res.site.delay_p_s) <= 2.5 * 0.07
    # onsets are sharp: nothing before P, clear signal right after it
    res = sim.stations[0]
    i_p = math.ceil(res.arrivals[0]["p_offset_s"] * 100.0)
    z = next(c for c in sim.channels if c.channel.station_id == res.station.station_id).counts
    pre = np.std(z[i_p - 300:i_p - 5].astype(float))
    post = np.max(np.abs(z[i_p:i_p + 20].astype(float)))
    assert post > 20 * pre


def _pd_pga_residuals(tt_cache: Path, mag: float, seeds: range) -> tuple[list, list]:
    chans = ring_channels(*CENTER, [35.0, 60.0, 90.0], 6)
    stations = select_stations(chans, ["*"], ["*"])
    pd_res, pga_res = [], []
    tau, _ = relations.bssa14_sigma_ln(mag)
    for seed in seeds:
        scn = _scenario(seed, [_src(mag)], length_s=60.0)
        sim = engine.simulate(scn, stations, tt_cache, with_targets=False)
        eps_tau = sim.sources[0]["inter_event_epsilon"]
        by_id = {c.channel.channel_id: c for c in sim.channels}
        for res in sim.stations:
            arr = res.arrivals[0]
            sid = res.station.station_id
            z = by_id[f"{sid}..HHZ"]
            i_p = math.ceil(arr["p_offset_s"] * 100.0)
            pd_cm = synth.pd_from_velocity(z.counts / z.channel.sensitivity, 100.0, i_p) * 100
            pd_res.append(math.log10(pd_cm) - relations.wu_zhao_2006_log10_pd_cm(
                mag, arr["hypocentral_distance_km"]))
            n = by_id[f"{sid}..HNN"]
            e = by_id[f"{sid}..HNE"]
            pk_n, pk_e = (float(np.max(np.abs(c.counts.astype(float)))) for c in (n, e))
            pga = math.sqrt(pk_n * pk_e) / n.channel.sensitivity
            ln_med = relations.bssa14_ln_pga_g(mag, arr["epicentral_distance_km"], 760.0)
            pga_res.append(math.log(pga / 9.80665) - ln_med - tau * eps_tau)
    return pd_res, pga_res


@pytest.mark.parametrize("mag", [4.0, 5.5])
def test_pd_and_pga_follow_the_relations(tt_cache: Path, mag: float) -> None:
    pd_res, pga_res = _pd_pga_residuals(tt_cache, mag, range(3))
    assert len(pd_res) == 54
    assert abs(np.median(pd_res)) < 0.1  # log10 units
    assert 0.2 < np.std(pd_res) < 0.42  # Wu & Zhao sigma 0.305
    _, phi = relations.bssa14_sigma_ln(mag)
    assert abs(np.median(pga_res)) < 0.25  # ln units
    assert 0.6 * phi < np.std(pga_res) < 1.4 * phi


def _corner_of_synthetic(mag: float) -> float:
    fs = 100.0
    fc = source.corner_frequency_hz(mag, 60.0)
    dur = source.duration_s(fc, 10.0)
    _, n, on = synth.segment_layout(5.0, dur, fs)
    f = np.fft.rfftfreq(n, 1 / fs)
    fas = source.shape_spectrum(f, fc, 10.0, 3.5, 0.0, 10.0)
    specs = []
    for k in range(8):
        acc = synth.shaped_noise(np.random.default_rng(k), n, on, dur, fs, fas)
        specs.append(np.abs(np.fft.rfft(acc)) ** 2)
    power = np.mean(specs, axis=0)
    disp = np.sqrt(power)[1:] / (2 * np.pi * f[1:]) ** 2
    fk = f[1:]
    # smooth on log-spaced bands
    edges = np.geomspace(0.05, 40.0, 40)
    mids, lev = [], []
    for a, b in itertools.pairwise(edges):
        sel = (fk >= a) & (fk < b)
        if sel.any():
            mids.append(math.sqrt(a * b))
            lev.append(np.mean(disp[sel]))
    mids, lev = np.array(mids), np.array(lev)
    plateau = np.median(lev[(mids > 0.15) & (mids < fc / 3)])
    half = mids[np.argmax(lev < plateau / 2)]
    above = (mids > 3 * fc) & (mids < min(10 * fc, 30.0))
    slope = np.polyfit(np.log10(mids[above]), np.log10(lev[above]), 1)[0]
    assert -2.8 < slope < -1.5, slope  # omega-squared fall-off above the corner
    return half


def test_spectra_fall_off_above_corner() -> None:
    f4 = _corner_of_synthetic(4.0)
    f55 = _corner_of_synthetic(5.5)
    assert f4 == pytest.approx(source.corner_frequency_hz(4.0, 60.0), rel=0.5)
    assert f55 == pytest.approx(source.corner_frequency_hz(5.5, 60.0), rel=0.5)
    assert f55 < f4 / 3


def test_noise_between_peterson_models(tt_cache: Path) -> None:
    fs = 100.0
    for level in (0.2, 0.7):
        acc = noise.noise_acceleration(np.random.default_rng(1), 60000, fs, level)
        f, p = welch(acc, fs, nperseg=4096)
        sel = (f > 0.05) & (f < 40)
        db = 10 * np.log10(p[sel])
        want = noise.peterson_psd_db(f[sel], level)
        assert abs(np.median(db - want)) < 1.0
    # and through the whole chain (HH counts -> acceleration), city and rural sites
    chans = ring_channels(43.24, 76.95, [1.0, 60.0], 1, codes=("HHZ",))
    scn = _scenario(5, [], length_s=300.0)
    sim = engine.simulate(scn, select_stations(chans, ["*"], ["*"]), tt_cache)
    p_lo, db_lo = (x[::-1] for x in get_nlnm())
    p_hi, db_hi = (x[::-1] for x in get_nhnm())
    levels = {}
    for ch in sim.channels:
        vel = ch.counts / ch.channel.sensitivity
        f, p = welch(np.gradient(vel) * fs, fs, nperseg=4096)
        sel = (f > 0.1) & (f < 10)
        db = 10 * np.log10(p[sel])
        lo = np.interp(np.log10(1 / f[sel]), np.log10(p_lo), db_lo)
        hi = np.interp(np.log10(1 / f[sel]), np.log10(p_hi), db_hi)
        assert np.all(db > lo - 3) and np.all(db < hi + 3)
        levels[ch.channel.station_id] = np.median(db - lo)
    city, rural = levels["XS.S000"], levels["XS.S001"]
    assert sim.stations[0].site.city and not sim.stations[1].site.city
    assert city > rural + 10  # dB


def test_large_events_look_large(tt_cache: Path) -> None:
    line = _src(7.5, depth=15.0, strike_deg=80.0, length_km=100.0, nucleation_fraction=0.2)
    subs = source.subevents(_scenario(1, [line]).sources[0])
    assert len(subs) == 17
    assert max(s.delay_s for s in subs) == pytest.approx(80.0 / 2.8, abs=3.0)
    assert subs[0].fc_hz < source.corner_frequency_hz(5.0, 60.0) / 5
    chans = ring_channels(*CENTER, [10.0, 40.0], 2, codes=("HHZ", "HNZ"))
    sim = engine.simulate(_scenario(2, [line], length_s=80.0),
                          select_stations(chans, ["*"], ["*"]), tt_cache)
    clipped = {c.channel.channel_id: c.clipped_samples for c in sim.channels}
    assert any(v > 0 for k, v in clipped.items() if k.endswith("HHZ"))
    assert all(v == 0 for k, v in clipped.items() if k.endswith("HNZ"))
    # long shaking: strong motion lasts tens of seconds
    acc = sim.stations[0].acceleration[0]
    strong = np.flatnonzero(np.abs(acc) > 0.1 * np.max(np.abs(acc)))
    assert (strong[-1] - strong[0]) / 100.0 > 20.0


def test_teleseism_and_deep_regional(tt_cache: Path) -> None:
    chans = ring_channels(43.2, 76.9, [20.0, 80.0], 3, codes=("HHZ",))
    stations = select_stations(chans, ["*"], ["*"])
    tele = {"kind": "teleseism", "origin_time": "2024-05-01T11:52:00Z", "latitude_deg": 38.3,
            "longitude_deg": 142.4, "depth_km": 30.0, "magnitude": 7.5}
    sim = engine.simulate(_scenario(4, [tele], length_s=120.0), stations, tt_cache)
    tp = np.array([r.arrivals[0]["p_offset_s"] - r.site.delay_p_s for r in sim.stations])
    assert 0.0 < tp.min() and tp.max() - tp.min() < 12.0
    slow = sim.sources[0]["plane_wave"].p_slowness_s_km
    assert 0.04 < slow < 0.09
    hk = {"origin_time": "2024-05-01T12:00:00Z", "latitude_deg": 36.5, "longitude_deg": 70.8,
          "depth_km": 200.0, "magnitude": 7.0}
    sim = engine.simulate(_scenario(6, [hk], length_s=240.0), stations, tt_cache)
    tt = TravelTimes(tt_cache)
    for res in sim.stations:
        arr = res.arrivals[0]
        assert 780 < arr["epicentral_distance_km"] < 1000
        exact_p, _ = tt.exact(200.0, arr["epicentral_distance_km"])
        assert arr["p_offset_s"] - res.site.delay_p_s == pytest.approx(exact_p, abs=0.01)
        z = sim.channels[sim.stations.index(res)].counts.astype(float)
        i_p = math.ceil(arr["p_offset_s"] * 100)
        assert np.max(np.abs(z[i_p:i_p + 500])) > 5 * np.std(z[:i_p - 100])
