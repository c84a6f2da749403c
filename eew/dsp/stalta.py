"""Recursive STA/LTA (Withers et al. 1998) with state carried across packets.

Fed a whole trace with the defaults, the ratio follows
:func:`obspy.signal.trigger.recursive_sta_lta` to rounding (relative
differences of order 1e-14): the first sample after a (re)start only seeds the
state, STA starts at 0 and LTA at the smallest positive float, and the ratio is
forced to 0 until ``n_lta`` samples have been seen. Fed in packets, the state
vector carries on, so the result does not depend on the packet size (again to
rounding). :func:`stalta_step` is the per-sample step (also used inside the
fused chain of :mod:`eew.dsp.chain`); :func:`recursive_stalta` is the fast
whole-array kernel, about twice as fast as obspy's C loop
(``benchmarks/bench_stalta.py``).

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
def stalta_update(
    cf: float,
    sta: float,
    lta: float,
    n_seen: float,
    n_sta: int,
    n_lta: int,
    n_warmup: int,
    unbiased: bool,
) -> tuple[float, float, float]:
    """:func:`stalta_step` on scalars: returns ``(ratio, sta, lta)``.

    ``n_seen`` is the number of samples seen before ``cf``; the caller counts it up.
    """
    if n_seen == 0.0:
        return 0.0, sta, lta
    c_sta = 1.0 / n_sta
    c_lta = 1.0 / n_lta
    if unbiased:
        c_sta = max(c_sta, 1.0 / n_seen)
        c_lta = max(c_lta, 1.0 / n_seen)
    sta = c_sta * cf + (1.0 - c_sta) * sta
    lta = c_lta * cf + (1.0 - c_lta) * lta
    if n_seen < n_warmup or lta <= 0.0:
        return 0.0, sta, lta
    return sta / lta, sta, lta


@njit(cache=True, inline="always")
def stalta_step(
    cf: float, state: np.ndarray, n_sta: int, n_lta: int, n_warmup: int, unbiased: bool
) -> float:
    """Advance the recursive STA/LTA by one squared sample ``cf``; return the ratio.

    ``state`` is ``[sta, lta, n_seen]``. With ``unbiased`` the averages start as plain
    running means (weight ``1/k`` for the k-th update) until they reach their time
    constants, so the ratio is meaningful soon after a start; without it they start
    from zero as in obspy. The ratio is 0 while fewer than ``n_warmup`` samples have
    been seen. The arithmetic is :func:`stalta_update`.
    """
    n_seen = state[2]
    state[2] = n_seen + 1.0
    ratio, state[0], state[1] = stalta_update(
        cf, state[0], state[1], n_seen, n_sta, n_lta, n_warmup, unbiased
    )
    return ratio


# Lane decomposition of the steady-state recursion (see recursive_stalta, Notes).
_LANES = 4  # independent lanes per block: hides the multiply-add latency
_LANE_LEN = 256  # samples per lane in a full block; the scratch (2 x 8 KiB) stays in L1
_MIN_LANE = 128  # below 4 x 128 samples the per-sample loop is cheaper (set-up cost)


@njit(cache=True, error_model="numpy", inline="always")
def _stalta_lanes(
    a: np.ndarray,
    out: np.ndarray,
    m: int,
    u_sta: np.ndarray,
    u_lta: np.ndarray,
    p_sta: np.ndarray,
    p_lta: np.ndarray,
    c_sta: float,
    c_lta: float,
    sta: float,
    lta: float,
) -> tuple[float, float]:
    """Steady-state STA/LTA of one block ``a`` (``_LANES * m`` samples) into ``out``.

    Returns the (sta, lta) after the block. Pass 1 runs the scaled recursions
    ``u_j = (1 - c) u_{j-1} + a_j**2`` of all lanes from ``u = 0`` together
    (independent chains, so their latencies overlap) into ``u_sta``/``u_lta``.
    Pass 2 adds each lane's carry ``(1 - c)**(j + 1) * avg_in`` (the powers are
    ``p_sta``/``p_lta``), scales by ``c`` and divides; it has no loop-carried
    dependence and compiles to vector multiply-adds and ``vdivpd``
    (``error_model="numpy"`` drops the zero-division check that would keep the
    loop scalar). Inlined, so that a constant ``m`` becomes immediate offsets.
    """
    r_sta = 1.0 - c_sta
    r_lta = 1.0 - c_lta
    s0 = s1 = s2 = s3 = 0.0
    l0 = l1 = l2 = l3 = 0.0
    for j in range(m):
        x0 = a[j]
        x1 = a[m + j]
        x2 = a[2 * m + j]
        x3 = a[3 * m + j]
        x0 *= x0
        x1 *= x1
        x2 *= x2
        x3 *= x3
        s0 = r_sta * s0 + x0
        s1 = r_sta * s1 + x1
        s2 = r_sta * s2 + x2
        s3 = r_sta * s3 + x3
        l0 = r_lta * l0 + x0
        l1 = r_lta * l1 + x1
        l2 = r_lta * l2 + x2
        l3 = r_lta * l3 + x3
        u_sta[j] = s0
        u_sta[m + j] = s1
        u_sta[2 * m + j] = s2
        u_sta[3 * m + j] = s3
        u_lta[j] = l0
        u_lta[m + j] = l1
        u_lta[2 * m + j] = l2
        u_lta[3 * m + j] = l3
    for k in range(_LANES):
        b = k * m
        for j in range(m):
            s = c_sta * u_sta[b + j] + p_sta[j] * sta
            lt = c_lta * u_lta[b + j] + p_lta[j] * lta
            out[b + j] = s / lt if lt > 0.0 else 0.0
        sta = c_sta * u_sta[b + m - 1] + p_sta[m - 1] * sta
        lta = c_lta * u_lta[b + m - 1] + p_lta[m - 1] * lta
    return sta, lta


@njit(cache=True, error_model="numpy")
def _stalta_steady(
    a: np.ndarray,
    start: int,
    out: np.ndarray,
    state: np.ndarray,
    n_sta: int,
    n_lta: int,
) -> None:
    """Constant-weight STA/LTA of ``a[start:]`` into ``out[start:]``; update ``state[:2]``.

    Full blocks of :data:`_LANES` x :data:`_LANE_LEN` samples, then one shorter
    block, go through :func:`_stalta_lanes`; the rest (fewer than
    ``_LANES * _MIN_LANE`` samples) runs sample by sample with the expressions
    of :func:`stalta_step`.
    """
    n = a.shape[0]
    c_sta = 1.0 / n_sta
    c_lta = 1.0 / n_lta
    sta = state[0]
    lta = state[1]
    i = start
    if n - i >= _LANES * _MIN_LANE:
        m_max = min(_LANE_LEN, (n - i) // _LANES)
        scratch = np.empty(2 * (_LANES + 1) * m_max)
        u_sta = scratch[: _LANES * m_max]
        u_lta = scratch[_LANES * m_max : 2 * _LANES * m_max]
        p_sta = scratch[2 * _LANES * m_max : (2 * _LANES + 1) * m_max]
        p_lta = scratch[(2 * _LANES + 1) * m_max :]
        ps = 1.0
        pl = 1.0
        for j in range(m_max):  # p[j] = (1 - c)**(j + 1)
            ps *= 1.0 - c_sta
            pl *= 1.0 - c_lta
            p_sta[j] = ps
            p_lta[j] = pl
        full = _LANES * _LANE_LEN
        while n - i >= full:
            sta, lta = _stalta_lanes(
                a[i : i + full],
                out[i : i + full],
                _LANE_LEN,
                u_sta,
                u_lta,
                p_sta,
                p_lta,
                c_sta,
                c_lta,
                sta,
                lta,
            )
            i += full
        m = (n - i) // _LANES
        if m >= _MIN_LANE:
            sta, lta = _stalta_lanes(
                a[i : i + _LANES * m],
                out[i : i + _LANES * m],
                m,
                u_sta,
                u_lta,
                p_sta,
                p_lta,
                c_sta,
                c_lta,
                sta,
                lta,
            )
            i += _LANES * m
    for k in range(i, n):
        cf = a[k] * a[k]
        sta = c_sta * cf + (1.0 - c_sta) * sta
        lta = c_lta * cf + (1.0 - c_lta) * lta
        out[k] = sta / lta if lta > 0.0 else 0.0
    state[0] = sta
    state[1] = lta


@njit(cache=True, error_model="numpy")
def recursive_stalta(
    a: np.ndarray,
    n_sta: int,
    n_lta: int,
    state: np.ndarray,
    n_warmup: int = -1,
    unbiased: bool = False,
) -> np.ndarray:
    r"""Recursive STA/LTA ratio of the samples ``a`` (squared inside), streaming.

    Parameters
    ----------
    a : numpy.ndarray
        Input samples, float64 (e.g. band-passed velocity [cm/s]); the
        characteristic function is ``a**2``.
    n_sta, n_lta : int
        STA and LTA time constants [samples]; ``n_lta > n_sta >= 1``.
    state : numpy.ndarray
        ``[sta, lta, n_seen]``, updated in place so that the next call continues
        the recursion; :func:`new_state` for a fresh start.
    n_warmup : int
        Samples after a start during which the ratio is 0; -1 means ``n_lta``
        (obspy's convention).
    unbiased : bool
        Start the averages as running means (see :func:`stalta_step`).

    Returns
    -------
    numpy.ndarray
        STA/LTA ratio per sample (dimensionless).

    Notes
    -----
    Samples whose averaging weights still change (the seeding sample after a
    start, and with ``unbiased`` the first ``max(n_sta, n_lta)`` samples) go
    through :func:`stalta_step`. Afterwards both averages are fixed one-pole
    recursions ``y_i = c a_i**2 + (1 - c) y_{i-1}``, whose latency (a multiply and
    an add per sample) limits a plain loop. They are evaluated in blocks of
    contiguous lanes instead, using

    .. math:: y_{b+j} = (1-c)^{j+1} y_{b-1} + c \\sum_{l=0}^{j} (1-c)^{j-l} a_{b+l}^2,

    so the lanes run independently from zero and get their carry afterwards in
    a vectorised pass that also does the division. The result differs from the
    sample-by-sample recursion (and from :func:`obspy.signal.trigger.recursive_sta_lta`)
    only by rounding: all terms are positive, so the relative difference is of
    order 1e-14 and does not grow along the trace. Packets shorter than
    ``_LANES * _MIN_LANE`` samples run sample by sample and give exactly the
    per-sample result. ``benchmarks/bench_stalta.py`` measures the speed against obspy.

    References
    ----------
    Withers, M. et al. (1998). *BSSA* 88(1), 95-106 (recursive STA/LTA).

    Blelloch, G. E. (1990). Prefix sums and their applications. CMU-CS-90-190
    (first-order linear recurrences evaluated as blocked scans).
    """
    if n_warmup < 0:
        n_warmup = n_lta
    n = a.shape[0]
    out = np.empty(n)
    # weights settle once n_seen >= n (max(1/n, 1/n_seen) == 1/n); 1 = seeding sample done
    n_settled = max(n_sta, n_lta) if unbiased else 1
    i = 0
    while i < n and state[2] < n_settled:
        out[i] = stalta_step(a[i] * a[i], state, n_sta, n_lta, n_warmup, unbiased)
        i += 1
    if i < n:
        n_seen = state[2]
        _stalta_steady(a, i, out, state, n_sta, n_lta)
        state[2] = n_seen + (n - i)
        if n_seen < n_warmup:  # ratio held at 0 until n_warmup samples were seen
            out[i : i + min(n - i, int(n_warmup - n_seen))] = 0.0
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
