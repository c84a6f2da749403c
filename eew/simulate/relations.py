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
Worden, C. B., M. C. Gerstenberger, D. A. Rhoades, and D. J. Wald (2012). Probabilistic
relationships between ground-motion parameters and modified Mercalli intensity in
California, Bull. Seismol. Soc. Am. 102, 204-221 (MMI from PGA and from PGV).
Wald, D. J., V. Quitoriano, T. H. Heaton, and H. Kanamori (1999). Relationships between
peak ground acceleration, peak ground velocity, and modified Mercalli intensity in
California, Earthquake Spectra 15, 557-564 (PGA below MMI V, PGV above VII, weighted
between).
Musson, R. M. W., G. Grunthal, and M. Stucchi (2010). The comparison of macroseismic
intensity scales, J. Seismol. 14, 413-428 (MSK-64, EMS-98 and MMI equivalent).
Medvedev, S. V., W. Sponheuer, and V. Karnik (1964). Seismic intensity scale MSK-64; its
instrumental criteria as reproduced in the project's science reference, section 5.6:
degree VI 25-50 cm/s2 and 2-4 cm/s, each degree doubling.
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


# Worden et al. (2012) bilinear MMI relations: C1, C2, C3, C4, T1 (log10 of cm/s2 or cm/s)
_W12_PGA = (1.78, 1.55, -1.60, 3.70, 1.57)
_W12_PGV = (3.78, 1.47, 2.89, 3.16, 0.53)
#: MSK-64 degree VI: lower bounds of its PGA (cm/s2) and PGV (cm/s) ranges
_MSK6_PGA_CM_S2, _MSK6_PGV_CM_S = 25.0, 2.0


def _w12(coef: tuple[float, float, float, float, float], y: float) -> float:
    c1, c2, c3, c4, t1 = coef
    ly = math.log10(max(y, 1e-6))
    mmi = c1 + c2 * ly if ly <= t1 else c3 + c4 * ly
    return min(max(mmi, 1.0), 10.0)


def mmi_worden2012(pga_cm_s2: float, pgv_cm_s: float) -> tuple[float, float, float]:
    """MMI from PGA, from PGV, and combined (Worden et al. 2012; Wald et al. 1999 weights).

    The combined value takes the PGA estimate below MMI V, the PGV estimate above VII and
    a linear blend between (the weighting of Wald et al. 1999). Each is clipped to [1, 10].

    Returns
    -------
    tuple of float
        (MMI from PGA, MMI from PGV, combined MMI).
    """
    i_a = _w12(_W12_PGA, pga_cm_s2)
    i_v = _w12(_W12_PGV, pgv_cm_s)
    w = min(max((i_a - 5.0) / 2.0, 0.0), 1.0)
    return i_a, i_v, (1.0 - w) * i_a + w * i_v


def msk64_from_motion(pga_cm_s2: float, pgv_cm_s: float) -> tuple[float, float, float]:
    """MSK-64 intensity from PGA, from PGV, and their mean (Medvedev's instrumental ranges).

    Degree k spans [25, 50) x 2^(k - 6) cm/s2 and [2, 4) x 2^(k - 6) cm/s; as a continuous
    value that rounds to the degree, I = 5.5 + log2(PGA / 25) and I = 5.5 + log2(PGV / 2)
    (the doubling extended below V and above IX). The observed intensity is the mean of
    the two (the scale names both criteria), each clipped to [1, 12].

    Returns
    -------
    tuple of float
        (MSK from PGA, MSK from PGV, their mean).
    """
    i_a = 5.5 + math.log2(max(pga_cm_s2, 1e-6) / _MSK6_PGA_CM_S2)
    i_v = 5.5 + math.log2(max(pgv_cm_s, 1e-6) / _MSK6_PGV_CM_S)
    i_a, i_v = min(max(i_a, 1.0), 12.0), min(max(i_v, 1.0), 12.0)
    return i_a, i_v, 0.5 * (i_a + i_v)


def observed_intensity(pga_cm_s2: float | None, pgv_cm_s: float | None) -> dict[str, float]:
    """``truth.json`` intensity fields of a peak ground motion (empty if it is unknown).

    ``mmi`` is the Worden et al. (2012) MMI (Wald et al. 1999 blend of PGA and PGV);
    ``msk`` is the same number: MSK-64 and MMI are equivalent at the 12-degree level
    (Musson, Grunthal & Stucchi 2010; the project's science reference 5.6, "I_MSK ~ MMI").
    ``msk64_table`` (and its ``_pga``/``_pgv`` parts) is the intensity of Medvedev's
    instrumental ranges (:func:`msk64_from_motion`), which reads 1-2 degrees higher than
    the macroseismic intensity near small events (an M4.5 at 5 km: 7.5 against MMI 5.8),
    kept for comparison.
    """
    if pga_cm_s2 is None or pgv_cm_s is None:
        return {}
    ma, mv, table = msk64_from_motion(pga_cm_s2, pgv_cm_s)
    ia, iv, mmi = mmi_worden2012(pga_cm_s2, pgv_cm_s)
    return {
        "msk": round(mmi, 2),
        "mmi": round(mmi, 2),
        "mmi_pga": round(ia, 2),
        "mmi_pgv": round(iv, 2),
        "msk64_table": round(table, 2),
        "msk64_table_pga": round(ma, 2),
        "msk64_table_pgv": round(mv, 2),
    }
