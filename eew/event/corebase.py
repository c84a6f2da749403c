"""State shared by the parts of the event core, and the event it tracks.

:class:`~eew.event.core.EventCore` is assembled from one class per responsibility, each
a subclass of the previous one:

* :class:`CoreBase` (here): the configuration, the station arrays and the location grid,
  the locator, the pool of unassociated picks, the open events, the incident book and the
  onsite detector, the counters; predicted P/S times at the stations for an event's
  current location; recording a location; closing and deleting an event's alerts;
* :class:`~eew.event.locating.Locating`: locating picks with the silent stations,
  outlier removal and settling (:mod:`eew.event.locate`, :mod:`eew.event.settle`);
* :class:`~eew.event.evaluation.Evaluation`: re-evaluating an event (location,
  teleseism and distant tests, magnitude with P-growth and finite fault, forecasts,
  alert decision);
* :class:`~eew.event.association.Association`: picks to events, and new events from the
  pool;
* :class:`~eew.event.core.EventCore`: the input, the clock-driven ticks and expiry.

:class:`TrackedEvent` is one event of the core: its station picks, locations, magnitude
state and alert lifecycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from eew.config import AlertConfig, EventConfig, FiniteFaultConfig, OnsiteConfig
from eew.event.finder import FiniteFault, FiniteFaultEstimator
from eew.event.grid import grid_spec, station_coverage
from eew.event.incident import IncidentBook
from eew.event.lifecycle import AlertLifecycle
from eew.event.locate import Location, Locator, TravelTimeStack
from eew.event.onsite import OnsiteDetector
from eew.event.stations import StationPick
from eew.event.targets import Target
from eew.inventory import Inventory
from eew.model.clock import Clock
from eew.model.geo import distances_km
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.event")


class TrackedEvent:
    """One event of the core: its station picks, location, magnitude state and lifecycle."""

    def __init__(self, number: int, picks: list[StationPick]) -> None:
        self.number = number
        self.picks: dict[str, StationPick] = {sp.station_id: sp for sp in picks}
        self.secondary: list[StationPick] = []
        self.location: Location | None = None
        #: the settled location (:mod:`eew.event.settle`), once there is one
        self.settled: Location | None = None
        #: the previous unbounded estimate and its number of picks (settling needs two
        #: successive estimates from different picks that agree)
        self.previous: tuple[Location, int] | None = None
        self.t_ref_ns = min(sp.time_ns for sp in picks)
        self.origin_ns = self.t_ref_ns
        self.last_change_ns = 0
        self.located_n = 0
        self.located_at_ns = 0
        self.teleseism = False
        #: the picks once formed a plane wave faster than any regional Pn (for good)
        self.plane_wave = False
        self.distant = False
        self.closed = False
        self.lifecycle: AlertLifecycle | None = None
        #: (location, P times, S times, epicentral distances) for the current location
        self.predicted: tuple[Location, np.ndarray, np.ndarray, np.ndarray] | None = None
        #: finite-fault estimate, when it was made [ns], and whether its line grew
        self.finite: FiniteFault | None = None
        self.finite_at_ns = 0
        self.finite_growing = False
        #: when a re-evaluation that follows the rupture last ran [ns]
        self.followed_at_ns = 0
        #: the largest P-wave magnitude so far (before the finite fault is fused in)
        self.p_magnitude = 0.0


class CoreBase:
    """State of the event core shared by its parts.

    Parameters: see :class:`~eew.event.core.EventCore`, whose constructor this is.
    """

    def __init__(
        self,
        event: EventConfig,
        alert: AlertConfig,
        onsite: OnsiteConfig,
        config_hash: str,
        inventory: Inventory,
        sink: Callable[[object], None],
        clock: Clock,
        data_end_ns: Callable[[str], int | None],
        stack: TravelTimeStack,
        targets: tuple[Target, ...],
        software_version: str,
        deferred: bool = False,
        finite_fault: FiniteFaultConfig | None = None,
        peak_acceleration: Callable[[str, int, int], float | None] | None = None,
        peak_velocity: Callable[[str, int, int], float | None] | None = None,
    ) -> None:
        self.cfg = event
        self.ffcfg = finite_fault if finite_fault is not None else FiniteFaultConfig()
        self._peak_acc = peak_acceleration
        self._peak_vel = peak_velocity
        self.finder = (
            FiniteFaultEstimator(
                self.ffcfg.floor_cm_s2,
                self.ffcfg.max_rupture_velocity_km_s,
                rupture_velocity_km_s=self.ffcfg.rupture_velocity_km_s,
                settle_s=self.ffcfg.settle_s,
                coverage_km=self.ffcfg.coverage_km,
            )
            if self.ffcfg.enabled and peak_acceleration is not None
            else None
        )
        self.deferred = deferred
        self._dirty: dict[int, tuple[TrackedEvent, bool]] = {}
        self._expired_at = 0
        self.acfg = alert
        self._sink = sink
        self._clock = clock
        self._data_end_ns = data_end_ns
        self.targets = targets
        stations = inventory.stations()
        self.station_ids = sorted(stations)
        self._index = {s: i for i, s in enumerate(self.station_ids)}
        self.st_lat = np.array([stations[s][0] for s in self.station_ids])
        self.st_lon = np.array([stations[s][1] for s in self.station_ids])
        c = self.cfg
        self.grid_spec = grid_spec(c, self.st_lat, self.st_lon, stack)
        grid = self.grid_spec.build(stack.depth_km)
        #: station -> why its picks are set aside (outside the grid, beyond the tables)
        self.set_aside = {
            sid: why
            for sid, why in zip(
                self.station_ids,
                station_coverage(self.grid_spec, self.st_lat, self.st_lon, stack),
                strict=True,
            )
            if why
        }
        self._set_aside_logged: set[str] = set()
        log.info(
            "%s; %d of %d stations inside",
            self.grid_spec.describe(),
            len(self.station_ids) - len(self.set_aside),
            len(self.station_ids),
        )
        self.locator = Locator(
            grid, self.st_lat, self.st_lon, stack, c.edt_sigma_s, c.silent_tolerance_s
        )
        self.grid = grid
        self._tx, self._ty = grid.to_xy(
            np.array([t.latitude_deg for t in targets]),
            np.array([t.longitude_deg for t in targets]),
        )
        self.pool: list[StationPick] = []
        self.absorbed: list[StationPick] = []
        self.events: list[TrackedEvent] = []
        self._n_events = 0
        self.incidents = IncidentBook(alert.status)
        self._record_args = (alert, config_hash, software_version, self.incidents)
        self.onsite = OnsiteDetector(
            onsite,
            alert.agency,
            config_hash,
            targets,
            sink,
            clock,
            software_version,
            self.incidents,
        )
        near_target = np.zeros(len(self.station_ids), dtype=bool)
        for t in targets:
            d = distances_km(t.latitude_deg, t.longitude_deg, self.st_lat, self.st_lon)
            near_target |= d <= onsite.plum_radius_km
        #: indices of the stations within ``plum_radius_km`` of a target (the PLUM term)
        self.plum_stations = np.flatnonzero(near_target).tolist()
        self.counters: dict[str, int] = {
            "events": 0,
            "teleseisms": 0,
            "alerts": 0,
            "picks_outside_grid": 0,
            "picks_beyond_tables": 0,
        }

    @property
    def _ff_interval_ns(self) -> int:
        return round(self.ffcfg.interval_s * NS_PER_S)

    def _predicted(self, ev: TrackedEvent, sid: str) -> tuple[float, float]:
        """Predicted P and S arrival at a station [ns] for the event's current location."""
        tp, ts, _repi = self._predicted_all(ev)
        i = self._index[sid]
        return float(tp[i]), float(ts[i])

    def _predicted_all(self, ev: TrackedEvent) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P and S arrival times [ns] and epicentral distances [km] at every station.

        Computed once per location (vectorised) and kept with the event.
        """
        loc = ev.location
        assert loc is not None
        cached = ev.predicted
        if cached is not None and cached[0] is loc:
            return cached[1], cached[2], cached[3]
        x, y = self.grid.to_xy(loc.latitude_deg, loc.longitude_deg)
        d = self.locator.station_distances_km(float(x), float(y))
        tp = (
            ev.origin_ns
            + self.locator._interp_depth(loc.depth_km, self.locator.stack.p_s, d) * NS_PER_S
        )
        ts = (
            ev.origin_ns
            + self.locator._interp_depth(loc.depth_km, self.locator.stack.s_s, d) * NS_PER_S
        )
        repi = distances_km(loc.latitude_deg, loc.longitude_deg, self.st_lat, self.st_lon)
        ev.predicted = (loc, tp, ts, repi)
        return tp, ts, repi

    def _set_location(self, ev: TrackedEvent, loc: Location, now: int) -> None:
        ev.location = loc
        ev.origin_ns = round(loc.origin_time_s * NS_PER_S)
        ev.located_n = len(ev.picks)
        ev.located_at_ns = now

    def _close(self, ev: TrackedEvent, now: int) -> None:
        ev.closed = True
        if ev.lifecycle is not None:
            for out in ev.lifecycle.close(now):
                self._sink(out)

    def _delete(self, ev: TrackedEvent, now: int, why: str) -> None:
        ev.closed = True
        if ev.lifecycle is not None:
            for out in ev.lifecycle.delete(now, why):
                self._sink(out)
