"""Butterworth filter design and stateful biquad (second-order section) filtering.

Filters are designed once with :func:`scipy.signal.butter` as second-order
sections (SOS, scipy layout ``[b0, b1, b2, a0, a1, a2]`` per row) and run
sample by sample in numba with explicit state, so a trace can be filtered in
packets of any size and give the same result as one call on the whole trace.
The state layout is scipy's ``zi`` for :func:`scipy.signal.sosfilt`
(transposed direct form II, shape ``(n_sections, 2)``), so scipy is the
reference in tests.

References
----------
Butterworth, S. (1930). On the theory of filter amplifiers. *Wireless Engineer* 7, 536-541.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import signal

from eew.errors import ConfigError


def design_highpass(corner_hz: float, sampling_rate_hz: float, order: int = 2) -> np.ndarray:
    """Design a causal Butterworth high-pass as second-order sections.

    Parameters
    ----------
    corner_hz : float
        -3 dB corner frequency [Hz].
    sampling_rate_hz : float
        Sample rate [Hz].
    order : int
        Number of poles.

    Returns
    -------
    numpy.ndarray
        SOS array, shape ``(n_sections, 6)``.
    """
    _check_band(corner_hz, corner_hz, sampling_rate_hz)
    return np.ascontiguousarray(
        signal.butter(order, corner_hz, btype="highpass", fs=sampling_rate_hz, output="sos")
    )


def design_lowpass(corner_hz: float, sampling_rate_hz: float, order: int = 2) -> np.ndarray:
    """Design a causal Butterworth low-pass as SOS (see :func:`design_highpass`)."""
    _check_band(corner_hz, corner_hz, sampling_rate_hz)
    return np.ascontiguousarray(
        signal.butter(order, corner_hz, btype="lowpass", fs=sampling_rate_hz, output="sos")
    )


def design_bandpass(
    low_hz: float, high_hz: float, sampling_rate_hz: float, order: int = 2
) -> np.ndarray:
    """Design a causal Butterworth band-pass (``2 * order`` poles) as SOS.

    Raises
    ------
    ConfigError
        If the band is empty or reaches the Nyquist frequency. No silent
        fallback to a high-pass (unlike :func:`obspy.signal.filter.bandpass`).
    """
    _check_band(low_hz, high_hz, sampling_rate_hz)
    return np.ascontiguousarray(
        signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=sampling_rate_hz, output="sos")
    )


def _check_band(low_hz: float, high_hz: float, sampling_rate_hz: float) -> None:
    nyquist_hz = 0.5 * sampling_rate_hz
    if not 0.0 < low_hz <= high_hz:
        raise ConfigError(f"filter band {low_hz}-{high_hz} Hz is empty or not positive")
    if high_hz >= nyquist_hz:
        raise ConfigError(
            f"filter corner {high_hz} Hz is not below the Nyquist frequency {nyquist_hz} Hz"
        )


@njit(cache=True, inline="always")
def biquad_step(
    x: float, b0: float, b1: float, b2: float, a1: float, a2: float, z0: float, z1: float
) -> tuple[float, float, float]:
    """One sample through one biquad held in scalars; returns ``(y, z0, z1)``.

    Transposed direct form II, as :func:`scipy.signal.sosfilt` (``a0 == 1``); the
    coefficients are a row of an SOS array without ``a0``.
    """
    y = b0 * x + z0
    return y, b1 * x - a1 * y + z1, b2 * x - a2 * y


@njit(cache=True, inline="always")
def biquad_cascade_step(x: float, sos: np.ndarray, zi: np.ndarray) -> float:
    """Filter one sample through a cascade of biquads, updating ``zi`` in place.

    Each section is :func:`biquad_step`.
    """
    y = x
    for s in range(sos.shape[0]):
        y, zi[s, 0], zi[s, 1] = biquad_step(
            y, sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5], zi[s, 0], zi[s, 1]
        )
    return y


@njit(cache=True)
def sosfilt_stateful(x: np.ndarray, sos: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """Filter ``x`` with SOS, carrying the state ``zi`` (modified in place).

    Parameters
    ----------
    x : numpy.ndarray
        Input samples (float64).
    sos : numpy.ndarray
        Second-order sections, shape ``(n_sections, 6)``.
    zi : numpy.ndarray
        Filter state, shape ``(n_sections, 2)``; zeros for a fresh start.

    Returns
    -------
    numpy.ndarray
        Filtered samples.
    """
    y = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = biquad_cascade_step(x[i], sos, zi)
    return y


def sosfilt_stateful_np(x: np.ndarray, sos: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """Plain-NumPy/scipy twin of :func:`sosfilt_stateful` (updates ``zi`` in place)."""
    y: np.ndarray
    y, zf = signal.sosfilt(sos, np.asarray(x, dtype=np.float64), zi=zi)
    zi[...] = zf
    return y
