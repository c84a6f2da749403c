"""Tests that tell instrument artefacts from earthquake onsets.

Pure functions on windows of raw counts or processed samples. The picker
(:mod:`eew.detect.picker`) runs them on every trigger and rejects what fails,
with the reason (eew_science.md §7.2; ElarmS/EPIC's glitch and clip tests,
implemented here from their published description).

* :func:`glitch_test` - spikes, steps and boxcars put nearly all the energy of the
  first difference into one or two samples; an earthquake spreads it over many
  cycles.
* :func:`monochromatic_fraction` and :func:`is_sine_like` - a sine calibration signal
  puts nearly all its energy at one frequency, over several cycles, at a steady
  amplitude; an earthquake P wave is broadband, dominated by long periods early on, and
  grows.
* :func:`is_flat` and :func:`is_clipped` - dead and saturated channels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GLITCH_NONE, GLITCH_SPIKE, GLITCH_STEP, GLITCH_BOXCAR, GLITCH_OTHER = 0, 1, 2, 3, 4
GLITCH_NAMES = ("none", "spike", "step", "boxcar", "glitch")
_TOP = 4
_SPIKE_MAX_WIDTH = 3
#: a calibration sine shows at least this many cycles of one frequency in the window
SINE_MIN_CYCLES = 3
#: and the RMS of its whole-cycle segments agrees within this ratio
SINE_STEADY_MAX = 1.2


def glitch_top(sampling_rate_hz: float) -> int:
    """How many of the largest first differences :func:`glitch_test` weighs at a rate.

    4 at 88 Hz and above (a glitch spans a few samples, whatever the rate); fewer at lower
    rates, down to 2 (a spike or a boxcar has two large differences, a step one): at 20 Hz a
    4 Hz P wave has only 5 samples per cycle, and 4 of the few samples after its onset would
    hold most of its first-difference energy, like a glitch.
    """
    return min(_TOP, max(2, round(_TOP * sampling_rate_hz / 100.0)))


@njit(cache=True)
def glitch_test(counts: np.ndarray, concentration_max: float, top: int = _TOP) -> tuple[int, float]:
    """Classify a window of raw samples as spike, step, boxcar or none.

    Parameters
    ----------
    counts : numpy.ndarray
        Raw samples around the trigger [counts] (float64).
    concentration_max : float
        Fraction of the first-difference energy in the ``top`` largest differences at
        or above which the window is an artefact.
    top : int
        How many of the largest differences are weighed (4; fewer at low rates,
        :func:`glitch_top`).

    Returns
    -------
    code : int
        One of ``GLITCH_NONE``, ``GLITCH_SPIKE``, ``GLITCH_STEP``, ``GLITCH_BOXCAR``,
        ``GLITCH_OTHER``.
    concentration : float
        The measured fraction (0-1).
    """
    n = counts.shape[0]
    if n < 3:
        return GLITCH_NONE, 0.0
    d = np.empty(n - 1)
    total = 0.0
    for i in range(n - 1):
        d[i] = counts[i + 1] - counts[i]
        total += d[i] * d[i]
    if total <= 0.0:
        return GLITCH_NONE, 0.0
    order = np.argsort(-np.abs(d))
    energy = 0.0
    for j in range(min(top, n - 1)):
        energy += d[order[j]] ** 2
    conc = energy / total
    if conc < concentration_max:
        return GLITCH_NONE, conc
    big = abs(d[order[0]])
    n_sig = 0
    idx = np.empty(top, dtype=np.int64)
    for j in range(min(top, n - 1)):
        if abs(d[order[j]]) >= 0.25 * big:
            idx[n_sig] = order[j]
            n_sig += 1
    if n_sig == 1:
        return GLITCH_STEP, conc
    if n_sig == 2:
        a, b = idx[0], idx[1]
        if d[a] * d[b] < 0.0:
            if abs(a - b) <= _SPIKE_MAX_WIDTH:
                return GLITCH_SPIKE, conc
            return GLITCH_BOXCAR, conc
    return GLITCH_OTHER, conc


def glitch_test_np(
    counts: np.ndarray, concentration_max: float, top: int = _TOP
) -> tuple[int, float]:
    """Plain-NumPy twin of :func:`glitch_test`."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape[0] < 3:
        return GLITCH_NONE, 0.0
    d = np.diff(counts)
    e = d * d
    total = e.sum()
    if total <= 0:
        return GLITCH_NONE, 0.0
    order = np.argsort(-np.abs(d), kind="quicksort")
    conc = float(e[order[:top]].sum() / total)
    if conc < concentration_max:
        return GLITCH_NONE, conc
    sig = [k for k in order[:top] if abs(d[k]) >= 0.25 * abs(d[order[0]])]
    if len(sig) == 1:
        return GLITCH_STEP, conc
    if len(sig) == 2 and d[sig[0]] * d[sig[1]] < 0:
        if abs(sig[0] - sig[1]) <= _SPIKE_MAX_WIDTH:
            return GLITCH_SPIKE, conc
        return GLITCH_BOXCAR, conc
    return GLITCH_OTHER, conc


def monochromatic_fraction(x: np.ndarray) -> float:
    """Fraction of the energy of ``x`` in its strongest frequency (peak bin +- 1).

    The window is demeaned and Hann-tapered; a pure sine gives about 1, white
    noise about ``3 / (len(x) / 2)``, an earthquake P coda well below 0.5.
    """
    return _peak(np.asarray(x, dtype=np.float64), detrend=False)[0]


def _peak(x: np.ndarray, detrend: bool) -> tuple[float, int, np.ndarray]:
    """Monochromatic fraction, peak bin (= cycles in the window) and the detrended window."""
    n = x.shape[0]
    if n < 8:
        return 0.0, 0, x
    if detrend:
        t = np.arange(n, dtype=np.float64)
        tc = t - t.mean()
        slope = float(np.dot(tc, x - x.mean()) / np.dot(tc, tc))
        y = x - x.mean() - slope * tc
    else:
        y = x - x.mean()
    p = np.abs(np.fft.rfft(y * np.hanning(n))) ** 2
    p[0] = 0.0
    total = p.sum()
    if total <= 0:
        return 0.0, 0, y
    k = int(np.argmax(p))
    return float(p[max(k - 1, 0) : k + 2].sum() / total), k, y


def is_sine_like(
    x: np.ndarray,
    fraction_min: float,
    min_cycles: int = SINE_MIN_CYCLES,
    steady_max: float = SINE_STEADY_MAX,
) -> tuple[bool, float]:
    """Test for a calibration sine: one *resolved* frequency held at a steady amplitude.

    What a sine calibration looks like, and a P wave does not:

    * one frequency holds at least ``fraction_min`` of the energy of the linearly
      detrended window (:func:`monochromatic_fraction`), **and** the window holds at
      least ``min_cycles`` cycles of it. The first seconds of a large earthquake's P wave
      on a broadband sensor are dominated by periods longer than the window: their energy
      sits in the lowest bins (a ramp or half a cycle), which a plain spectral-peak test
      takes for a sine. A peak in bin ``k`` means ``k`` cycles in the window;
    * its amplitude is steady: the RMS of consecutive segments of whole cycles (up to
      4) agrees within ``steady_max`` (max/min). A P wave grows while its rupture
      grows; a calibration holds its amplitude for minutes.

    Parameters
    ----------
    x : numpy.ndarray
        Raw samples from the onset on [counts].
    fraction_min : float
        ``[rejection] monochromatic_fraction``.
    min_cycles : int
        Cycles of the peak frequency the window must hold.
    steady_max : float
        Largest ratio of segment RMS values of a steady sine.

    Returns
    -------
    is_sine : bool
        True if every test passes.
    fraction : float
        Energy fraction at the peak frequency of the detrended window.
    """
    x = np.asarray(x, dtype=np.float64)
    frac, k, y = _peak(x, detrend=True)
    if frac < fraction_min or k < min_cycles or x.shape[0] < 16:
        return False, frac
    per_seg = max(1, k // 4)  # whole cycles per segment
    n_seg = k // per_seg
    seg_len = per_seg * x.shape[0] / k
    rms = [
        float(np.sqrt(np.mean(y[round(i * seg_len) : round((i + 1) * seg_len)] ** 2)))
        for i in range(min(n_seg, 4))
    ]
    lo, hi = min(rms), max(rms)
    return bool(lo > 0 and hi / lo <= steady_max), frac


def is_flat(counts: np.ndarray) -> bool:
    """True if every sample has the same value (a dead channel)."""
    return counts.shape[0] > 0 and bool(counts.min() == counts.max())


def is_clipped(counts: np.ndarray, clip_counts: float) -> bool:
    """True if any |sample| reaches ``clip_counts``."""
    return counts.shape[0] > 0 and bool(np.abs(counts).max() >= clip_counts)
