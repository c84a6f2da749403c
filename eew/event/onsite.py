"""Near-field fallback: onsite threshold alerts from the city's own stations (blind zone).

A Verny-type earthquake under Almaty leaves no time for a network solution: S follows P
by less than 4 s in the city. City stations (within ``city_radius_km`` of the city
centre) therefore raise an alert on their own as soon as their first P data show a
damaging event: ``tau_c >= tau_c_min_s`` and ``Pd >= pd_min_cm`` (the onsite rule of
Wu & Kanamori 2005), or ``Pd >= pd_fast_cm`` within the first second of P, or an observed
P-wave acceleration ``>= pa_min_cm_s2``. To avoid
alerting on one station's local disturbance, ``min_stations`` city stations must pass
within ``coincidence_s`` of each other. The alert forwards the observed intensity to the
targets within ``plum_radius_km`` of the passing stations (PLUM, Kodera et al. 2018);
the source is unknown, so the S wave is taken as arriving now (warning time 0).

References
----------
Wu, Y.-M. and Kanamori, H. (2005). Experiment on an onsite early warning method for the
Taiwan early warning system. *BSSA* 95(1), 347-353.

Kodera, Y. et al. (2018). The propagation of local undamped motion (PLUM) method. *BSSA*
108(2), 983-1003.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from eew.config import OnsiteConfig
from eew.event import groundmotion as gm
from eew.event.forecast import observed_mmi, plum_intensity
from eew.event.incident import IncidentBook
from eew.event.magnitude import magnitude_from_pd
from eew.event.targets import Target
from eew.model.alert import Alert, TargetForecast
from eew.model.clock import Clock
from eew.model.geo import distances_km
from eew.model.pick import Pick
from eew.model.timeutil import NS_PER_S, ns_to_iso

_HOLD_S = 60.0


class OnsiteDetector:
    """Watches city-station picks and issues onsite alerts (see the module docstring).

    Parameters
    ----------
    config : OnsiteConfig
        Section ``[onsite]``.
    agency : str
        Agency code stamped on every alert (``alert.agency``).
    config_hash : str
        Hash of the effective configuration, stamped on every alert.
    targets : tuple of Target
        Target sites.
    sink : callable
        Receives every onsite alert.
    clock : Clock
        Time source (the data clock under replay).
    software_version : str
        Stamped on every alert.
    incidents : IncidentBook, optional
        The publishing side shared with the source alerts (one incident per earthquake);
        a private one if not given.
    """

    def __init__(
        self,
        config: OnsiteConfig,
        agency: str,
        config_hash: str,
        targets: tuple[Target, ...],
        sink: Callable[[object], None],
        clock: Clock,
        software_version: str,
        incidents: IncidentBook | None = None,
    ) -> None:
        self.cfg = config
        self.incidents = incidents if incidents is not None else IncidentBook()
        self.agency = agency
        self.config_hash = config_hash
        self.software_version = software_version
        self.targets = targets
        self._sink = sink
        self._clock = clock
        #: station -> (onset ns, lat, lon, Pd cm, Pa cm/s2)
        self.passing: dict[str, tuple[int, float, float, float, float]] = {}
        self.last_alert_ns: int | None = None
        self.count = 0

    def _is_city(self, pick: Pick) -> bool:
        d = distances_km(
            self.cfg.city_lat_deg,
            self.cfg.city_lon_deg,
            np.array([pick.latitude_deg]),
            np.array([pick.longitude_deg]),
        )[0]
        return bool(d <= self.cfg.city_radius_km)

    def _passes(self, pick: Pick) -> bool:
        if pick.retracted or pick.clipped:
            return False
        c = self.cfg
        tau_rule = (
            pick.window_s >= 0.5
            and pick.tau_c_s == pick.tau_c_s
            and pick.tau_c_s >= c.tau_c_min_s
            and pick.pd_cm >= c.pd_min_cm
        )
        # within the first second, a P displacement this large only comes from a large
        # event close by (Wu & Kanamori 2005 use Pd over 3 s; this is the fast variant)
        fast_rule = pick.window_s < 1.0 and pick.pd_cm >= c.pd_fast_cm
        return tau_rule or fast_rule or pick.pa_cm_s2 >= c.pa_min_cm_s2

    def on_pick(self, station_id: str, pick: Pick) -> None:
        """Consider one pick message of a station."""
        if not self.cfg.enabled or not self._is_city(pick) or not self._passes(pick):
            return
        now = self._clock.now_ns()
        prev = self.passing.get(station_id)
        if prev is None or prev[0] != pick.time_ns:
            self.passing[station_id] = (
                pick.time_ns,
                pick.latitude_deg,
                pick.longitude_deg,
                pick.pd_cm,
                pick.pa_cm_s2,
            )
        if self.last_alert_ns is not None and now - self.last_alert_ns < _HOLD_S * NS_PER_S:
            return
        recent = {
            sid: v
            for sid, v in self.passing.items()
            if abs(v[0] - pick.time_ns) <= self.cfg.coincidence_s * NS_PER_S
        }
        if len(recent) >= self.cfg.min_stations:
            self.last_alert_ns = now
            self.count += 1
            onset = min(v[0] for v in recent.values())
            self._sink(self.incidents.onsite(self._alert(recent, now), onset))

    def expire(self, now: int) -> None:
        """Close onsite incidents that no source alert adopted (``final`` versions)."""
        for alert in self.incidents.expire(now):
            self._sink(alert)

    def _alert(self, passing: dict[str, tuple[int, float, float, float, float]], now: int) -> Alert:
        recent = list(passing.values())
        onset = min(v[0] for v in recent)
        lat = float(np.mean([v[1] for v in recent]))
        lon = float(np.mean([v[2] for v in recent]))
        pd = max(v[3] for v in recent)
        mag = magnitude_from_pd(pd, 10.0) if pd > 0 else float("nan")
        lat_t = np.array([t.latitude_deg for t in self.targets])
        lon_t = np.array([t.longitude_deg for t in self.targets])
        nearby = plum_intensity(
            lat_t,
            lon_t,
            [(v[1], v[2], observed_mmi(v[4])) for v in recent],
            self.cfg.plum_radius_km,
        )
        forecasts = []
        for i, t in enumerate(self.targets):
            obs = float(nearby[i])
            if obs <= 1.0:
                continue
            pga = float(10 ** ((obs - gm.WORDEN2012_PGA[2]) / gm.WORDEN2012_PGA[3]))
            forecasts.append(
                TargetForecast(
                    name=t.name,
                    latitude_deg=t.latitude_deg,
                    longitude_deg=t.longitude_deg,
                    pga_cm_s2=pga,
                    pga_sigma_log10=0.3,
                    intensity_msk=obs,
                    intensity_mmi=obs,
                    intensity_sigma=gm.WORDEN2012_PGA[5],
                    distance_km=float(
                        distances_km(lat, lon, lat_t[i : i + 1], lon_t[i : i + 1])[0]
                    ),
                    s_arrival_time_ns=now,
                    warning_time_s=0.0,
                    intensity_is_lower_bound=True,
                )
            )
        return Alert(
            event_id=f"{self.agency}-onsite-{ns_to_iso(onset, 1)}",
            version=0,
            message_type="new",
            agency=self.agency,
            sent_time_ns=now,
            origin_time_ns=onset - 2 * NS_PER_S,
            origin_time_sigma_s=2.0,
            latitude_deg=lat,
            longitude_deg=lon,
            horizontal_sigma_km=self.cfg.city_radius_km,
            depth_km=10.0,
            depth_sigma_km=10.0,
            magnitude=mag if math.isfinite(mag) else 0.0,
            magnitude_sigma=1.0,
            magnitude_type="Mpd",
            magnitude_is_lower_bound=True,
            likelihood=0.5,
            kind="onsite",
            stations=tuple(sorted(passing)),
            targets=tuple(forecasts),
            software_version=self.software_version,
            config_hash=self.config_hash,
        )
