"""The fused per-packet processing chain of one channel.

One call of :func:`process_packet` takes a packet of raw counts and the
channel's state vector, and returns, per sample:

==== ========================================================================
row  quantity
==== ========================================================================
0    STA/LTA ratio of the band-passed signal (0 when the channel cannot trigger)
1    band-passed signal used by the trigger and the onset picker [cm/s or cm/s²]
2    acceleration, high-passed [cm/s²]
3    velocity, high-passed [cm/s]
4    displacement, high-passed [cm]
5    recursive predominant period tau_p [s]
6    gain-corrected, baseline-removed input [cm/s or cm/s²]
==== ========================================================================

Steps (eew_science.md §1.1, after Wu & Kanamori 2005 and the CWB/ElarmS chains):

1. counts -> cm units: ``x * 100 / sensitivity``;
2. running-mean baseline removal (exponential mean, time constant ``baseline_window_s``),
   seeded with the first sample after a (re)start;
3. trigger branch: causal Butterworth band-pass, recursive STA/LTA on its square;
4. ground-motion branch: causal 2-pole 0.075 Hz Butterworth high-pass, trapezoid
   integration to velocity (accelerometers) and displacement, the same high-pass
   after each integration; velocity sensors are differentiated to acceleration;
5. tau_p (Allen & Kanamori 2003; Wurman et al. 2007, eq. 1): velocity low-passed at
   1.8 Hz, ``X = a X + v^2``, ``D = a D + (dv/dt)^2``, ``tau_p = 2 pi sqrt(X / D)``.

Everything is causal and carried in the state vector, so packet boundaries do
not change the output. The plain-NumPy twin :func:`process_packet_np` computes
the same with scipy filters and array operations.

References
----------
Allen, R. M. and Kanamori, H. (2003). The potential for earthquake early warning in
southern California. *Science* 300, 786-789.

Wu, Y.-M. and Kanamori, H. (2005). Experiment on an onsite early warning method for
the Taiwan early warning system. *BSSA* 95(1), 347-353.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy import signal

from eew.dsp.filters import biquad_cascade_step, biquad_step
from eew.dsp.stalta import _TINY, recursive_stalta_np, stalta_step, stalta_update

N_ROWS = 7
ROW_RATIO, ROW_BP, ROW_ACC, ROW_VEL, ROW_DISP, ROW_TAUP, ROW_RAW = range(N_ROWS)

KIND_VELOCITY = 0.0
KIND_ACCELERATION = 1.0

# parameter vector layout
P_GAIN, P_KIND, P_DT, P_BASE_ALPHA, P_NSTA, P_NLTA, P_TAUP_ALPHA, P_TRIGGER, P_WARMUP = range(9)
N_PARAMS = 9

# fixed part of the state vector
S_NSEEN, S_MEAN, S_STA, S_LTA, S_NSTALTA = 0, 1, 2, 3, 4
S_PREV_IN1, S_INT1, S_PREV_IN2, S_INT2, S_PREV_V = 5, 6, 7, 8, 9
S_PREV_VL, S_TX, S_TD = 10, 11, 12
N_FIXED = 13


@dataclass(frozen=True)
class ChainDesign:
    """Filter coefficients and parameters of one channel's chain.

    Build it with :func:`design_chain`; it holds no state.
    """

    params: np.ndarray
    bp_sos: np.ndarray
    hp_sos: np.ndarray
    lp_sos: np.ndarray

    @property
    def state_size(self) -> int:
        """Length of the state vector this design needs."""
        size: int = (
            N_FIXED
            + 2 * self.bp_sos.shape[0]
            + 3 * 2 * self.hp_sos.shape[0]
            + 2 * self.lp_sos.shape[0]
        )
        return size

    def new_state(self) -> np.ndarray:
        """A fresh state vector (as after a gap)."""
        state = np.zeros(self.state_size)
        state[S_LTA] = _TINY
        return state


def design_chain(
    *,
    sensitivity: float,
    is_acceleration: bool,
    sampling_rate_hz: float,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    baseline_window_s: float,
    n_sta: int,
    n_lta: int,
    taup_time_constant_s: float,
    can_trigger: bool,
    n_warmup: int,
) -> ChainDesign:
    """Pack the parameters of a channel's chain.

    Parameters
    ----------
    sensitivity : float
        Counts per m/s (velocity) or per m/s² (acceleration).
    is_acceleration : bool
        True for accelerometers.
    sampling_rate_hz : float
        Sample rate [Hz].
    bp_sos, hp_sos, lp_sos : numpy.ndarray
        Trigger band-pass, 0.075 Hz high-pass and tau_p low-pass, as SOS.
    baseline_window_s : float
        Baseline running-mean time constant [s].
    n_sta, n_lta : int
        STA/LTA constants [samples].
    taup_time_constant_s : float
        tau_p memory [s]; ``alpha = 1 - dt / tau``.
    can_trigger : bool
        Compute the STA/LTA ratio (vertical channels) or leave row 0 at zero.
    n_warmup : int
        Samples after a (re)start during which the ratio is held at 0; the
        STA and LTA start as unbiased running means (:func:`eew.dsp.stalta.stalta_step`).
    """
    dt = 1.0 / sampling_rate_hz
    params = np.zeros(N_PARAMS)
    params[P_GAIN] = 100.0 / sensitivity
    params[P_KIND] = KIND_ACCELERATION if is_acceleration else KIND_VELOCITY
    params[P_DT] = dt
    params[P_BASE_ALPHA] = min(1.0, dt / baseline_window_s)
    params[P_NSTA] = n_sta
    params[P_NLTA] = n_lta
    params[P_TAUP_ALPHA] = max(0.0, 1.0 - dt / taup_time_constant_s)
    params[P_TRIGGER] = 1.0 if can_trigger else 0.0
    params[P_WARMUP] = n_warmup
    return ChainDesign(
        params,
        np.ascontiguousarray(bp_sos, dtype=np.float64),
        np.ascontiguousarray(hp_sos, dtype=np.float64),
        np.ascontiguousarray(lp_sos, dtype=np.float64),
    )


@njit(cache=True)
def process_packet(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
) -> None:
    """Run the fused chain over one packet (see the module docstring).

    Parameters
    ----------
    x : numpy.ndarray
        Raw samples [counts], any numeric dtype.
    params : numpy.ndarray
        Parameter vector from :func:`design_chain`.
    bp_sos, hp_sos, lp_sos : numpy.ndarray
        Filter sections.
    state : numpy.ndarray
        Channel state, updated in place.
    out : numpy.ndarray
        Output, shape ``(7, len(x))``, written in place.
    """
    _process_cols(x, params, bp_sos, hp_sos, lp_sos, state, out, 0, x.shape[0], 0)


@njit(cache=True, inline="always")
def _peak_join(a: float, b: float) -> float:
    """The larger of two peaks; NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return max(a, b)


@njit(cache=True)
def _process_cols(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
    i0: int,
    i1: int,
    col: int,
) -> tuple[float, float, float]:
    """Samples ``[i0, i1)`` into columns ``col, col + 1, ...`` of ``out``; the packet's peaks.

    The default design (4-pole band-pass, 2-pole high- and low-pass) runs with the state in
    registers (:func:`_process_221`); the first sample after a (re)start goes through the
    general loop (:func:`_process_range`). Returns as
    :func:`eew.dsp.ringchain.process_to_ring`.
    """
    if i0 >= i1:
        return 0.0, 0.0, 0.0
    if bp_sos.shape[0] == 2 and hp_sos.shape[0] == 1 and lp_sos.shape[0] == 1:
        if state[S_NSEEN] != 0.0:
            return _process_221(x, params, bp_sos, hp_sos, lp_sos, state, out, i0, i1, col)
        r, a, v = _process_range(x, params, bp_sos, hp_sos, lp_sos, state, out, i0, i0 + 1, col)
        r2, a2, v2 = _process_221(
            x, params, bp_sos, hp_sos, lp_sos, state, out, i0 + 1, i1, col + 1
        )
        return max(r, r2), _peak_join(a, a2), _peak_join(v, v2)
    return _process_range(x, params, bp_sos, hp_sos, lp_sos, state, out, i0, i1, col)


@njit(cache=True, inline="always")
def _unpack(params: np.ndarray) -> tuple[float, bool, float, float, int, int, int, float, bool]:
    """The parameter vector, unpacked.

    Returns ``(gain, is_acc, dt, alpha, n_sta, n_lta, n_warmup, t_alpha, do_trigger)``.
    """
    return (
        params[P_GAIN],
        params[P_KIND] == KIND_ACCELERATION,
        params[P_DT],
        params[P_BASE_ALPHA],
        int(params[P_NSTA]),
        int(params[P_NLTA]),
        int(params[P_WARMUP]),
        params[P_TAUP_ALPHA],
        params[P_TRIGGER] != 0.0,
    )


@njit(cache=True, inline="always")
def _taup(tx: float, td: float) -> float:
    """tau_p [s] from the recursive sums ``X`` (velocity²) and ``D`` (its derivative²)."""
    if td > 0.0:
        taup: float = 2.0 * np.pi * np.sqrt(tx / td)
        return taup
    return 0.0


@njit(cache=True)
def _process_range(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
    i0: int,
    i1: int,
    col: int,
) -> tuple[float, float, float]:
    """The chain over samples ``[i0, i1)``, any number of filter sections.

    Sample ``i`` goes to column ``col + i - i0`` of ``out`` (rows ``0 .. N_ROWS - 1``; a
    history ring's counts row is left alone). Returns as
    :func:`eew.dsp.ringchain.process_to_ring`.
    """
    gain, is_acc, dt, alpha, n_sta, n_lta, n_warmup, t_alpha, do_trigger = _unpack(params)
    sl_state = state[S_STA : S_STA + 3]
    nbp = bp_sos.shape[0]
    nhp = hp_sos.shape[0]
    nlp = lp_sos.shape[0]
    o = N_FIXED
    z_bp = state[o : o + 2 * nbp].reshape((nbp, 2))
    o += 2 * nbp
    z_hp1 = state[o : o + 2 * nhp].reshape((nhp, 2))
    o += 2 * nhp
    z_hp2 = state[o : o + 2 * nhp].reshape((nhp, 2))
    o += 2 * nhp
    z_hp3 = state[o : o + 2 * nhp].reshape((nhp, 2))
    o += 2 * nhp
    z_lp = state[o : o + 2 * nlp].reshape((nlp, 2))
    half_dt = 0.5 * dt
    rmax, pacc, pvel, nan_acc, nan_vel = 0.0, 0.0, 0.0, False, False
    for i in range(i0, i1):
        j = col + i - i0
        xi = x[i] * gain
        first = state[S_NSEEN] == 0.0
        if first:
            state[S_MEAN] = xi
        else:
            state[S_MEAN] += alpha * (xi - state[S_MEAN])
        raw = xi - state[S_MEAN]
        out[ROW_RAW, j] = raw
        # trigger branch
        if do_trigger:
            bp = biquad_cascade_step(raw, bp_sos, z_bp)
            out[ROW_BP, j] = bp
            ratio = stalta_step(bp * bp, sl_state, n_sta, n_lta, n_warmup, True)
            out[ROW_RATIO, j] = ratio
            if ratio > rmax:
                rmax = ratio
        else:
            out[ROW_BP, j] = 0.0
            out[ROW_RATIO, j] = 0.0
        # ground-motion branch
        if is_acc:
            acc = biquad_cascade_step(raw, hp_sos, z_hp1)
            if first:
                state[S_PREV_IN1] = acc
            state[S_INT1] += half_dt * (acc + state[S_PREV_IN1])
            state[S_PREV_IN1] = acc
            vel = biquad_cascade_step(state[S_INT1], hp_sos, z_hp2)
        else:
            vel = biquad_cascade_step(raw, hp_sos, z_hp1)
            acc = 0.0 if first else (vel - state[S_PREV_V]) / dt
        if first:
            state[S_PREV_V] = vel
            state[S_PREV_IN2] = vel
        state[S_PREV_V] = vel
        state[S_INT2] += half_dt * (vel + state[S_PREV_IN2])
        state[S_PREV_IN2] = vel
        disp = biquad_cascade_step(state[S_INT2], hp_sos, z_hp3)
        out[ROW_ACC, j] = acc
        out[ROW_VEL, j] = vel
        out[ROW_DISP, j] = disp
        pacc, nan_acc = _peak_step(acc, pacc, nan_acc)
        pvel, nan_vel = _peak_step(vel, pvel, nan_vel)
        # tau_p on low-passed velocity
        vl = biquad_cascade_step(vel, lp_sos, z_lp)
        dvl = 0.0 if first else (vl - state[S_PREV_VL]) / dt
        state[S_PREV_VL] = vl
        state[S_TX] = t_alpha * state[S_TX] + vl * vl
        state[S_TD] = t_alpha * state[S_TD] + dvl * dvl
        out[ROW_TAUP, j] = _taup(state[S_TX], state[S_TD])
        state[S_NSEEN] += 1.0
    return rmax, _peak_end(pacc, nan_acc), _peak_end(pvel, nan_vel)


@njit(cache=True)
def _process_221(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
    i0: int,
    i1: int,
    col: int,
) -> tuple[float, float, float]:
    """:func:`_process_range` over ``[i0, i1)``, for the default sections (2, 1, 1).

    Only after the first sample of a (re)start (``state[S_NSEEN] > 0``). The same operations
    in the same order (the outputs are identical to the last bit), with the state and the
    coefficients in local variables: the compiler keeps them in registers instead of storing
    and reloading the state array on every sample. The arithmetic is shared with the general
    loop through inline helpers (:func:`~eew.dsp.filters.biquad_step`,
    :func:`~eew.dsp.stalta.stalta_update`, ``_taup``, ``_unpack``); the loops themselves stay
    two, since one over the state array (any number of sections) loses the register speed-up.
    """
    gain, is_acc, dt, alpha, n_sta, n_lta, n_warmup, t_alpha, do_trigger = _unpack(params)
    half_dt = 0.5 * dt
    b00, b01, b02, a01, a02 = bp_sos[0, 0], bp_sos[0, 1], bp_sos[0, 2], bp_sos[0, 4], bp_sos[0, 5]
    b10, b11, b12, a11, a12 = bp_sos[1, 0], bp_sos[1, 1], bp_sos[1, 2], bp_sos[1, 4], bp_sos[1, 5]
    h0, h1, h2, ha1, ha2 = hp_sos[0, 0], hp_sos[0, 1], hp_sos[0, 2], hp_sos[0, 4], hp_sos[0, 5]
    l0, l1, l2, la1, la2 = lp_sos[0, 0], lp_sos[0, 1], lp_sos[0, 2], lp_sos[0, 4], lp_sos[0, 5]
    o = N_FIXED
    zb00, zb01, zb10, zb11 = state[o], state[o + 1], state[o + 2], state[o + 3]
    zh10, zh11, zh20, zh21 = state[o + 4], state[o + 5], state[o + 6], state[o + 7]
    zh30, zh31, zl0, zl1 = state[o + 8], state[o + 9], state[o + 10], state[o + 11]
    mean = state[S_MEAN]
    sta, lta, n_sl = state[S_STA], state[S_LTA], state[S_NSTALTA]
    prev_in1, int1, prev_in2, int2 = (
        state[S_PREV_IN1],
        state[S_INT1],
        state[S_PREV_IN2],
        state[S_INT2],
    )
    prev_v, prev_vl, tx, td = state[S_PREV_V], state[S_PREV_VL], state[S_TX], state[S_TD]
    n_seen_all = state[S_NSEEN]
    rmax, pacc, pvel, nan_acc, nan_vel = 0.0, 0.0, 0.0, False, False
    for i in range(i0, i1):
        j = col + i - i0
        xi = x[i] * gain
        mean += alpha * (xi - mean)
        raw = xi - mean
        out[ROW_RAW, j] = raw
        if do_trigger:
            y, zb00, zb01 = biquad_step(raw, b00, b01, b02, a01, a02, zb00, zb01)
            y, zb10, zb11 = biquad_step(y, b10, b11, b12, a11, a12, zb10, zb11)
            out[ROW_BP, j] = y
            ratio, sta, lta = stalta_update(y * y, sta, lta, n_sl, n_sta, n_lta, n_warmup, True)
            n_sl += 1.0
            out[ROW_RATIO, j] = ratio
            if ratio > rmax:
                rmax = ratio
        else:
            out[ROW_BP, j] = 0.0
            out[ROW_RATIO, j] = 0.0
        if is_acc:
            acc, zh10, zh11 = biquad_step(raw, h0, h1, h2, ha1, ha2, zh10, zh11)
            int1 += half_dt * (acc + prev_in1)
            prev_in1 = acc
            vel, zh20, zh21 = biquad_step(int1, h0, h1, h2, ha1, ha2, zh20, zh21)
        else:
            vel, zh10, zh11 = biquad_step(raw, h0, h1, h2, ha1, ha2, zh10, zh11)
            acc = (vel - prev_v) / dt
        prev_v = vel
        int2 += half_dt * (vel + prev_in2)
        prev_in2 = vel
        disp, zh30, zh31 = biquad_step(int2, h0, h1, h2, ha1, ha2, zh30, zh31)
        out[ROW_ACC, j] = acc
        out[ROW_VEL, j] = vel
        out[ROW_DISP, j] = disp
        pacc, nan_acc = _peak_step(acc, pacc, nan_acc)
        pvel, nan_vel = _peak_step(vel, pvel, nan_vel)
        vl, zl0, zl1 = biquad_step(vel, l0, l1, l2, la1, la2, zl0, zl1)
        dvl = (vl - prev_vl) / dt
        prev_vl = vl
        tx = t_alpha * tx + vl * vl
        td = t_alpha * td + dvl * dvl
        out[ROW_TAUP, j] = _taup(tx, td)
        n_seen_all += 1.0
    state[o], state[o + 1], state[o + 2], state[o + 3] = zb00, zb01, zb10, zb11
    state[o + 4], state[o + 5], state[o + 6], state[o + 7] = zh10, zh11, zh20, zh21
    state[o + 8], state[o + 9], state[o + 10], state[o + 11] = zh30, zh31, zl0, zl1
    state[S_MEAN] = mean
    state[S_STA], state[S_LTA], state[S_NSTALTA] = sta, lta, n_sl
    state[S_PREV_IN1], state[S_INT1] = prev_in1, int1
    state[S_PREV_IN2], state[S_INT2] = prev_in2, int2
    state[S_PREV_V], state[S_PREV_VL], state[S_TX], state[S_TD] = prev_v, prev_vl, tx, td
    state[S_NSEEN] = n_seen_all
    return rmax, _peak_end(pacc, nan_acc), _peak_end(pvel, nan_vel)


@njit(cache=True, inline="always")
def _peak_step(v: float, peak: float, nan: bool) -> tuple[float, bool]:
    """The running peak ``|v|`` and whether a NaN was seen (``np.abs(...).max()``)."""
    a = abs(v)
    if a > peak:
        return a, nan
    return peak, nan or a != a


@njit(cache=True, inline="always")
def _peak_end(peak: float, nan: bool) -> float:
    """The peak of :func:`_peak_step`: NaN if a NaN was seen."""
    return math.nan if nan else peak


def process_packet_np(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
) -> None:
    """Plain-NumPy/scipy twin of :func:`process_packet` (same state layout and results)."""
    n = x.shape[0]
    if n == 0:
        return
    gain, dt = params[P_GAIN], params[P_DT]
    alpha, t_alpha = params[P_BASE_ALPHA], params[P_TAUP_ALPHA]
    n_sta, n_lta = int(params[P_NSTA]), int(params[P_NLTA])
    is_acc = params[P_KIND] == KIND_ACCELERATION
    nbp, nhp, nlp = bp_sos.shape[0], hp_sos.shape[0], lp_sos.shape[0]
    o = N_FIXED
    views = {}
    for name, ns in (("bp", nbp), ("hp1", nhp), ("hp2", nhp), ("hp3", nhp), ("lp", nlp)):
        views[name] = state[o : o + 2 * ns].reshape((ns, 2))
        o += 2 * ns

    def sos(sos_: np.ndarray, key: str, data: np.ndarray) -> np.ndarray:
        y: np.ndarray
        y, zf = signal.sosfilt(sos_, data, zi=views[key])
        views[key][...] = zf
        return y

    first = state[S_NSEEN] == 0.0
    xi = np.asarray(x, dtype=np.float64) * gain
    mean0 = xi[0] if first else state[S_MEAN]
    mean = signal.lfilter([alpha], [1.0, -(1.0 - alpha)], xi, zi=[(1.0 - alpha) * mean0])[0]
    if first:
        mean[0] = xi[0]
        if n > 1:
            mean[1:] = signal.lfilter(
                [alpha], [1.0, -(1.0 - alpha)], xi[1:], zi=[(1.0 - alpha) * xi[0]]
            )[0]
    state[S_MEAN] = mean[-1]
    raw = xi - mean
    out[ROW_RAW] = raw
    if params[P_TRIGGER] != 0.0:
        bp = sos(bp_sos, "bp", raw)
        out[ROW_BP] = bp
        st = np.array([state[S_STA], state[S_LTA], state[S_NSTALTA]])
        out[ROW_RATIO] = recursive_stalta_np(bp, n_sta, n_lta, st, int(params[P_WARMUP]), True)
        state[S_STA], state[S_LTA], state[S_NSTALTA] = st
    else:
        out[ROW_BP] = 0.0
        out[ROW_RATIO] = 0.0

    def trapz(y: np.ndarray, prev_key: int, int_key: int) -> np.ndarray:
        prev = y[0] if first else state[prev_key]
        incr = 0.5 * dt * (y + np.concatenate(([prev], y[:-1])))
        integ: np.ndarray = state[int_key] + np.cumsum(incr)
        state[prev_key] = y[-1]
        state[int_key] = integ[-1]
        return integ

    if is_acc:
        acc = sos(hp_sos, "hp1", raw)
        vel = sos(hp_sos, "hp2", trapz(acc, S_PREV_IN1, S_INT1))
    else:
        vel = sos(hp_sos, "hp1", raw)
        prev_v = vel[0] if first else state[S_PREV_V]
        acc = np.diff(vel, prepend=prev_v) / dt
    state[S_PREV_V] = vel[-1]
    disp = sos(hp_sos, "hp3", trapz(vel, S_PREV_IN2, S_INT2))
    out[ROW_ACC], out[ROW_VEL], out[ROW_DISP] = acc, vel, disp
    vl = sos(lp_sos, "lp", vel)
    prev_vl = vl[0] if first else state[S_PREV_VL]
    dvl = np.diff(vl, prepend=prev_vl) / dt
    state[S_PREV_VL] = vl[-1]
    tx = signal.lfilter([1.0], [1.0, -t_alpha], vl * vl, zi=[t_alpha * state[S_TX]])[0]
    td = signal.lfilter([1.0], [1.0, -t_alpha], dvl * dvl, zi=[t_alpha * state[S_TD]])[0]
    state[S_TX], state[S_TD] = tx[-1], td[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ROW_TAUP] = np.where(
            td > 0.0, 2.0 * np.pi * np.sqrt(tx / np.where(td > 0, td, 1.0)), 0.0
        )
    state[S_NSEEN] += n
