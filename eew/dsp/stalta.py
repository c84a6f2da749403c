"""Recursive STA/LTA (Withers et al. 1998) with state carried across packets.

The ratio follows :func:`obspy.signal.trigger.recursive_sta_lta` exactly when
a trace is fed whole: the first sample after a (re)start only seeds the state,
STA starts at 0 and LTA at the smallest positive float, and the ratio is
forced to 0 until ``n_lta`` samples have been seen. Fed in packets, the state
vector carries on, so the result does not depend on the packet size.

State vector (float64, length :data:`STATE_SIZE`): ``[sta, lta, n_seen]``.

References
----------
Withers, M., Aster, R., Young, C., Beiriger, J., Harris, M., Moore, S. and
Trujillo, J. (1998). A comparison of select trigger algorithms for automated
global seismic phase and event detection. *BSSA* 88(1), 95-106.

Trnkoczy, A. (2012). Understanding and parameter setting of STA/LTA trigger
algorithm. In *NMSOP-2*, IS 8.1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

STATE_SIZE = 3
_TINY = np.finfo(np.float64).tiny


def new_state() -> np.ndarray:
    """Return a fresh STA/LTA state (as after a gap)."""
    state = np.zeros(STATE_SIZE)
    state[1] = _TINY
    return state


@njit(cache=True, inline="always")
def stalta_step(
    cf: float, state: np.ndarray, n_sta: int, n_lta: int, n_warmup: int, unbiased: bool
) -> float:
    """Advance the recursive STA/LTA by one squared sample ``cf``; return the ratio.

    With ``unbiased`` the averages start as plain running means (weight
    ``1/k`` for the k-th update) until they reach their time constants, so the
    ratio is meaningful soon after a start; without it they start from zero as
    in obspy. The ratio is 0 while fewer than ``n_warmup`` samples have been seen.
    """
    n_seen = state[2]
    state[2] = n_seen + 1.0
    if n_seen == 0.0:
        return 0.0
    c_sta = 1.0 / n_sta
    c_lta = 1.0 / n_lta
    if unbiased:
        c_sta = max(c_sta, 1.0 / n_seen)
        c_lta = max(c_lta, 1.0 / n_seen)
    state[0] = c_sta * cf + (1.0 - c_sta) * state[0]
    state[1] = c_lta * cf + (1.0 - c_lta) * state[1]
    if n_seen < n_warmup or state[1] <= 0.0:
        return 0.0
    return state[0] / state[1]


@njit(cache=True)
def recursive_stalta(
    a: np.ndarray,
    n_sta: int,
    n_lta: int,
    state: np.ndarray,
    n_warmup: int = -1,
    unbiased: bool = False,
) -> np.ndarray:
    """Recursive STA/LTA ratio of the samples ``a`` (squared inside), streaming.

    Parameters
    ----------
    a : numpy.ndarray
        Input samples (e.g. band-passed velocity); the characteristic function is ``a**2``.
    n_sta, n_lta : int
        STA and LTA time constants [samples]; ``n_lta > n_sta >= 1``.
    state : numpy.ndarray
        ``[sta, lta, n_seen]``, updated in place; :func:`new_state` for a fresh start.
    n_warmup : int
        Samples after a start during which the ratio is 0; -1 means ``n_lta``
        (obspy's convention).
    unbiased : bool
        Start the averages as running means (see :func:`stalta_step`).

    Returns
    -------
    numpy.ndarray
        STA/LTA ratio per sample.
    """
    if n_warmup < 0:
        n_warmup = n_lta
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = stalta_step(a[i] * a[i], state, n_sta, n_lta, n_warmup, unbiased)
    return out


def recursive_stalta_np(
    a: np.ndarray,
    n_sta: int,
    n_lta: int,
    state: np.ndarray,
    n_warmup: int = -1,
    unbiased: bool = False,
) -> np.ndarray:
    """Plain-NumPy twin of :func:`recursive_stalta` (same state vector, same results).

    The steady-state recursions are one-pole IIR filters, evaluated with
    :func:`scipy.signal.lfilter`; the unbiased start (weights ``1/k``) is a
    cumulative mean, evaluated with :func:`numpy.cumsum`.
    """
    from scipy.signal import lfilter

    if n_warmup < 0:
        n_warmup = n_lta
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    out = np.zeros(n)
    if n == 0:
        return out
    n_seen0 = int(state[2])
    start = 1 if n_seen0 == 0 else 0  # first sample after a start only seeds the state
    cf = a[start:] ** 2
    seen = n_seen0 + start + np.arange(cf.shape[0])  # n_seen before each update (>= 1)
    avgs = []
    for idx, n_avg in ((0, n_sta), (1, n_lta)):
        c = 1.0 / n_avg
        y = np.empty(cf.shape[0])
        m = int(np.count_nonzero(seen < n_avg)) if unbiased else 0
        prev = state[idx]
        if m:
            # k-th update with weight 1/k: y_k = (y_{k-1} (k-1) + cf) / k
            k = seen[:m].astype(np.float64)
            y[:m] = (prev * (k[0] - 1.0) + np.cumsum(cf[:m])) / k
            prev = y[m - 1]
        if cf.shape[0] > m:
            y[m:] = lfilter([c], [1.0, -(1.0 - c)], cf[m:], zi=[(1.0 - c) * prev])[0]
        avgs.append(y)
    sta, lta = avgs
    if cf.shape[0]:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(lta > 0, sta / np.where(lta > 0, lta, 1.0), 0.0)
        ratio[seen < n_warmup] = 0.0
        out[start:] = ratio
        state[0], state[1] = sta[-1], lta[-1]
    state[2] = n_seen0 + n
    return out
