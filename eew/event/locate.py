"""Real-time location: equal-differential-time (EDT) grid search with not-yet-arrived stations.

For each trial hypocentre x and each pair of stations (a, b):

* both picked: ``p_ab = exp(-[(T_b - T_a) - (t_b - t_a)]² / (2 sigma²))`` (the EDT
  likelihood: independent of origin time, robust to a wrong pick);
* a picked, b not: b must still be silent, i.e. its predicted arrival
  ``t_a + T_b - T_a`` must be later than b's data end time minus a tolerance; otherwise
  x is penalised (``p_ab = 0``, and 1 if consistent). A station only counts as silent
  when its data are current, so dead stations never veto.

``L(x) = sum p_ab``. With one to three picks the maximum is a region (with one pick the
part of the first station's Voronoi cell still consistent with the silent stations)
that shrinks as time passes; the estimate is its centroid and its extent the
uncertainty. The search runs coarse-to-fine: a precomputed grid of P times (10 km nodes,
several depths), then a 1 km grid around the best coarse node with times interpolated
from the 1-D tables.

References
----------
Satriano, C., Lomax, A. and Zollo, A. (2008). Real-time evolutionary earthquake location
for seismic early warning. *BSSA* 98(3), 1482-1494.

Horiuchi, S., Negishi, H., Abe, K., Kamimura, A. and Fujinawa, Y. (2005). An automatic
processing system for broadcasting earthquake alarms. *BSSA* 95(2), 708-718.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np
from numba import njit

from eew.model.geo import EARTH_RADIUS_KM, KM_PER_DEG, distances_km


@dataclass(frozen=True)
class Grid:
    """Local Cartesian search grid (equirectangular projection about a centre).

    Attributes
    ----------
    lat0_deg, lon0_deg : float
        Projection centre [deg].
    x_km, y_km : numpy.ndarray
        East and north node coordinates [km].
    depth_km : numpy.ndarray
        Depth slices [km].
    """

    lat0_deg: float
    lon0_deg: float
    x_km: np.ndarray
    y_km: np.ndarray
    depth_km: np.ndarray

    def _cos(self) -> float:
        # at a pole the projection degenerates; keep it invertible
        return max(math.cos(math.radians(self.lat0_deg)), 1e-9)

    @overload
    def to_xy(self, lat_deg: float, lon_deg: float) -> tuple[float, float]: ...
    @overload
    def to_xy(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
    def to_xy(
        self, lat_deg: float | np.ndarray, lon_deg: float | np.ndarray
    ) -> tuple[float | np.ndarray, float | np.ndarray]:
        """Project geographic coordinates to grid kilometres.

        Longitude differences are taken the short way round (across the antimeridian).
        """
        dlon = np.asarray(lon_deg, dtype=float) - self.lon0_deg
        far = np.abs(dlon) > 180.0
        if np.any(far):
            dlon = np.where(far, np.mod(dlon + 180.0, 360.0) - 180.0, dlon)
        x = dlon * KM_PER_DEG * self._cos()
        y = (np.asarray(lat_deg, dtype=float) - self.lat0_deg) * KM_PER_DEG
        return x, y

    def to_latlon(self, x_km: float, y_km: float) -> tuple[float, float]:
        """Inverse projection (latitude within ±90°, longitude within ±180°)."""
        lat = self.lat0_deg + y_km / KM_PER_DEG
        lon = self.lon0_deg + x_km / (KM_PER_DEG * self._cos())
        if not -180.0 <= lon <= 180.0:
            lon = (lon + 180.0) % 360.0 - 180.0
        return min(max(lat, -90.0), 90.0), lon

    def to_latlon_array(self, x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse projection of arrays (no wrapping: longitudes may pass ±180°)."""
        lat = self.lat0_deg + np.asarray(y_km, dtype=float) / KM_PER_DEG
        lon = self.lon0_deg + np.asarray(x_km, dtype=float) / (KM_PER_DEG * self._cos())
        return lat, lon

    def contains(self, x_km: float, y_km: float) -> bool:
        """True if a point lies within the grid's nodes (the region the search covers)."""
        eps = 1e-6
        return bool(
            self.x_km[0] - eps <= x_km <= self.x_km[-1] + eps
            and self.y_km[0] - eps <= y_km <= self.y_km[-1] + eps
        )


class DepthTable(Protocol):
    """One depth slice of travel times, as :meth:`TravelTimeStack.from_tables` reads it."""

    @property
    def depth_km(self) -> float:
        """Source depth [km]."""

    @property
    def distance_km(self) -> np.ndarray:
        """Distance nodes [km], increasing."""

    @property
    def p_s(self) -> np.ndarray:
        """First P travel times at the nodes [s]."""

    @property
    def s_s(self) -> np.ndarray:
        """First S travel times at the nodes [s]."""


@dataclass(frozen=True)
class TravelTimeStack:
    """P and S travel times on a uniform distance axis, one row per depth slice."""

    depth_km: np.ndarray
    distance_step_km: float
    p_s: np.ndarray
    s_s: np.ndarray

    @classmethod
    def from_tables(
        cls, tables: Sequence[DepthTable], max_distance_km: float, step_km: float = 0.5
    ) -> TravelTimeStack:
        """Resample per-depth tables (with ``depth_km``, ``distance_km``, ``p_s``, ``s_s``)."""
        d = np.arange(0.0, max_distance_km + step_km, step_km)
        p = np.stack([np.interp(d, t.distance_km, t.p_s) for t in tables])
        s = np.stack([np.interp(d, t.distance_km, t.s_s) for t in tables])
        depth = np.array([t.depth_km for t in tables], dtype=float)
        return cls(depth, step_km, p, s)


@njit(cache=True, inline="always")
def _interp_row(row: np.ndarray, step: float, dist: float) -> float:
    f = dist / step
    i = int(f)
    if i >= row.shape[0] - 1:
        beyond: float = row[-1] + (dist - (row.shape[0] - 1) * step) * (row[-1] - row[-2]) / step
        return beyond
    w = f - i
    inside: float = row[i] * (1.0 - w) + row[i + 1] * w
    return inside


@njit(cache=True, inline="always")
def _surface_km(
    lat1: float, lon1: float, cos1: float, lat2: float, lon2: float, cos2: float
) -> float:
    """Distance between two points given in radians (with their cosines) [km].

    The equirectangular distance with the mean of the two latitudes' cosines as the
    east-west scale: within 0.1 % of the great-circle distance up to 1000 km in the
    Tien Shan's latitudes, without a trigonometric call per pair (the kernel's cost).
    """
    dx = (lon2 - lon1) * 0.5 * (cos1 + cos2)
    km: float = EARTH_RADIUS_KM * math.sqrt((lat2 - lat1) ** 2 + dx * dx)
    return km


@njit(cache=True)
def tt_grid(
    x: np.ndarray,
    y: np.ndarray,
    zi: np.ndarray,
    slat: np.ndarray,
    slon: np.ndarray,
    tt: np.ndarray,
    step: float,
    lat0_deg: float,
    lon0_deg: float,
) -> np.ndarray:
    """Travel times ``[node, station]`` for nodes (x, y, depth-slice index zi) [s].

    Node-to-station distances are surface distances on the sphere (:func:`_surface_km`;
    the nodes' grid coordinates are projected back to latitude and longitude about
    ``lat0_deg``, ``lon0_deg``, the grid's equirectangular projection; stations in
    radians): at regional distances the flat projection's own error reaches several
    kilometres (a second of P time at 400 km).
    """
    n = x.shape[0]
    m = slat.shape[0]
    out = np.empty((n, m), dtype=np.float32)
    c0 = max(math.cos(math.radians(lat0_deg)), 1e-9)
    scos = np.cos(slat)
    for k in range(n):
        row = tt[zi[k]]
        la = math.radians(lat0_deg + y[k] / KM_PER_DEG)
        lo = math.radians(lon0_deg + x[k] / (KM_PER_DEG * c0))
        cl = math.cos(la)
        for j in range(m):
            d = _surface_km(la, lo, cl, slat[j], slon[j], scos[j])
            out[k, j] = _interp_row(row, step, d)
    return out


@njit(cache=True)
def edt_likelihood(
    tt: np.ndarray,
    picked: np.ndarray,
    t_pick: np.ndarray,
    silent: np.ndarray,
    t_data_end: np.ndarray,
    sigma_s: float,
    tolerance_s: float,
) -> np.ndarray:
    """EDT likelihood of every node (see the module docstring).

    Parameters
    ----------
    tt : numpy.ndarray
        P travel times ``[node, station]`` [s].
    picked : numpy.ndarray
        Station indices with picks.
    t_pick : numpy.ndarray
        Their pick times [s, any common reference].
    silent : numpy.ndarray
        Indices of stations without picks whose data are current.
    t_data_end : numpy.ndarray
        End time of the current data of each silent station [s, same reference].
    sigma_s : float
        Pick/model uncertainty of the differential times [s].
    tolerance_s : float
        Detection delay allowed before a silent station contradicts a node [s].
    """
    n = tt.shape[0]
    npk = picked.shape[0]
    nsl = silent.shape[0]
    like = np.zeros(n)
    inv2s2 = 1.0 / (2.0 * sigma_s * sigma_s)
    for k in range(n):
        acc = 0.0
        for i in range(npk):
            ta = tt[k, picked[i]]
            for j in range(i + 1, npk):
                r = (tt[k, picked[j]] - ta) - (t_pick[j] - t_pick[i])
                acc += math.exp(-r * r * inv2s2)
            for j in range(nsl):
                # predicted arrival at the silent station, from pick i
                t_pred = t_pick[i] + tt[k, silent[j]] - ta
                if t_pred > t_data_end[j] - tolerance_s:
                    acc += 1.0
        like[k] = acc
    return like


@njit(cache=True)
def origin_likelihood(
    tt: np.ndarray, picked: np.ndarray, t_pick: np.ndarray, sigma_s: float
) -> np.ndarray:
    """Origin-time likelihood of every node: ``sum_k exp(-(r_k - median r)² / 2 sigma²)``.

    ``r_k = t_k - T_k`` are the origin times implied by each pick; their median is the
    node's origin time, so one wrong pick cannot drag it. O(n log n) per node instead of
    EDT's O(n²): used once many stations have picked, when the silent stations no longer
    constrain the solution.
    """
    n = tt.shape[0]
    m = picked.shape[0]
    like = np.zeros(n)
    r = np.empty(m)
    inv2s2 = 1.0 / (2.0 * sigma_s * sigma_s)
    for k in range(n):
        for i in range(m):
            r[i] = t_pick[i] - tt[k, picked[i]]
        ot = np.median(r)
        acc = 0.0
        for i in range(m):
            d = r[i] - ot
            acc += math.exp(-d * d * inv2s2)
        like[k] = acc
    return like


@dataclass(frozen=True)
class Location:
    """A location estimate.

    Times are in seconds relative to the caller's reference.
    """

    latitude_deg: float
    longitude_deg: float
    depth_km: float
    origin_time_s: float
    horizontal_sigma_km: float
    depth_sigma_km: float
    origin_time_sigma_s: float
    likelihood: float
    max_likelihood: float
    residuals_s: np.ndarray


class Locator:
    """Coarse-to-fine EDT locator for a fixed set of stations.

    Parameters
    ----------
    grid : Grid
        Coarse grid (its depth slices are the travel-time stack's).
    station_lat_deg, station_lon_deg : numpy.ndarray
        Station coordinates, in the order used by the index arrays passed to :meth:`locate`.
    stack : TravelTimeStack
        1-D travel times per depth slice.
    sigma_s, tolerance_s : float
        See :func:`edt_likelihood`.
    fine_step_km, fine_half_width_km : float
        The fine grid around the best coarse node.
    depth_prior_km, depth_prior_sigma_km : float
        Gaussian prior on depth (crustal seismicity of the northern Tien Shan is mostly
        5-25 km deep); it matters only while few stations constrain the depth.
    search_radius_km : float
        Only coarse nodes this close to the first-picked station are searched [km].
    many_picks : int
        From this many picks on, the origin-time likelihood (:func:`origin_likelihood`)
        replaces EDT: cheaper, and the silent stations no longer matter.
    distance_prior_km : float
        Width of a Gaussian prior on the distance from the first-picked station. With few
        picks on one side of a source, the EDT likelihood is a long flat valley along the
        back-azimuth; the prior picks the near end of it (the first station is the nearest,
        Satriano et al. 2008) instead of an arbitrary tie.
    """

    def __init__(
        self,
        grid: Grid,
        station_lat_deg: np.ndarray,
        station_lon_deg: np.ndarray,
        stack: TravelTimeStack,
        sigma_s: float = 0.4,
        tolerance_s: float = 1.0,
        fine_step_km: float = 1.0,
        fine_half_width_km: float = 12.0,
        depth_prior_km: float = 12.0,
        depth_prior_sigma_km: float = 10.0,
        distance_prior_km: float = 100.0,
        search_radius_km: float = 250.0,
        many_picks: int = 8,
    ) -> None:
        self.grid = grid
        self.stack = stack
        self.sigma_s = sigma_s
        self.tolerance_s = tolerance_s
        # log-prior on depth, in the units of the EDT likelihood (one agreeing pair = 1)
        zd = (grid.depth_km - depth_prior_km) / depth_prior_sigma_km
        self._depth_prior = -0.5 * zd * zd
        self.distance_prior_km = distance_prior_km
        self.search_radius_km = search_radius_km
        self.many_picks = many_picks
        self.sx, self.sy = grid.to_xy(station_lat_deg, station_lon_deg)
        # stations in radians, on the grid's side of the antimeridian (great-circle times)
        slat, slon = grid.to_latlon_array(self.sx, self.sy)
        self._slat = np.radians(slat)
        self._slon = np.radians(slon)
        # the coarse pass uses every other depth slice (the fine pass uses all of them)
        coarse_z = np.arange(0, grid.depth_km.size, 2)
        xx, yy, zz = np.meshgrid(grid.x_km, grid.y_km, coarse_z, indexing="ij")
        self._cx = xx.ravel().astype(np.float64)
        self._cy = yy.ravel().astype(np.float64)
        self._cz = zz.ravel().astype(np.int64)
        self.coarse_tt = self._tt(self._cx, self._cy, self._cz)
        step = float(np.median(np.diff(grid.x_km))) if grid.x_km.size > 1 else 10.0
        self._coarse_step = step
        f = np.arange(-fine_half_width_km, fine_half_width_km + 1e-9, fine_step_km)
        fx, fy, fz = np.meshgrid(f, f, np.arange(grid.depth_km.size), indexing="ij")
        self._fx = fx.ravel()
        self._fy = fy.ravel()
        self._fz = fz.ravel().astype(np.int64)

    def _tt(self, x: np.ndarray, y: np.ndarray, zi: np.ndarray) -> np.ndarray:
        g = self.grid
        return tt_grid(
            x,
            y,
            zi,
            self._slat,
            self._slon,
            self.stack.p_s,
            self.stack.distance_step_km,
            g.lat0_deg,
            g.lon0_deg,
        )

    def station_distances_km(self, x_km: float, y_km: float) -> np.ndarray:
        """Great-circle distances from a grid point to every station [km]."""
        lat, lon = self.grid.to_latlon(x_km, y_km)
        return distances_km(lat, lon, np.degrees(self._slat), np.degrees(self._slon))

    def p_times(self, x_km: float, y_km: float, depth_km: float) -> np.ndarray:
        """P travel times from a point to every station [s] (depth interpolated)."""
        return self._times(x_km, y_km, depth_km, self.stack.p_s)

    def s_time_to(
        self, x_km: float, y_km: float, depth_km: float, tx_km: np.ndarray, ty_km: np.ndarray
    ) -> np.ndarray:
        """S travel times from a hypocentre to arbitrary surface points [s]."""
        lat, lon = self.grid.to_latlon(x_km, y_km)
        tlat, tlon = self.grid.to_latlon_array(np.asarray(tx_km), np.asarray(ty_km))
        d = distances_km(lat, lon, tlat, tlon)
        return self._interp_depth(depth_km, self.stack.s_s, d)

    def _times(self, x_km: float, y_km: float, depth_km: float, table: np.ndarray) -> np.ndarray:
        d = self.station_distances_km(x_km, y_km)
        return self._interp_depth(depth_km, table, d)

    def _interp_depth(self, depth_km: float, table: np.ndarray, d: np.ndarray) -> np.ndarray:
        z = self.stack.depth_km
        dist_axis = np.arange(table.shape[1]) * self.stack.distance_step_km
        i = int(np.clip(np.searchsorted(z, depth_km) - 1, 0, max(z.size - 2, 0)))
        if z.size == 1:
            single: np.ndarray = np.interp(d, dist_axis, table[0])
            return single
        w = float(np.clip((depth_km - z[i]) / (z[i + 1] - z[i]), 0.0, 1.0))
        between: np.ndarray = (1 - w) * np.interp(d, dist_axis, table[i]) + w * np.interp(
            d, dist_axis, table[i + 1]
        )
        return between

    def locate(
        self,
        picked: np.ndarray,
        t_pick_s: np.ndarray,
        silent: np.ndarray,
        t_data_end_s: np.ndarray,
        edt_only: bool = False,
    ) -> Location | None:
        """Locate from picks and the silent stations.

        The estimate always lies within the grid: the search covers the coarse nodes near
        the first-picked station (the nearest nodes when none is within
        ``search_radius_km``: a station outside the grid), and the fine grid is cut at
        the grid's edge.

        Parameters
        ----------
        picked : numpy.ndarray
            Station indices with picks; with none there is nothing to locate (None).
        t_pick_s : numpy.ndarray
            Pick times [s relative to any reference].
        silent : numpy.ndarray
            Station indices without a pick whose data are current.
        t_data_end_s : numpy.ndarray
            Their data end times [s, same reference].
        edt_only : bool
            Use EDT with the silent stations whatever the number of picks (to declare an
            event: the silent stations are what tells a local source from a distant one).

        Returns
        -------
        Location or None
            None without picks.
        """
        picked = np.asarray(picked, dtype=np.int64)
        if picked.size == 0:
            return None
        silent = np.asarray(silent, dtype=np.int64)
        t_pick_s = np.asarray(t_pick_s, dtype=np.float64)
        t_data_end_s = np.asarray(t_data_end_s, dtype=np.float64)
        first = picked[int(np.argmin(t_pick_s))]
        sx0, sy0 = self.sx[first], self.sy[first]
        d2 = (self._cx - sx0) ** 2 + (self._cy - sy0) ** 2
        sel = np.flatnonzero(d2 <= self.search_radius_km**2)
        if sel.size == 0:  # no node near the first station: search the nearest ones
            sel = np.flatnonzero(d2 <= d2.min() + 1e-6)
        many = picked.size >= self.many_picks and not edt_only
        # the coarse grid cannot resolve a peak narrower than its spacing: widen the
        # differential-time uncertainty by half a cell's travel time (P at ~6 km/s) there
        sigma_c = math.hypot(self.sigma_s, 0.5 * self._coarse_step / 6.0)
        tt_c = self.coarse_tt[sel]
        if many:
            like_c = origin_likelihood(tt_c, picked, t_pick_s, sigma_c)
        else:
            like_c = edt_likelihood(
                tt_c, picked, t_pick_s, silent, t_data_end_s, sigma_c, self.tolerance_s
            )
        inv2 = 0.5 / self.distance_prior_km**2
        like_c = like_c + self._depth_prior[self._cz[sel]] - inv2 * d2[sel]
        best = int(sel[int(np.argmax(like_c))])
        bx, by = self._cx[best], self._cy[best]
        fx = self._fx + bx
        fy = self._fy + by
        fz = self._fz
        g = self.grid
        keep = (fx >= g.x_km[0]) & (fx <= g.x_km[-1]) & (fy >= g.y_km[0]) & (fy <= g.y_km[-1])
        if not keep.all():  # the fine grid ends where the grid does
            fx, fy, fz = fx[keep], fy[keep], fz[keep]
        tt_f = self._tt(fx, fy, fz)
        if many:
            like_f = origin_likelihood(tt_f, picked, t_pick_s, self.sigma_s)
        else:
            like_f = edt_likelihood(
                tt_f, picked, t_pick_s, silent, t_data_end_s, self.sigma_s, self.tolerance_s
            )
        fit_max = float(like_f.max())
        like_f = like_f + self._depth_prior[fz] - inv2 * ((fx - sx0) ** 2 + (fy - sy0) ** 2)
        lmax = float(like_f.max())
        # the region of (near-)maximum likelihood: its centroid is the estimate
        region = like_f >= lmax - 0.5
        w = np.exp(like_f[region] - lmax)
        rx, ry = fx[region], fy[region]
        rz = self.stack.depth_km[fz[region]]
        # (clipped: an average of nodes on the edge may round past it)
        x = min(max(float(np.average(rx, weights=w)), float(g.x_km[0])), float(g.x_km[-1]))
        y = min(max(float(np.average(ry, weights=w)), float(g.y_km[0])), float(g.y_km[-1]))
        zs = self.stack.depth_km
        z = min(max(float(np.average(rz, weights=w)), float(zs[0])), float(zs[-1]))
        # the uncertainty: EDT sums n(n-1)/2 pairs, so each pick's misfit counts about n/2
        # times; the surface is tempered by that factor for its width, else the width
        # shrinks too fast with n and a biased early solution looks certain
        temper = 1.0 if many else max(1.0, 0.5 * picked.size)
        wide = like_f >= lmax - 0.5 * temper
        ww = np.exp((like_f[wide] - lmax) / temper)
        h_sigma = float(np.sqrt(np.average((fx[wide] - x) ** 2 + (fy[wide] - y) ** 2, weights=ww)))
        # region touching the fine grid's edge: it extends further; widen the uncertainty
        half = float(self._fx.max())
        wx, wy = fx[wide], fy[wide]
        if np.any(np.abs(wx - bx) >= half - 1e-6) or np.any(np.abs(wy - by) >= half - 1e-6):
            cregion = sel[like_c >= float(like_c.max()) - 0.5 * temper]
            h_sigma = max(
                h_sigma,
                float(
                    np.sqrt(np.mean((self._cx[cregion] - x) ** 2 + (self._cy[cregion] - y) ** 2))
                ),
            )
        z_sigma = float(np.sqrt(np.average((rz - z) ** 2, weights=w)))
        tp = self.p_times(x, y, z)[picked]
        ots = t_pick_s - tp
        ot = float(np.median(ots))
        ot_sigma = float(np.std(ots)) if ots.size > 1 else self.sigma_s
        # the likelihood assumes residuals of sigma_s; where the picks scatter more (a wrong
        # pick, a model error), the surface is too narrow: widen it by their RMS / sigma_s
        if ots.size > 3:
            rms = float(np.sqrt(np.mean((ots - ot) ** 2) * ots.size / (ots.size - 3)))
            h_sigma *= max(1.0, rms / self.sigma_s)
        lat, lon = self.grid.to_latlon(x, y)
        return Location(
            latitude_deg=lat,
            longitude_deg=lon,
            depth_km=z,
            origin_time_s=ot,
            horizontal_sigma_km=max(h_sigma, 0.5),
            depth_sigma_km=max(z_sigma, 1.0),
            origin_time_sigma_s=max(ot_sigma, 0.05),
            likelihood=fit_max,
            max_likelihood=float(picked.size if many else _max_possible(picked.size, silent.size)),
            residuals_s=ots - ot,
        )


def _max_possible(n_picked: int, n_silent: int) -> int:
    return n_picked * (n_picked - 1) // 2 + n_picked * n_silent
