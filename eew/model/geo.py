"""Great-circle distances on the mean Earth sphere (haversine).

Two evaluation paths of the same formula, each bit-for-bit what its callers computed
before they shared this module: :func:`distance_km` for one pair of points in plain
Python floats (the message formats), :func:`distances_km` from one point to an array of
points with NumPy (the event core, forecasts, scoring). NumPy's vectorised ``sin``/``cos``
may differ from :mod:`math` in the last bit, so the two are not merged into one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy is imported when first used: the message formats need only floats
    import numpy as np
    from numpy.typing import ArrayLike

#: mean Earth radius [km]
EARTH_RADIUS_KM = 6371.0
#: length of one degree of a great circle [km]
KM_PER_DEG = math.pi * EARTH_RADIUS_KM / 180.0


def distance_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance between two points [km] (haversine, plain floats).

    Parameters
    ----------
    lat1_deg, lon1_deg, lat2_deg, lon2_deg : float
        Latitudes and longitudes of the two points [deg].

    Returns
    -------
    float
        Distance on the :data:`EARTH_RADIUS_KM` sphere [km].
    """
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp, dl = p2 - p1, math.radians(lon2_deg - lon1_deg)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distances_km(
    lat_deg: float, lon_deg: float, lats_deg: ArrayLike, lons_deg: ArrayLike
) -> np.ndarray:
    """Great-circle distances from one point to many [km] (haversine, NumPy).

    Parameters
    ----------
    lat_deg, lon_deg : float
        The point [deg].
    lats_deg, lons_deg : array_like
        The other points [deg] (arrays of one shape, or scalars).

    Returns
    -------
    numpy.ndarray
        Distances on the :data:`EARTH_RADIUS_KM` sphere [km], the shape of ``lats_deg``.
    """
    import numpy as np

    p1, p2 = math.radians(lat_deg), np.radians(lats_deg)
    dphi = p2 - p1
    dl = np.radians(np.asarray(lons_deg) - lon_deg)
    a = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    km: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return km


def pairwise_distances_km(lats_deg: np.ndarray, lons_deg: np.ndarray) -> np.ndarray:
    """Great-circle distances between every pair of points [km] (haversine, NumPy).

    Parameters
    ----------
    lats_deg, lons_deg : numpy.ndarray
        One-dimensional latitudes and longitudes of the points [deg].

    Returns
    -------
    numpy.ndarray
        Square matrix of distances on the :data:`EARTH_RADIUS_KM` sphere [km].
    """
    import numpy as np

    p = np.radians(lats_deg)
    dphi = p[:, None] - p[None, :]
    dl = np.radians(lons_deg[:, None] - lons_deg[None, :])
    a = np.sin(dphi / 2) ** 2 + np.cos(p[:, None]) * np.cos(p[None, :]) * np.sin(dl / 2) ** 2
    km: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return km
