"""Orchestration: sources x stations -> ground motion -> counts per channel, plus the truth.

Nothing here reads or writes files except through :mod:`eew.simulate.writer` (called by
:func:`run_scenario`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from obspy.geodetics import gps2dist_azimuth

from eew.errors import ConfigError, InventoryError
from eew.simulate import disturb, noise, source, synth
from eew.simulate.local import Site, depth_key, synthesize_local
from eew.simulate.scenario import Scenario, SourceSpec
from eew.simulate.stations import ALMATY_LAT_DEG, ALMATY_LON_DEG, SimStation
from eew.simulate.targets import scenario_targets, target_positions, target_truth
from eew.simulate.teleseism import PlaneWave, plane_wave, synthesize_teleseism
from eew.simulate.velocity import TravelTimes, TravelTimeTable

log = logging.getLogger(__name__)

#: full scale of a 24-bit digitiser (counts)
CLIP_COUNTS = 2**23
VS30_CITY_M_S, VS30_ROCK_M_S = 400.0, 760.0
VP_VS_RATIO = 1.73

#: one source made ready: spec, sub-events and travel times (local) or plane wave
#: (teleseism), and the inter-event epsilon
_Prepared = tuple[
    SourceSpec,
    list[source.SubEvent] | None,
    dict[float, TravelTimeTable] | None,
    PlaneWave | None,
    float,
]


@dataclass
class StationResult:
    """Ground motion and truth values of one station (mutable while it is being built)."""

    station: SimStation
    site: Site
    noise_level: float
    sampling_rate_hz: float
    acceleration: np.ndarray
    arrivals: list[dict[str, Any]] = field(default_factory=list)
    peaks: dict[str, float] = field(default_factory=dict)


@dataclass
class Simulation:
    """Everything a scenario produced: per-station ground motion and per-channel counts."""

    scenario: Scenario
    stations: list[StationResult]
    channels: list[disturb.ChannelData]
    sources: list[dict[str, Any]]


def travel_time_tables(
    tt: TravelTimes, subs: list[source.SubEvent], lats: np.ndarray, lons: np.ndarray
) -> dict[float, TravelTimeTable]:
    """Travel-time tables for the sub-events at the given sites, one per sub-event depth."""
    by_depth: dict[float, list[float]] = {}
    for sub in subs:
        row = by_depth.setdefault(depth_key(sub.depth_km), [])
        row.extend(
            gps2dist_azimuth(sub.latitude_deg, sub.longitude_deg, la, lo)[0] / 1000.0
            for la, lo in zip(lats, lons, strict=True)
        )
    return {z: tt.arrivals(z, np.array(d)) for z, d in by_depth.items()}


def make_site(scn: Scenario, st: SimStation) -> tuple[Site, float]:
    """Draw the site terms of a station: city flag, kappa, Vs30, delays, noise level."""
    rng = synth.rng_for(scn.seed, "station", st.station_id)
    sigma = scn.stations.delay_sigma_s
    delay_p = float(np.clip(rng.normal(0.0, sigma), -2.5 * sigma, 2.5 * sigma)) if sigma else 0.0
    dist_m, _, _ = gps2dist_azimuth(
        ALMATY_LAT_DEG, ALMATY_LON_DEG, st.latitude_deg, st.longitude_deg
    )
    city = dist_m / 1000.0 <= scn.stations.city_radius_km
    base = scn.noise.city_level if city else scn.noise.rural_level
    level = float(np.clip(base + scn.noise.level_spread * rng.standard_normal(), 0.0, 1.0))
    site = Site(
        station_id=st.station_id,
        latitude_deg=st.latitude_deg,
        longitude_deg=st.longitude_deg,
        city=city,
        kappa_s=source.KAPPA_CITY_S if city else source.KAPPA_ROCK_S,
        vs30_m_s=VS30_CITY_M_S if city else VS30_ROCK_M_S,
        delay_p_s=delay_p,
        delay_s_s=VP_VS_RATIO * delay_p,
    )
    return site, level


def _station_rate(st: SimStation) -> float:
    rates = {ch.sampling_rate_hz for ch in st.channels}
    if len(rates) != 1:
        raise InventoryError(f"{st.station_id}: channels differ in sample rate {sorted(rates)}")
    return rates.pop()


def simulate(
    scn: Scenario, stations: list[SimStation], cache_dir: Path, with_targets: bool = True
) -> Simulation:
    """Synthesise a scenario on the given stations (no file output).

    ``with_targets=False`` leaves out the target-site truth (``truth.json`` then has no
    ``targets``; statistical tests that only need the stations run faster).
    """
    if not stations:
        raise ConfigError(
            f"{scn.path}: no station matches [stations] include/channels "
            "with a channel epoch covering start_time"
        )
    tt = TravelTimes(cache_dir)
    lats = np.array([s.latitude_deg for s in stations])
    lons = np.array([s.longitude_deg for s in stations])
    ev_rng = synth.rng_for(scn.seed, "events")
    targets = scenario_targets(scn) if with_targets else ()
    t_lats, t_lons = target_positions(targets)
    src_info: list[dict[str, Any]] = []
    prepared: list[_Prepared] = []
    subs: list[source.SubEvent] | None
    tables: dict[float, TravelTimeTable] | None
    pw: PlaneWave | None
    for src in scn.sources:
        inter_eps = float(ev_rng.standard_normal())
        if src.kind == "teleseism":
            pw = plane_wave(src, lats, lons)
            prepared.append((src, None, None, pw, inter_eps))
            src_info.append(
                {"source": src, "subevents": [], "plane_wave": pw, "inter_event_epsilon": inter_eps}
            )
            continue
        subs = source.subevents(src)
        tables = travel_time_tables(tt, subs, lats, lons)
        prepared.append((src, subs, tables, None, inter_eps))
        # the targets get their own tables: the stations' stay as they were
        t_tables = travel_time_tables(tt, subs, t_lats, t_lons) if targets else {}
        src_info.append(
            {
                "source": src,
                "subevents": subs,
                "plane_wave": None,
                "inter_event_epsilon": inter_eps,
                "moment_release": source.moment_release(subs),
                "targets": (
                    target_truth(scn, src, subs, t_tables, targets, inter_eps) if targets else None
                ),
            }
        )
    results = []
    for st in stations:
        fs = _station_rate(st)
        n = round(scn.length_s * fs)
        site, level = make_site(scn, st)
        acc = np.zeros((3, n))
        if scn.noise.enabled:
            for k in range(3):
                acc[k] += noise.noise_acceleration(
                    synth.rng_for(scn.seed, "noise", st.station_id, k), n, fs, level
                )
        res = StationResult(st, site, level, fs, acc)
        for src, subs, tables, pw, inter_eps in prepared:
            offset = float(src.origin_time - scn.start_time)
            if pw is not None:
                a, t_p, t_s = synthesize_teleseism(
                    scn.seed,
                    src,
                    pw,
                    st.station_id,
                    st.latitude_deg,
                    st.longitude_deg,
                    site.delay_p_s,
                    offset,
                    fs,
                    n,
                )
                dist_m, _, baz = gps2dist_azimuth(
                    src.latitude_deg, src.longitude_deg, st.latitude_deg, st.longitude_deg
                )
                arr = {
                    "p_offset_s": t_p,
                    "s_offset_s": t_s,
                    "p_phase": "P",
                    "s_phase": "S" if t_s is not None else None,
                    "epicentral_distance_km": dist_m / 1000.0,
                    "hypocentral_distance_km": math.hypot(dist_m / 1000.0, src.depth_km),
                    "joyner_boore_distance_km": dist_m / 1000.0,
                    "back_azimuth_deg": baz,
                    "pd_target_cm": None,
                    "pga_target_cm_s2": None,
                    "calibration": "teleseism_mb",
                }
            else:
                assert subs is not None and tables is not None
                a, arrival = synthesize_local(
                    scn.seed, src, subs, tables, site, offset, fs, n, inter_eps
                )
                arr = dict(arrival.__dict__)
            i_p = math.ceil(arr["p_offset_s"] * fs)
            pk: dict[str, float | None] = dict(synth.peak_motion(a, fs))
            vel_z = synth.integrate(a[0], fs)
            window = synth.PD_WINDOW_S
            if arr["s_offset_s"] is not None:
                window = max(min(window, arr["s_offset_s"] - arr["p_offset_s"]), 0.1)
            pk["pd_cm"] = (
                synth.pd_from_velocity(vel_z, fs, i_p, window) * 100.0 if 0 <= i_p < n else None
            )
            arr.update({"source_id": src.id, **pk})
            res.arrivals.append(arr)
            res.acceleration += a
        res.peaks = synth.peak_motion(res.acceleration, fs)
        results.append(res)
    channels = to_counts(scn, results)
    disturb.apply(scn, channels, CLIP_COUNTS)
    return Simulation(scn, results, channels, src_info)


def to_counts(scn: Scenario, results: list[StationResult]) -> list[disturb.ChannelData]:
    """Convert ground motion to float counts per channel (before disturbances and clipping).

    Velocity channels get the integrated acceleration; each channel adds Gaussian digitiser
    noise of ``noise.digitizer_counts`` (standard deviation, counts).
    """
    out = []
    for res in results:
        vel = synth.integrate(res.acceleration, res.sampling_rate_hz)
        for ch in res.station.channels:
            k = "ZNE".index(ch.component)
            phys = res.acceleration[k] if ch.kind == "acceleration" else vel[k]
            counts = phys * ch.sensitivity
            if scn.noise.enabled and scn.noise.digitizer_counts > 0:
                rng = synth.rng_for(scn.seed, "digitizer", ch.channel_id)
                counts = counts + rng.normal(0.0, scn.noise.digitizer_counts, counts.size)
            out.append(
                disturb.ChannelData(
                    channel=ch, counts=counts, sampling_rate_hz=res.sampling_rate_hz
                )
            )
    return out
