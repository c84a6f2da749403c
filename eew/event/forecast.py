"""Shaking forecast and warning time at the target sites.

For a source estimate (epicentre, depth, origin time, magnitude) and each target:

* PGA and PGV from Akkar & Bommer (2010) with the target's Vs30 and an approximate
  finite-fault Joyner-Boore distance, and the instrumental intensity from both: the
  Worden et al. (2012) MMI of each, weighted as Wald et al. (1999) (the PGA value below V,
  the PGV value above VII) - the intensity ShakeMap 3 maps, the one the stations observe
  (below) and the one the scenarios' ``truth.json`` records. It is written as both
  ``intensity_msk`` and ``intensity_mmi`` (MSK-64 and MMI agree at the 12-degree level,
  Musson et al. 2010); ``intensity_sigma`` combines the GMICE and GMPE scatter with the
  magnitude uncertainty (:func:`instrumental_sigma`);
* the S-wave arrival from the layered-model tables, and the warning time = S arrival
  minus the time the alert is sent (negative inside the blind zone).

The regional macroseismic IPE of Bindi et al. (2011) for Central Asia (fixed-depth form)
is no longer the target forecast: on the bundled scenarios it put 46 % of the final
forecasts within one unit of the observed intensity, against 68 % for the instrumental
chain (the same final source estimates, no PLUM term), too high for the moderate and
distant events (M3-M6 at 20-250 km by 1-2 units) and too low near the great ruptures. It
stays a second opinion of the public-alert decision (:func:`ipe_max_intensity`,
:attr:`eew.event.lifecycle.EventRecord.alert_intensity`): people in the region feel
distant large events more than the California-calibrated chain says (the 2024 Wushi M7.0
was felt at about IV in Almaty, 260 km away: IPE 4.4, instrumental chain about 3.7).

Once the finite-fault estimator has a line source (:mod:`eew.event.finder`), the
distances are distances to the rupture: the GMPE takes the surface distance to the line
as the Joyner-Boore distance, the IPE takes it in place of the epicentral distance (its
fixed 15 km depth term stays), and ``distance_km`` reports it. The S-wave times are then
computed by the caller from the nearest part of the line that has broken
(:class:`~eew.event.core.EventCore`).

A PLUM term (Kodera et al. 2018) forwards the intensity observed at the stations within
``plum_radius_km`` of a target: the forecast is never below it. The observation is the
instrumental intensity of each station's running peak acceleration and velocity since
its P arrival (the whole shaking, S waves included: :mod:`eew.detect.peaks`). Kodera et
al. forward the *largest* intensity within the radius; here it is the *median* of the
stations within it. Japan's networks put a few stations in a 30 km circle; Almaty's puts
about twenty around each city target, and the largest of twenty values with an
inter-station scatter of 0.6-0.9 intensity units sits 1-1.5 units above the local level
(on the bundled scenarios: 52 % of the final forecasts within one unit with the maximum,
80 % with the median). Stations whose P has not arrived do not count; stations whose S
has not arrived yet count low: the median only raises the forecast once most of the
stations around a target are shaking.

References
----------
Akkar, S. and Bommer, J. J. (2010). *SRL* 81, 195-206.

Bindi, D. et al. (2011). Intensity prediction equations for Central Asia. *GJI* 187,
327-337.

Kodera, Y. et al. (2018). The propagation of local undamped motion (PLUM) method: a simple
and robust seismic wavefield estimation approach for earthquake early warning. *BSSA*
108(2), 983-1003.

Musson, R. M. W., Grünthal, G. and Stucchi, M. (2010). The comparison of macroseismic
intensity scales. *J. Seismol.* 14, 413-428.

Wald, D. J. et al. (1999). *Earthquake Spectra* 15, 557-564.

Worden, C. B. et al. (2012). *BSSA* 102, 204-221.
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

#: scatter of the Worden et al. (2012) conversions [intensity units] (0.66 PGA, 0.63 PGV)
GMICE_SIGMA = 0.65


def observed_mmi(pa_cm_s2: float) -> float:
    """Intensity implied by an observed acceleration [cm/s²] (Worden et al. 2012)."""
    return float(gm.mmi_from_pga_worden2012(max(pa_cm_s2, 1e-6)))


def plum_intensity(
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    observed: Sequence[tuple[float, float, float]],
    radius_km: float,
    statistic: str = "max",
) -> np.ndarray:
    """Intensity observed within ``radius_km`` of each target (PLUM forwarding).

    Kodera et al. (2018) forward the largest intensity within the radius (``"max"``);
    ``"median"`` forwards the median of the stations within it (see :func:`forecast_targets`).

    Parameters
    ----------
    lat_deg, lon_deg : numpy.ndarray
        Targets [deg].
    observed : sequence of (lat_deg, lon_deg, intensity)
        Intensities observed at stations.
    radius_km : float
        Forwarding radius [km] (short: an equirectangular distance is enough).
    statistic : str
        ``"max"`` or ``"median"``.

    Returns
    -------
    numpy.ndarray
        Per target, the observed intensity nearby, ``-inf`` where there is none.
    """
    if statistic not in ("max", "median"):
        raise ValueError(f"statistic must be 'max' or 'median', not {statistic!r}")
    if not len(observed):
        return np.full(np.shape(lat_deg), -np.inf)
    p = np.asarray(observed, dtype=float)
    c = math.cos(math.radians(float(np.mean(lat_deg))))
    dx = (p[:, 1:2] - np.asarray(lon_deg)[None, :]) * KM_PER_DEG * c
    dy = (p[:, 0:1] - np.asarray(lat_deg)[None, :]) * KM_PER_DEG
    near = np.hypot(dx, dy) <= radius_km
    if statistic == "max":
        nearby: np.ndarray = np.where(near, p[:, 2:3], -np.inf).max(axis=0)
        return nearby
    # per target, the nearby values sorted first (NaN sorts last), the median from the count
    ordered = np.sort(np.where(near, p[:, 2:3], np.nan), axis=0)
    count = near.sum(axis=0)
    lo = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None, :] // 2, axis=0)[0]
    hi = np.take_along_axis(ordered, (count // 2)[None, :], axis=0)[0]
    out: np.ndarray = np.where(count > 0, 0.5 * (lo + hi), -np.inf)
    return out


def instrumental_sigma(
    magnitude: float, magnitude_sigma: float, rjb_km: np.ndarray, vs30_m_s: np.ndarray
) -> np.ndarray:
    """Standard deviation of the instrumental intensity forecast [intensity units].

    The GMICE scatter (Worden et al. 2012: 0.66 from PGA, 0.63 from PGV; 0.65 taken), the
    GMPE scatter (Akkar & Bommer 2010: 0.28 in log10) and the magnitude uncertainty, each
    through the local slope of the intensity (numerical derivatives), in quadrature.
    """
    d = 0.05
    pga = gm.pga_akkar_bommer2010(magnitude, rjb_km, vs30_m_s)
    pgv = gm.pgv_akkar_bommer2010(magnitude, rjb_km, vs30_m_s)
    i0 = gm.mmi_from_motion(pga, pgv)
    di_dlog = (gm.mmi_from_motion(pga * 10**d, pgv * 10**d) - i0) / d
    pga_m = gm.pga_akkar_bommer2010(magnitude + d, rjb_km, vs30_m_s)
    pgv_m = gm.pgv_akkar_bommer2010(magnitude + d, rjb_km, vs30_m_s)
    di_dm = (gm.mmi_from_motion(pga_m, pgv_m) - i0) / d
    sigma_log = max(gm.AB2010_PGA_SIGMA_LOG10, gm.AB2010_PGV_SIGMA_LOG10)
    out: np.ndarray = np.sqrt(
        GMICE_SIGMA**2 + (di_dlog * sigma_log) ** 2 + (di_dm * magnitude_sigma) ** 2
    )
    return out


def ipe_max_intensity(forecasts: Sequence[TargetForecast], magnitude: float) -> float:
    """Largest Bindi et al. (2011) MSK-64 intensity over the targets (fixed-depth form).

    The regional macroseismic intensity prediction equation at the forecasts' distances
    (epicentral, or to the line): the second opinion of the public-alert decision
    (:attr:`eew.event.lifecycle.EventRecord.alert_intensity`). The fixed-depth form
    (h = 15 km): the free-depth form raises the intensity at 100-150 km by ~0.9 units when
    the depth goes from 10 to 33 km, and an early location does not constrain the depth
    of a source outside the network.
    """
    if not forecasts:
        return 0.0
    d = np.array([f.distance_km for f in forecasts])
    return float(np.max(gm.intensity_msk_bindi2011(magnitude, d)))


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
        Hypocentre (the depth is not used: Joyner-Boore distance for the GMPE).
    magnitude, magnitude_sigma : float
        Magnitude and its uncertainty.
    origin_time_ns, sent_time_ns : int
        Origin time and the alert's sent time [ns].
    s_time_s : numpy.ndarray
        S travel time to each target [s].
    plum : sequence of (lat_deg, lon_deg, observed_intensity)
        Observed intensities at stations: their median within ``plum_radius_km`` of a
        target is the floor of its forecast.
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
    pga = gm.pga_akkar_bommer2010(magnitude, rjb, vs30)
    pgv = gm.pgv_akkar_bommer2010(magnitude, rjb, vs30)
    mmi = gm.mmi_from_motion(pga, pgv)
    sigma = instrumental_sigma(magnitude, magnitude_sigma, rjb, vs30)
    observed = plum_intensity(lat, lon, plum, plum_radius_km, "median")
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
                intensity_msk=float(np.clip(mmi[i], 1.0, 12.0)),
                intensity_mmi=float(mmi[i]),
                intensity_sigma=float(sigma[i]),
                distance_km=float(repi[i]),
                s_arrival_time_ns=s_arr,
                warning_time_s=(s_arr - sent_time_ns) / 1e9,
            )
        )
    return tuple(out)
