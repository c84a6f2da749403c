"""Growth of P-wave displacement with time: a magnitude that grows while the rupture does.

Colombelli et al. (2012) follow the peak P-wave displacement Pd measured on windows that
expand from the P onset up to the S wave. Corrected for distance with the Pd attenuation
relation and averaged over stations, log Pd grows with time since P as long as the
rupture grows, and reaches a plateau when it stops; the plateau level gives the
magnitude, and as long as no plateau is reached the estimate is a lower bound.

Here the distance correction is the Pd relation of :mod:`eew.event.magnitude` (Kuyuk &
Allen 2013, or Wu & Zhao 2006 for a regional event: :func:`~.magnitude.pd_magnitude`):
each station's Pd on a window of ``w`` seconds becomes a magnitude ``M_i(w)``, so the
network curve is the average ``M(w)`` over the stations that have a window of ``w``
seconds before their S wave (0.5-s steps: the picker's update interval). The curve is read
at its longest window that at least ``min_stations`` stations reach; it has reached its
plateau when it changed by less than ``plateau_change`` over the last ``plateau_s``
seconds of window.

References
----------
Colombelli, S., Zollo, A., Festa, G. and Kanamori, H. (2012). Early magnitude and potential
damage zone estimates for the great Mw 9 Tohoku-Oki earthquake. *GRL* 39, L22306.

Kuyuk, H. S. and Allen, R. M. (2013). A global approach to provide magnitude estimates for
earthquake early warning alerts. *GRL* 40, 6329-6333.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from eew.event.magnitude import pd_magnitude

if TYPE_CHECKING:
    from eew.event.stations import StationPick

#: window step of the curve [s] (the picker's update interval)
STEP_S = 0.5


@dataclass(frozen=True, slots=True)
class PdGrowth:
    """The network P-displacement growth curve and the magnitude read from it.

    Attributes
    ----------
    windows_s : numpy.ndarray
        Window lengths after P [s].
    magnitude_curve : numpy.ndarray
        Station-averaged magnitude from Pd at each window (NaN where fewer than
        ``min_stations`` stations reach it).
    magnitude, sigma : float
        The curve at its longest usable window, and its uncertainty.
    n_stations : int
        Stations at that window.
    plateau : bool
        True once the curve stopped growing.
    """

    windows_s: np.ndarray
    magnitude_curve: np.ndarray
    magnitude: float
    sigma: float
    n_stations: int
    plateau: bool


def growth_curve(
    station_series: Sequence[tuple[np.ndarray, np.ndarray]], min_stations: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average the stations' magnitude-versus-window series on a common window axis.

    Parameters
    ----------
    station_series : sequence of (windows_s, magnitudes)
        Per station, increasing windows [s] and the magnitude from Pd on each.
    min_stations : int
        Fewer stations at a window give NaN there.

    Returns
    -------
    windows_s, curve, counts : numpy.ndarray
        The window axis (multiples of :data:`STEP_S`), the average and the number of
        stations behind each value. A station contributes at a window if it has a
        measurement at that window (within half a step) or a longer one.

    Examples
    --------
    >>> w = np.array([0.5, 1.0, 1.5])
    >>> _w, c, n = growth_curve([(w, np.array([5.0, 5.5, 6.0]))] * 3)
    >>> c.tolist(), n.tolist()
    ([5.0, 5.5, 6.0], [3, 3, 3])
    """
    longest = max((float(w[-1]) for w, _m in station_series if w.size), default=0.0)
    n_bins = round(longest / STEP_S)
    axis = STEP_S * np.arange(1, n_bins + 1)
    total = np.zeros(n_bins)
    counts = np.zeros(n_bins, dtype=np.int64)
    for w, m in station_series:
        if w.size == 0:
            continue
        # the value at each window: the last measurement not longer than it (+ half a step)
        k = np.searchsorted(w, axis + 0.5 * STEP_S, side="right") - 1
        ok = (k >= 0) & (axis <= w[-1] + 0.5 * STEP_S)
        total[ok] += m[k[ok]]
        counts[ok] += 1
    curve = np.where(counts >= min_stations, total / np.maximum(counts, 1), np.nan)
    return axis, curve, counts


def pd_growth(
    picks: Sequence[StationPick],
    s_arrival_ns: np.ndarray,
    hypocentral_km: np.ndarray,
    min_stations: int = 3,
    plateau_s: float = 2.0,
    plateau_change: float = 0.1,
    regional: bool = False,
) -> PdGrowth | None:
    """The growth curve of an event from its stations' pick messages (see module docstring).

    Parameters
    ----------
    picks : sequence of StationPick
        The event's station picks (each message is one window of the growing Pd).
    s_arrival_ns : numpy.ndarray
        Predicted S arrival at each [ns]: windows ending later are not used.
    hypocentral_km : numpy.ndarray
        Hypocentral distances [km].
    min_stations, plateau_s, plateau_change
        See the module docstring.
    regional : bool
        The event is regional: the Wu & Zhao relation converts Pd to magnitude.

    Returns
    -------
    PdGrowth or None
        None while no window is reached by ``min_stations`` stations.
    """
    series = []
    sigma_station = pd_magnitude(1.0, 1.0, regional)[1]
    for sp, ts, r in zip(picks, s_arrival_ns, hypocentral_km, strict=True):
        ws: list[float] = []
        ms: list[float] = []
        for msg in sp.best_messages():
            if msg.retracted or not msg.pd_cm > 0 or not math.isfinite(msg.pd_cm):
                continue
            if msg.time_ns + msg.window_s * 1e9 > float(ts):
                break
            if ws and msg.window_s <= ws[-1]:
                continue
            ws.append(msg.window_s)
            ms.append(pd_magnitude(msg.pd_cm, float(r), regional)[0])
        series.append((np.array(ws), np.array(ms)))
    axis, curve, counts = growth_curve(series, min_stations)
    usable = np.flatnonzero(np.isfinite(curve))
    if usable.size == 0:
        return None
    j = int(usable[-1])
    n = int(counts[j])
    back = round(plateau_s / STEP_S)
    plateau = bool(
        j - back >= 0
        and np.isfinite(curve[j - back])
        and abs(curve[j] - curve[j - back]) < plateau_change
    )
    sigma = max(sigma_station / math.sqrt(n), 0.15)
    return PdGrowth(axis, curve, float(curve[j]), sigma, n, plateau)


def fuse_correlated(m1: float, s1: float, m2: float, s2: float, rho: float) -> tuple[float, float]:
    """Best linear unbiased combination of two correlated estimates.

    Weights ``w1 = (s2² - rho s1 s2) / (s1² + s2² - 2 rho s1 s2)``, ``w2 = 1 - w1``
    (generalised least squares for two measurements of one quantity).

    Examples
    --------
    >>> [round(v, 3) for v in fuse_correlated(6.0, 0.2, 6.4, 0.2, 0.0)]
    [6.2, 0.141]
    """
    c = rho * s1 * s2
    den = s1 * s1 + s2 * s2 - 2.0 * c
    if den <= 0.0:
        return 0.5 * (m1 + m2), min(s1, s2)
    w1 = (s2 * s2 - c) / den
    w2 = 1.0 - w1
    var = w1 * w1 * s1 * s1 + w2 * w2 * s2 * s2 + 2.0 * w1 * w2 * c
    return w1 * m1 + w2 * m2, math.sqrt(max(var, 0.0))
