"""Locating an event's picks for the event core: silent stations, outliers, settling.

:class:`Locating` adds to :class:`~eew.event.corebase.CoreBase` the location steps of an
evaluation:

* the EDT grid search (:class:`~eew.event.locate.Locator`) on a set of station picks,
  with the stations that have data but no pick yet as silent constraints (stations with
  picks of other open events or in the pool, set-aside and late stations excluded);
* leave-one-out removal of a pick that spoils a poor fit (it goes back to the pool);
* settling (:mod:`eew.event.settle`): picks inconsistent with the settled location are
  left out, the move of a settled location is bounded, and a location settles once two
  successive estimates from different picks agree;
* the acceptance test of a new event's first location (residuals, grid edge).
"""

from __future__ import annotations

import logging

import numpy as np

from eew.event.corebase import CoreBase, TrackedEvent
from eew.event.locate import Location
from eew.event.settle import bounded_move, has_settled, residual_keep
from eew.event.stations import StationPick
from eew.model.geo import distances_km
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.event")


class Locating(CoreBase):
    """Location steps of the event core (see the module docstring)."""

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
        self, ev: TrackedEvent, loc: Location, picks: list[StationPick], now: int
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

    def _settled_consistent(self, ev: TrackedEvent, picks: list[StationPick]) -> list[StationPick]:
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

    def _stabilise(self, ev: TrackedEvent, loc: Location, picks: list[StationPick]) -> Location:
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
