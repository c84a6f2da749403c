"""Alert decisions and lifecycle: ``new``, ``update``, ``delete``, ``final``.

An :class:`AlertLifecycle` receives the successive estimates of one event
(:class:`EventRecord`) and decides what to send:

* nothing public until the event passes every threshold of the ``[alert]`` configuration
  (forecast intensity at a target, stations that agree, magnitude, likelihood); then
  ``new`` (version 0). Until then the event is only an operators' ``event`` message, with
  the reason it is withheld;
* ``update`` (version + 1) when the magnitude, the epicentre or the largest target
  intensity moved by at least the configured step, or the magnitude stops being a lower
  bound;
* ``delete`` when an alerted event falls apart, ``final`` when it is closed.

Every estimate also goes out as an ``event`` value (the event's state, alerted or not),
so replays show how the solution evolved.

Alerts go out through the :class:`~eew.event.incident.IncidentBook`: it gives them the
incident's event id and version (an onsite alert of the same earthquake may already have
opened the incident; then the first source alert is an ``update`` of it), the history of
earlier versions and the alert status. The ``event`` values keep the event core's own
numbering (``event_id`` of the event, not of the incident).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from eew.config import AlertConfig
from eew.event.incident import Incident, IncidentBook
from eew.event.locate import Location
from eew.event.magnitude import EventMagnitude
from eew.model.alert import Alert, TargetForecast
from eew.model.geo import distances_km
from eew.model.timeutil import ns_to_iso


@dataclass(frozen=True)
class EventRecord:
    """One estimate of an event, before the alert decision."""

    number: int
    location: Location
    origin_ns: int
    magnitude: EventMagnitude
    likelihood: float
    stations: tuple[str, ...]
    forecasts: tuple[TargetForecast, ...]
    #: the location has settled (:mod:`eew.event.settle`): later picks move it by no more
    #: than its uncertainty
    settled: bool = False
    #: largest intensity over the targets of the regional macroseismic intensity prediction
    #: equation (Bindi et al. 2011, :func:`eew.event.forecast.ipe_max_intensity`); 0: none
    ipe_max_intensity: float = 0.0

    @property
    def max_intensity(self) -> float:
        """Largest predicted MSK intensity over the targets."""
        return max((f.intensity_msk for f in self.forecasts), default=0.0)

    @property
    def alert_intensity(self) -> float:
        """The intensity the public-alert decision compares with ``min_intensity_msk``.

        The larger of the targets' forecast (instrumental intensity with the PLUM term) and
        the regional macroseismic IPE: the forecast follows the instrumental intensity
        (what stations and ShakeMap measure), which at 100-300 km falls below what people
        in the region report (the 2024 Wushi M7.0 was felt at about IV in Almaty, 260 km
        away; the IPE gives 4.4, the instrumental chain 3.7), and a public alert is about
        what people will feel.
        """
        return max(self.max_intensity, self.ipe_max_intensity)


@dataclass(frozen=True)
class EventState:
    """The ``event`` value written beside picks and alerts: the operators' event message.

    Every estimate of every event goes out as one, alerted or not. ``alerted`` says whether
    a public alert (an :class:`~eew.model.alert.Alert`) is out for the event; ``withheld``
    says why this estimate is not one (thresholds of ``[alert]`` it misses; empty when it
    passes them).
    """

    event_id: str
    sent_time_ns: int
    record: EventRecord
    alerted: bool
    status: str
    withheld: str = ""
    #: event id of the alerts (the incident's, which may be an onsite alert's); "" before
    #: the first alert. In memory only: not written, so ``event`` lines keep their form.
    incident_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict with ``type: "event"``."""
        r = self.record
        loc = r.location
        return {
            "type": "event",
            "event_id": self.event_id,
            "status": self.status,
            "sent_time": ns_to_iso(self.sent_time_ns),
            "origin_time": ns_to_iso(r.origin_ns),
            "latitude_deg": round(loc.latitude_deg, 5),
            "longitude_deg": round(loc.longitude_deg, 5),
            "depth_km": round(loc.depth_km, 2),
            "horizontal_sigma_km": round(loc.horizontal_sigma_km, 2),
            "magnitude": round(r.magnitude.magnitude, 2),
            "magnitude_sigma": round(r.magnitude.sigma, 3),
            "magnitude_is_lower_bound": r.magnitude.is_lower_bound,
            "likelihood": round(r.likelihood, 3),
            "n_stations": len(r.stations),
            "max_intensity_msk": round(r.max_intensity, 2),
            "alerted": self.alerted,
            "withheld": self.withheld,
        }


class AlertLifecycle:
    """The alert state machine of one event."""

    def __init__(
        self,
        cfg: AlertConfig,
        config_hash: str,
        software_version: str,
        incidents: IncidentBook | None = None,
    ) -> None:
        self.cfg = cfg
        self.config_hash = config_hash
        self.software_version = software_version
        self.incidents = incidents if incidents is not None else IncidentBook(cfg.status)
        self.incident: Incident | None = None
        self.last: Alert | None = None
        self.last_record: EventRecord | None = None
        self.latest: EventRecord | None = None
        self.event_id = ""
        self.active = False

    def withheld(self, r: EventRecord) -> str:
        """Why an estimate is not a public alert (``""`` when it passes every threshold).

        Public alerts need the forecast shaking (``min_intensity_msk`` at a target) and
        ``min_stations`` stations that agree: located with the event *and* each giving a
        magnitude (never one station; :class:`~eew.config.AlertConfig`).
        """
        c = self.cfg
        n = min(len(r.stations), r.magnitude.n_stations)
        why = []
        if n < c.min_stations:
            why.append(f"{n} stations < {c.min_stations}")
        if r.magnitude.magnitude < c.min_magnitude:
            why.append(f"M {r.magnitude.magnitude:.1f} < {c.min_magnitude:g}")
        if r.alert_intensity < c.min_intensity_msk:
            why.append(f"forecast MSK {r.alert_intensity:.1f} < {c.min_intensity_msk:g}")
        if r.likelihood < c.min_likelihood:
            why.append(f"likelihood {r.likelihood:.2f} < {c.min_likelihood:g}")
        return "; ".join(why)

    def _passes(self, r: EventRecord) -> bool:
        return not self.withheld(r)

    def _changed(self, r: EventRecord) -> bool:
        prev = self.last_record
        assert prev is not None and self.last is not None
        c = self.cfg
        moved = float(
            distances_km(
                prev.location.latitude_deg,
                prev.location.longitude_deg,
                np.array([r.location.latitude_deg]),
                np.array([r.location.longitude_deg]),
            )[0]
        )
        return (
            abs(r.magnitude.magnitude - prev.magnitude.magnitude) >= c.magnitude_step
            or moved >= c.location_step_km
            or abs(r.max_intensity - prev.max_intensity) >= c.intensity_step
            or (prev.magnitude.is_lower_bound and not r.magnitude.is_lower_bound)
        )

    def _alert(self, r: EventRecord, now: int, message_type: str, version: int) -> Alert:
        """Build the next alert and publish it through the incident book."""
        if self.incident is None:
            self.incident = self.incidents.open_source(self.event_id, r.origin_ns)
        return self.incidents.publish(self.incident, self._draft(r, now, message_type, version))

    def _draft(self, r: EventRecord, now: int, message_type: str, version: int) -> Alert:
        loc = r.location
        return Alert(
            event_id=self.event_id,
            version=version,
            message_type=message_type,
            agency=self.cfg.agency,
            sent_time_ns=now,
            origin_time_ns=r.origin_ns,
            origin_time_sigma_s=loc.origin_time_sigma_s,
            latitude_deg=loc.latitude_deg,
            longitude_deg=loc.longitude_deg,
            horizontal_sigma_km=loc.horizontal_sigma_km,
            depth_km=loc.depth_km,
            depth_sigma_km=loc.depth_sigma_km,
            magnitude=r.magnitude.magnitude,
            magnitude_sigma=r.magnitude.sigma,
            magnitude_type=r.magnitude.magnitude_type,
            magnitude_is_lower_bound=r.magnitude.is_lower_bound,
            likelihood=r.likelihood,
            kind="source",
            stations=r.stations,
            targets=r.forecasts,
            software_version=self.software_version,
            config_hash=self.config_hash,
            line_source=r.magnitude.line,
        )

    def _incident_id(self) -> str:
        return self.incident.event_id if self.incident is not None else ""

    def update(self, r: EventRecord, now: int) -> Iterator[object]:
        """Feed an estimate; yield the event state and any alert to send."""
        self.latest = r
        if not self.event_id:
            self.event_id = f"{self.cfg.agency}-{ns_to_iso(r.origin_ns, 1)}-{r.number}"
        alert: Alert | None = None
        if self.last is None:
            if self._passes(r):
                alert = self._alert(r, now, "new", 0)
        elif self.active and self._changed(r):
            alert = self._alert(r, now, "update", self.last.version + 1)
        if alert is not None:
            self.last = alert
            self.last_record = r
            self.active = True
        elif self.last is None:
            self.last_record = r
        yield EventState(
            self.event_id, now, r, self.active, "active", self.withheld(r), self._incident_id()
        )
        if alert is not None:
            yield alert

    def close(self, now: int) -> Iterator[object]:
        """The event is over: a ``final`` message (with the latest estimate) if it was alerted."""
        if self.latest is not None:
            yield EventState(
                self.event_id,
                now,
                self.latest,
                self.active,
                "final",
                self.withheld(self.latest),
                self._incident_id(),
            )
        if self.active and self.last is not None and self.latest is not None:
            self.active = False
            yield self._alert(self.latest, now, "final", self.last.version + 1)

    def delete(self, now: int, why: str) -> Iterator[object]:
        """The event fell apart: a ``delete`` message if it was alerted."""
        if self.last_record is not None:
            yield EventState(
                self.event_id,
                now,
                self.last_record,
                self.active,
                f"deleted: {why}",
                incident_id=self._incident_id(),
            )
        if self.active and self.last is not None and self.last_record is not None:
            self.active = False
            yield self._alert(self.last_record, now, "delete", self.last.version + 1)
