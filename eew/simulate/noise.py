"""Ambient seismic noise between the Peterson (1993) low and high noise models.

The acceleration power spectral density is interpolated in dB between the New Low Noise
Model (level 0) and the New High Noise Model (level 1) and imposed on white Gaussian noise
in the frequency domain. City sites get a higher level. Periods shorter than 0.1 s (the
shortest tabulated) take the 0.1 s value.

References
----------
Peterson, J. (1993). Observations and modeling of seismic background noise, U.S. Geol.
Surv. Open-File Report 93-322. Tables from :func:`obspy.signal.spectral_estimation.get_nlnm`
and :func:`~obspy.signal.spectral_estimation.get_nhnm`.
"""

from __future__ import annotations

import numpy as np


def peterson_psd_db(freq_hz: np.ndarray, level: float) -> np.ndarray:
    """Acceleration PSD (dB rel. 1 (m/s^2)^2/Hz) at ``level`` between NLNM (0) and NHNM (1)."""
    from obspy.signal.spectral_estimation import get_nhnm, get_nlnm

    p_lo, db_lo = get_nlnm()
    p_hi, db_hi = get_nhnm()
    f = np.asarray(freq_hz, dtype=float)
    period = 1.0 / np.maximum(f, 1e-6)
    lp = np.log10(period)
    # the tables run from long to short periods; np.interp needs increasing abscissae and
    # clamps outside them
    lo = np.interp(lp, np.log10(p_lo[::-1]), db_lo[::-1])
    hi = np.interp(lp, np.log10(p_hi[::-1]), db_hi[::-1])
    db: np.ndarray = lo + level * (hi - lo)
    return db


def noise_acceleration(
    rng: np.random.Generator, n_samples: int, sampling_rate_hz: float, level: float
) -> np.ndarray:
    """One component of ground-acceleration noise (m/s^2) with the Peterson PSD at ``level``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    n_samples : int
        Number of samples.
    sampling_rate_hz : float
        Sample rate (Hz).
    level : float
        0 = NLNM, 1 = NHNM, interpolated in dB.

    Returns
    -------
    numpy.ndarray
        Noise with one-sided PSD ``10**(peterson_psd_db/10)``, zero mean.
    """
    white = rng.standard_normal(n_samples)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n_samples, 1.0 / sampling_rate_hz)
    psd = 10.0 ** (peterson_psd_db(f, level) / 10.0)
    # E|rfft(w)_k|^2 = N for unit white noise; one-sided PSD = 2 |X_k|^2 / (N fs)
    spec *= np.sqrt(psd * sampling_rate_hz / 2.0)
    spec[0] = 0.0
    return np.fft.irfft(spec, n_samples)
