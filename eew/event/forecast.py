"""Shaking forecast and warning time at the target sites.

For a source estimate (epicentre, depth, origin time, magnitude) and each target:

* MSK-64 intensity from the Central Asia IPE of Bindi et al. (2011) in its fixed-depth
  form (h = 15 km; the depth of an early location is too uncertain for the free-depth
  form, which turns a depth error into an intensity error at distance), uncertainty
  combining the IPE scatter with the magnitude uncertainty;
* PGA from Akkar & Bommer (2010) with the target's Vs30 and an approximate finite-fault
  Joyner-Boore distance, and MMI from it (Worden et al. 2012);
* the S-wave arrival from the layered-model tables, and the warning time = S arrival
  minus the time the alert is sent (negative inside the blind zone).

Once the finite-fault estimator has a line source (:mod:`eew.event.finder`), the
distances are distances to the rupture: the intensity relation takes the surface distance
to the line in place of the epicentral distance (its fixed 15 km depth term stays), the
PGA relation takes it as the Joyner-Boore distance, and ``distance_km`` reports it. The
S-wave times are then computed by the caller from the nearest part of the line that
has broken (:class:`~eew.event.core.EventCore`).

A PLUM-style term (Kodera et al. 2018) forwards the intensity observed at stations
within ``plum_radius_km`` of a target: the forecast is never below what is already
being felt next to it.

References
----------
Kodera, Y. et al. (2018). The propagation of local undamped motion (PLUM) method: a simple
and robust seismic wavefield estimation approach for earthquake early warning. *BSSA*
108(2), 983-1003.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from eew.event import groundmotion as gm
from eew.event.finder import line_geometry
from eew.event.targets import Target
from eew.model.alert import LineSource, TargetForecast
from eew.model.geo import KM_PER_DEG, distances_km


def observed_mmi(pa_cm_s2: float) -> float:
    """Intensity implied by an observed acceleration [cm/s²] (Worden et al. 2012)."""
    return float(gm.mmi_from_pga_worden2012(max(pa_cm_s2, 1e-6)))


def plum_intensity(
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    observed: Sequence[tuple[float, float, float]],
    radius_km: float,
) -> np.ndarray:
    """Largest intensity observed within ``radius_km`` of each target (PLUM forwarding).

    Parameters
    ----------
    lat_deg, lon_deg : numpy.ndarray
        Targets [deg].
    observed : sequence of (lat_deg, lon_deg, intensity)
        Intensities observed at stations.
    radius_km : float
        Forwarding radius [km] (short: an equirectangular distance is enough).

    Returns
    -------
    numpy.ndarray
        Per target, the largest observed intensity nearby, ``-inf`` where there is none.
    """
    if not len(observed):
        return np.full(np.shape(lat_deg), -np.inf)
    p = np.asarray(observed, dtype=float)
    c = math.cos(math.radians(float(np.mean(lat_deg))))
    dx = (p[:, 1:2] - np.asarray(lon_deg)[None, :]) * KM_PER_DEG * c
    dy = (p[:, 0:1] - np.asarray(lat_deg)[None, :]) * KM_PER_DEG
    near = np.hypot(dx, dy) <= radius_km
    nearby: np.ndarray = np.where(near, p[:, 2:3], -np.inf).max(axis=0)
    return nearby


def forecast_targets(
    targets: Sequence[Target],
    latitude_deg: float,
    longitude_deg: float,
    depth_km: float,
    magnitude: float,
    magnitude_sigma: float,
    origin_time_ns: int,
    sent_time_ns: int,
    s_time_s: np.ndarray,
    plum: Sequence[tuple[float, float, float]] = (),
    plum_radius_km: float = 30.0,
    line: LineSource | None = None,
) -> tuple[TargetForecast, ...]:
    """Forecast every target.

    Parameters
    ----------
    targets : sequence of Target
        Target sites.
    latitude_deg, longitude_deg, depth_km : float
        Hypocentre (the depth is not used: fixed-depth intensity relation, Joyner-Boore
        distance for the PGA).
    magnitude, magnitude_sigma : float
        Magnitude and its uncertainty.
    origin_time_ns, sent_time_ns : int
        Origin time and the alert's sent time [ns].
    s_time_s : numpy.ndarray
        S travel time to each target [s].
    plum : sequence of (lat_deg, lon_deg, observed_intensity)
        Observed intensities at stations.
    plum_radius_km : float
        Forwarding radius [km].
    line : LineSource, optional
        The rupture, when known: distances are to the line.
    """
    lat = np.array([t.latitude_deg for t in targets])
    lon = np.array([t.longitude_deg for t in targets])
    vs30 = np.array([t.vs30_m_s for t in targets])
    repi = distances_km(latitude_deg, longitude_deg, lat, lon)
    rjb = gm.joyner_boore_km(magnitude, repi)
    if line is not None:
        repi = rjb = line_geometry(line, lat, lon)[0]
    # the fixed-depth form (h = 15 km): the free-depth form raises the intensity at
    # 100-150 km by ~0.9 units when the depth goes from 10 to 33 km, and an early location
    # does not constrain the depth of a source outside the network
    msk = gm.intensity_msk_bindi2011(magnitude, repi)
    a1 = gm.BINDI2011_FIXED_H[0]
    msk_sigma = math.hypot(gm.intensity_sigma_bindi2011(False), a1 * magnitude_sigma)
    pga = gm.pga_akkar_bommer2010(magnitude, rjb, vs30)
    mmi = gm.mmi_from_pga_worden2012(pga)
    observed = plum_intensity(lat, lon, plum, plum_radius_km)
    msk = np.maximum(msk, observed)
    mmi = np.maximum(mmi, observed)
    out = []
    for i, t in enumerate(targets):
        s_arr = origin_time_ns + round(float(s_time_s[i]) * 1e9)
        out.append(
            TargetForecast(
                name=t.name,
                latitude_deg=t.latitude_deg,
                longitude_deg=t.longitude_deg,
                pga_cm_s2=float(pga[i]),
                pga_sigma_log10=gm.AB2010_PGA_SIGMA_LOG10,
                intensity_msk=float(np.clip(msk[i], 1.0, 12.0)),
                intensity_mmi=float(mmi[i]),
                intensity_sigma=msk_sigma,
                distance_km=float(repi[i]),
                s_arrival_time_ns=s_arr,
                warning_time_s=(s_arr - sent_time_ns) / 1e9,
            )
        )
    return tuple(out)
