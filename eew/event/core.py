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

The work is split by responsibility into a chain of classes, each in its own module:
:mod:`eew.event.corebase` (shared state, predicted arrival times),
:mod:`eew.event.locating` (location with silent stations, outliers, settling),
:mod:`eew.event.evaluation` (event evaluation: magnitude fusion, forecasts, alert
decision), :mod:`eew.event.association` (picks to events, new events); this module
holds :class:`EventCore` itself (input, ticks, expiry, statistics).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eew.event.association import Association
from eew.event.corebase import TrackedEvent
from eew.event.evaluation import PD_GROWTH_RHO
from eew.event.grid import BEYOND_TABLES, OUTSIDE_GRID
from eew.event.stations import StationPick
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


_WHY = {OUTSIDE_GRID: "outside the location grid", BEYOND_TABLES: "beyond the travel-time tables"}


class EventCore(Association):
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
    peak_velocity : callable, optional
        The same for the station's largest velocity [cm/s] (the router's
        :meth:`~eew.detect.router.Pipeline.peak_velocity_cm_s`): with both, the PLUM term
        of the forecast takes the intensity of the whole shaking observed so far, not only
        of the picks' early-P acceleration.
    """

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

    def idle_expiry(self) -> bool:
        """True while a tick can do nothing but note its time as the last expiry.

        Nothing to evaluate, no open event, no pick in the pool, no onsite incident to
        finalise: :meth:`tick` at a time due for expiry only sets the expiry time, which the
        batched replay (:mod:`eew.detect.batch`) then does itself.
        """
        if self._dirty or self.pool or self.absorbed:
            return False
        if any(not ev.closed for ev in self.events):
            return False
        return not any(
            inc.kind == "onsite" and not inc.closed and inc.last is not None
            for inc in self.onsite.incidents.incidents
        )

    def _following(self, ev: TrackedEvent, now: int) -> bool:
        """True while a large event's rupture is followed (re-evaluated every interval).

        Only events with a finite-fault estimator whose P-wave magnitude reached
        ``follow_magnitude``, up to ``follow_s`` after origin: the line may still grow
        after the last P pick.
        """
        if self.finder is None or ev.closed or ev.teleseism or ev.distant:
            return False
        c = self.ffcfg
        return ev.p_magnitude >= c.follow_magnitude and now - ev.origin_ns <= c.follow_s * NS_PER_S

    def flush(self) -> None:
        """End of data: close every event (final alerts)."""
        self.tick()
        now = self._clock.now_ns()
        for ev in self.events:
            if not ev.closed:
                self._close(ev, now)

    def _expire(self, now: int) -> None:
        self._expired_at = now
        self.onsite.expire(now)
        window = self.cfg.association_window_s * NS_PER_S
        self.pool = [sp for sp in self.pool if now - sp.time_ns <= window]
        self.absorbed = [sp for sp in self.absorbed if now - sp.time_ns <= window]
        for ev in self.events:
            if not ev.closed and now - ev.last_change_ns > self.cfg.event_timeout_s * NS_PER_S:
                self._close(ev, now)

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


__all__ = ["PD_GROWTH_RHO", "EventCore", "EventStatistics"]
