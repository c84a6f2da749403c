"""Stable locations: once settled, later picks move a location by no more than its uncertainty.

A location has *settled* when its horizontal uncertainty (from the likelihood surface,
:class:`eew.event.locate.Locator`) is below ``[event] settled_sigma_km`` and at least
``settled_min_picks`` picks made it. From then on the event core

1. **rejects picks by their residual** against the settled solution: a pick whose P
   residual (observed minus predicted from the settled hypocentre and origin time)
   exceeds ``settled_max_residual_s`` is left out of the location. These are the picks
   that spoil late locations: S phases or coda taken for P, stations whose P pick is late
   (an emergent onset, a clipped or distant station), another event's phase;
2. **bounds the update**: the new estimate may move at most the settled uncertainty away
   from the settled epicentre (:func:`bounded_move`); it is shifted back along the line
   between the two onto that circle otherwise, and its origin time recomputed there;
3. **re-settles** on a better solution: a bounded estimate with a smaller uncertainty
   becomes the new anchor, so the bound tightens as the network fills in.

This is the evolutionary idea of Satriano et al. (2008) applied after settling: the
information from the first, cleanest picks is not thrown away when later, noisier ones
arrive.

References
----------
Satriano, C., Lomax, A. and Zollo, A. (2008). Real-time evolutionary earthquake location
for seismic early warning. *BSSA* 98(3), 1482-1494.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from eew.event.locate import Grid, Location


def has_settled(loc: Location, n_picks: int, sigma_km: float, min_picks: int) -> bool:
    """True when ``loc`` from ``n_picks`` picks has settled (see the module docstring)."""
    return n_picks >= min_picks and loc.horizontal_sigma_km <= sigma_km


def residual_keep(residual_s: np.ndarray, max_residual_s: float) -> np.ndarray:
    """Mask of the picks whose residual against the settled location is acceptable.

    Parameters
    ----------
    residual_s : numpy.ndarray
        Observed minus predicted P time of each pick [s].
    max_residual_s : float
        Largest accepted absolute residual [s].
    """
    keep: np.ndarray = np.abs(np.asarray(residual_s, dtype=float)) <= max_residual_s
    return keep


def bounded_move(
    anchor: Location,
    new: Location,
    grid: Grid,
    pick_times_s: np.ndarray,
    travel_s: Callable[[float, float], np.ndarray],
) -> Location:
    """``new``, moved back to within the anchor's horizontal uncertainty of ``anchor``.

    Parameters
    ----------
    anchor : Location
        The settled location.
    new : Location
        The latest estimate.
    grid : Grid
        The projection both are in.
    pick_times_s : numpy.ndarray
        Times of the picks that made ``new`` [s, the reference of ``new.origin_time_s``].
    travel_s : callable
        ``travel_s(x_km, y_km)``: P travel times from an epicentre at ``new``'s depth to
        those picks' stations [s]; the origin time of a moved estimate is the median of
        ``pick - travel time`` there.

    Returns
    -------
    Location
        ``new`` itself when it is within the bound; otherwise a copy on the circle of
        radius ``anchor.horizontal_sigma_km`` about the anchor, with an uncertainty no
        smaller than the anchor's.
    """
    ax, ay = grid.to_xy(anchor.latitude_deg, anchor.longitude_deg)
    nx, ny = grid.to_xy(new.latitude_deg, new.longitude_deg)
    dx, dy = nx - ax, ny - ay
    d = math.hypot(dx, dy)
    limit = anchor.horizontal_sigma_km
    if d <= limit:
        return new
    f = limit / d
    x, y = ax + f * dx, ay + f * dy
    lat, lon = grid.to_latlon(x, y)
    ots = np.asarray(pick_times_s, dtype=float) - np.asarray(travel_s(x, y), dtype=float)
    ot = float(np.median(ots)) if ots.size else new.origin_time_s
    return replace(
        new,
        latitude_deg=lat,
        longitude_deg=lon,
        origin_time_s=ot,
        horizontal_sigma_km=max(new.horizontal_sigma_km, anchor.horizontal_sigma_km),
        residuals_s=ots - ot,
    )
