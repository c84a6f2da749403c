"""How much of a rupture's moment the network could have seen: the causal limit of a magnitude.

The truth's ``moment_release`` says how much moment a rupture has released by a time
``t`` after origin. No station can know about moment released after the P wave that
carries it left the source: a sub-event that started at ``t_i`` and has radiated a
fraction ``F(tau)`` of its moment by ``tau`` seconds after ``t_i`` has shown a station
at epicentral distance ``d`` only ``F(t - t_i - T_P(d, z_i))`` of it by ``t``, where
``T_P`` is the P travel time. Summing over the sub-events gives the moment whose P waves
have reached that station.

:func:`seen_magnitude` takes, per sub-event, the ``k``-th largest of these fractions over
the stations with data, that is the moment whose P waves have reached at least ``k``
stations, and returns its Mw. For ``k = 1`` this is an upper bound on what any causal
magnitude method can measure from P waves at ``t`` (it ignores the time a pick and a Pd
window need after the onset, the station delays and the S waves, which leave a source
later still); for ``k = 4`` it is what four stations could agree on, the fewest the
alert rule accepts. :func:`begun_magnitude` is looser: it counts every sub-event whose
first P wave has reached ``k`` stations with its whole moment, as an amplitude
magnitude calibrated on complete earthquakes might read it from the first seconds of
P. Where the released magnitude runs more than the scorecard's tolerance above these,
meeting the tolerance needs an estimate that runs ahead of what the stations have
recorded, i.e. a forecast of how the rupture will grow; whether a rupture's final size
can be told from its beginning is an open question (Meier et al. 2016, 2017: the early
moment rate functions of large earthquakes do not show their final magnitude).

The sub-events, their rupture times, magnitudes and Brune (1970) source time function
are the simulator's own (``truth.json`` ``line_source``,
:func:`eew.simulate.source.brune_moment_fraction`); the travel times are the real-time
tables of the same ALM-1D-v0 model (:func:`eew.evaluate.truth.travel_time_s`).

References
----------
Brune, J. N. (1970). Tectonic stress and the spectra of seismic shear waves from
earthquakes. *JGR* 75, 4997-5009.

Meier, M.-A., Heaton, T. and Clinton, J. (2016). Evidence for universal earthquake
rupture initiation behavior. *GRL* 43, 7991-7996.

Meier, M.-A., Ampuero, J.-P. and Heaton, T. H. (2017). The hidden simplicity of subduction
megathrust earthquakes. *Science* 357, 1277-1281.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from eew.evaluate.truth import TrueSource, travel_time_s
from eew.event.locate import TravelTimeStack
from eew.model.geo import distances_km
from eew.simulate.source import brune_moment_fraction, magnitude_from_moment, moment_dyne_cm


def p_travel_times_s(
    source: TrueSource, stations: Mapping[str, tuple[float, float]], stack: TravelTimeStack
) -> np.ndarray:
    """P travel times from every sub-event to every station, ``[sub-event, station]`` [s]."""
    coords = np.array(list(stations.values()), dtype=float).reshape(-1, 2)
    out = np.empty((source.subevents.shape[0], coords.shape[0]))
    for i, (lat, lon, depth, _) in enumerate(source.subevents):
        d = distances_km(float(lat), float(lon), coords[:, 0], coords[:, 1])
        out[i] = travel_time_s(stack, "P", float(depth), d)
    return out


def begun_magnitude(
    source: TrueSource, p_times_s: np.ndarray, after_origin_s: float, k: int
) -> float:
    """Mw of the sub-events whose first P waves have reached at least ``k`` stations.

    Each such sub-event counts with its whole moment: what an amplitude magnitude
    calibrated on complete earthquakes (a Pd relation) could read from the first seconds
    of its P wave at best, while the sub-event is still releasing its moment. A looser
    bound than :func:`seen_magnitude`; the parameters are the same.
    """
    since = after_origin_s - source.subevents[:, 3:4] - p_times_s
    return _kth_station_magnitude(source, (since > 0.0).astype(float), k)


def seen_magnitude(
    source: TrueSource, p_times_s: np.ndarray, after_origin_s: float, k: int
) -> float:
    """Mw of the moment whose P waves have reached at least ``k`` stations.

    Parameters
    ----------
    source : TrueSource
        The sub-events of the true rupture.
    p_times_s : numpy.ndarray
        P travel times ``[sub-event, station]`` [s] (:func:`p_travel_times_s`).
    after_origin_s : float
        Time after origin [s].
    k : int
        Number of stations that must have recorded a part of the moment (1-based).

    Returns
    -------
    float
        Mw, or NaN when no moment has reached ``k`` stations (or there are fewer).
    """
    since = after_origin_s - source.subevents[:, 3:4] - p_times_s
    frac = brune_moment_fraction(since, source.subevent_corner_frequency_hz)
    return _kth_station_magnitude(source, frac, k)


def _kth_station_magnitude(source: TrueSource, fractions: np.ndarray, k: int) -> float:
    """Mw of the moment fractions ``[sub-event, station]`` that ``k`` stations have seen.

    Per sub-event the ``k``-th largest fraction over the stations, times its moment,
    summed; NaN when nothing (or fewer than ``k`` stations).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if fractions.shape[1] < k:
        return math.nan
    kth = -np.sort(-fractions, axis=1)[:, k - 1]
    seen = moment_dyne_cm(source.subevent_magnitude) * float(kth.sum())
    return magnitude_from_moment(seen) if seen > 0.0 else math.nan
