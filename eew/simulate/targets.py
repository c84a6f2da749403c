"""What each earthquake does at the target sites: true S arrival and observed intensity.

The target sites are those of the forecasts (``eew/data/config/targets.csv`` unless the
scenario's ``[stations] targets`` names another file). At each target the simulator
synthesises the noise-free ground motion of every local source exactly as at a station
(:func:`eew.simulate.local.synthesize_local`: same sub-events, same between-event
epsilon, a within-event draw of the target's own), with the target's Vs30 and the kappa of
a city or rock site, and no station delay. From it ``truth.json`` gets the peak motion,
MSK-64 and MMI (:func:`eew.simulate.relations.observed_intensity`) and the first S
arrival from any part of the rupture. Teleseisms get no target rows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from obspy.geodetics import gps2dist_azimuth

from eew.configfile import packaged_config_dir
from eew.event.targets import Target, load_targets
from eew.simulate import relations, source, synth
from eew.simulate.local import Site, synthesize_local
from eew.simulate.scenario import Scenario, SourceSpec
from eew.simulate.stations import ALMATY_LAT_DEG, ALMATY_LON_DEG
from eew.simulate.velocity import TravelTimeTable

#: sampling rate of the target-site synthesis (Hz)
TARGET_RATE_HZ = 100.0
#: seconds of the target window before the origin and after the last S energy
PAD_S = 1.0
TAIL_S = 20.0
#: S speed used only to size the window (km/s); slower than any crustal S
WINDOW_VS_KM_S = 3.0


def default_targets_path() -> Path:
    """``eew/data/config/targets.csv``: the packaged target sites."""
    return packaged_config_dir() / "targets.csv"


def scenario_targets(scn: Scenario) -> tuple[Target, ...]:
    """The scenario's target sites (``[stations] targets`` or the packaged file)."""
    return load_targets(scn.stations.targets or default_targets_path())


def target_site(scn: Scenario, t: Target, kappa_city: float, kappa_rock: float) -> Site:
    """A noise-free, delay-free site at a target, with its Vs30 and a city or rock kappa."""
    dist_m, _, _ = gps2dist_azimuth(ALMATY_LAT_DEG, ALMATY_LON_DEG, t.latitude_deg, t.longitude_deg)
    city = dist_m / 1000.0 <= scn.stations.city_radius_km
    return Site(
        station_id=t.name,
        latitude_deg=t.latitude_deg,
        longitude_deg=t.longitude_deg,
        city=city,
        kappa_s=kappa_city if city else kappa_rock,
        vs30_m_s=t.vs30_m_s,
        delay_p_s=0.0,
        delay_s_s=0.0,
    )


def _window_s(subs: list[source.SubEvent], t: Target) -> float:
    r = max(
        math.hypot(
            gps2dist_azimuth(s.latitude_deg, s.longitude_deg, t.latitude_deg, t.longitude_deg)[0]
            / 1000.0,
            s.depth_km,
        )
        for s in subs
    )
    tail = 1.0 / min(s.fc_hz for s in subs) + source.PATH_DURATION_S_PER_KM * r
    return PAD_S + max(s.delay_s for s in subs) + r / WINDOW_VS_KM_S + tail + TAIL_S


def target_truth(
    scn: Scenario,
    src: SourceSpec,
    subs: list[source.SubEvent],
    tables: dict[float, TravelTimeTable],
    targets: tuple[Target, ...],
    inter_event_eps: float,
) -> list[dict[str, Any]]:
    """Per target: distances, first S arrival, peak motion and intensity of one source.

    Parameters
    ----------
    scn : Scenario
        The scenario (seed, city radius).
    src, subs : SourceSpec, list of SubEvent
        The source and its sub-events.
    tables : dict of float to TravelTimeTable
        Travel times from every sub-event depth to the targets.
    targets : tuple of Target
        The target sites.
    inter_event_eps : float
        The source's between-event draw (the same as at the stations).

    Returns
    -------
    list of dict
        One row per target; ``s_offset_s`` is the first S after the origin (s).
    """
    rows = []
    for t in targets:
        site = target_site(scn, t, source.KAPPA_CITY_S, source.KAPPA_ROCK_S)
        n = round(_window_s(subs, t) * TARGET_RATE_HZ)
        acc, arr = synthesize_local(
            scn.seed, src, subs, tables, site, PAD_S, TARGET_RATE_HZ, n, inter_event_eps
        )
        pk = synth.peak_motion(acc, TARGET_RATE_HZ)
        rows.append(
            {
                "name": t.name,
                "latitude_deg": t.latitude_deg,
                "longitude_deg": t.longitude_deg,
                "vs30_m_s": t.vs30_m_s,
                "city_site": site.city,
                "epicentral_distance_km": arr.epicentral_distance_km,
                "joyner_boore_distance_km": arr.joyner_boore_distance_km,
                "s_offset_s": arr.s_first_offset_s - PAD_S,
                "s_hypocentre_offset_s": arr.s_offset_s - PAD_S,
                "pga_target_cm_s2": arr.pga_target_cm_s2,
                **pk,
                **relations.observed_intensity(pk["pga_cm_s2"], pk["pgv_cm_s"]),
            }
        )
    return rows


def target_positions(targets: tuple[Target, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes of the targets (deg)."""
    return (
        np.array([t.latitude_deg for t in targets]),
        np.array([t.longitude_deg for t in targets]),
    )
