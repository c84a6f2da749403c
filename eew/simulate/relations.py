"""Empirical relations that pin the synthetic amplitudes: Pd (P waves) and PGA (S waves).

References
----------
Wu, Y.-M., and L. Zhao (2006). Magnitude estimation using the first three seconds P-wave
amplitude in earthquake early warning, Geophys. Res. Lett. 33, L16312:
log10 Pd = -3.463 + 0.729 M - 1.374 log10 R_hyp (Pd in cm, R in km), sigma 0.305.
Boore, D. M., J. P. Stewart, E. Seyhan, and G. M. Atkinson (2014). NGA-West2 equations for
predicting PGA, PGV, and 5% damped PSA for shallow crustal earthquakes, Earthquake
Spectra 30, 1057-1085 (BSSA14). Coefficients as tabulated in the project's science
reference, section 5.1; implemented here from the published formulas.
"""

from __future__ import annotations

import math

WU_ZHAO_SIGMA_LOG10 = 0.305

# BSSA14 PGA coefficients (science reference, section 5.1)
_E = {"unspecified": 0.4473, "strike-slip": 0.4856, "normal": 0.2459, "reverse": 0.4539}
_E4, _E5, _E6, _MH = 1.431, 0.05053, -0.1662, 5.5
_C1, _C2, _C3, _H = -1.134, 0.1917, -0.008088, 4.5
_CLIN, _VC, _VREF = -0.600, 1500.0, 760.0
_F1, _F3, _F4, _F5 = 0.0, 0.1, -0.150, -0.00701
_PHI1, _PHI2, _TAU1, _TAU2 = 0.695, 0.495, 0.398, 0.348
_MREF, _RREF = 4.5, 1.0


def wu_zhao_2006_log10_pd_cm(magnitude: float, r_hyp_km: float) -> float:
    """Median log10 Pd (cm) of the first 3 s of P on the vertical (Wu & Zhao 2006)."""
    return -3.463 + 0.729 * magnitude - 1.374 * math.log10(max(r_hyp_km, 1.0))


def _bssa14_ln_rock(magnitude: float, r_jb_km: float, mechanism: str) -> float:
    dm = magnitude - _MH
    f_e = _E[mechanism] + (_E4 * dm + _E5 * dm * dm if magnitude <= _MH else _E6 * dm)
    r = math.sqrt(r_jb_km * r_jb_km + _H * _H)
    f_p = (_C1 + _C2 * (magnitude - _MREF)) * math.log(r / _RREF) + _C3 * (r - _RREF)
    return f_e + f_p


def bssa14_ln_pga_g(
    magnitude: float, r_jb_km: float, vs30_m_s: float, mechanism: str = "unspecified"
) -> float:
    """Median ln PGA (g, RotD50) of BSSA14 with the linear and nonlinear site terms.

    Parameters
    ----------
    magnitude : float
        Moment magnitude.
    r_jb_km : float
        Joyner-Boore distance (km).
    vs30_m_s : float
        Time-averaged shear-wave speed of the top 30 m (m/s).
    mechanism : str
        ``"unspecified"``, ``"strike-slip"``, ``"normal"`` or ``"reverse"``.
    """
    ln_rock = _bssa14_ln_rock(magnitude, r_jb_km, mechanism)
    pga_r = math.exp(ln_rock)
    f_lin = _CLIN * math.log(min(vs30_m_s, _VC) / _VREF)
    f2 = _F4 * (math.exp(_F5 * (min(vs30_m_s, _VREF) - 360.0)) - math.exp(_F5 * (_VREF - 360.0)))
    f_nl = _F1 + f2 * math.log((pga_r + _F3) / _F3)
    return ln_rock + f_lin + f_nl


def bssa14_sigma_ln(magnitude: float) -> tuple[float, float]:
    """Return (tau, phi) in ln units for PGA: linear in M between 4.5 and 5.5.

    The distance and Vs30 terms of phi (BSSA14 eqs. 8-9) are left out.
    """
    w = min(max(magnitude - 4.5, 0.0), 1.0)
    return _TAU1 + w * (_TAU2 - _TAU1), _PHI1 + w * (_PHI2 - _PHI1)
