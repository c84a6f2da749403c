"""The event core: picks in, events and alerts out.

:class:`EventCore` sits behind the per-channel pipeline as its sink. It forwards every
value it receives, and turns picks into events:

1. the channel picks of one onset at one station are merged (:mod:`eew.event.stations`);
2. a new station pick joins an event when its time is within ``association_tolerance_s``
   of the event's predicted P time (a pick near the predicted S time is recognised as S
   and ignored); otherwise it waits in a pool;
3. ``min_picks_event`` pooled picks that could belong to one source (time differences
   not larger than distance / ``min_apparent_velocity_km_s`` + slack) are located with
   the EDT locator (:mod:`eew.event.locate`) and, if the residuals are small and the
   location is inside the grid, become an event; picks of a second event 20 s later do
   not fit the first one's predicted times and start their own;
4. each change re-evaluates the event: relocation (with the stations that are still
   silent), magnitude from the station Pd/tau_c/tau_p windows cut at the predicted S
   arrival (:mod:`eew.event.magnitude`), teleseism and distant-event checks, shaking
   forecast and warning time at the targets (:mod:`eew.event.forecast`), then the alert
   decision and lifecycle (:mod:`eew.event.lifecycle`).

Near-field onsite alerts from the city's own stations are handled by
:mod:`eew.event.onsite`. Nothing here reads the wall clock or touches a socket: time
comes from the injected clock, results go to the ``sink`` callable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eew.config import AlertConfig, EventConfig, FiniteFaultConfig, OnsiteConfig
from eew.event import groundmotion as gm
from eew.event import magnitude as mag
from eew.event.distant import below_teleseism_line, is_distant_wavefront
from eew.event.finder import FiniteFault, FiniteFaultEstimator, line_geometry
from eew.event.forecast import forecast_targets
from eew.event.grid import BEYOND_TABLES, OUTSIDE_GRID, grid_spec, station_coverage
from eew.event.incident import IncidentBook
from eew.event.lifecycle import AlertLifecycle, EventRecord
from eew.event.locate import Location, Locator, TravelTimeStack
from eew.event.onsite import OnsiteDetector
from eew.event.pgrowth import fuse_correlated, pd_growth
from eew.event.settle import bounded_move, has_settled, residual_keep
from eew.event.stations import StationPick
from eew.event.targets import Target
from eew.inventory import Inventory
from eew.model.alert import LineSource
from eew.model.clock import Clock
from eew.model.geo import distances_km
from eew.model.pick import Pick
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.event")


@dataclass(frozen=True, slots=True)
class EventStatistics:
    """Counters of an :class:`EventCore`.

    Attributes
    ----------
    events : int
        Events declared.
    teleseisms : int
        Events recognised as teleseismic or distant (no alert).
    alerts : int
        Source alerts issued (every version counts).
    picks_outside_grid, picks_beyond_tables : int
        Pick messages set aside: station outside the location grid, or farther from its
        centre than the travel-time tables reach.
    """

    events: int
    teleseisms: int
    alerts: int
    picks_outside_grid: int = 0
    picks_beyond_tables: int = 0

    @property
    def picks_set_aside(self) -> int:
        """Pick messages set aside for either reason."""
        return self.picks_outside_grid + self.picks_beyond_tables


#: correlation of the P-growth magnitude with the station combination (same Pd data)
PD_GROWTH_RHO = 0.5

_WHY = {OUTSIDE_GRID: "outside the location grid", BEYOND_TABLES: "beyond the travel-time tables"}


class _Event:
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


class EventCore:
    """Association, location, magnitude, forecasts and alerts (see the module docstring).

    Parameters
    ----------
    event : EventConfig
        Section ``[event]``: association and location.
    alert : AlertConfig
        Section ``[alert]``: when an event becomes an alert.
    onsite : OnsiteConfig
        Section ``[onsite]`` (for the :class:`~eew.event.onsite.OnsiteDetector`).
    config_hash : str
        Hash of the effective configuration, stamped on every alert.
    inventory : Inventory
        Station coordinates.
    sink : callable
        Receives every value: the forwarded picks and rejections, events, alerts.
    clock : Clock
        Time source (the data clock under replay).
    data_end_ns : callable
        ``data_end_ns(station_id)`` -> end time of the station's newest data [ns] or None.
    stack : TravelTimeStack
        P and S travel times per depth slice.
    targets : tuple of Target
        Target sites.
    software_version : str
        Stamped on every alert.
    deferred : bool
        Evaluate changed events in :meth:`tick` instead of on every pick message. The
        pipeline calls ``tick`` after each packet (``Pipeline(after_packet=core.tick)``), so
        a burst of pick updates from one packet costs one evaluation per event, and the
        results carry the same data time.
    finite_fault : FiniteFaultConfig, optional
        Section ``[finite_fault]`` (default: its defaults).
    peak_acceleration : callable, optional
        ``peak_acceleration(station_id, start_ns, end_ns)`` -> the station's largest
        acceleration in that span [cm/s²] or None (the router's
        :meth:`~eew.detect.router.Pipeline.peak_acceleration_cm_s2`). Without it there is
        no finite-fault estimate (pick messages carry only the early-P acceleration).
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
    ) -> None:
        self.cfg = event
        self.ffcfg = finite_fault if finite_fault is not None else FiniteFaultConfig()
        self._peak_acc = peak_acceleration
        self.finder = (
            FiniteFaultEstimator(
                self.ffcfg.floor_cm_s2,
                self.ffcfg.max_rupture_velocity_km_s,
                rupture_velocity_km_s=self.ffcfg.rupture_velocity_km_s,
                settle_s=self.ffcfg.settle_s,
            )
            if self.ffcfg.enabled and peak_acceleration is not None
            else None
        )
        self.deferred = deferred
        self._dirty: dict[int, tuple[_Event, bool]] = {}
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
        self.events: list[_Event] = []
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
        self.counters: dict[str, int] = {
            "events": 0,
            "teleseisms": 0,
            "alerts": 0,
            "picks_outside_grid": 0,
            "picks_beyond_tables": 0,
        }

    # ---- input ------------------------------------------------------------------------
    def __call__(self, value: object) -> None:
        """Sink for the pipeline: forward the value, then process picks."""
        self._sink(value)
        if isinstance(value, Pick) and value.channel_id.rsplit(".", 2)[0] in self._index:
            self.on_pick(value)

    def on_pick(self, pick: Pick) -> None:
        """Process one pick message."""
        now = self._clock.now_ns()
        sid = pick.channel_id.rsplit(".", 2)[0]
        if sid in self.set_aside:
            self._set_pick_aside(sid, pick, now)
            return
        sp, ev = self._find(sid, pick)
        phase: str | None = "P"
        if sp is not None:
            sp.add(pick)
            phase = "S" if sp.secondary else "P"
            if ev is not None:
                self._request(ev, now, changed=False)
        else:
            sp = StationPick(
                sid, pick.time_ns, pick.latitude_deg, pick.longitude_deg, first_sent_ns=now
            )
            sp.add(pick)
            ev, phase = self._associate(sp)
            if ev is not None and phase == "P":
                self._request(ev, now, changed=True)
            elif phase is None:
                if self._teleseism_hold(now):
                    sp.secondary = True  # a late pick of a teleseismic or distant event
                    self.absorbed.append(sp)
                    phase = "S"
                else:
                    self.pool.append(sp)
                    self._try_new_event(sp, now)
                    phase = "P"
        if (
            phase != "S"
            and not self._located_away_from_city(ev)
            and not self._later_phase(sid, pick.time_ns)
            and not self._teleseism_hold(now)
        ):
            self.onsite.on_pick(sid, pick)
        self._expire(now)

    def _set_pick_aside(self, sid: str, pick: Pick, now: int) -> None:
        """A pick of a station the grid cannot use: counted, never associated or located.

        It still reaches the onsite detector, which has its own geometry (the city).
        """
        why = self.set_aside[sid]
        self.counters[f"picks_{why}"] += 1
        if sid not in self._set_aside_logged:
            self._set_aside_logged.add(sid)
            log.warning(
                "picks of %s are set aside: the station is %s (counted as picks_%s; "
                "not logged again)",
                sid,
                _WHY[why],
                why,
            )
        if not self._later_phase(sid, pick.time_ns) and not self._teleseism_hold(now):
            self.onsite.on_pick(sid, pick)
        self._expire(now)

    def tick(self, now_ns: int | None = None) -> None:
        """Evaluate the events changed since the last tick, and close expired ones."""
        now = self._clock.now_ns() if now_ns is None else now_ns
        if self._dirty:
            dirty, self._dirty = self._dirty, {}
            for ev, changed in dirty.values():
                self._evaluate(ev, now, changed)
        for ev in self.events:
            if self._following(ev, now) and now - ev.followed_at_ns >= self._ff_interval_ns:
                ev.followed_at_ns = now
                self._evaluate(ev, now, False, touch=False)
        if now - self._expired_at >= NS_PER_S // 2:  # expiry needs no finer time than 0.5 s
            self._expire(now)

    def idle_until_ns(self) -> int | None:
        """Time [ns] before which :meth:`tick` does nothing (None: the next tick has work).

        A parallel replay (:mod:`eew.parallel`) calls :meth:`tick` only where it matters.
        """
        if self._dirty:
            return None
        due = self._expired_at + NS_PER_S // 2
        for ev in self.events:
            if self._following(ev, self._expired_at):
                due = min(due, ev.followed_at_ns + self._ff_interval_ns)
        return due

    @property
    def _ff_interval_ns(self) -> int:
        return round(self.ffcfg.interval_s * NS_PER_S)

    def _following(self, ev: _Event, now: int) -> bool:
        """True while a large event's rupture is followed (re-evaluated every interval).

        Only events with a finite-fault estimator whose P-wave magnitude reached
        ``follow_magnitude``, up to ``follow_s`` after origin: the line may still grow
        after the last P pick.
        """
        if self.finder is None or ev.closed or ev.teleseism or ev.distant:
            return False
        c = self.ffcfg
        return ev.p_magnitude >= c.follow_magnitude and now - ev.origin_ns <= c.follow_s * NS_PER_S

    def _request(self, ev: _Event, now: int, changed: bool) -> None:
        """Evaluate now, or (deferred) at the next :meth:`tick`."""
        if not self.deferred:
            self._evaluate(ev, now, changed)
            return
        prev = self._dirty.get(ev.number)
        self._dirty[ev.number] = (ev, changed or (prev is not None and prev[1]))
        ev.last_change_ns = now

    def flush(self) -> None:
        """End of data: close every event (final alerts)."""
        self.tick()
        now = self._clock.now_ns()
        for ev in self.events:
            if not ev.closed:
                self._close(ev, now)

    # ---- association ------------------------------------------------------------------
    def _find(self, sid: str, pick: Pick) -> tuple[StationPick | None, _Event | None]:
        for ev in self.events:
            sp = ev.picks.get(sid)
            if sp is not None and sp.matches(pick):
                return sp, ev
            for sec in ev.secondary:
                if sec.station_id == sid and sec.matches(pick):
                    return sec, None
        for sp in self.pool + self.absorbed:
            if sp.station_id == sid and sp.matches(pick):
                return sp, None
        return None, None

    def _later_phase(self, sid: str, t_ns: int) -> bool:
        """True if a located event's P should already have passed this station at ``t_ns``."""
        for ev in self.events:
            if ev.closed or ev.location is None or ev.teleseism or ev.distant:
                continue
            tp, _ts = self._predicted(ev, sid)
            if t_ns > tp + self.cfg.association_tolerance_s * NS_PER_S:
                return True
        return False

    def _located_away_from_city(self, ev: _Event | None) -> bool:
        """True if the pick belongs to an event located outside the onsite zone.

        Onsite alerts are for sources under the city (the blind zone); the shaking of a
        located event elsewhere is already forecast by its source alert.
        """
        if ev is None or ev.location is None or len(ev.picks) < self.acfg.min_stations:
            return False
        oc = self.onsite.cfg
        d = distances_km(
            oc.city_lat_deg,
            oc.city_lon_deg,
            np.array([ev.location.latitude_deg]),
            np.array([ev.location.longitude_deg]),
        )[0]
        return bool(d > oc.city_radius_km + 2.0 * ev.location.horizontal_sigma_km)

    def _teleseism_hold(self, now: int) -> bool:
        """True while a teleseismic or distant event is recent: its late picks are absorbed."""
        hold = self.cfg.teleseism_hold_s * NS_PER_S
        return any(
            (e.teleseism or e.distant) and now - e.last_change_ns <= hold for e in self.events
        )

    def _predicted(self, ev: _Event, sid: str) -> tuple[float, float]:
        """Predicted P and S arrival at a station [ns] for the event's current location."""
        tp, ts, _repi = self._predicted_all(ev)
        i = self._index[sid]
        return float(tp[i]), float(ts[i])

    def _predicted_all(self, ev: _Event) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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

    def _associate(self, sp: StationPick) -> tuple[_Event | None, str | None]:
        """Attach ``sp`` to an event as its P ("P") or recognise it as S ("S")."""
        best: tuple[float, _Event] | None = None
        for ev in self.events:
            if ev.closed or ev.location is None:
                continue
            tp, ts = self._predicted(ev, sp.station_id)
            tol = self._tolerance_ns(ev)
            near_s = abs(sp.time_ns - ts) <= max(tol, 0.15 * (ts - tp))
            # a pick near the predicted S is this event's S only where its P was seen (or
            # is overdue); otherwise it may be the P of an overlapping second event
            seen_p = sp.station_id in ev.picks or sp.time_ns - tp > 2 * tol
            if near_s and seen_p and abs(sp.time_ns - ts) < abs(sp.time_ns - tp):
                sp.secondary = True
                ev.secondary.append(sp)  # the S wave (or a later phase) of this event
                return ev, "S"
            if sp.station_id in ev.picks:
                continue
            dt = abs(sp.time_ns - tp)
            if dt <= tol and (best is None or dt < best[0]):
                best = (dt, ev)
        if best is None:
            return None, None
        ev = best[1]
        ev.picks[sp.station_id] = sp
        return ev, "P"

    def _tolerance_ns(self, ev: _Event) -> float:
        """Association window around a predicted time: wider while the location is uncertain."""
        loc = ev.location
        assert loc is not None
        spread_s = 2.0 * loc.origin_time_sigma_s + loc.horizontal_sigma_km / 6.0
        return (self.cfg.association_tolerance_s + spread_s) * NS_PER_S

    def _compatible(self, a: StationPick, b: StationPick) -> bool:
        d = float(
            distances_km(
                a.latitude_deg,
                a.longitude_deg,
                np.array([b.latitude_deg]),
                np.array([b.longitude_deg]),
            )[0]
        )
        limit = d / self.cfg.min_apparent_velocity_km_s + self.cfg.pick_slack_s
        return abs(a.time_ns - b.time_ns) / NS_PER_S <= limit

    def _try_new_event(self, new: StationPick, now: int) -> None:
        cands = sorted(
            (
                sp
                for sp in self.pool
                if sp is not new and not sp.retracted and sp.station_id != new.station_id
            ),
            key=lambda s: s.time_ns,
        )
        cluster = [new]
        for sp in cands:
            if sp.station_id in {c.station_id for c in cluster}:
                continue
            if all(self._compatible(sp, c) for c in cluster):
                cluster.append(sp)
        if len(cluster) < self.cfg.min_picks_event:
            return
        loc = self._locate(cluster, now, edt_only=True)
        if loc is None or not self._acceptable(loc):
            return
        self._n_events += 1
        ev = _Event(self._n_events, cluster)
        for sp in cluster:
            self.pool.remove(sp)
        self.events.append(ev)
        self.counters["events"] += 1
        self._set_location(ev, loc, now)
        # other pooled picks that fit the new event
        for sp in list(self.pool):
            tp, _ts = self._predicted(ev, sp.station_id)
            if abs(sp.time_ns - tp) <= self.cfg.association_tolerance_s * NS_PER_S:
                ev.picks[sp.station_id] = sp
                self.pool.remove(sp)
        log.info("event %d declared with %d stations", ev.number, len(ev.picks))
        self._request(ev, now, changed=True)

    # ---- location -----------------------------------------------------------------------
    def _locate(
        self,
        picks: list[StationPick],
        now: int,
        exclude: set[str] | None = None,
        edt_only: bool = False,
    ) -> Location | None:
        if not picks:
            return None
        t_ref = min(sp.time_ns for sp in picks)
        idx = np.array([self._index[sp.station_id] for sp in picks], dtype=np.int64)
        tp = np.array([(sp.time_ns - t_ref) / NS_PER_S for sp in picks])
        busy = {sp.station_id for sp in self.pool}
        for ev in self.events:
            if not ev.closed:
                busy.update(ev.picks)
        busy.update(sp.station_id for sp in picks)
        if exclude:
            busy.update(exclude)
        silent, ends = [], []
        for sid in self.station_ids:
            if sid in busy or sid in self.set_aside:
                continue
            end = self._data_end_ns(sid)
            if end is None or end < now - self.cfg.station_latency_max_s * NS_PER_S:
                continue
            silent.append(self._index[sid])
            ends.append((end - t_ref) / NS_PER_S)
        loc = self.locator.locate(
            idx, tp, np.array(silent, dtype=np.int64), np.array(ends), edt_only=edt_only
        )
        if loc is None:
            return None
        return Location(
            latitude_deg=loc.latitude_deg,
            longitude_deg=loc.longitude_deg,
            depth_km=loc.depth_km,
            origin_time_s=loc.origin_time_s + t_ref / NS_PER_S,
            horizontal_sigma_km=loc.horizontal_sigma_km,
            depth_sigma_km=loc.depth_sigma_km,
            origin_time_sigma_s=loc.origin_time_sigma_s,
            likelihood=loc.likelihood,
            max_likelihood=loc.max_likelihood,
            residuals_s=loc.residuals_s,
        )

    def _drop_outliers(
        self, ev: _Event, loc: Location, picks: list[StationPick], now: int
    ) -> tuple[Location, list[StationPick]]:
        """Leave-one-out: a pick that spoils the fit (another event's phase) goes back to the pool.

        Only when the EDT fit is poor (below 60 % of its maximum) and enough picks remain;
        at most two picks per evaluation.
        """
        for _ in range(2):
            fit = loc.likelihood / loc.max_likelihood if loc.max_likelihood > 0 else 1.0
            if fit >= 0.6 or len(picks) <= self.acfg.min_stations:
                break
            best: tuple[float, StationPick, Location] | None = None
            for sp in picks:
                rest = [p for p in picks if p is not sp]
                trial = self._locate(rest, now)
                if trial is None:
                    continue
                f = trial.likelihood / trial.max_likelihood if trial.max_likelihood > 0 else 0.0
                if best is None or f > best[0]:
                    best = (f, sp, trial)
            if best is None or best[0] < fit + 0.15:
                break
            _f, bad, loc = best
            picks = [p for p in picks if p is not bad]
            del ev.picks[bad.station_id]
            self.pool.append(bad)
            log.info("event %d: pick at %s removed as an outlier", ev.number, bad.station_id)
        return loc, picks

    def _settled_consistent(self, ev: _Event, picks: list[StationPick]) -> list[StationPick]:
        """The picks whose P residual against the settled location is acceptable.

        All of them before the location has settled, or when fewer than
        ``min_picks_event`` would be left (:mod:`eew.event.settle`).
        """
        s = ev.settled
        if s is None:
            return picks
        x, y = self.grid.to_xy(s.latitude_deg, s.longitude_deg)
        tt = self.locator.p_times(float(x), float(y), s.depth_km)
        r = np.array(
            [
                sp.time_ns / NS_PER_S - s.origin_time_s - tt[self._index[sp.station_id]]
                for sp in picks
            ]
        )
        keep = residual_keep(r, self.cfg.settled_max_residual_s)
        if int(keep.sum()) < self.cfg.min_picks_event:
            return picks
        return [sp for sp, k in zip(picks, keep, strict=True) if k]

    def _stabilise(self, ev: _Event, loc: Location, picks: list[StationPick]) -> Location:
        """Bound the move of a settled location; settle (or tighten) on a good solution."""
        c = self.cfg
        s = ev.settled
        prev, ev.previous = ev.previous, (loc, len(picks))
        if s is not None:
            idx = np.array([self._index[sp.station_id] for sp in picks], dtype=np.int64)
            t = np.array([sp.time_ns / NS_PER_S for sp in picks])

            def travel(x: float, y: float) -> np.ndarray:
                return self.locator.p_times(x, y, loc.depth_km)[idx]

            loc = bounded_move(s, loc, self.grid, t, travel)
        if (
            has_settled(loc, len(picks), c.settled_sigma_km, c.settled_min_picks)
            and (s is None or loc.horizontal_sigma_km <= s.horizontal_sigma_km)
            and (s is not None or self._confirmed(prev, loc, len(picks)))
        ):
            ev.settled = loc
        return loc

    def _confirmed(self, prev: tuple[Location, int] | None, loc: Location, n: int) -> bool:
        """The previous estimate, from fewer picks, had settled too and agrees with ``loc``."""
        if prev is None or prev[1] >= n:
            return False
        p = prev[0]
        c = self.cfg
        if not has_settled(p, prev[1], c.settled_sigma_km, c.settled_min_picks):
            return False
        d = distances_km(
            p.latitude_deg,
            p.longitude_deg,
            np.array([loc.latitude_deg]),
            np.array([loc.longitude_deg]),
        )[0]
        return bool(d <= max(p.horizontal_sigma_km, loc.horizontal_sigma_km))

    def _acceptable(self, loc: Location) -> bool:
        rms = float(np.sqrt(np.mean(loc.residuals_s**2)))
        if rms > self.cfg.max_residual_s:
            return False
        return not self._on_edge(loc)

    def _on_edge(self, loc: Location) -> bool:
        x, y = self.grid.to_xy(loc.latitude_deg, loc.longitude_deg)
        g = self.grid_spec
        return bool(
            abs(x) >= g.half_width_km - 1.5 * g.step_km
            or abs(y) >= g.half_height_km - 1.5 * g.step_km
        )

    def _set_location(self, ev: _Event, loc: Location, now: int) -> None:
        ev.location = loc
        ev.origin_ns = round(loc.origin_time_s * NS_PER_S)
        ev.located_n = len(ev.picks)
        ev.located_at_ns = now

    # ---- evaluation ---------------------------------------------------------------------
    def _evaluate(self, ev: _Event, now: int, changed: bool, touch: bool = True) -> None:
        if ev.closed:
            return
        if touch:  # a re-evaluation that only follows the rupture does not keep it open
            ev.last_change_ns = now
        picks = [sp for sp in ev.picks.values() if not sp.retracted]
        if len(picks) < self.cfg.min_picks_event:
            self._delete(ev, now, "picks retracted")
            return
        loc: Location | None
        if changed or (len(picks) < 8 and now - ev.located_at_ns >= NS_PER_S):
            use = self._settled_consistent(ev, picks)
            loc = self._locate(use, now)
            if loc is not None:
                if changed:
                    loc, use = self._drop_outliers(ev, loc, use, now)
                    picks = [sp for sp in picks if sp.station_id in ev.picks]
                self._set_location(ev, self._stabilise(ev, loc, use), now)
        loc = ev.location
        assert loc is not None
        ev.distant = self._on_edge(loc)
        ev.teleseism = self._teleseismic(ev, picks)
        if ev.teleseism or ev.distant:
            if not getattr(ev, "_flagged", False):
                ev._flagged = True  # type: ignore[attr-defined]
                self.counters["teleseisms"] += 1
                log.info("event %d is teleseismic or distant; no alert", ev.number)
            if ev.lifecycle is not None and ev.lifecycle.active:
                self._delete(ev, now, "teleseismic or distant")
            return
        if not self._near_network(ev, picks, loc):
            return
        emag = self._magnitude(ev, picks)
        if emag is None:
            return
        ev.p_magnitude = max(ev.p_magnitude, emag.magnitude)
        ff = self._finite_fault(ev, now)
        # below follow_magnitude P-wave magnitudes do not saturate: the line stays out
        emag = mag.with_finite_fault(
            emag,
            ff if ev.p_magnitude >= self.ffcfg.follow_magnitude else None,
            self.ffcfg.min_length_km,
            self.ffcfg.saturation_magnitude,
            ev.finite_growing,
            self.ffcfg.saturation_slope,
        )
        x, y = self.grid.to_xy(loc.latitude_deg, loc.longitude_deg)
        s_time = self.locator.s_time_to(float(x), float(y), loc.depth_km, self._tx, self._ty)
        if emag.line is not None:
            s_time = self._rupture_s_time(emag.line, loc, s_time)
        pa = np.array([sp.peak_acceleration_cm_s2() for sp in picks])
        mmi_obs = gm.mmi_from_pga_worden2012(np.maximum(pa, 1e-6))
        plum = [
            (sp.latitude_deg, sp.longitude_deg, float(m))
            for sp, m in zip(picks, mmi_obs, strict=True)
        ]
        forecasts = forecast_targets(
            self.targets,
            loc.latitude_deg,
            loc.longitude_deg,
            loc.depth_km,
            emag.magnitude,
            emag.sigma,
            ev.origin_ns,
            now,
            s_time,
            plum,
            self.onsite.cfg.plum_radius_km,
            emag.line,
        )
        fit = loc.likelihood / loc.max_likelihood if loc.max_likelihood > 0 else 0.0
        likelihood = max(0.0, min(1.0, fit)) * min(1.0, len(picks) / self.acfg.min_stations)
        record = EventRecord(
            number=ev.number,
            location=loc,
            origin_ns=ev.origin_ns,
            magnitude=emag,
            likelihood=likelihood,
            stations=tuple(sorted(sp.station_id for sp in picks)),
            forecasts=forecasts,
            settled=ev.settled is not None,
        )
        if ev.lifecycle is None:
            ev.lifecycle = AlertLifecycle(*self._record_args)
        for out in ev.lifecycle.update(record, now):
            if getattr(out, "message_type", None) == "new":
                self.counters["alerts"] += 1
            self._sink(out)

    def _finite_fault(self, ev: _Event, now: int) -> FiniteFault | None:
        """The event's line source from the stations' peak accelerations so far.

        A station counts from its predicted P arrival on, its peak taken from 1 s before
        it; until ``settle_s`` after the S wave from the hypocentre has passed it, its peak
        is only a lower bound of its shaking. Re-estimated at most every ``interval_s``;
        the previous estimate is kept when too few stations are above the floor.
        """
        if self.finder is None or self._peak_acc is None:
            return None
        if ev.finite_at_ns and now - ev.finite_at_ns < self._ff_interval_ns:
            return ev.finite
        loc = ev.location
        assert loc is not None
        tp_all, ts_all, _repi = self._predicted_all(ev)
        recent = now - self.cfg.station_latency_max_s * NS_PER_S
        settle = self.ffcfg.settle_s * NS_PER_S
        idx, pga, lower = [], [], []
        for i, sid in enumerate(self.station_ids):
            if sid in self.set_aside or tp_all[i] > now:
                continue
            end = self._data_end_ns(sid)
            if end is None or end < recent:
                continue
            peak = self._peak_acc(sid, round(tp_all[i]) - NS_PER_S, now)
            idx.append(i)
            pga.append(0.0 if peak is None else peak)
            lower.append(bool(now < ts_all[i] + settle))
        ev.finite_at_ns = now
        values = np.array(pga)
        if int((values > self.ffcfg.floor_cm_s2).sum()) < self.ffcfg.min_stations:
            return ev.finite
        ix = np.array(idx, dtype=np.int64)
        ff = self.finder.estimate(
            loc.latitude_deg,
            loc.longitude_deg,
            loc.depth_km,
            self.st_lat[ix],
            self.st_lon[ix],
            values,
            (now - ev.origin_ns) / NS_PER_S,
            np.array(lower, dtype=np.bool_),
        )
        log.debug(
            "event %d, %.1f s after origin: line source from %d stations (%d above %.1f cm/s²): %s",
            ev.number,
            (now - ev.origin_ns) / NS_PER_S,
            values.size,
            int((values > self.ffcfg.floor_cm_s2).sum()),
            self.ffcfg.floor_cm_s2,
            "none" if ff is None else f"L {ff.line.length_km:.0f} km, M {ff.magnitude:.2f}",
        )
        if ff is not None:
            prev = ev.finite
            ev.finite_growing = prev is not None and ff.line.length_km > prev.line.length_km
            ev.finite = ff
        return ev.finite

    def _rupture_s_time(self, line: LineSource, loc: Location, s_hypo: np.ndarray) -> np.ndarray:
        """S time [s after origin] at each target from the nearest part of the line.

        That part breaks ``distance from the epicentre / rupture_velocity_km_s`` after
        origin, and its S wave then travels to the target (the layered-model tables). The
        earliest S still comes from the hypocentre; this is the arrival of the strongest
        shaking, from the closest part of the rupture.
        """
        tl = np.array([t.latitude_deg for t in self.targets])
        tn = np.array([t.longitude_deg for t in self.targets])
        _d, clat, clon = line_geometry(line, tl, tn)
        out = s_hypo.copy()
        vr = self.ffcfg.rupture_velocity_km_s
        for i in range(len(self.targets)):
            cx, cy = self.grid.to_xy(float(clat[i]), float(clon[i]))
            along = float(
                distances_km(loc.latitude_deg, loc.longitude_deg, clat[i : i + 1], clon[i : i + 1])[
                    0
                ]
            )
            ts = self.locator.s_time_to(
                float(cx), float(cy), loc.depth_km, self._tx[i : i + 1], self._ty[i : i + 1]
            )
            out[i] = along / vr + float(ts[0])
        return out

    def _near_network(self, ev: _Event, picks: list[StationPick], loc: Location) -> bool:
        """The source must be close to the stations that picked it (EPIC's network check).

        A regional source farther away (Wushi, 200 km from the nearest station) passes
        once its location has settled: many picks and a small uncertainty inside the grid.
        """
        d = distances_km(
            loc.latitude_deg,
            loc.longitude_deg,
            np.array([sp.latitude_deg for sp in picks]),
            np.array([sp.longitude_deg for sp in picks]),
        )
        nearest = float(d.min())
        if nearest <= self.cfg.max_nearest_station_km or ev.settled is not None:
            return True
        # a regional source: enough picks and an uncertainty small against its distance
        c = self.cfg
        return (
            len(picks) >= c.settled_min_picks
            and loc.horizontal_sigma_km <= c.regional_max_relative_sigma * nearest
        )

    def _magnitude(self, ev: _Event, picks: list[StationPick]) -> mag.EventMagnitude | None:
        loc = ev.location
        assert loc is not None
        _tp_all, ts_all, repi_all = self._predicted_all(ev)
        idx = [self._index[sp.station_id] for sp in picks]
        emag = mag.event_magnitude(picks, ts_all[idx], repi_all[idx], loc.depth_km)
        growth = pd_growth(picks, ts_all[idx], np.hypot(repi_all[idx], loc.depth_km))
        if emag is None or growth is None:
            return emag
        if (
            emag.magnitude < self.ffcfg.saturation_magnitude
            or growth.plateau
            or growth.magnitude <= emag.magnitude
        ):
            # below saturation, or at a plateau, the station combination (which weighs the
            # longest windows most) holds: fusing the curve made moderate events worse
            return emag
        # a saturating P-wave magnitude whose Pd curve still grows above it: the rupture
        # is growing (the two share the Pd measurements)
        m, sigma = fuse_correlated(
            emag.magnitude, emag.sigma, growth.magnitude, growth.sigma, PD_GROWTH_RHO
        )
        return mag.EventMagnitude(m, max(sigma, 0.15), emag.n_stations, True)

    def _teleseismic(self, ev: _Event, picks: list[StationPick]) -> bool:
        """A plane wavefront across the network, or the tau/Pd teleseism line (:mod:`.distant`).

        The plane wave (faster than the Pn of any crustal source in the region) marks the
        event for good: later picks far from the first ones curve the front of a distant
        source too. The tau/Pd line applies only until the location has settled: a
        well-located regional source (Kambarata, Wushi: 200-300 km away) has the long,
        small P of a distant one but is inside the region.
        """
        if ev.plane_wave:
            return True
        c = self.cfg
        x, y = self.grid.to_xy(
            np.array([p.latitude_deg for p in picks]), np.array([p.longitude_deg for p in picks])
        )
        t = np.array([(p.time_ns - picks[0].time_ns) / NS_PER_S for p in picks])
        if is_distant_wavefront(
            x,
            y,
            t,
            c.plane_wave_min_aperture_km,
            c.plane_wave_max_rms_s,
            c.teleseism_max_slowness_s_km,
        ):
            ev.plane_wave = True
            return True
        if ev.settled is not None:
            return False
        pds, taus = [], []
        for sp in picks:
            m = sp.latest()
            if m is None or not m.pd_cm > 0:
                continue
            tau = m.tau_p_max_s if m.tau_p_max_s > 0 else m.tau_c_s
            if tau > 0:
                pds.append(m.pd_cm)
                taus.append(tau)
        return below_teleseism_line(pds, taus)

    # ---- lifecycle ----------------------------------------------------------------------
    def _expire(self, now: int) -> None:
        self._expired_at = now
        self.onsite.expire(now)
        window = self.cfg.association_window_s * NS_PER_S
        self.pool = [sp for sp in self.pool if now - sp.time_ns <= window]
        self.absorbed = [sp for sp in self.absorbed if now - sp.time_ns <= window]
        for ev in self.events:
            if not ev.closed and now - ev.last_change_ns > self.cfg.event_timeout_s * NS_PER_S:
                self._close(ev, now)

    def _close(self, ev: _Event, now: int) -> None:
        ev.closed = True
        if ev.lifecycle is not None:
            for out in ev.lifecycle.close(now):
                self._sink(out)

    def _delete(self, ev: _Event, now: int, why: str) -> None:
        ev.closed = True
        if ev.lifecycle is not None:
            for out in ev.lifecycle.delete(now, why):
                self._sink(out)

    def statistics(self) -> EventStatistics:
        """Counters: events declared, teleseisms recognised, alerts issued, picks set aside."""
        c = self.counters
        return EventStatistics(
            c["events"],
            c["teleseisms"],
            c["alerts"],
            c[f"picks_{OUTSIDE_GRID}"],
            c[f"picks_{BEYOND_TABLES}"],
        )
