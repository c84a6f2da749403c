"""Source and path spectra of the stochastic method (Boore 2003) and line-source sub-events.

The Fourier amplitude spectrum (FAS) of ground acceleration at hypocentral distance R is

    A(f) = C M0 (2 pi f)^2 / (1 + (f/fc)^2) G(R) exp(-pi f R / (Q(f) v)) exp(-pi kappa f) L(f)

(Boore 2003, eqs. 2-7) with the Brune (1970) omega-squared source, the trilinear geometric
spreading G of Atkinson & Boore (1995), a frequency-dependent quality factor
Q(f) = Q0 f^eta, the kappa high-cut of Anderson & Hough (1984) and a low-cut L(f) at
``LOW_CUT_HZ``. The ground-motion duration is 1/fc + 0.05 R (Herrmann 1985, as used by
Boore 2003). For local and near-regional events the absolute level is afterwards pinned to
the empirical Pd and PGA relations (:mod:`eew.simulate.relations`); the constant C is only
used for distant events (R > ``EMPIRICAL_MAX_KM``), where those relations do not apply.

References
----------
Boore, D. M. (2003). Simulation of ground motion using the stochastic method, Pure Appl.
Geophys. 160, 635-676.
Brune, J. N. (1970). Tectonic stress and the spectra of seismic shear waves from
earthquakes, J. Geophys. Res. 75, 4997-5009.
Hanks, T. C., and H. Kanamori (1979). A moment magnitude scale, J. Geophys. Res. 84,
2348-2350.
Atkinson, G. M., and D. M. Boore (1995). Ground-motion relations for eastern North America,
Bull. Seismol. Soc. Am. 85, 17-30.
Anderson, J. G., and S. E. Hough (1984). A model for the shape of the Fourier amplitude
spectrum of acceleration at high frequencies, Bull. Seismol. Soc. Am. 74, 1969-1993.
Madariaga, R. (1976). Dynamics of an expanding circular fault, Bull. Seismol. Soc. Am. 66,
639-666 (P corner frequency about 1.5 times the S corner).
Wells, D. L., and K. J. Coppersmith (1994). New empirical relationships among magnitude,
rupture length, rupture width, rupture area, and surface displacement, Bull. Seismol. Soc.
Am. 84, 974-1002.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eew.simulate.scenario import SourceSpec

#: shear-wave speed (km/s) and density (g/cm3) at the source, Boore (2003) WNA values
BETA_SOURCE_KM_S = 3.5
RHO_SOURCE_G_CM3 = 2.8
ALPHA_SOURCE_KM_S = 6.0
#: Q(f) = Q0 f^eta for crustal paths and for paths from intermediate-depth sources [proposal]
Q0_CRUST, ETA_CRUST = 150.0, 0.6
Q0_MANTLE, ETA_MANTLE = 600.0, 0.4
MANTLE_SOURCE_DEPTH_KM = 70.0
#: kappa (s): rock sites and city (basin) sites [proposal, typical of active crust]
KAPPA_ROCK_S = 0.035
KAPPA_CITY_S = 0.05
#: low-cut corner (Hz) of the synthetic spectra
LOW_CUT_HZ = 0.03
#: path-duration slope (s/km), Herrmann (1985) via Boore (2003)
PATH_DURATION_S_PER_KM = 0.05
#: beyond this hypocentral distance the absolute Boore (2003) level is used (km)
EMPIRICAL_MAX_KM = 400.0
#: default spacing (km) of the sub-events of a line source (along strike and down dip)
SUBEVENT_SPACING_KM = 6.0
#: step (s) of the moment-release series in ``truth.json``
MOMENT_STEP_S = 0.5


def moment_dyne_cm(magnitude: float) -> float:
    """Seismic moment (dyne cm) from Mw (Hanks & Kanamori 1979)."""
    m0: float = 10.0 ** (1.5 * magnitude + 16.05)
    return m0


def corner_frequency_hz(
    magnitude: float, stress_drop_bar: float, beta_km_s: float = BETA_SOURCE_KM_S
) -> float:
    """Brune S-wave corner frequency (Hz): fc = 4.906e6 beta (stress / M0)^(1/3) (Boore 2003)."""
    fc: float = 4.906e6 * beta_km_s * (stress_drop_bar / moment_dyne_cm(magnitude)) ** (1.0 / 3.0)
    return fc


def wells_coppersmith_length_km(magnitude: float) -> float:
    """Subsurface rupture length (km), all slip types: log10 L = -2.44 + 0.59 M (WC94)."""
    length: float = 10.0 ** (-2.44 + 0.59 * magnitude)
    return length


def wells_coppersmith_width_km(magnitude: float) -> float:
    """Down-dip rupture width (km), all slip types: log10 W = -1.01 + 0.32 M (WC94, table 2A)."""
    width: float = 10.0 ** (-1.01 + 0.32 * magnitude)
    return width


def magnitude_from_moment(m0_dyne_cm: float) -> float:
    """Mw from the seismic moment (dyne cm), the inverse of :func:`moment_dyne_cm`."""
    return (math.log10(m0_dyne_cm) - 16.05) / 1.5


def geometric_spreading(r_km: np.ndarray | float) -> np.ndarray:
    """Trilinear geometric spreading of Atkinson & Boore (1995): 1/R, flat to 130 km, R^-0.5."""
    r = np.maximum(np.asarray(r_km, dtype=float), 1.0)
    g = 1.0 / r
    g = np.where(r > 70.0, 1.0 / 70.0, g)
    spreading: np.ndarray = np.where(r > 130.0, (1.0 / 70.0) * (130.0 / r) ** 0.5, g)
    return spreading


def quality_factor(freq_hz: np.ndarray, depth_km: float) -> np.ndarray:
    """Q(f) = Q0 f^eta (crust, or mantle for sources deeper than 70 km); at least Q0."""
    if depth_km > MANTLE_SOURCE_DEPTH_KM:
        q0, eta = Q0_MANTLE, ETA_MANTLE
    else:
        q0, eta = Q0_CRUST, ETA_CRUST
    q: np.ndarray = q0 * np.maximum(np.asarray(freq_hz, dtype=float), 1.0) ** eta
    return q


def duration_s(fc_hz: float, r_km: float) -> float:
    """Ground-motion duration (s): source 1/fc plus path 0.05 s/km (Boore 2003)."""
    return 1.0 / fc_hz + PATH_DURATION_S_PER_KM * r_km


def shape_spectrum(
    freq_hz: np.ndarray,
    fc_hz: float,
    r_km: float,
    wave_speed_km_s: float,
    kappa_s: float,
    depth_km: float,
) -> np.ndarray:
    """Relative acceleration FAS: omega-squared source, anelastic path, kappa and low-cut.

    Geometric spreading and the constant C are left out (they only scale the level).
    """
    f = np.asarray(freq_hz, dtype=float)
    w2 = (2.0 * np.pi * f) ** 2
    src = w2 / (1.0 + (f / fc_hz) ** 2)
    q = quality_factor(f, depth_km)
    path = np.exp(-np.pi * f * r_km / (q * wave_speed_km_s))
    site = np.exp(-np.pi * kappa_s * f)
    low = (f / LOW_CUT_HZ) ** 4 / (1.0 + (f / LOW_CUT_HZ) ** 4)
    return src * path * site * low


def boore_constant(phase: str) -> float:
    """Boore (2003) C (cgs, R0 = 1 km) giving the acceleration FAS in cm/s from M0 in dyne cm.

    S: radiation 0.55, partition 1/sqrt(2), free surface 2, beta 3.5 km/s.
    P: radiation 0.52, partition 1 (vertical), free surface 2, alpha 6.0 km/s.
    """
    if phase == "S":
        rad, part, v = 0.55, 1.0 / math.sqrt(2.0), BETA_SOURCE_KM_S
    else:
        rad, part, v = 0.52, 1.0, ALPHA_SOURCE_KM_S
    return rad * part * 2.0 / (4.0 * np.pi * RHO_SOURCE_G_CM3 * v**3) * 1e-20


@dataclass(frozen=True)
class SubEvent:
    """One point source of a (possibly finite) rupture.

    Attributes
    ----------
    latitude_deg, longitude_deg, depth_km : float
        Position.
    delay_s : float
        Rupture time after the origin time (s).
    magnitude : float
        Mw of this sub-event (the moment is split equally).
    fc_hz : float
        Its Brune S corner frequency (Hz).
    """

    latitude_deg: float
    longitude_deg: float
    depth_km: float
    delay_s: float
    magnitude: float
    fc_hz: float


def _offsets_km(extent_back: float, extent_ahead: float, spacing_km: float) -> np.ndarray:
    """Sub-event positions (km) on one axis: 0 at the hypocentre, ``spacing_km`` apart."""
    n_back = math.floor(extent_back / spacing_km + 0.5)
    n_ahead = math.floor(extent_ahead / spacing_km + 0.5)
    out: np.ndarray = spacing_km * np.arange(-n_back, n_ahead + 1, dtype=float)
    return out


def subevents(src: SourceSpec) -> list[SubEvent]:
    """Split a source into sub-events ``subevent_spacing_km`` apart, one at the hypocentre.

    A point source (no ``strike_deg``) gives a single sub-event. A line source (no
    ``width_km``) gives one row along strike at the hypocentre depth. A planar rupture
    (``width_km``) gives a grid on the rectangle: along strike x, down dip y (dipping
    ``dip_deg`` to the right of the strike), the hypocentre at ``nucleation_fraction``
    along strike and ``nucleation_dip_fraction`` down dip. The moment is split equally
    (uniform slip), and each sub-event ruptures when the front, starting at the
    hypocentre and running at ``rupture_velocity_km_s`` in the plane, reaches it:
    delay = sqrt(x^2 + y^2) / v_r.
    """
    if src.strike_deg is None or src.length_km is None:
        fc = corner_frequency_hz(src.magnitude, src.stress_drop_bar)
        return [SubEvent(src.latitude_deg, src.longitude_deg, src.depth_km, 0.0, src.magnitude, fc)]
    back = src.nucleation_fraction * src.length_km
    xs = _offsets_km(back, src.length_km - back, src.subevent_spacing_km)
    ys = np.zeros(1)
    if src.width_km is not None:
        up = src.nucleation_dip_fraction * src.width_km
        ys = _offsets_km(up, src.width_km - up, src.subevent_spacing_km)
    n = len(xs) * len(ys)
    m_sub = src.magnitude - (2.0 / 3.0) * math.log10(n)
    fc = corner_frequency_hz(m_sub, src.stress_drop_bar)
    strike = math.radians(src.strike_deg)
    dip = math.radians(src.dip_deg)
    cos_lat = math.cos(math.radians(src.latitude_deg))
    out = []
    for y in ys:
        # down dip: horizontally towards strike + 90 deg, and deeper
        h_dip = y * math.cos(dip)
        for x in xs:
            north = x * math.cos(strike) - h_dip * math.sin(strike)
            east = x * math.sin(strike) + h_dip * math.cos(strike)
            out.append(
                SubEvent(
                    src.latitude_deg + north / 111.19492664455873,
                    src.longitude_deg + east / (111.19492664455873 * cos_lat),
                    src.depth_km + y * math.sin(dip),
                    math.hypot(x, y) / src.rupture_velocity_km_s,
                    m_sub,
                    fc,
                )
            )
    return out


def brune_moment_fraction(t_s: np.ndarray, fc_hz: float) -> np.ndarray:
    """Fraction of a sub-event's moment released ``t_s`` after its rupture time.

    The Brune (1970) source time function of an omega-squared source, moment rate
    M0 t / tau^2 exp(-t / tau) with tau = 1 / (2 pi fc), integrates to
    1 - (1 + t / tau) exp(-t / tau).
    """
    tau = 1.0 / (2.0 * math.pi * fc_hz)
    x = np.maximum(np.asarray(t_s, dtype=float), 0.0) / tau
    frac: np.ndarray = 1.0 - (1.0 + x) * np.exp(-x)
    return frac


def moment_release(
    subs: list[SubEvent], step_s: float = MOMENT_STEP_S
) -> list[tuple[float, float | None]]:
    """Moment magnitude of the moment released so far, every ``step_s`` from the origin.

    Each sub-event releases its moment with the Brune source time function from its
    rupture time (:func:`brune_moment_fraction`); the series runs until 99 % of the total
    is released (at least one step past the last rupture time).

    Returns
    -------
    list of (float, float or None)
        (seconds after origin, Mw released so far; None before any moment).
    """
    m0 = np.array([moment_dyne_cm(s.magnitude) for s in subs])
    delay = np.array([s.delay_s for s in subs])
    fc = np.array([s.fc_hz for s in subs])
    total = float(m0.sum())
    out: list[tuple[float, float | None]] = []
    k = 0
    while True:
        t = k * step_s
        released = float(
            sum(
                mi * float(brune_moment_fraction(np.array(t - d), f))
                for mi, d, f in zip(m0, delay, fc, strict=True)
            )
        )
        out.append((t, round(magnitude_from_moment(released), 3) if released > 0 else None))
        if released >= 0.99 * total and t > delay.max():
            return out
        k += 1
