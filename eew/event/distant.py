"""Is an event local? Tests that tell teleseisms and distant deep events from local sources.

* :func:`plane_wave_fit` / the wavefront test: a distant source (a teleseism, or a deep
  Hindu Kush event 900 km away) sends a nearly plane wavefront across the network at the
  speed of Pn or faster; a local source's wavefront is curved, or slower.
* :func:`below_teleseism_line`: long-period, small-amplitude P. ElarmS/EPIC declare a
  teleseism when ``log10 Pd < -3.728 + 2.817 log10 tau_p`` (averages over the picks;
  eew_science.md §7.2).

Pure functions on arrays; :class:`eew.event.core.EventCore` applies them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def plane_wave_fit(
    x_km: np.ndarray, y_km: np.ndarray, t_s: np.ndarray
) -> tuple[float, float, float]:
    """Fit ``t = t0 + sx x + sy y`` to pick times.

    Returns
    -------
    aperture_km, rms_s, slowness_s_km : float
        Spread of the stations, RMS misfit of the fit, and the apparent slowness.
    """
    aperture = float(np.hypot(x_km.max() - x_km.min(), y_km.max() - y_km.min()))
    a = np.column_stack([np.ones_like(x_km), x_km, y_km])
    coef, *_ = np.linalg.lstsq(a, t_s, rcond=None)
    rms = float(np.sqrt(np.mean((a @ coef - t_s) ** 2)))
    return aperture, rms, float(math.hypot(coef[1], coef[2]))


def is_distant_wavefront(
    x_km: np.ndarray,
    y_km: np.ndarray,
    t_s: np.ndarray,
    min_aperture_km: float,
    max_rms_s: float,
    max_slowness_s_km: float,
) -> bool:
    """True when at least 4 picks spanning ``min_aperture_km`` form a fast plane wave.

    With only 4 picks (one degree of freedom) the RMS must be below half ``max_rms_s``.
    """
    if t_s.shape[0] < 4:
        return False
    aperture, rms, slowness = plane_wave_fit(x_km, y_km, t_s)
    limit = max_rms_s if t_s.shape[0] >= 5 else 0.5 * max_rms_s
    return aperture >= min_aperture_km and rms < limit and slowness < max_slowness_s_km


def below_teleseism_line(pd_cm: Sequence[float], tau_s: Sequence[float]) -> bool:
    """The ElarmS/EPIC teleseism line on the median Pd [cm] and tau [s] (>= 3 picks)."""
    if len(pd_cm) < 3:
        return False
    lpd = math.log10(float(np.median(pd_cm)))
    return lpd < -3.728 + 2.817 * math.log10(float(np.median(tau_s)))
