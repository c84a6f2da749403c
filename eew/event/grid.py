"""The location grid: where the event core searches for sources, and which stations it uses.

The grid is a box on an equirectangular projection about its centre (:class:`Grid`).
Each of its centre and half-widths is either pinned by the configuration
(``[event] grid_center_lat_deg``, ``grid_center_lon_deg``, ``grid_half_width_km``,
``grid_half_height_km``) or, when left unset, follows the station inventory:

* **centre**: the midpoint of the smallest latitude-longitude box that holds the stations.
  Its longitude arc is the complement of the largest gap between station longitudes, so
  a network across the antimeridian gets a box across it, not one around the globe;
* **half-widths**: the stations' largest east-west (north-south) offset from the centre
  plus :data:`GRID_MARGIN_KM`, rounded up to a whole coarse step, and at most half the
  distance the travel-time tables reach (:func:`max_half_width_km`: 500 km for the 1000 km
  ALM-1D tables), so that every node-to-station distance along an axis stays inside them;
* **a network on two continents** (stations that do not fit in such a box): the grid
  follows the largest cluster. The station with the most others within that largest
  half-width anchors it; the box holds the stations within it of the anchor;
* **near a pole** the equirectangular projection degenerates: a grid that follows the
  inventory stops at the pole (its latitude range stays inside ±90°) and its east-west
  extent stays under 180° of longitude. Locations at high latitude are approximate;
* **no stations**: centre (0°, 0°) and half-widths of one margin, unless pinned.

For the shipped 28 + 10 station inventory this rule gives a grid centred at 42.97° N
76.17° E, ±310 km east-west and ±200 km north-south; the shipped ``config/eew.toml``
pins a regional domain instead: 42.9° N 76.0° E, ±500 km by ±300 km (70.0-82.1° E,
40.2-45.6° N), the Tien Shan to about 500 km from Almaty, where regional sources (Wushi,
Kambarata) are located with Pg and Pn and the partner's stations.

:func:`station_coverage` says which stations the grid can use. A station outside the
grid (the location would be outside the grid the search covers), or farther from its
centre than the travel-time tables reach, is set aside: the event core counts its
picks and logs the station once, and they take no part in association or location.
The grid's depth slices are the tables' own, so no depth lies beyond them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eew.config import EventConfig
from eew.event.locate import Grid, TravelTimeStack
from eew.model.geo import KM_PER_DEG, pairwise_distances_km

#: distance the grid extends beyond the outermost stations when it follows the inventory [km]
GRID_MARGIN_KM = 100.0

#: why a station is set aside (the event core's counters are ``picks_<reason>``)
OUTSIDE_GRID = "outside_grid"
BEYOND_TABLES = "beyond_tables"


@dataclass(frozen=True)
class GridSpec:
    """Centre and extent of a location grid.

    Attributes
    ----------
    lat0_deg, lon0_deg : float
        Centre [deg].
    half_width_km, half_height_km : float
        Half extent east-west and north-south [km].
    step_km : float
        Coarse node spacing [km].
    followed : tuple of str
        The keys that followed the inventory (empty: everything pinned).
    """

    lat0_deg: float
    lon0_deg: float
    half_width_km: float
    half_height_km: float
    step_km: float
    followed: tuple[str, ...] = ()

    def build(self, depth_km: np.ndarray) -> Grid:
        """The grid's nodes, with the travel-time tables' depth slices."""
        return Grid(
            self.lat0_deg,
            self.lon0_deg,
            np.arange(-self.half_width_km, self.half_width_km + 1e-6, self.step_km),
            np.arange(-self.half_height_km, self.half_height_km + 1e-6, self.step_km),
            np.asarray(depth_km, dtype=float),
        )

    def describe(self) -> str:
        """One line for the log."""
        how = "pinned" if not self.followed else "following the inventory"
        return (
            f"location grid {how}: centre {self.lat0_deg:.3f} {self.lon0_deg:.3f}, "
            f"±{self.half_width_km:.0f} km E-W, ±{self.half_height_km:.0f} km N-S, "
            f"step {self.step_km:g} km"
        )


def max_distance_km(stack: TravelTimeStack) -> float:
    """Largest distance the travel-time tables reach [km]."""
    return float((stack.p_s.shape[1] - 1) * stack.distance_step_km)


def max_half_width_km(stack: TravelTimeStack) -> float:
    """Largest half-width of a grid that follows the inventory [km]."""
    return 0.5 * max_distance_km(stack)


def _offsets(
    lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return Grid(lat0, lon0, np.zeros(1), np.zeros(1), np.zeros(1)).to_xy(lat, lon)


def _centre(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """Midpoint of the smallest box holding the points (longitude arc across the largest gap)."""
    lo = np.sort(np.mod(np.asarray(lon, dtype=float) + 180.0, 360.0) - 180.0)
    gaps = np.diff(np.append(lo, lo[0] + 360.0))
    i = int(np.argmax(gaps))
    start = float(lo[(i + 1) % lo.size])
    span = 360.0 - float(gaps[i])
    lon0 = start + 0.5 * span
    if lon0 >= 180.0:
        lon0 -= 360.0
    return 0.5 * (float(np.min(lat)) + float(np.max(lat))), lon0


def _largest_cluster(lat: np.ndarray, lon: np.ndarray, radius_km: float) -> np.ndarray:
    """Indices of the stations within ``radius_km`` of the station with most such neighbours."""
    d = pairwise_distances_km(lat, lon)
    near = d <= radius_km
    anchor = int(np.argmax(near.sum(axis=1)))  # ties: the first (inventory order)
    return np.flatnonzero(near[anchor])


def _round_up(value: float, step: float) -> float:
    return step * math.ceil(value / step - 1e-9)


def grid_spec(
    cfg: EventConfig, lat_deg: np.ndarray, lon_deg: np.ndarray, stack: TravelTimeStack
) -> GridSpec:
    """The location grid for these stations (see the module docstring for the rule).

    Parameters
    ----------
    cfg : EventConfig
        Section ``[event]``: the pinned keys and ``grid_step_km``.
    lat_deg, lon_deg : numpy.ndarray
        Station coordinates [deg].
    stack : TravelTimeStack
        The travel-time tables (their reach bounds a grid that follows the inventory).
    """
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    step = cfg.grid_step_km
    cap = max_half_width_km(stack)
    followed = tuple(
        key
        for key in (
            "grid_center_lat_deg",
            "grid_center_lon_deg",
            "grid_half_width_km",
            "grid_half_height_km",
        )
        if getattr(cfg, key) is None
    )
    pinned_lat, pinned_lon = cfg.grid_center_lat_deg, cfg.grid_center_lon_deg
    members = np.arange(lat.size)
    if lat.size:
        lat0, lon0 = _centre(lat, lon)
        lat0 = lat0 if pinned_lat is None else pinned_lat
        lon0 = lon0 if pinned_lon is None else pinned_lon
        x, y = _offsets(lat0, lon0, lat, lon)
        if not ((np.abs(x) <= cap) & (np.abs(y) <= cap)).all():
            if pinned_lat is None or pinned_lon is None:
                members = _largest_cluster(lat, lon, cap)
                c_lat, c_lon = _centre(lat[members], lon[members])
                lat0 = c_lat if pinned_lat is None else pinned_lat
                lon0 = c_lon if pinned_lon is None else pinned_lon
                x, y = _offsets(lat0, lon0, lat, lon)
            inside = (np.abs(x[members]) <= cap) & (np.abs(y[members]) <= cap)
            members = members[inside]
        ext_x = float(np.max(np.abs(x[members]), initial=0.0))
        ext_y = float(np.max(np.abs(y[members]), initial=0.0))
    else:
        lat0 = 0.0 if pinned_lat is None else pinned_lat
        lon0 = 0.0 if pinned_lon is None else pinned_lon
        ext_x = ext_y = 0.0
    half_w = cfg.grid_half_width_km
    if half_w is None:
        half_w = min(_round_up(ext_x + GRID_MARGIN_KM, step), cap)
        # east-west: under 180 degrees of longitude either side, however close to a pole
        c = max(math.cos(math.radians(lat0)), 0.0)
        half_w = min(half_w, 179.0 * KM_PER_DEG * c)
    half_h = cfg.grid_half_height_km
    if half_h is None:
        half_h = min(_round_up(ext_y + GRID_MARGIN_KM, step), cap)
        # north-south: not beyond a pole
        half_h = min(half_h, (90.0 - abs(lat0)) * KM_PER_DEG)
    return GridSpec(lat0, lon0, max(half_w, 0.0), max(half_h, 0.0), step, followed)


def station_coverage(
    spec: GridSpec, lat_deg: np.ndarray, lon_deg: np.ndarray, stack: TravelTimeStack
) -> list[str]:
    """Per station: ``""`` (usable), :data:`OUTSIDE_GRID` or :data:`BEYOND_TABLES`."""
    x, y = _offsets(spec.lat0_deg, spec.lon0_deg, np.asarray(lat_deg), np.asarray(lon_deg))
    reach = max_distance_km(stack)
    out = []
    for xi, yi in zip(np.atleast_1d(x), np.atleast_1d(y), strict=True):
        if abs(xi) > spec.half_width_km + 1e-6 or abs(yi) > spec.half_height_km + 1e-6:
            out.append(OUTSIDE_GRID)
        elif math.hypot(xi, yi) > reach:
            out.append(BEYOND_TABLES)
        else:
            out.append("")
    return out
