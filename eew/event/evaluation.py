"""Evaluating an event for the event core: location, magnitude, forecasts, alert decision.

:class:`Evaluation` adds to :class:`~eew.event.locating.Locating` the re-evaluation of an
event after each change (now, or at the next tick when deferred):

1. relocation with the still-silent stations, outlier removal and settling
   (:mod:`eew.event.locating`);
2. the teleseism and distant-event tests (plane wavefront, tau/Pd line, grid edge:
   :mod:`eew.event.distant`) and the network-proximity check;
3. the magnitude from the station Pd/tau_c/tau_p windows cut at the predicted S arrival
   (:mod:`eew.event.magnitude`; the Wu & Zhao relation for a regional event, one whose
   nearest station is beyond the Kuyuk & Allen range), fused with the Pd growth curve
   where the P-wave magnitude saturates (:mod:`eew.event.pgrowth`) and with the
   finite-fault line source from the stations' peak accelerations (:mod:`eew.event.finder`);
4. the S time at the targets (from the nearest part of the rupture when there is a
   line), the shaking forecast and warning time (:mod:`eew.event.forecast`), and the
   alert decision and versions (:mod:`eew.event.lifecycle`).
"""

from __future__ import annotations

import logging

import numpy as np

from eew.event import groundmotion as gm
from eew.event import magnitude as mag
from eew.event.corebase import TrackedEvent
from eew.event.distant import below_teleseism_line, is_distant_wavefront
from eew.event.duration import magnitude_from_duration, source_duration_s, station_duration_s
from eew.event.finder import FiniteFault, line_geometry
from eew.event.forecast import forecast_targets, ipe_max_intensity
from eew.event.lifecycle import AlertLifecycle, EventRecord
from eew.event.locate import Location
from eew.event.locating import Locating
from eew.event.pgrowth import fuse_correlated, pd_growth
from eew.event.stations import StationPick
from eew.model.alert import LineSource
from eew.model.geo import distances_km
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.event")


#: correlation of the P-growth magnitude with the station combination (same Pd data)
PD_GROWTH_RHO = 0.5


class Evaluation(Locating):
    """Event re-evaluation of the event core (see the module docstring)."""

    def _request(self, ev: TrackedEvent, now: int, changed: bool) -> None:
        """Evaluate now, or (deferred) at the next :meth:`tick`."""
        if not self.deferred:
            self._evaluate(ev, now, changed)
            return
        prev = self._dirty.get(ev.number)
        self._dirty[ev.number] = (ev, changed or (prev is not None and prev[1]))
        ev.last_change_ns = now

    def _evaluate(self, ev: TrackedEvent, now: int, changed: bool, touch: bool = True) -> None:
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
        # a regional source (every station beyond REGIONAL_NEAREST_KM) has no station near
        # its rupture: the PGA pattern 150-400 km away hardly changes with the length of the
        # line, which FinDer resolves only with stations around it (Böse et al. 2012); the
        # line stays out (on wushi_m7.0 it read L 150 km, M 7.8 for a 49 km M7.0)
        regional = emag.magnitude_type == "Mpdr"
        ff = None if regional else self._finite_fault(ev, now)
        # below follow_magnitude P-wave magnitudes do not saturate: the line stays out
        emag = mag.with_finite_fault(
            emag,
            ff if ev.p_magnitude >= self.ffcfg.follow_magnitude else None,
            self.ffcfg.min_length_km,
            self.ffcfg.saturation_magnitude,
            ev.finite_growing,
            self.ffcfg.saturation_slope,
        )
        if (
            self.ffcfg.duration_bound
            and not regional
            and ev.p_magnitude >= self.ffcfg.follow_magnitude
        ):
            emag = mag.with_lower_bound(emag, self._duration_magnitude(ev, now))
        x, y = self.grid.to_xy(loc.latitude_deg, loc.longitude_deg)
        s_time = self.locator.s_time_to(float(x), float(y), loc.depth_km, self._tx, self._ty)
        if emag.line is not None:
            s_time = self._rupture_s_time(emag.line, loc, s_time)
        plum = self._observed_intensities(ev, picks, now)
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
            ipe_max_intensity=ipe_max_intensity(forecasts, emag.magnitude),
        )
        if ev.lifecycle is None:
            ev.lifecycle = AlertLifecycle(*self._record_args)
        for out in ev.lifecycle.update(record, now):
            if getattr(out, "message_type", None) == "new":
                self.counters["alerts"] += 1
            self._sink(out)

    def _observed_intensities(
        self, ev: TrackedEvent, picks: list[StationPick], now: int
    ) -> list[tuple[float, float, float]]:
        """(lat, lon, intensity) observed so far at the stations, for the PLUM term.

        With the router's running peaks: every station within ``plum_radius_km`` of a
        target whose predicted P has arrived, from the largest acceleration and velocity
        since 1 s before it (the whole shaking, S waves included), as instrumental
        intensity (Worden et al. 2012 PGA and PGV, weighted as Wald et al. 1999:
        :func:`~eew.event.groundmotion.mmi_from_motion`).
        Without them (a core fed with picks only): the picks' early-P acceleration.
        """
        if self._peak_acc is None:
            pa = np.array([sp.peak_acceleration_cm_s2() for sp in picks])
            mmi_obs = gm.mmi_from_pga_worden2012(np.maximum(pa, 1e-6))
            return [
                (sp.latitude_deg, sp.longitude_deg, float(m))
                for sp, m in zip(picks, mmi_obs, strict=True)
            ]
        tp_all, _ts, _repi = self._predicted_all(ev)
        idx, pga, pgv = [], [], []
        for i in self.plum_stations:
            if tp_all[i] > now:
                continue
            sid = self.station_ids[i]
            start = round(tp_all[i]) - NS_PER_S
            a = self._peak_acc(sid, start, now)
            v = self._peak_vel(sid, start, now) if self._peak_vel is not None else None
            if a is None and v is None:
                continue
            idx.append(i)
            pga.append(np.nan if a is None else a)
            pgv.append(np.nan if v is None else v)
        if not idx:
            return []
        a_arr, v_arr = np.array(pga), np.array(pgv)
        ia = gm.mmi_from_pga_worden2012(np.where(np.isnan(a_arr), 1e-6, a_arr))
        iv = gm.mmi_from_pgv_worden2012(np.where(np.isnan(v_arr), 1e-6, v_arr))
        # a station without an unclipped velocity (or acceleration) gives the other alone
        mmi = np.where(np.isnan(v_arr), ia, np.where(np.isnan(a_arr), iv, gm.mmi_wald1999(ia, iv)))
        return [
            (float(self.st_lat[i]), float(self.st_lon[i]), float(m))
            for i, m in zip(idx, mmi, strict=True)
        ]

    def _finite_fault(self, ev: TrackedEvent, now: int) -> FiniteFault | None:
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

    def _duration_magnitude(self, ev: TrackedEvent, now: int) -> float | None:
        """The magnitude of the source duration that the shaking near the epicentre shows.

        Each station within ``duration_radius_km`` whose predicted S wave has arrived gives
        its bracketed duration of strong shaking after it (:mod:`eew.event.duration`); the
        median less ``duration_path_s`` bounds the source duration so far from below, and
        the duration scaling turns it into a magnitude. None with too few stations.
        """
        if self._peak_acc is None:
            return None
        c = self.ffcfg
        tp_all, ts_all, repi_all = self._predicted_all(ev)
        durations = []
        for i in np.flatnonzero(repi_all <= c.duration_radius_km):
            sid = self.station_ids[int(i)]
            if sid in self.set_aside:
                continue
            d = station_duration_s(
                self._peak_acc, sid, float(tp_all[i]), float(ts_all[i]), now, c.duration_fraction
            )
            if d is not None:
                durations.append(d)
        t = source_duration_s(durations, c.duration_path_s, c.duration_min_stations)
        if t is None:
            return None
        m = magnitude_from_duration(t)
        log.debug(
            "event %d, %.1f s after origin: strong shaking for %.1f s (median of %d stations): "
            "source at least %.1f s, M >= %.2f",
            ev.number,
            (now - ev.origin_ns) / NS_PER_S,
            t + c.duration_path_s,
            len(durations),
            t,
            m,
        )
        return m

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

    def _near_network(self, ev: TrackedEvent, picks: list[StationPick], loc: Location) -> bool:
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

    def _magnitude(self, ev: TrackedEvent, picks: list[StationPick]) -> mag.EventMagnitude | None:
        loc = ev.location
        assert loc is not None
        _tp_all, ts_all, repi_all = self._predicted_all(ev)
        idx = [self._index[sp.station_id] for sp in picks]
        emag = mag.event_magnitude(picks, ts_all[idx], repi_all[idx], loc.depth_km)
        growth = pd_growth(
            picks,
            ts_all[idx],
            np.hypot(repi_all[idx], loc.depth_km),
            regional=mag.is_regional(repi_all[idx]),
        )
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
        # the regional relation's common error bounds both estimates alike
        floor = mag.REGIONAL_SIGMA_FLOOR if emag.magnitude_type == "Mpdr" else 0.15
        m, sigma = fuse_correlated(
            emag.magnitude, emag.sigma, growth.magnitude, max(growth.sigma, floor), PD_GROWTH_RHO
        )
        return mag.EventMagnitude(m, max(sigma, floor), emag.n_stations, True, emag.magnitude_type)

    def _teleseismic(self, ev: TrackedEvent, picks: list[StationPick]) -> bool:
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
