"""Local and regional earthquakes at one station: P and S of every sub-event, scaled.

Amplitude calibration (see ``docs/simulator.md``):

* P: each sub-event's vertical P is scaled so that its Pd (first 3 s, science-reference
  chain) equals Wu & Zhao (2006) for the sub-event magnitude and hypocentral distance,
  times a per-station log-normal factor 10^(0.305 eps). A line source therefore shows the
  real saturation of 3-s Pd: the first seconds only see the first sub-events.
* S: each sub-event's S is first scaled to BSSA14 for its magnitude and distance (relative
  weights), then the summed S is scaled so that the geometric mean of the horizontal PGAs
  equals BSSA14 for the whole magnitude and the Joyner-Boore distance to the line, with
  between-event (tau) and within-event (phi) scatter.
* Beyond ``EMPIRICAL_MAX_KM`` both phases keep the absolute Boore (2003) level (with
  geometric spreading and the mantle Q for deep sources) and a 10^(0.3 eps) station term.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.fft
from obspy.geodetics import gps2dist_azimuth

from eew.simulate import relations, source, synth
from eew.simulate.scenario import SourceSpec
from eew.simulate.velocity import TravelTimeTable, surface_velocities_km_s

#: average crustal speeds used for the anelastic path term (km/s)
VP_PATH_KM_S, VS_PATH_KM_S = 6.1, 3.5
VP_MANTLE_KM_S, VS_MANTLE_KM_S = 8.0, 4.5
G_M_S2 = 9.80665


@dataclass(frozen=True)
class Site:
    """Per-station site terms and draws that hold for every source."""

    station_id: str
    latitude_deg: float
    longitude_deg: float
    city: bool
    kappa_s: float
    vs30_m_s: float
    delay_p_s: float
    delay_s_s: float


@dataclass(frozen=True)
class Arrival:
    """What one source does at one station (values for ``truth.json``)."""

    p_offset_s: float
    s_offset_s: float
    p_phase: str
    s_phase: str
    epicentral_distance_km: float
    hypocentral_distance_km: float
    joyner_boore_distance_km: float
    back_azimuth_deg: float
    pd_target_cm: float | None
    pga_target_cm_s2: float | None
    calibration: str
    #: first S from any part of the rupture (offset from the record start, s)
    s_first_offset_s: float


def depth_key(depth_km: float) -> float:
    """Key of a sub-event depth in the travel-time tables: rounded to 0.1 km."""
    return round(float(depth_km), 1)


def _fas_freq(n: int, fs: float) -> np.ndarray:
    return scipy.fft.rfftfreq(n, 1.0 / fs)


def synthesize_local(
    seed: int,
    src: SourceSpec,
    subs: list[source.SubEvent],
    tables: Mapping[float, TravelTimeTable],
    site: Site,
    start_offset_s: float,
    sampling_rate_hz: float,
    n_samples: int,
    inter_event_eps: float,
) -> tuple[np.ndarray, Arrival]:
    """Ground acceleration (Z, N, E rows, m/s^2) of one source at one site, and its arrival.

    Parameters
    ----------
    seed : int
        Scenario seed.
    src : SourceSpec
        The source; ``subs`` its sub-events (first arrival from the delay-0 one).
    tables : mapping of float to TravelTimeTable
        Travel times by sub-event depth (km, rounded to 0.1 km; see :func:`depth_key`).
    site : Site
        Station site terms and delays.
    start_offset_s : float
        Origin time minus record start (s).
    sampling_rate_hz, n_samples : float, int
        Record sampling.
    inter_event_eps : float
        Standard-normal between-event draw of the GMPE.
    """
    fs = sampling_rate_hz
    rng = synth.rng_for(seed, "src", src.id, site.station_id)
    eps_pd, eps_phi, eps_far = rng.standard_normal(3)
    polarisation = rng.uniform(0.0, 2.0 * np.pi)
    vp_top, _ = surface_velocities_km_s()
    total = np.zeros((3, n_samples))
    s_sum = np.zeros((3, n_samples))
    deep = src.depth_km > source.MANTLE_SOURCE_DEPTH_KM
    vp_q, vs_q = (VP_MANTLE_KM_S, VS_MANTLE_KM_S) if deep else (VP_PATH_KM_S, VS_PATH_KM_S)
    rjb = math.inf
    hypo = None
    s_first = math.inf
    for k, sub in enumerate(subs):
        dist_m, az, baz = gps2dist_azimuth(
            sub.latitude_deg, sub.longitude_deg, site.latitude_deg, site.longitude_deg
        )
        epi = dist_m / 1000.0
        rjb = min(rjb, epi)
        r_hyp = math.hypot(epi, sub.depth_km)
        table = tables[depth_key(sub.depth_km)]
        tp, ts = (float(x) for x in table.times(epi))
        p_slow, _ = (float(x) for x in table.slowness(epi))
        t_p = start_offset_s + sub.delay_s + tp + site.delay_p_s
        t_s = start_offset_s + sub.delay_s + ts + site.delay_s_s
        s_first = min(s_first, t_s)
        if sub.delay_s == 0.0 and hypo is None:
            hypo = (t_p, t_s, epi, r_hyp, baz, sub.magnitude, *table.phase_names(epi))
        far = r_hyp > source.EMPIRICAL_MAX_KM
        wrng = synth.rng_for(seed, "wave", src.id, site.station_id, k)
        incidence = math.asin(min(p_slow * vp_top, 0.5))
        # P wave
        fc_p = 1.5 * sub.fc_hz
        dur_p = source.duration_s(fc_p, r_hyp)
        i0, n, on = synth.segment_layout(t_p, dur_p, fs)
        fas = source.shape_spectrum(_fas_freq(n, fs), fc_p, r_hyp, vp_q, site.kappa_s, sub.depth_km)
        if far:
            m0_sub = source.moment_dyne_cm(sub.magnitude)
            fas *= (
                source.boore_constant("P")
                * m0_sub
                * source.geometric_spreading(r_hyp)
                * 0.01
                * 10.0 ** (0.3 * eps_far)
            )
        zne = synth.rotate_zrt_to_zne(
            synth.p_components(wrng, n, on, dur_p, fs, fas, incidence), az
        )
        if not far:
            pd_m = synth.pd_from_velocity(synth.integrate(zne[0], fs), fs, math.ceil(on))
            target_m = (
                10.0
                ** (
                    relations.wu_zhao_2006_log10_pd_cm(sub.magnitude, r_hyp)
                    + relations.WU_ZHAO_SIGMA_LOG10 * eps_pd
                )
                / 100.0
            )
            zne *= target_m / max(pd_m, 1e-30)
        synth.add_segment(total, zne, i0)
        # S wave
        dur_s = source.duration_s(sub.fc_hz, r_hyp)
        i0, n, on = synth.segment_layout(t_s, dur_s, fs)
        fas = source.shape_spectrum(
            _fas_freq(n, fs), sub.fc_hz, r_hyp, vs_q, site.kappa_s, sub.depth_km
        )
        if far:
            m0_sub = source.moment_dyne_cm(sub.magnitude)
            fas *= (
                source.boore_constant("S")
                * m0_sub
                * source.geometric_spreading(r_hyp)
                * 0.01
                * 10.0 ** (0.3 * eps_far)
            )
        zne = synth.rotate_zrt_to_zne(
            synth.s_components(wrng, n, on, dur_s, fs, fas, polarisation), az
        )
        if not far:
            pga = math.exp(relations.bssa14_ln_pga_g(sub.magnitude, epi, site.vs30_m_s))
            zne *= pga * G_M_S2 / max(_geomean_peak(zne), 1e-30)
        synth.add_segment(s_sum, zne, i0)
    assert hypo is not None
    t_p, t_s, epi, r_hyp, baz, m_hypo, p_name, s_name = hypo
    pd_target = pga_target = None
    calibration = "boore2003_absolute"
    if r_hyp <= source.EMPIRICAL_MAX_KM:
        calibration = "wu_zhao_2006+bssa14"
        tau, phi = relations.bssa14_sigma_ln(src.magnitude)
        ln_pga = relations.bssa14_ln_pga_g(src.magnitude, rjb, site.vs30_m_s)
        pga_target = math.exp(ln_pga + tau * inter_event_eps + phi * eps_phi) * G_M_S2
        s_sum *= pga_target / max(_geomean_peak(s_sum), 1e-30)
        pd_target = 10.0 ** (
            relations.wu_zhao_2006_log10_pd_cm(m_hypo, r_hyp)
            + relations.WU_ZHAO_SIGMA_LOG10 * eps_pd
        )
        pga_target *= 100.0
    total += s_sum
    return total, Arrival(
        p_offset_s=t_p,
        s_offset_s=t_s,
        p_phase=p_name,
        s_phase=s_name,
        epicentral_distance_km=epi,
        hypocentral_distance_km=r_hyp,
        joyner_boore_distance_km=rjb,
        back_azimuth_deg=baz,
        pd_target_cm=pd_target,
        pga_target_cm_s2=pga_target,
        calibration=calibration,
        s_first_offset_s=s_first,
    )


def _geomean_peak(zne: np.ndarray) -> float:
    return float(np.sqrt(np.max(np.abs(zne[1])) * np.max(np.abs(zne[2]))))
