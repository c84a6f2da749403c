"""Early-P-wave parameters on a window after the P onset.

Given the chain outputs (see :mod:`eew.dsp.chain`) for the samples from the
onset to the current end of the window, :func:`early_p_params` returns

* Pd: peak |displacement| [cm] (Wu & Kanamori 2005; Kuyuk & Allen 2013),
* Pv: peak |velocity| [cm/s], Pa: peak |acceleration| [cm/s²],
* tau_c = 2 pi / sqrt( sum(du/dt²) / sum(u²) ) [s] (Kanamori 2005),
* tau_p_max: the largest recursive tau_p from ``n_taup_delay`` samples after the
  onset on [s] (Allen & Kanamori 2003; ElarmS ``TaupOutputDelay``),
* SNR: peak |band-passed signal| in the window over the peak in the noise window.

References
----------
Kanamori, H. (2005). Real-time seismology and earthquake damage mitigation.
*Annu. Rev. Earth Planet. Sci.* 33, 195-214.

Kuyuk, H. S. and Allen, R. M. (2013). A global approach to provide magnitude estimates
for earthquake early warning alerts. *GRL* 40, 6329-6333.
"""

from __future__ import annotations

import numpy as np
from numba import njit

N_PARAMS = 6
I_PD, I_PV, I_PA, I_TAUC, I_TAUP, I_SNR = range(N_PARAMS)


@njit(cache=True)
def early_p_params(
    disp: np.ndarray,
    vel: np.ndarray,
    acc: np.ndarray,
    taup: np.ndarray,
    bp: np.ndarray,
    noise_peak: float,
    n_taup_delay: int,
    dt: float,
) -> np.ndarray:
    """Early-P parameters of one window (see the module docstring).

    Parameters
    ----------
    disp, vel, acc, taup, bp : numpy.ndarray
        Chain outputs from the onset on [cm, cm/s, cm/s², s, sensor units].
    noise_peak : float
        Peak |band-passed signal| before the onset (same units as ``bp``).
    n_taup_delay : int
        Samples after the onset before tau_p counts [samples].
    dt : float
        Sample interval [s].

    Returns
    -------
    numpy.ndarray
        ``[pd_cm, pv_cm_s, pa_cm_s2, tau_c_s, tau_p_max_s, snr]``; NaN where undefined.
    """
    res = np.full(N_PARAMS, np.nan)
    n = disp.shape[0]
    if n == 0:
        return res
    pd = 0.0
    pv = 0.0
    pa = 0.0
    pb = 0.0
    s_uu = 0.0
    s_dd = 0.0
    tp = -1.0
    for i in range(n):
        pd = max(pd, abs(disp[i]))
        pv = max(pv, abs(vel[i]))
        pa = max(pa, abs(acc[i]))
        pb = max(pb, abs(bp[i]))
        s_uu += disp[i] * disp[i]
        if i > 0:
            du = (disp[i] - disp[i - 1]) / dt
            s_dd += du * du
        if i >= n_taup_delay and taup[i] > tp:
            tp = taup[i]
    res[I_PD] = pd
    res[I_PV] = pv
    res[I_PA] = pa
    if s_uu > 0.0 and s_dd > 0.0:
        res[I_TAUC] = 2.0 * np.pi / np.sqrt(s_dd / s_uu)
    if tp >= 0.0:
        res[I_TAUP] = tp
    if noise_peak > 0.0:
        res[I_SNR] = pb / noise_peak
    else:
        res[I_SNR] = np.inf
    return res


def early_p_params_np(
    disp: np.ndarray,
    vel: np.ndarray,
    acc: np.ndarray,
    taup: np.ndarray,
    bp: np.ndarray,
    noise_peak: float,
    n_taup_delay: int,
    dt: float,
) -> np.ndarray:
    """Plain-NumPy twin of :func:`early_p_params`."""
    res = np.full(N_PARAMS, np.nan)
    if disp.shape[0] == 0:
        return res
    res[I_PD] = np.abs(disp).max()
    res[I_PV] = np.abs(vel).max()
    res[I_PA] = np.abs(acc).max()
    s_uu = float(np.sum(disp**2))
    s_dd = float(np.sum((np.diff(disp) / dt) ** 2))
    if s_uu > 0 and s_dd > 0:
        res[I_TAUC] = 2 * np.pi / np.sqrt(s_dd / s_uu)
    if taup.shape[0] > n_taup_delay:
        res[I_TAUP] = taup[n_taup_delay:].max()
    res[I_SNR] = np.abs(bp).max() / noise_peak if noise_peak > 0 else np.inf
    return res
