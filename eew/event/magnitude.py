"""Magnitude from early-P parameters: per-station estimates and their combination.

Relations (eew_science.md §1; Pd in cm, distances in km, periods in s):

* Pd, Kuyuk & Allen (2013): ``M = 5.39 + 1.23 log10 Pd + 1.38 log10 R`` (sigma 0.31). ElarmS
  applies it with the epicentral distance; the core passes the hypocentral distance, which
  is what Pd decays with (Wu & Zhao 2006) and which keeps stations right above a 15-20 km
  deep source from under-estimating large near-field events (Verny-type) by ~0.7 units;
* tau_c, Wu et al. (2007) southern California: ``M = 4.218 log10 tau_c + 6.166``;
* tau_p_max, ElarmS (Allen & Kanamori 2003; Tsang et al. 2007):
  ``M = 5.2215 + 6.6589 log10 tau_p_max``.

The two period-based relations were calibrated on near-source records; they are used only
from stations within :data:`TAU_MAX_DISTANCE_KM` (hypocentral) of the source.

Regional events (Pd beyond the Kuyuk & Allen range)
----------------------------------------------------
ElarmS/EPIC use the Kuyuk & Allen relation only out to 100-200 km (its ``magdistok`` cut,
``MaxMagDistkm`` 200 km): the records behind it are near-source ones. An event whose
nearest picking station is farther than :data:`REGIONAL_NEAREST_KM` (the Wushi type, 200 km
and more from every station) has no station inside that range, and beyond the Pg/Pn
crossover of the Tien Shan crust (150-200 km, eew_science.md §4) the first seconds of P are
a head wave that decays faster with distance than the direct P of the calibration set:
with its shallower distance term (1.38 / 1.23 = 1.12 per decade of R in log Pd) the
Kuyuk & Allen relation then reads 0.2-0.3 units low at 200-300 km against the relation
with the steeper decay. For such an event every station's Pd magnitude comes from the
Wu & Zhao (2006) attenuation relation with the hypocentral distance,
``log10 Pd = -3.463 + 0.729 M - 1.374 log10 R`` (sigma 0.305 in log Pd), inverted for M
(:func:`magnitude_from_pd_regional`), with the sigma of that inversion, 0.305 / 0.729 =
0.42 units (:data:`PD_REGIONAL_SIGMA`), an event sigma of at least
:data:`REGIONAL_SIGMA_FLOOR` (the extrapolation error is common to all stations and does
not shrink with their number), and the magnitude type ``"Mpdr"``. One relation
for all the stations of an event: no jump between stations on either side of a distance
cut. Neither relation was fitted to records at 200-400 km: both are extrapolated there, the
steeper one less so; on real data a local recalibration (the Kazakh and Kyrgyz catalogues)
replaces both. The scenarios' simulated Pd follows the Wu & Zhao relation, so on them this
choice is consistent by construction and says nothing about real Tien Shan records.

The event magnitude is the inverse-variance weighted mean of the station estimates, each
weighted further by the seconds of P data behind it (EPIC ``WeightByTime``), with an
uncertainty that shrinks with the number of stations but never below a floor. P-wave
proxies on a few seconds of data saturate around M 6.5-7 (the rupture is still growing,
Tsang et al. 2007): the estimate is flagged as a lower bound while any contributing
station's window is still growing and its Pd is still rising.

References
----------
Kuyuk, H. S. and Allen, R. M. (2013). A global approach to provide magnitude estimates for
earthquake early warning alerts. *GRL* 40, 6329-6333.

Tsang, L. L. H., Allen, R. M. and Wurman, G. (2007). Magnitude scaling relations from
P-waves in southern California. *GRL* 34, L19304.

Wu, Y.-M. and Zhao, L. (2006). Magnitude estimation using the first three seconds P-wave
amplitude in earthquake early warning. *GRL* 33, L16312.

Wu, Y.-M., Kanamori, H., Allen, R. M. and Hauksson, E. (2007). Determination of earthquake
early warning parameters, tau_c and Pd, for southern California. *GJI* 170, 711-717.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from eew.model.alert import LineSource

if TYPE_CHECKING:
    from eew.event.finder import FiniteFault
    from eew.event.stations import StationPick

PD_COEFFS = (5.39, 1.23, 1.38)
PD_SIGMA = 0.31
#: Wu & Zhao (2006): log10 Pd = a + b M + c log10 R (Pd cm, R hypocentral km), sigma in log Pd
PD_REGIONAL_COEFFS = (-3.463, 0.729, -1.374)
PD_REGIONAL_LOG_SIGMA = 0.305
#: the magnitude sigma of the inverted Wu & Zhao relation (0.305 / 0.729)
PD_REGIONAL_SIGMA = PD_REGIONAL_LOG_SIGMA / PD_REGIONAL_COEFFS[1]
#: an event whose nearest picking station is farther than this [km, epicentral] is regional:
#: EPIC's intermediate magnitude-distance tier (``magdistok`` 150 km) and the near end of
#: the Pg/Pn crossover; its Pd magnitudes come from the regional relation
REGIONAL_NEAREST_KM = 150.0
#: floor of a regional event's magnitude sigma: the two relations differ by 0.2-0.3 units at
#: 200-300 km and neither was fitted there, an error common to all stations that does not
#: average out over them [proposal]
REGIONAL_SIGMA_FLOOR = 0.3
TAUC_COEFFS = (6.166, 4.218)
TAUC_SIGMA = 0.6
TAUP_COEFFS = (5.2215, 6.6589)
TAUP_SIGMA = 0.7
#: tau_c and tau_p_max only from stations this close to the source [km, hypocentral]:
#: farther away, attenuation lengthens the apparent period of a small event's P wave and
#: both relations over-estimate it (a true M4.5 reads M5.3-6.5 by tau_c at 70-250 km in
#: the simulated regional scenario); Pd, with its distance term, stays unbiased
TAU_MAX_DISTANCE_KM = 60.0


def magnitude_from_pd(pd_cm: float, epicentral_km: float) -> float:
    """Kuyuk & Allen (2013) magnitude from Pd [cm] at a source distance [km].

    The distance is floored at 1 km (a station on the epicentre).

    Examples
    --------
    >>> round(magnitude_from_pd(0.038, 50.0), 2)
    5.99
    """
    a, b, c = PD_COEFFS
    return a + b * math.log10(pd_cm) + c * math.log10(max(epicentral_km, 1.0))


def magnitude_from_pd_regional(pd_cm: float, hypocentral_km: float) -> float:
    """Wu & Zhao (2006) magnitude from Pd [cm] at a hypocentral distance [km].

    The attenuation relation ``log10 Pd = -3.463 + 0.729 M - 1.374 log10 R`` solved for M;
    the distance is floored at 1 km.

    Examples
    --------
    The forward model's value at M 7, 250 km:

    >>> pd = 10 ** (-3.463 + 0.729 * 7.0 - 1.374 * math.log10(250.0))
    >>> round(magnitude_from_pd_regional(pd, 250.0), 2)
    7.0
    """
    a, b, c = PD_REGIONAL_COEFFS
    return (math.log10(pd_cm) - a - c * math.log10(max(hypocentral_km, 1.0))) / b


def pd_magnitude(pd_cm: float, hypocentral_km: float, regional: bool) -> tuple[float, float]:
    """A station's Pd magnitude and its sigma: Kuyuk & Allen, or Wu & Zhao for regional events.

    See the module docstring ("Regional events").
    """
    if regional:
        return magnitude_from_pd_regional(pd_cm, hypocentral_km), PD_REGIONAL_SIGMA
    return magnitude_from_pd(pd_cm, hypocentral_km), PD_SIGMA


def is_regional(epicentral_km: np.ndarray) -> bool:
    """True when the event's nearest picking station is beyond :data:`REGIONAL_NEAREST_KM`."""
    return bool(np.size(epicentral_km)) and float(np.min(epicentral_km)) > REGIONAL_NEAREST_KM


def magnitude_from_tau_c(tau_c_s: float) -> float:
    """Magnitude from tau_c [s], Wu et al. (2007) southern California."""
    a, b = TAUC_COEFFS
    return a + b * math.log10(tau_c_s)


def magnitude_from_tau_p(tau_p_max_s: float) -> float:
    """Magnitude from tau_p_max [s], ElarmS coefficients."""
    a, b = TAUP_COEFFS
    return a + b * math.log10(tau_p_max_s)


@dataclass(frozen=True, slots=True)
class StationMagnitude:
    """One station's magnitude estimate.

    Attributes
    ----------
    station_id : str
        ``NET.STA``.
    magnitude : float
        Combined station estimate.
    sigma : float
        Its standard deviation.
    window_s : float
        Seconds of P data behind it.
    growing : bool
        True while the P window is still growing and Pd still rising.
    """

    station_id: str
    magnitude: float
    sigma: float
    window_s: float
    growing: bool


def station_magnitude(
    station_id: str,
    pd_cm: float,
    tau_c_s: float,
    tau_p_max_s: float,
    epicentral_km: float,
    window_s: float,
    growing: bool,
    use_tau: bool = True,
    regional: bool = False,
) -> StationMagnitude | None:
    """Combine the Pd, tau_c and tau_p_max magnitudes of one station (inverse variance).

    tau_c and tau_p_max are only used when at least 1 s of P is available; invalid
    values (NaN, tau_c outside 0.05-10 s, magnitudes outside 0-9) are ignored.
    ``regional`` selects the regional Pd relation (:func:`pd_magnitude`; the distance is
    then hypocentral). Returns ``None`` when nothing usable remains.
    """
    estimates: list[tuple[float, float]] = []
    if pd_cm > 0 and math.isfinite(pd_cm):
        m, s_pd = pd_magnitude(pd_cm, epicentral_km, regional)
        if 0.0 < m < 9.5:
            estimates.append((m, s_pd))
    if use_tau and window_s >= 1.0:
        if math.isfinite(tau_c_s) and 0.05 <= tau_c_s <= 10.0:
            m = magnitude_from_tau_c(tau_c_s)
            if 0.0 < m < 9.5:
                estimates.append((m, TAUC_SIGMA))
        if math.isfinite(tau_p_max_s) and 0.05 <= tau_p_max_s <= 20.0:
            m = magnitude_from_tau_p(tau_p_max_s)
            if 0.0 < m < 9.5:
                estimates.append((m, TAUP_SIGMA))
    if not estimates:
        return None
    w = [1.0 / s**2 for _, s in estimates]
    mag = sum(wi * m for wi, (m, _) in zip(w, estimates, strict=True)) / sum(w)
    sigma = 1.0 / math.sqrt(sum(w))
    return StationMagnitude(station_id, mag, sigma, window_s, growing)


@dataclass(frozen=True, slots=True)
class EventMagnitude:
    """The network magnitude.

    ``magnitude_type`` is ``"Mpd"`` for the P-wave magnitude alone, ``"Mpdr"`` for the
    P-wave magnitude of a regional event (the Wu & Zhao Pd relation, see the module
    docstring) and ``"Mfd"`` once the finite-fault length magnitude is fused in
    (:func:`with_finite_fault`); ``line`` is then the line source.
    """

    magnitude: float
    sigma: float
    n_stations: int
    is_lower_bound: bool
    magnitude_type: str = "Mpd"
    line: LineSource | None = None


def truncated_normal(mean: float, sigma: float, low: float) -> tuple[float, float]:
    """Mean and standard deviation of a normal ``N(mean, sigma²)`` truncated below at ``low``.

    Examples
    --------
    >>> [round(v, 3) for v in truncated_normal(7.5, 0.3, 6.0)]
    [7.5, 0.3]
    """
    alpha = (low - mean) / sigma
    tail = 0.5 * math.erfc(alpha / math.sqrt(2.0))
    if tail < 1e-12:
        return low, 0.0
    pdf = math.exp(-0.5 * alpha * alpha) / math.sqrt(2.0 * math.pi)
    lam = pdf / tail
    var = sigma * sigma * max(1.0 + alpha * lam - lam * lam, 0.0)
    return mean + sigma * lam, math.sqrt(var)


def saturated_fusion(
    m_p: float,
    sigma_p: float,
    m_f: float,
    sigma_f: float,
    saturation_magnitude: float,
    slope: float,
) -> tuple[float, float]:
    """Posterior mean and sigma of M from a saturating P-wave and a finite-fault magnitude.

    The finite-fault magnitude is ``N(M, sigma_f²)``; the P-wave magnitude is
    ``N(g(M), sigma_p²)`` with ``g(M) = M`` up to ``saturation_magnitude`` and
    ``saturation_magnitude + slope (M - saturation_magnitude)`` beyond. Evaluated on a
    0.005-unit grid of M.

    Examples
    --------
    Below saturation this is the inverse-variance mean:

    >>> [round(v, 2) for v in saturated_fusion(5.0, 0.2, 5.4, 0.2, 6.5, 0.5)]
    [5.2, 0.14]
    """
    lo = min(m_p, m_f) - 4.0 * max(sigma_p, sigma_f)
    hi = max(m_f + 4.0 * sigma_f, saturation_magnitude + (m_p - saturation_magnitude) / slope)
    grid = np.arange(lo, hi + 4.0 * sigma_p / slope, 0.005)
    g = np.where(
        grid <= saturation_magnitude,
        grid,
        saturation_magnitude + slope * (grid - saturation_magnitude),
    )
    logp = -0.5 * ((grid - m_f) / sigma_f) ** 2 - 0.5 * ((m_p - g) / sigma_p) ** 2
    w = np.exp(logp - logp.max())
    w /= w.sum()
    mean = float((w * grid).sum())
    return mean, math.sqrt(float((w * (grid - mean) ** 2).sum()))


def with_finite_fault(
    p: EventMagnitude,
    ff: FiniteFault | None,
    min_length_km: float,
    saturation_magnitude: float,
    growing: bool,
    saturation_slope: float = 0.5,
) -> EventMagnitude:
    """Fuse the P-wave magnitude with the finite-fault one (inverse variance).

    The finite-fault magnitude enters only when its line is at least ``min_length_km``
    long (shorter lines are not resolved by the station spacing).

    Early-P magnitudes saturate near M 6.5 (Tsang et al. 2007): the two are combined
    with a likelihood in which the P-wave magnitude follows the true one up to
    ``saturation_magnitude`` and only ``saturation_slope`` of it beyond
    (:func:`saturated_fusion`), so the line source dominates great events and the two
    are averaged with inverse-variance weights for moderate ones.

    Parameters
    ----------
    p : EventMagnitude
        P-wave magnitude.
    ff : FiniteFault or None
        Finite-fault estimate (:mod:`eew.event.finder`).
    min_length_km : float
        Shortest line used [km].
    saturation_magnitude : float
        Magnitude beyond which early-P estimates saturate.
    growing : bool
        The line grew since the previous estimate: the magnitude is a lower bound.
    saturation_slope : float
        Growth of the P-wave magnitude per unit magnitude beyond saturation.
    """
    if ff is None or ff.line.length_km < min_length_km:
        return p
    m, sigma = saturated_fusion(
        p.magnitude, p.sigma, ff.magnitude, ff.sigma, saturation_magnitude, saturation_slope
    )
    return EventMagnitude(
        magnitude=m,
        sigma=max(sigma, 0.15),
        n_stations=p.n_stations,
        is_lower_bound=p.is_lower_bound or growing,
        magnitude_type="Mfd",
        line=ff.line,
    )


def with_lower_bound(p: EventMagnitude, low: float | None) -> EventMagnitude:
    """The magnitude knowing it is at least ``low`` (None: unchanged).

    The estimate ``N(m, sigma²)`` truncated below at ``low`` (:func:`truncated_normal`):
    a bound more than 4 sigma below the estimate changes nothing (it would move it by
    less than 1e-4 sigma); above it, the magnitude is a little more than the bound. The
    sigma keeps its floor of 0.15.

    Examples
    --------
    >>> p = EventMagnitude(7.0, 0.2, 10, False, "Mfd")
    >>> with_lower_bound(p, 6.0) is p
    True
    >>> round(with_lower_bound(p, 7.5).magnitude, 2)
    7.56
    """
    if low is None or low <= p.magnitude - 4.0 * p.sigma:
        return p
    m, sigma = truncated_normal(p.magnitude, p.sigma, low)
    return EventMagnitude(
        magnitude=m,
        sigma=max(sigma, 0.15),
        n_stations=p.n_stations,
        is_lower_bound=p.is_lower_bound,
        magnitude_type=p.magnitude_type,
        line=p.line,
    )


def combine(
    stations: Sequence[StationMagnitude], sigma_floor: float = 0.15, magnitude_type: str = "Mpd"
) -> EventMagnitude | None:
    """Weighted mean of station magnitudes (weights ``window_s² / sigma²``).

    Long windows see more of a growing rupture, so they weigh quadratically more than
    short ones (near stations whose P window is cut early by S).

    The uncertainty is the weighted standard error combined with the scatter between
    stations, floored at ``sigma_floor``.
    """
    if not stations:
        return None
    w = [max(s.window_s, 0.1) ** 2 / s.sigma**2 for s in stations]
    wsum = sum(w)
    mag = sum(wi * s.magnitude for wi, s in zip(w, stations, strict=True)) / wsum
    n = len(stations)
    formal = 1.0 / math.sqrt(sum(1.0 / s.sigma**2 for s in stations))
    if n > 1:
        var = sum(wi * (s.magnitude - mag) ** 2 for wi, s in zip(w, stations, strict=True)) / wsum
        scatter = math.sqrt(var / (n - 1))
    else:
        scatter = stations[0].sigma
    sigma = max(math.hypot(formal, scatter), sigma_floor)
    lower = any(s.growing for s in stations)
    return EventMagnitude(mag, sigma, n, lower, magnitude_type)


def event_magnitude(
    picks: Sequence[StationPick],
    s_arrival_ns: np.ndarray,
    epicentral_km: np.ndarray,
    depth_km: float,
) -> EventMagnitude | None:
    """The event magnitude from the stations' P windows, each cut at its S arrival.

    Parameters
    ----------
    picks : sequence of StationPick
        The event's station picks.
    s_arrival_ns : numpy.ndarray
        Predicted S arrival at each of them [ns]: a station's latest message whose window
        ends before it is used.
    epicentral_km : numpy.ndarray
        Their epicentral distances [km]; the hypocentral distance with ``depth_km`` enters
        the Pd relation.
    depth_km : float
        Source depth [km].

    A station's estimate is still growing while its window is open, before the S wave,
    and its Pd rose by more than 5 % at the last update. When the nearest of the stations
    is beyond :data:`REGIONAL_NEAREST_KM` the event is regional (:func:`is_regional`) and
    every Pd magnitude comes from the regional relation (type ``"Mpdr"``).
    """
    regional = is_regional(np.asarray(epicentral_km))
    stations = []
    for sp, ts_f, repi in zip(picks, s_arrival_ns, epicentral_km, strict=True):
        ts = float(ts_f)
        msg = sp.latest(max_end_ns=round(ts))
        if msg is None:
            continue
        msgs = sp.best_messages()
        prev = msgs[-2].pd_cm if len(msgs) > 1 else 0.0
        growing = (
            (not msg.final) and msg.pd_cm > 1.05 * prev and msg.time_ns + msg.window_s * 1e9 < ts
        )
        rhyp = math.hypot(float(repi), depth_km)
        sm = station_magnitude(
            sp.station_id,
            msg.pd_cm,
            msg.tau_c_s,
            msg.tau_p_max_s,
            rhyp,
            msg.window_s,
            growing,
            use_tau=rhyp <= TAU_MAX_DISTANCE_KM,
            regional=regional,
        )
        if sm is not None:
            stations.append(sm)
    if regional:
        return combine(stations, REGIONAL_SIGMA_FLOOR, "Mpdr")
    return combine(stations)
