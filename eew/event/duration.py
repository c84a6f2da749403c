"""A lower bound on the magnitude from how long the ground near the epicentre keeps shaking.

Early P-wave amplitudes saturate for great earthquakes (Tsang et al. 2007; Meier et al.
2016, 2017): a few seconds of P cannot tell an M7 from an M8. How long the rupture keeps
radiating can. The source duration of an earthquake grows with its moment as
``T ∝ M0^(1/3)`` (self-similar ruptures, Kanamori & Anderson 1975; Houston 2001); the
Global CMT half duration ``h = 1.05e-8 M0^(1/3)`` (``M0`` in dyne cm, Ekström et al.
2012) with the moment magnitude of Hanks & Kanamori (1979),
``log10 M0 = 1.5 Mw + 16.05``, gives

    ``log10 T = 0.5 Mw - 2.328``  (``T = 2 h`` [s]),

so ``T`` = 4 s at M6, 13 s at M7, 43 s at M8 (:func:`magnitude_from_duration`).

What the stations measure is the *bracketed duration* of strong shaking (Bolt 1973): at
each station within ``radius_km`` of the epicentre, from its (hypocentral) S arrival to
the end of the last 1-s bin whose peak acceleration reaches ``fraction`` of the
station's largest so far (:func:`strong_motion_end`). While the rupture goes on, the
near stations keep seeing new strong arrivals; this lasts the source duration plus what
path and site add (S coda, scattering, the source pulse itself), at most ``path_s``
seconds at near-source distances. The median over at least ``min_stations`` stations,
less ``path_s``, is a lower bound on the source duration so far
(:func:`source_duration_s`), and through the scaling a lower bound on the magnitude: on
the released moment while the rupture goes on (a great rupture releases its moment
faster than a complete earthquake of the same duration), on the final one once the
shaking has ended. Stations ahead of a unilateral rupture see its duration compressed and
those beside it see it unchanged; behind it the far end's radiation is weaker and its
strong part ends early, so the median stays a lower bound except where the stations
behind a rupture see it stretched (by up to ``1 + vr / vs``) and still strong: the
median over several stations, all within ``radius_km``, guards against that.

The bound is used only for events whose P-wave magnitude has reached the level where it
saturates (``follow_magnitude``): below it the P waves themselves measure the magnitude,
and overlapping wave trains (two moderate events a few seconds apart) would prolong the
shaking of the first one.

References
----------
Bolt, B. A. (1973). Duration of strong ground motion. *Proc. 5th World Conf. Earthquake
Eng.*, Rome, 1304-1313.

Ekström, G., Nettles, M. and Dziewonski, A. M. (2012). The global CMT project 2004-2010:
centroid-moment tensors for 13,017 earthquakes. *PEPI* 200-201, 1-9.

Hanks, T. C. and Kanamori, H. (1979). A moment magnitude scale. *JGR* 84, 2348-2350.

Houston, H. (2001). Influence of depth, focal mechanism, and tectonic setting on the shape
and duration of earthquake source time functions. *JGR* 106, 11137-11150.

Kanamori, H. and Anderson, D. L. (1975). Theoretical basis of some empirical relations in
seismology. *BSSA* 65, 1073-1095.

Meier, M.-A., Ampuero, J.-P. and Heaton, T. H. (2017). The hidden simplicity of subduction
megathrust earthquakes. *Science* 357, 1277-1281.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from eew.model.timeutil import NS_PER_S

#: log10 T = 0.5 Mw + DURATION_OFFSET (GCMT half duration and Hanks & Kanamori, see above)
DURATION_OFFSET = math.log10(2.0 * 1.05e-8) + 16.05 / 3.0


def magnitude_from_duration(duration_s: float) -> float:
    """Moment magnitude of an earthquake whose source lasts ``duration_s`` [s].

    Examples
    --------
    >>> round(magnitude_from_duration(13.0), 2)
    6.88
    >>> round(magnitude_from_duration(43.0), 2)
    7.92
    """
    return 2.0 * (math.log10(duration_s) - DURATION_OFFSET)


def strong_motion_end(
    peak: Callable[[int], float | None], start_s: int, end_s: int, fraction: float
) -> int | None:
    """The last 1-s bin in ``[start_s, end_s]`` whose peak reaches ``fraction`` of the largest.

    Parameters
    ----------
    peak : callable
        The station's peak acceleration in the 1-s bin of a data second [cm/s²] (None
        without data).
    start_s, end_s : int
        First and last data second [s].
    fraction : float
        Strong shaking: at least this fraction of the station's largest peak in the span.

    Returns
    -------
    int or None
        The data second of that bin; None without data.

    Examples
    --------
    >>> bins = {10: 1.0, 11: 8.0, 12: 3.0, 13: 1.0, 14: 0.5}
    >>> strong_motion_end(bins.get, 10, 14, 0.2)
    12
    """
    values = [peak(s) for s in range(start_s, end_s + 1)]
    present = [v for v in values if v is not None]
    if not present:
        return None
    level = fraction * max(present)
    for k in range(len(values) - 1, -1, -1):
        v = values[k]
        if v is not None and v >= level:
            return start_s + k
    return None


def source_duration_s(
    durations_s: Sequence[float], path_s: float, min_stations: int
) -> float | None:
    """Lower bound on the source duration so far from the stations' bracketed durations.

    The median of the stations' strong-shaking durations after their S arrival, less what
    path and site add at most (``path_s``); None with fewer than ``min_stations``
    stations or when nothing is left.

    Examples
    --------
    >>> source_duration_s([20.0, 31.0, 25.0], 8.0, 3)
    17.0
    >>> source_duration_s([20.0, 31.0], 8.0, 3) is None
    True
    """
    if len(durations_s) < min_stations:
        return None
    t = float(np.median(durations_s)) - path_s
    return t if t > 0.0 else None


def station_duration_s(
    peak_acc: Callable[[str, int, int], float | None],
    station_id: str,
    p_ns: float,
    s_ns: float,
    now_ns: int,
    fraction: float,
) -> float | None:
    """One station's bracketed duration of strong shaking after its S arrival [s].

    From the predicted S arrival ``s_ns`` to the end of the last 1-s bin (from 1 s before
    the P arrival ``p_ns`` to ``now_ns``) whose peak acceleration reaches ``fraction`` of
    the station's largest; None before the S wave or without data. ``peak_acc`` is the
    router's running peak (:meth:`eew.detect.peaks.PeakStore.peak`).
    """
    if now_ns < s_ns:
        return None
    start = (round(p_ns) - NS_PER_S) // NS_PER_S
    end = now_ns // NS_PER_S

    def one(sec: int) -> float | None:
        return peak_acc(station_id, sec * NS_PER_S, sec * NS_PER_S)

    last = strong_motion_end(one, start, end, fraction)
    if last is None:
        return None
    return max(0.0, (last + 1) - s_ns / NS_PER_S)
