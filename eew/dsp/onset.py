"""Onset refinement with the Akaike information criterion (AIC) picker.

For a window ``x[0:N]`` containing noise followed by a signal, the AIC
function of Maeda (1985),

    AIC(k) = k log var(x[0:k]) + (N - k - 1) log var(x[k:N]),

has its minimum at the sample where the signal starts. It is computed here in
O(N) from running sums.

References
----------
Maeda, N. (1985). A method for reading and checking phase times in
autoprocessing system of seismic wave data. *Zisin* 38, 365-379.

Zhang, H., Thurber, C. and Rowe, C. (2003). Automatic P-wave arrival detection
and picking with multiscale wavelet analysis for single-component recordings.
*BSSA* 93(5), 1904-1912.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def aic_onset(x: np.ndarray) -> int:
    """Index of the AIC minimum of ``x`` (the most likely onset sample).

    Parameters
    ----------
    x : numpy.ndarray
        Window of samples (float64), noise first, signal after the onset.

    Returns
    -------
    int
        Onset index in ``[1, len(x) - 2]``; -1 if the window is shorter than 4 samples.
    """
    n = x.shape[0]
    if n < 4:
        return -1
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean /= n
    s1_tot = 0.0
    s2_tot = 0.0
    for i in range(n):
        d = x[i] - mean
        s1_tot += d
        s2_tot += d * d
    best = np.inf
    best_k = -1
    s1 = 0.0
    s2 = 0.0
    for k in range(1, n - 1):
        d = x[k - 1] - mean
        s1 += d
        s2 += d * d
        n1 = k
        n2 = n - k
        v1 = s2 / n1 - (s1 / n1) ** 2
        r1 = s1_tot - s1
        r2 = s2_tot - s2
        v2 = r2 / n2 - (r1 / n2) ** 2
        if v1 <= 0.0 or v2 <= 0.0:
            continue
        aic = n1 * np.log(v1) + (n2 - 1) * np.log(v2)
        if aic < best:
            best = aic
            best_k = k
    return best_k


def aic_onset_np(x: np.ndarray) -> int:
    """Plain-NumPy twin of :func:`aic_onset`."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 4:
        return -1
    d = x - x.mean()
    k = np.arange(1, n - 1)
    c1 = np.cumsum(d)[:-1][: n - 2]
    c2 = np.cumsum(d * d)[:-1][: n - 2]
    v1 = c2 / k - (c1 / k) ** 2
    n2 = n - k
    v2 = (d @ d - c2) / n2 - ((d.sum() - c1) / n2) ** 2
    ok = (v1 > 0) & (v2 > 0)
    if not ok.any():
        return -1
    with np.errstate(divide="ignore", invalid="ignore"):
        aic = np.where(
            ok, k * np.log(np.where(ok, v1, 1.0)) + (n2 - 1) * np.log(np.where(ok, v2, 1.0)), np.inf
        )
    return int(k[np.argmin(aic)])
