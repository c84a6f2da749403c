"""Associating picks with events for the event core, and declaring new events.

:class:`Association` adds to :class:`~eew.event.evaluation.Evaluation`:

* finding the station pick a channel pick message belongs to (in an event, among its
  secondary phases, in the pool or among the absorbed picks);
* attaching a new station pick to the event whose predicted P time is within the
  association window (wider while the location is uncertain), or recognising it as that
  event's S (or later phase);
* the new-event search: pooled picks that could come from one source (time differences
  not larger than distance / ``min_apparent_velocity_km_s`` + slack) located with the
  EDT locator, declared an event when the location is acceptable;
* the checks that keep picks from the onsite detector: a later phase of a located
  event, an event located away from the city, a recent teleseismic or distant event.
"""

from __future__ import annotations

import logging

import numpy as np

from eew.event.corebase import TrackedEvent
from eew.event.evaluation import Evaluation
from eew.event.stations import StationPick
from eew.model.geo import distances_km
from eew.model.pick import Pick
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.event")


class Association(Evaluation):
    """Pick association and new-event search of the event core (see the module docstring)."""

    def _find(self, sid: str, pick: Pick) -> tuple[StationPick | None, TrackedEvent | None]:
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

    def _located_away_from_city(self, ev: TrackedEvent | None) -> bool:
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

    def _associate(self, sp: StationPick) -> tuple[TrackedEvent | None, str | None]:
        """Attach ``sp`` to an event as its P ("P") or recognise it as S ("S")."""
        best: tuple[float, TrackedEvent] | None = None
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

    def _tolerance_ns(self, ev: TrackedEvent) -> float:
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
        ev = TrackedEvent(self._n_events, cluster)
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
