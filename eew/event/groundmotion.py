"""Ground-motion and intensity prediction: the published relations, as pure functions.

* :func:`intensity_msk_bindi2011` - MSK-64 intensity from magnitude and epicentral
  distance, Bindi et al. (2011), the intensity prediction equation derived for Central
  Asia (fixed 15 km depth form). The default for public messages in Kazakhstan.
* :func:`pga_akkar_bommer2010` - PGA (cm/s²), Akkar & Bommer (2010) with the PGA row of
  Bommer, Akkar & Drouet (2012); Joyner-Boore distance, site class from Vs30.
* :func:`pgv_akkar_bommer2010` - PGV (cm/s), Akkar & Bommer (2010), the same form.
* :func:`mmi_from_pga_worden2012` and :func:`mmi_from_pgv_worden2012` - modified Mercalli
  intensity from PGA and from PGV, the ground-motion/intensity conversions of Worden et
  al. (2012); :func:`mmi_wald1999` combines the two as ShakeMap does (PGA below MMI V,
  PGV above VII, Wald et al. 1999).
* :func:`rupture_length_km` and :func:`joyner_boore_km` - an approximate finite-fault
  distance for large events (Wells & Coppersmith 1994 subsurface length), so that a
  long rupture is not treated as a point.

All functions accept NumPy arrays. Coefficients are copied from the published tables as
quoted in the project's science reference (eew_science.md §5), not from any code base.

References
----------
Akkar, S. and Bommer, J. J. (2010). Empirical equations for the prediction of PGA, PGV and
spectral accelerations in Europe, the Mediterranean region and the Middle East. *SRL* 81,
195-206.

Bindi, D., Parolai, S., Oth, A., Abdrakhmatov, K., Muraliev, A. and Zschau, J. (2011).
Intensity prediction equations for Central Asia. *GJI* 187, 327-337.

Bommer, J. J., Akkar, S. and Drouet, S. (2012). Extending ground-motion prediction equations
for spectral accelerations to higher response frequencies. *BEE* 10, 379-399.

Wald, D. J., Quitoriano, V., Heaton, T. H. and Kanamori, H. (1999). Relationships between
peak ground acceleration, peak ground velocity, and modified Mercalli intensity in
California. *Earthquake Spectra* 15, 557-564.

Wells, D. L. and Coppersmith, K. J. (1994). New empirical relationships among magnitude,
rupture length, rupture width, rupture area, and surface displacement. *BSSA* 84, 974-1002.

Worden, C. B., Gerstenberger, M. C., Rhoades, D. A. and Wald, D. J. (2012). Probabilistic
relationships between ground-motion parameters and modified Mercalli intensity in
California. *BSSA* 102, 204-221.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: Bindi et al. (2011), hypocentral-depth form (h = event depth): a1, a2, a3, a4, sigma
BINDI2011_FREE_H = (0.898, 1.215, 1.809, 0.003447, 0.737)
#: Bindi et al. (2011), fixed h = 15 km form: a1, a2, a3, a4, sigma
BINDI2011_FIXED_H = (1.049, 0.686, 2.706, 0.0001811, 0.689)
BINDI2011_H_KM = 15.0

#: Akkar & Bommer (2010) / Bommer et al. (2012) PGA [cm/s²]: b1..b10 and sigma_total (log10)
AB2010_PGA = (
    1.43525,
    0.74866,
    -0.06520,
    -2.72950,
    0.25139,
    7.74959,
    0.08320,
    0.00766,
    -0.05823,
    0.07087,
)
AB2010_PGA_SIGMA_LOG10 = 0.2816
#: Akkar & Bommer (2010) PGV [cm/s]: b1..b10 (their Table 1)
AB2010_PGV = (
    -2.12833,
    1.21448,
    -0.08137,
    -2.46942,
    0.22349,
    6.41443,
    0.20354,
    0.08484,
    -0.05856,
    0.01305,
)
AB2010_PGV_SIGMA_LOG10 = 0.2781

#: Worden et al. (2012) PGA: C1, C2, C3, C4, T1 (log10 cm/s²), sigma_MMI
WORDEN2012_PGA = (1.78, 1.55, -1.60, 3.70, 1.57, 0.66)
#: Worden et al. (2012) PGV: C1, C2, C3, C4, T1 (log10 cm/s), sigma_MMI
WORDEN2012_PGV = (3.78, 1.47, 2.89, 3.16, 0.53, 0.63)


def intensity_msk_bindi2011(
    magnitude: ArrayLike, epicentral_km: ArrayLike, depth_km: ArrayLike | None = None
) -> np.ndarray:
    """MSK-64 intensity, Bindi et al. (2011) Central Asia intensity prediction equation.

    ``I = a1 M + a2 - a3 log10(R / h) - a4 (R - h)``, ``R = sqrt(Repi² + h²)``.
    With ``depth_km`` the hypocentral-depth form is used (h = depth, at least 5 km;
    sigma 0.737); without it the fixed-depth form (h = 15 km; sigma 0.689).

    Parameters
    ----------
    magnitude : array_like
        Magnitude (the catalogue magnitudes of the calibration set, close to Ms/Mw).
    epicentral_km : array_like
        Epicentral distance [km].
    depth_km : array_like, optional
        Hypocentral depth [km].

    Returns
    -------
    numpy.ndarray
        Intensity (continuous).

    Examples
    --------
    The 2024 M7.0 Uqturpan earthquake, 260 km from Almaty at 13 km depth, was felt there
    at about IV MSK:

    >>> round(float(intensity_msk_bindi2011(7.0, 260.0, 15.0)), 1)
    4.4
    """
    if depth_km is None:
        a1, a2, a3, a4, _sigma = BINDI2011_FIXED_H
        h = np.asarray(BINDI2011_H_KM)
    else:
        a1, a2, a3, a4, _sigma = BINDI2011_FREE_H
        h = np.maximum(np.asarray(depth_km, dtype=float), 5.0)
    r = np.sqrt(np.asarray(epicentral_km, dtype=float) ** 2 + h * h)
    msk: np.ndarray = (
        a1 * np.asarray(magnitude, dtype=float) + a2 - a3 * np.log10(r / h) - a4 * (r - h)
    )
    return msk


def intensity_sigma_bindi2011(with_depth: bool = True) -> float:
    """Standard deviation of :func:`intensity_msk_bindi2011` [intensity units]."""
    return BINDI2011_FREE_H[4] if with_depth else BINDI2011_FIXED_H[4]


def _akkar_bommer2010(
    coef: tuple[float, ...],
    magnitude: ArrayLike,
    joyner_boore_km: ArrayLike,
    vs30_m_s: ArrayLike,
    mechanism: str,
) -> np.ndarray:
    b1, b2, b3, b4, b5, b6, b7, b8, b9, b10 = coef
    m = np.asarray(magnitude, dtype=float)
    r = np.sqrt(np.asarray(joyner_boore_km, dtype=float) ** 2 + b6 * b6)
    vs30 = np.asarray(vs30_m_s, dtype=float)
    ss = (vs30 < 360.0).astype(float)
    sa = ((vs30 >= 360.0) & (vs30 <= 750.0)).astype(float)
    fn = 1.0 if mechanism == "normal" else 0.0
    fr = 1.0 if mechanism == "reverse" else 0.0
    log_y = b1 + b2 * m + b3 * m * m + (b4 + b5 * m) * np.log10(r) + b7 * ss + b8 * sa
    y: np.ndarray = np.power(10.0, log_y + b9 * fn + b10 * fr)
    return y


def pga_akkar_bommer2010(
    magnitude: ArrayLike,
    joyner_boore_km: ArrayLike,
    vs30_m_s: ArrayLike = 400.0,
    mechanism: str = "reverse",
) -> np.ndarray:
    """Median PGA [cm/s²], Akkar & Bommer (2010) with the Bommer et al. (2012) PGA row.

    ``log10 Y = b1 + b2 M + b3 M² + (b4 + b5 M) log10 sqrt(Rjb² + b6²) + b7 Ss + b8 Sa
    + b9 Fn + b10 Fr``; Ss = 1 for Vs30 < 360 m/s, Sa = 1 for 360-750 m/s.

    Parameters
    ----------
    magnitude : array_like
        Moment magnitude.
    joyner_boore_km : array_like
        Joyner-Boore distance [km].
    vs30_m_s : array_like
        Time-averaged shear-wave velocity of the top 30 m [m/s].
    mechanism : str
        ``"reverse"`` (the northern Tien Shan thrusts), ``"normal"`` or ``"strike-slip"``.
    """
    return _akkar_bommer2010(AB2010_PGA, magnitude, joyner_boore_km, vs30_m_s, mechanism)


def pgv_akkar_bommer2010(
    magnitude: ArrayLike,
    joyner_boore_km: ArrayLike,
    vs30_m_s: ArrayLike = 400.0,
    mechanism: str = "reverse",
) -> np.ndarray:
    """Median PGV [cm/s], Akkar & Bommer (2010), the form of :func:`pga_akkar_bommer2010`.

    Examples
    --------
    M 7.3 at 20 km on a 400 m/s site, reverse fault (the science reference's check value,
    24.6 cm/s):

    >>> round(float(pgv_akkar_bommer2010(7.3, 20.0, 400.0)), 1)
    24.6
    """
    return _akkar_bommer2010(AB2010_PGV, magnitude, joyner_boore_km, vs30_m_s, mechanism)


def mmi_from_pga_worden2012(pga_cm_s2: ArrayLike) -> np.ndarray:
    """Modified Mercalli intensity from PGA [cm/s²], Worden et al. (2012), clipped to [1, 10]."""
    c1, c2, c3, c4, t1, _sigma = WORDEN2012_PGA
    log_y = np.log10(np.maximum(np.asarray(pga_cm_s2, dtype=float), 1e-6))
    mmi: np.ndarray = np.clip(np.where(log_y <= t1, c1 + c2 * log_y, c3 + c4 * log_y), 1.0, 10.0)
    return mmi


def mmi_from_pgv_worden2012(pgv_cm_s: ArrayLike) -> np.ndarray:
    """Modified Mercalli intensity from PGV [cm/s], Worden et al. (2012), clipped to [1, 10]."""
    c1, c2, c3, c4, t1, _sigma = WORDEN2012_PGV
    log_y = np.log10(np.maximum(np.asarray(pgv_cm_s, dtype=float), 1e-6))
    mmi: np.ndarray = np.clip(np.where(log_y <= t1, c1 + c2 * log_y, c3 + c4 * log_y), 1.0, 10.0)
    return mmi


def mmi_wald1999(mmi_pga: ArrayLike, mmi_pgv: ArrayLike) -> np.ndarray:
    """One intensity from the PGA and PGV intensities, weighted as Wald et al. (1999).

    The PGA value below MMI V (felt shaking is set by the high frequencies), the PGV value
    above VII (damage follows velocity), linearly between, the weight taken from the PGA
    value: ``w = clip((I_pga - 5) / 2, 0, 1)``, ``I = (1 - w) I_pga + w I_pgv``. This is the
    instrumental intensity of ShakeMap 3 and of the simulator's ``truth.json``.

    Examples
    --------
    >>> [round(float(x), 2) for x in mmi_wald1999([4.0, 6.0, 8.0], [5.0, 7.0, 9.0])]
    [4.0, 6.5, 9.0]
    """
    ia = np.asarray(mmi_pga, dtype=float)
    iv = np.asarray(mmi_pgv, dtype=float)
    w = np.clip((ia - 5.0) / 2.0, 0.0, 1.0)
    mmi: np.ndarray = (1.0 - w) * ia + w * iv
    return mmi


def mmi_from_motion(pga_cm_s2: ArrayLike, pgv_cm_s: ArrayLike) -> np.ndarray:
    """Instrumental intensity of a peak motion (PGA [cm/s²], PGV [cm/s]).

    :func:`mmi_wald1999` of the Worden et al. (2012) PGA and PGV intensities.
    """
    return mmi_wald1999(mmi_from_pga_worden2012(pga_cm_s2), mmi_from_pgv_worden2012(pgv_cm_s))


def rupture_length_km(magnitude: ArrayLike) -> np.ndarray:
    """Subsurface rupture length [km], Wells & Coppersmith (1994), all slip types."""
    return np.power(10.0, -2.44 + 0.59 * np.asarray(magnitude, dtype=float))


def joyner_boore_km(magnitude: ArrayLike, epicentral_km: ArrayLike) -> np.ndarray:
    """Approximate Joyner-Boore distance [km] of a rupture centred on the epicentre.

    Without a known strike the rupture is taken as a disc of diameter L(M):
    ``Rjb = max(Repi - L/2, 0)``. For M < 6 this is the epicentral distance to within
    a few km.
    """
    half = 0.5 * rupture_length_km(magnitude)
    return np.maximum(np.asarray(epicentral_km, dtype=float) - half, 0.0)
