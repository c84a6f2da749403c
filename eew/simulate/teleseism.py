"""Teleseisms: plane P and S waves crossing the network (IASP91 travel times).

Arrival time and horizontal slowness are computed once with TauP in IASP91 at the
network centroid; each station then sees the plane wave delayed by the slowness times its
offset along the propagation direction, so arrivals are nearly simultaneous across the
network (apparent speed about 1/0.06 s/km). The waveform is the same stochastic realisation
at every station (coherent), plus 20 % station-specific scattered energy. Spectra use the
Brune source with teleseismic attenuation exp(-pi f t*), t* = 1 s for P and 4 s for S.
The P level follows the body-wave magnitude definition mb = log10(A/T) + Q(Delta, h) with
A the vertical displacement (micrometres) at T about 1 s, Q = 6.9 (Gutenberg & Richter 1956,
a typical value at 40-90 degrees) and mb = min(Mw, 6.5) (mb saturation); S is 2.5 times P
in displacement [proposal].

References
----------
Gutenberg, B., and C. F. Richter (1956). Magnitude and energy of earthquakes, Ann. Geofis.
9, 1-15.
Kennett, B. L. N., and E. R. Engdahl (1991). Traveltimes for global earthquake location and
phase identification, Geophys. J. Int. 105, 429-465.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
from obspy.geodetics import gps2dist_azimuth, locations2degrees
from scipy.signal import butter, sosfilt

from eew.simulate import source, synth
from eew.simulate.scenario import SourceSpec
from eew.simulate.velocity import KM_PER_DEG, surface_velocities_km_s

T_STAR_P_S, T_STAR_S_S = 1.0, 4.0
MB_SATURATION = 6.5
Q_GR = 6.9
S_TO_P_DISPLACEMENT = 2.5


@dataclass(frozen=True)
class PlaneWave:
    """Plane-wave arrivals at the network centroid."""

    centroid_lat_deg: float
    centroid_lon_deg: float
    distance_deg: float
    back_azimuth_deg: float
    p_time_s: float
    s_time_s: float | None
    p_slowness_s_km: float
    s_slowness_s_km: float


def plane_wave(src: SourceSpec, lats_deg: np.ndarray, lons_deg: np.ndarray) -> PlaneWave:
    """Travel times and slowness of first P and S at the centroid of the stations (IASP91)."""
    from obspy.taup import TauPyModel

    clat, clon = float(np.mean(lats_deg)), float(np.mean(lons_deg))
    delta = locations2degrees(src.latitude_deg, src.longitude_deg, clat, clon)
    # back-azimuth: direction from the network (centroid) towards the source, deg from N
    _, baz, _ = gps2dist_azimuth(clat, clon, src.latitude_deg, src.longitude_deg)
    model = TauPyModel(model="iasp91")
    arrs = model.get_travel_times(src.depth_km, delta, phase_list=["P", "S"])
    p = min((a for a in arrs if a.name == "P"), key=lambda a: a.time, default=None)
    s = min((a for a in arrs if a.name == "S"), key=lambda a: a.time, default=None)
    if p is None:
        from eew.errors import ConfigError

        raise ConfigError(f"source {src.id!r}: no direct P at {delta:.1f} deg (use 30-95 deg)")
    return PlaneWave(
        clat,
        clon,
        delta,
        baz,
        float(p.time),
        float(s.time) if s else None,
        float(p.ray_param) / 6371.0,
        float(s.ray_param) / 6371.0 if s else 0.0,
    )


def station_delay_s(pw: PlaneWave, lat_deg: float, lon_deg: float, slowness_s_km: float) -> float:
    """Plane-wave time shift (s) of a station relative to the centroid."""
    north_km = (lat_deg - pw.centroid_lat_deg) * KM_PER_DEG
    east_km = (
        (lon_deg - pw.centroid_lon_deg) * KM_PER_DEG * math.cos(math.radians(pw.centroid_lat_deg))
    )
    baz = math.radians(pw.back_azimuth_deg)
    toward_source_km = north_km * math.cos(baz) + east_km * math.sin(baz)
    return -slowness_s_km * toward_source_km


def _fas(n: int, fs: float, fc: float, t_star: float) -> np.ndarray:
    f = scipy.fft.rfftfreq(n, 1.0 / fs)
    low = (f / 0.01) ** 4 / (1.0 + (f / 0.01) ** 4)
    return (2 * np.pi * f) ** 2 / (1.0 + (f / fc) ** 2) * np.exp(-np.pi * f * t_star) * low


def _band_displacement_peak(z_acc: np.ndarray, fs: float) -> float:
    d = synth.integrate(synth.integrate(z_acc, fs), fs)
    sos = butter(2, [0.5, 2.0], btype="band", fs=fs, output="sos")
    return float(np.max(np.abs(sosfilt(sos, d))))


def synthesize_teleseism(
    seed: int,
    src: SourceSpec,
    pw: PlaneWave,
    station_id: str,
    lat_deg: float,
    lon_deg: float,
    delay_p_s: float,
    start_offset_s: float,
    fs: float,
    n_samples: int,
) -> tuple[np.ndarray, float, float | None]:
    """Ground acceleration (Z, N, E, m/s^2) of a teleseism at one station.

    Returns the rows and the P and S onsets (s after the record start; S None if no S).
    """
    vp_top, vs_top = surface_velocities_km_s()
    fc = source.corner_frequency_hz(src.magnitude, src.stress_drop_bar)
    dur = 1.0 / fc + 20.0
    srng = synth.rng_for(seed, "tele-site", src.id, station_id)
    site_factor = 10.0 ** (0.1 * srng.standard_normal())
    total = np.zeros((3, n_samples))
    az_from_source = (pw.back_azimuth_deg + 180.0) % 360.0
    a_target_m = 1.0e-6 * 10.0 ** (min(src.magnitude, MB_SATURATION) - Q_GR)
    t_p = (
        start_offset_s
        + pw.p_time_s
        + station_delay_s(pw, lat_deg, lon_deg, pw.p_slowness_s_km)
        + delay_p_s
    )
    t_s = None
    if pw.s_time_s is not None:
        t_s = (
            start_offset_s
            + pw.s_time_s
            + station_delay_s(pw, lat_deg, lon_deg, pw.s_slowness_s_km)
            + 1.73 * delay_p_s
        )
    scale_p = None
    for phase, onset, t_star, slow, v_top in (
        ("P", t_p, T_STAR_P_S, pw.p_slowness_s_km, vp_top),
        ("S", t_s, T_STAR_S_S, pw.s_slowness_s_km, vs_top),
    ):
        if onset is None or onset > n_samples / fs:
            continue
        i0, n, on = synth.segment_layout(onset, dur, fs)
        fas = _fas(n, fs, fc if phase == "S" else 1.5 * fc, t_star)
        common = synth.shaped_noise(synth.rng_for(seed, "tele", src.id, phase), n, on, dur, fs, fas)
        b, c = (synth.shaped_noise(srng, n, on, dur, fs, fas) for _ in range(2))
        inc = math.asin(min(slow * v_top, 0.9))
        if phase == "P":
            zrt = np.stack(
                [
                    math.cos(inc) * common + 0.2 * b,
                    math.sin(inc) * common + 0.2 * c,
                    0.2 * (b - c) / math.sqrt(2.0),
                ]
            )
            scale_p = a_target_m / max(_band_displacement_peak(zrt[0], fs), 1e-30)
            zrt *= scale_p * site_factor
        else:
            zrt = np.stack([0.3 * common + 0.2 * b, 0.2 * c, common])
            ref = _band_displacement_peak(zrt[2], fs)
            zrt *= S_TO_P_DISPLACEMENT * a_target_m / max(ref, 1e-30) * site_factor
        synth.add_segment(total, synth.rotate_zrt_to_zne(zrt, az_from_source), i0)
    return total, t_p, t_s
