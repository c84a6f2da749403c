"""Finite-fault rupture detector: a line source from the network's peak accelerations.

Implemented from the published method of FinDer (Böse et al. 2012; FinDer 2, Böse et al.
2018), not from its code. The current peak ground acceleration (PGA) at the stations is
matched against the PGA that line sources of length ``L``, strike and centroid would
produce, and the best template's length gives the magnitude through a length-magnitude
scaling, so the estimate does not saturate like the first seconds of P.

Templates (FinDer 2 works on the station positions, not on an interpolated image):

* a segment through (or next to) the epicentre: the epicentre lies at a fraction ``f`` of
  the length from one end (the hypocentre is on the rupture), with a perpendicular offset
  for the location error; lengths from 2 to 400 km, strikes every 5 degrees;
* its predicted log10 PGA at station ``i`` is the ground-motion model (Akkar & Bommer
  2010, reverse faulting, one reference site) for ``M(L)`` at the Joyner-Boore distance
  ``R_i`` to the segment (:mod:`eew.event.groundmotion`).

Misfit (a log-amplitude form of FinDer's binary misclassification count): with residuals
``r_i = log10 PGA_obs,i - log10 PGA_pred,i`` and an event term ``c`` (between-event
scatter ``tau``), ``chi2 = sum (r_i - c)^2 / phi^2 + c^2 / tau^2``; ``c`` is the
least-squares value. A station whose PGA is at or below the floor (not triggered, or
not yet shaken) is censored: it only counts where the template predicts more than the
floor. The misfit surface gives the posterior over the templates (``exp(-chi2 / 2)``,
scaled by the reduced chi-square when the model fits worse than its sigmas), whose
marginal over length gives the magnitude and its uncertainty (with the scatter of the
scaling relation).

Priors. A causality prior keeps each side of the rupture, measured from the epicentre,
shorter than ``max_rupture_velocity_km_s`` times the time since origin. A
Gutenberg-Richter prior applies only to the part of a template the stations cannot see:
along each template, the stations within ``coverage_km`` of it observe it between their
outermost points (:func:`coverage_extent`); what lies beyond, in parts of the map without
stations, changes the misfit little, and nothing observed supports it, so a line seen
over ``L_s`` reaches ``L`` as often as the magnitude-frequency law makes a rupture at
least ``L_s`` long reach ``L`` (:func:`posterior_magnitude`). Inside the network there is
no magnitude prior, as in FinDer: while a rupture grows, every station is still a lower
bound (the misfit only excludes lines that predict too little) and causality alone bounds
the line, so a prior on the whole magnitude would pull the estimate down by about
``b ln10 sigma_M^2`` (0.3 magnitude units for ``b = 1``) and the best line towards short
ones; once stations settle, their misfit is far sharper than the prior. The coverage
radius (default 25 km) is of the order of the regional station spacing: farther from
every station, whether a line passes or stops short changes the predicted PGAs by less
than their scatter (``phi``).

Length-magnitude scaling: Wells & Coppersmith (1994), subsurface rupture length, all
slip types: ``M = 4.38 + 1.49 log10 L`` (sigma 0.26), the relation the simulator and
:func:`eew.event.groundmotion.rupture_length_km` use.

The grid search is :func:`template_misfit` (numba, ``@njit(cache=True)``) with its
plain-NumPy twin :func:`template_misfit_np`; :class:`FiniteFaultEstimator` keeps the
per-event state (the last estimate) for the event core.

References
----------
Cua, G. and Heaton, T. H. (2007). The Virtual Seismologist (VS) method: a Bayesian
approach to earthquake early warning. In *Earthquake Early Warning Systems*, Springer,
97-132.

Böse, M., Heaton, T. H. and Hauksson, E. (2012). Real-time Finite Fault Rupture Detector
(FinDer) for large earthquakes. *GJI* 191, 803-812.

Böse, M., Smith, D. E., Felizardo, C., Meier, M.-A., Heaton, T. H. and Clinton, J. F.
(2018). FinDer v.2: Improved real-time ground-motion predictions for M2-M9 with seismic
finite-source characterization. *GJI* 212, 725-742.

Wells, D. L. and Coppersmith, K. J. (1994). New empirical relationships among magnitude,
rupture length, rupture width, rupture area, and surface displacement. *BSSA* 84, 974-1002.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from eew.event import groundmotion as gm
from eew.model.alert import LineSource
from eew.model.geo import KM_PER_DEG

#: Wells & Coppersmith (1994) subsurface rupture length, all slip types: M = a + b log10 L
WC94_RLD = (4.38, 1.49, 0.26)
#: template lengths [km]
LENGTHS_KM = (2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 65.0, 80.0, 100.0,
              125.0, 150.0, 180.0, 220.0, 270.0, 330.0, 400.0)  # fmt: skip
#: template strikes [deg] (a line has no direction: 0-175)
STRIKES_DEG = tuple(float(s) for s in range(0, 180, 5))
#: position of the epicentre along the template, from its start (fraction of L)
FRACTIONS = tuple(i / 10.0 for i in range(11))
#: perpendicular offsets of the line from the epicentre [km]
OFFSETS_KM = (-6.0, -3.0, 0.0, 3.0, 6.0)
#: crustal S velocity for the settling times [km/s] (eew_science.md §4)
VS_KM_S = 3.5
#: Gutenberg-Richter b-value of the magnitude prior
GR_B_VALUE = 1.0
#: a template's part within this surface distance of a station is observed [km]
COVERAGE_KM = 25.0
#: within-event and between-event scatter of log10 PGA (Akkar & Bommer 2010)
PHI_LOG10 = 0.2611
TAU_LOG10 = 0.1056


def magnitude_from_length(length_km: float | np.ndarray) -> np.ndarray:
    """Wells & Coppersmith (1994) magnitude of a rupture of length ``L`` [km]."""
    a, b, _s = WC94_RLD
    m: np.ndarray = a + b * np.log10(np.maximum(np.asarray(length_km, dtype=float), 0.1))
    return m


def _log_pga(m: float, rjb: float) -> float:
    """log10 PGA [cm/s²], Akkar & Bommer (2010), reverse, Vs30 > 750 m/s (reference rock)."""
    b1, b2, b3, b4, b5, b6, _b7, _b8, _b9, b10 = gm.AB2010_PGA
    r = math.sqrt(rjb * rjb + b6 * b6)
    return b1 + b2 * m + b3 * m * m + (b4 + b5 * m) * math.log10(r) + b10


_log_pga_nb = njit(cache=True)(_log_pga)


def coverage_extent(
    sx: np.ndarray, sy: np.ndarray, strike_rad: float, offset_km: float, cover_km: float
) -> tuple[float, float]:
    """How far a template's infinite line is observed on either side of the epicentre.

    The line runs along ``strike_rad`` at ``offset_km`` (perpendicular) from the
    epicentre; the coordinate ``u`` along it is measured from the epicentre's foot (a
    template with the epicentre at fraction ``f`` spans ``[-f L, (1 - f) L]``). A station
    at perpendicular distance ``d < cover_km`` observes ``u_i +- sqrt(cover_km^2 - d^2)``;
    the line is observed between the outermost such points (gaps between stations are
    bridged by the stations on both sides).

    Parameters
    ----------
    sx, sy : numpy.ndarray
        Station east and north coordinates relative to the epicentre [km].
    strike_rad, offset_km : float
        The line's strike [rad] and perpendicular offset [km].
    cover_km : float
        Coverage radius [km].

    Returns
    -------
    lo, hi : float
        The observed extent ``[lo, hi]`` along the line [km]; ``(inf, -inf)`` where no
        station is within ``cover_km`` of it.
    """
    ux, uy = math.sin(strike_rad), math.cos(strike_rad)
    ox, oy = offset_km * uy, -offset_km * ux
    lo, hi = math.inf, -math.inf
    for i in range(sx.size):
        px, py = sx[i] - ox, sy[i] - oy
        d = px * uy - py * ux
        if abs(d) < cover_km:
            u = px * ux + py * uy
            h = math.sqrt(cover_km * cover_km - d * d)
            lo = min(lo, u - h)
            hi = max(hi, u + h)
    return lo, hi


_coverage_extent_nb = njit(cache=True)(coverage_extent)


@njit(cache=True)
def template_misfit(
    sx: np.ndarray,
    sy: np.ndarray,
    obs: np.ndarray,
    lower: np.ndarray,
    floor: float,
    lengths: np.ndarray,
    strikes_rad: np.ndarray,
    fractions: np.ndarray,
    offsets: np.ndarray,
    max_side_km: float,
    phi: float,
    tau: float,
    timing: np.ndarray,
    cover_km: float,
) -> tuple[np.ndarray, np.ndarray]:
    """chi-square and unobserved length of every template (numba kernel; module docstring).

    Parameters
    ----------
    sx, sy : numpy.ndarray
        Station east and north coordinates relative to the epicentre [km].
    obs : numpy.ndarray
        Observed log10 PGA [cm/s²] (at most ``floor`` means censored).
    lower : numpy.ndarray
        True where the observation is a lower bound (the shaking may still grow): it
        counts only where a template predicts less, and not in the event term; a lower
        bound at or below the floor says nothing.
    floor : float
        Censoring level, log10 [cm/s²].
    lengths, strikes_rad, fractions, offsets : numpy.ndarray
        Template axes: length [km], strike [rad, clockwise from north], epicentre
        position along the line (fraction from its start), perpendicular offset [km].
    max_side_km : float
        Longest extent on either side of the epicentre (causality) [km].
    phi, tau : float
        Within- and between-event scatter of log10 PGA.
    timing : numpy.ndarray
        ``[t_now, depth, vr, vs, settle]``: time since origin [s], source depth [km],
        rupture and S velocities [km/s], settling time [s]. For each template a station
        is a lower bound until ``settle`` after the S wave from the template's point
        nearest to it, which breaks ``along / vr`` after origin (``along`` measured from
        the epicentre), could have reached it: the shaking of a part of a long template
        is not yet known at the stations next to it.
    cover_km : float
        Coverage radius [km]: a template is observed between its outermost points within
        this surface distance of a station (:func:`coverage_extent`).

    Returns
    -------
    chi2 : numpy.ndarray
        ``chi2[length, strike, fraction, offset]``; ``inf`` where the causality prior
        excludes the template.
    unseen : numpy.ndarray
        The template's length beyond the observed extent [km], same shape (0 where the
        causality prior excludes the template).
    """
    nl, ns, nf, no = lengths.size, strikes_rad.size, fractions.size, offsets.size
    n = sx.size
    out = np.full((nl, ns, nf, no), np.inf)
    unseen = np.zeros((nl, ns, nf, no))
    ext_lo = np.empty((ns, no))
    ext_hi = np.empty((ns, no))
    for js in range(ns):
        for ko in range(no):
            ext_lo[js, ko], ext_hi[js, ko] = _coverage_extent_nb(
                sx, sy, strikes_rad[js], offsets[ko], cover_km
            )
    pred = np.empty(n)
    low = np.zeros(n, dtype=np.bool_)
    t_now, depth, vr, vs, settle = timing[0], timing[1], timing[2], timing[3], timing[4]
    h2 = depth * depth
    for il in range(nl):
        length = lengths[il]
        m = 4.38 + 1.49 * math.log10(length)
        for jf in range(nf):
            a = fractions[jf] * length
            b = length - a
            if a > max_side_km or b > max_side_km:
                continue
            for js in range(ns):
                ux = math.sin(strikes_rad[js])
                uy = math.cos(strikes_rad[js])
                for ko in range(no):
                    ox = offsets[ko] * uy
                    oy = -offsets[ko] * ux
                    x0, y0 = ox - a * ux, oy - a * uy
                    sw, swr = 0.0, 0.0
                    for i in range(n):
                        px, py = sx[i] - x0, sy[i] - y0
                        t = px * ux + py * uy
                        if t < 0.0:
                            t = 0.0
                        elif t > length:
                            t = length
                        dx, dy = px - t * ux, py - t * uy
                        d2 = dx * dx + dy * dy
                        p = _log_pga_nb(m, math.sqrt(d2))
                        pred[i] = p
                        arrive = abs(t - a) / vr + math.sqrt(d2 + h2) / vs
                        low[i] = lower[i] or t_now < arrive + settle
                        if obs[i] > floor and not low[i]:
                            sw += 1.0
                            swr += obs[i] - p
                    c = swr / (sw + (phi * phi) / (tau * tau))
                    chi = (c / tau) ** 2
                    for i in range(n):
                        if low[i]:
                            r = obs[i] - pred[i] - c
                            if obs[i] <= floor or r < 0.0:
                                r = 0.0
                        elif obs[i] > floor:
                            r = obs[i] - pred[i] - c
                        else:
                            r = pred[i] + c - floor
                            if r < 0.0:
                                r = 0.0
                        chi += (r / phi) ** 2
                    out[il, js, jf, ko] = chi
                    seen = min(b, max(ext_hi[js, ko], 0.0)) + min(a, max(-ext_lo[js, ko], 0.0))
                    unseen[il, js, jf, ko] = length - seen
    return out, unseen


def template_misfit_np(
    sx: np.ndarray,
    sy: np.ndarray,
    obs: np.ndarray,
    lower: np.ndarray,
    floor: float,
    lengths: np.ndarray,
    strikes_rad: np.ndarray,
    fractions: np.ndarray,
    offsets: np.ndarray,
    max_side_km: float,
    phi: float,
    tau: float,
    timing: np.ndarray,
    cover_km: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain-NumPy twin of :func:`template_misfit` (same arguments, same result)."""
    b1, b2, b3, b4, b5, b6, _b7, _b8, _b9, b10 = gm.AB2010_PGA
    L = lengths[:, None, None, None]
    th = strikes_rad[None, :, None, None]
    f = fractions[None, None, :, None]
    off = offsets[None, None, None, :]
    ux, uy = np.sin(th), np.cos(th)
    a = f * L
    x0 = off * uy - a * ux
    y0 = -off * ux - a * uy
    px = sx[None, None, None, None, :] - x0[..., None]
    py = sy[None, None, None, None, :] - y0[..., None]
    t = np.clip(px * ux[..., None] + py * uy[..., None], 0.0, L[..., None])
    d = np.hypot(px - t * ux[..., None], py - t * uy[..., None])
    t_now, depth, vr, vs, settle = (float(v) for v in timing[:5])
    arrive = np.abs(t - a[..., None]) / vr + np.sqrt(d * d + depth * depth) / vs
    lower = lower | (t_now < arrive + settle)
    m = (4.38 + 1.49 * np.log10(L))[..., None]
    r = np.sqrt(d * d + b6 * b6)
    pred = b1 + b2 * m + b3 * m * m + (b4 + b5 * m) * np.log10(r) + b10
    above = obs > floor
    settled = above & ~lower
    res = np.where(settled, obs - pred, 0.0)
    c = res.sum(axis=-1) / (settled.sum(axis=-1) + (phi * phi) / (tau * tau))
    r_all = np.where(above, obs - pred - c[..., None], np.maximum(pred + c[..., None] - floor, 0.0))
    r_low = np.where(above, np.maximum(obs - pred - c[..., None], 0.0), 0.0)
    r_all = np.where(lower, r_low, r_all)
    chi = (c / tau) ** 2 + ((r_all / phi) ** 2).sum(axis=-1)
    side_ok = (a <= max_side_km) & (L - a <= max_side_km)
    chi = np.where(side_ok, chi, np.inf)
    shape = (lengths.size, strikes_rad.size, fractions.size, offsets.size)
    out: np.ndarray = np.broadcast_to(chi, shape).copy()
    ext = np.array(
        [[coverage_extent(sx, sy, float(s_), float(o_), cover_km) for o_ in offsets]
         for s_ in strikes_rad]
    )  # fmt: skip
    seen = np.minimum(L - a, np.maximum(ext[None, :, None, :, 1], 0.0)) + np.minimum(
        a, np.maximum(-ext[None, :, None, :, 0], 0.0)
    )
    unseen = np.where(side_ok, L - seen, 0.0)
    return out, unseen


@dataclass(frozen=True, slots=True)
class FiniteFault:
    """One finite-fault estimate.

    Attributes
    ----------
    magnitude, sigma : float
        Magnitude from the length (posterior mean) and its uncertainty.
    line : LineSource
        The best template (end points, length, strike).
    length_sigma_km : float
        Posterior standard deviation of the length [km].
    n_above : int
        Stations above the censoring floor.
    n_stations : int
        Stations used.
    """

    magnitude: float
    sigma: float
    line: LineSource
    length_sigma_km: float
    n_above: int
    n_stations: int


def posterior_magnitude(
    chi2: np.ndarray,
    lengths: np.ndarray,
    n_obs: int,
    b_value: float = GR_B_VALUE,
    unseen: np.ndarray | None = None,
) -> tuple[float, float, float, float, tuple[int, ...]]:
    """Magnitude mean and sigma, length mean and sigma, and the best template's index.

    The chi-square is scaled by its reduced minimum when the model fits worse than its
    sigmas (``chi2_min / n_obs > 1``), so an imperfect model does not give an
    over-confident posterior. The best template is the posterior mode. The magnitude
    sigma combines the posterior spread with the scatter of the scaling relation.

    Gutenberg-Richter prior (``10^(-b M)``, as in the Virtual Seismologist, Cua & Heaton
    2007), only on what the stations cannot see. With ``unseen`` (each template's length
    beyond the part the stations observe, :func:`template_misfit`), a template of length
    ``L`` of which ``L_s = L - L_u`` is seen (at least the shortest template) has the
    prior ``10^(-b (M(L) - M(L_s)))``: the Gutenberg-Richter probability that a rupture
    at least ``L_s`` long reaches ``L``. The part of a line beyond the network, where the
    misfit is flat and nothing observed supports it, costs what the magnitude-frequency
    law says; a line inside the network carries no prior, its length is what the
    stations say, however early (FinDer, Böse et al. 2012, 2018, uses none). A prior on
    the whole magnitude would pull a growing rupture, whose stations are still lower
    bounds and bound nothing but causality, down by about ``b ln10 sigma_M^2`` and the
    mode towards short lines. Without ``unseen`` the prior is on the whole template
    magnitude (the same as a line nobody sees).
    """
    cmin = float(chi2.min())
    scale = max(1.0, cmin / max(n_obs, 1))
    mags = magnitude_from_length(lengths)
    if unseen is None:
        log_prior = ((-b_value * math.log(10.0)) * mags)[:, None, None, None]
    else:
        l4 = lengths[:, None, None, None]
        seen = np.maximum(l4 - unseen, float(lengths.min()))
        dm = mags[:, None, None, None] - magnitude_from_length(seen)
        log_prior = (-b_value * math.log(10.0)) * dm
    logp = -(chi2 - cmin) / (2.0 * scale) + log_prior
    best = np.unravel_index(int(np.argmax(logp)), chi2.shape)
    w = np.exp(logp - logp[best])
    pl = w.reshape(lengths.size, -1).sum(axis=1)
    pl = pl / pl.sum()
    mean = float((pl * mags).sum())
    spread = math.sqrt(float((pl * (mags - mean) ** 2).sum()))
    l_mean = float((pl * lengths).sum())
    l_sd = math.sqrt(float((pl * (lengths - l_mean) ** 2).sum()))
    sigma = math.hypot(spread, WC94_RLD[2])
    return mean, sigma, l_mean, l_sd, tuple(int(i) for i in best)


class FiniteFaultEstimator:
    """Line-source templates matched to the current station PGAs (see the module docstring).

    Parameters
    ----------
    floor_cm_s2 : float
        PGA at or below which a station is censored (not shaken above the noise) [cm/s²].
    max_rupture_velocity_km_s : float
        Causality prior: each side of the rupture is at most this times the time since
        origin [km/s].
    use_numba : bool
        The numba kernel (default) or its NumPy twin.
    b_value : float
        Gutenberg-Richter b-value of the prior on the unseen part of a line (0: flat).
    rupture_velocity_km_s, settle_s : float
        When a template's part breaks, and how long after its S wave a station's
        peak is final (see :func:`template_misfit`) [km/s, s].
    coverage_km : float
        Coverage radius: a template is observed between its outermost points within this
        distance of a station; only its length beyond them carries the prior [km].
    """

    def __init__(
        self,
        floor_cm_s2: float = 2.0,
        max_rupture_velocity_km_s: float = 3.5,
        use_numba: bool = True,
        b_value: float = GR_B_VALUE,
        rupture_velocity_km_s: float = 2.8,
        settle_s: float = 10.0,
        coverage_km: float = COVERAGE_KM,
    ) -> None:
        self.b_value = b_value
        self.cover = coverage_km
        self.vr = rupture_velocity_km_s
        self.settle = settle_s
        self.floor = math.log10(floor_cm_s2)
        self.vmax = max_rupture_velocity_km_s
        self.kernel = template_misfit if use_numba else template_misfit_np
        self.lengths = np.array(LENGTHS_KM)
        self.strikes = np.radians(np.array(STRIKES_DEG))
        self.fractions = np.array(FRACTIONS)
        self.offsets = np.array(OFFSETS_KM)

    def estimate(
        self,
        epi_lat_deg: float,
        epi_lon_deg: float,
        depth_km: float,
        st_lat_deg: np.ndarray,
        st_lon_deg: np.ndarray,
        pga_cm_s2: np.ndarray,
        seconds_since_origin: float,
        lower_bound: np.ndarray | None = None,
    ) -> FiniteFault | None:
        """Fit the templates to the stations' peak accelerations.

        Parameters
        ----------
        epi_lat_deg, epi_lon_deg, depth_km : float
            Epicentre [deg] and depth [km] (the depth is carried to the line's ends).
        st_lat_deg, st_lon_deg : numpy.ndarray
            Stations [deg].
        pga_cm_s2 : numpy.ndarray
            Their peak accelerations so far [cm/s²] (0 where not shaken).
        seconds_since_origin : float
            Time since origin [s] (causality prior).
        lower_bound : numpy.ndarray, optional
            True where a station's peak may still grow (see :func:`template_misfit`).

        Returns
        -------
        FiniteFault or None
            None without stations, or before any station is above the floor.
        """
        if st_lat_deg.size == 0:
            return None
        cos = math.cos(math.radians(epi_lat_deg))
        sx = np.ascontiguousarray((st_lon_deg - epi_lon_deg) * KM_PER_DEG * cos, dtype=np.float64)
        sy = np.ascontiguousarray((st_lat_deg - epi_lat_deg) * KM_PER_DEG, dtype=np.float64)
        obs = np.log10(np.maximum(np.asarray(pga_cm_s2, dtype=np.float64), 1e-3))
        n_above = int((obs > self.floor).sum())
        if n_above == 0:
            return None
        max_side = max(self.vmax * max(seconds_since_origin, 0.0), 1.0)
        lower = (
            np.zeros(obs.size, dtype=np.bool_)
            if lower_bound is None
            else np.ascontiguousarray(lower_bound, dtype=np.bool_)
        )
        chi2, unseen = self.kernel(
            sx, sy, obs, lower, self.floor,
            self.lengths, self.strikes, self.fractions, self.offsets,
            max_side, PHI_LOG10, TAU_LOG10,
            np.array([seconds_since_origin, depth_km, self.vr, VS_KM_S, self.settle]),
            self.cover,
        )  # fmt: skip
        if not np.isfinite(chi2).any():
            return None
        mean, sigma, _l_mean, l_sd, best = posterior_magnitude(
            chi2, self.lengths, obs.size, self.b_value, unseen
        )
        il, js, jf, ko = best
        length = float(self.lengths[il])
        strike = float(self.strikes[js])
        ux, uy = math.sin(strike), math.cos(strike)
        off = float(self.offsets[ko])
        a = float(self.fractions[jf]) * length
        x0, y0 = off * uy - a * ux, -off * ux - a * uy
        x1, y1 = x0 + length * ux, y0 + length * uy

        def to_deg(x: float, y: float) -> tuple[float, float]:
            return epi_lat_deg + y / KM_PER_DEG, epi_lon_deg + x / (KM_PER_DEG * cos)

        (la0, lo0), (la1, lo1) = to_deg(x0, y0), to_deg(x1, y1)
        line = LineSource(
            start_latitude_deg=la0,
            start_longitude_deg=lo0,
            end_latitude_deg=la1,
            end_longitude_deg=lo1,
            depth_km=depth_km,
            length_km=length,
            strike_deg=math.degrees(strike) % 180.0,
        )
        return FiniteFault(mean, sigma, line, l_sd, n_above, int(obs.size))


def line_geometry(
    line: LineSource, lat_deg: np.ndarray, lon_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface distance from points to the line, and the closest point of the line.

    A local equirectangular frame centred on the line's middle (good to a fraction of a
    km over a few hundred km).

    Parameters
    ----------
    line : LineSource
        The rupture.
    lat_deg, lon_deg : numpy.ndarray
        Points [deg].

    Returns
    -------
    distance_km, closest_lat_deg, closest_lon_deg : numpy.ndarray
        Joyner-Boore distance to the segment [km] and the closest point on it [deg].
    """
    lat0 = 0.5 * (line.start_latitude_deg + line.end_latitude_deg)
    lon0 = 0.5 * (line.start_longitude_deg + line.end_longitude_deg)
    cos = math.cos(math.radians(lat0))

    def xy(la: np.ndarray | float, lo: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (
            (np.asarray(lo, dtype=float) - lon0) * KM_PER_DEG * cos,
            (np.asarray(la, dtype=float) - lat0) * KM_PER_DEG,
        )

    ax, ay = xy(line.start_latitude_deg, line.start_longitude_deg)
    bx, by = xy(line.end_latitude_deg, line.end_longitude_deg)
    px, py = xy(lat_deg, lon_deg)
    vx, vy = bx - ax, by - ay
    ll = float(vx * vx + vy * vy)
    t = np.clip(((px - ax) * vx + (py - ay) * vy) / ll, 0.0, 1.0) if ll > 0 else np.zeros_like(px)
    cx, cy = ax + t * vx, ay + t * vy
    d = np.hypot(px - cx, py - cy)
    return d, lat0 + cy / KM_PER_DEG, lon0 + cx / (KM_PER_DEG * cos)
