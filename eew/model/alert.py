"""The canonical alert model (native schema ``eew.alert/1``).

An :class:`Alert` is one version of an event estimate plus the shaking
forecast at each target site. It is the single in-memory model from which
every wire format (native JSON, ShakeAlert XML, QuakeML, CAP, ANSS) is
produced and into which each is parsed. Field names carry their units; times
are integer ns since the epoch in memory and ISO 8601 UTC with milliseconds on
the wire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from eew.errors import DataError
from eew.model.timeutil import iso_to_ns, ns_to_iso

SCHEMA = "eew.alert/1"


def _out(value: float, digits: int) -> float | None:
    """Round for the wire; NaN (unknown) becomes JSON null."""
    return None if math.isnan(value) else round(value, digits)


def _in(value: object) -> float:
    """Read a number from the wire; null means unknown (NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


MESSAGE_TYPES = ("new", "update", "delete", "final")
ALERT_KINDS = ("source", "onsite", "plum")


@dataclass(frozen=True, slots=True)
class TargetForecast:
    """Predicted shaking and warning time at one target site.

    Attributes
    ----------
    name : str
        Target name (e.g. ``"Almaty-Medeu"``).
    latitude_deg, longitude_deg : float
        Target position [deg].
    pga_cm_s2 : float
        Median predicted peak ground acceleration [cm/s²].
    pga_sigma_log10 : float
        Standard deviation of log10 PGA.
    intensity_msk : float
        Predicted MSK-64 intensity (Bindi et al. 2011).
    intensity_mmi : float
        Predicted modified Mercalli intensity.
    intensity_sigma : float
        Standard deviation of the predicted intensity [intensity units].
    distance_km : float
        Epicentral distance [km].
    s_arrival_time_ns : int
        Predicted S-wave arrival time [ns since the epoch].
    warning_time_s : float
        S arrival minus the alert's sent time [s]; negative inside the blind zone.
    """

    name: str
    latitude_deg: float
    longitude_deg: float
    pga_cm_s2: float
    pga_sigma_log10: float
    intensity_msk: float
    intensity_mmi: float
    intensity_sigma: float
    distance_km: float
    s_arrival_time_ns: int
    warning_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO strings)."""
        return {
            "name": self.name,
            "latitude_deg": _out(self.latitude_deg, 5),
            "longitude_deg": _out(self.longitude_deg, 5),
            "pga_cm_s2": _out(self.pga_cm_s2, 4),
            "pga_sigma_log10": _out(self.pga_sigma_log10, 4),
            "intensity_msk": _out(self.intensity_msk, 2),
            "intensity_mmi": _out(self.intensity_mmi, 2),
            "intensity_sigma": _out(self.intensity_sigma, 3),
            "distance_km": _out(self.distance_km, 3),
            "s_arrival_time": ns_to_iso(self.s_arrival_time_ns),
            "warning_time_s": _out(self.warning_time_s, 3),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetForecast:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                name=str(d["name"]),
                latitude_deg=_in(d["latitude_deg"]),
                longitude_deg=_in(d["longitude_deg"]),
                pga_cm_s2=_in(d["pga_cm_s2"]),
                pga_sigma_log10=_in(d["pga_sigma_log10"]),
                intensity_msk=_in(d["intensity_msk"]),
                intensity_mmi=_in(d["intensity_mmi"]),
                intensity_sigma=_in(d["intensity_sigma"]),
                distance_km=_in(d["distance_km"]),
                s_arrival_time_ns=iso_to_ns(d["s_arrival_time"]),
                warning_time_s=_in(d["warning_time_s"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"invalid target forecast: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Alert:
    """One version of an earthquake alert.

    Attributes
    ----------
    event_id : str
        Stable identifier of the event (agency prefix + origin time).
    version : int
        0 for the first message, incremented by every update.
    message_type : str
        ``new``, ``update``, ``delete`` (the event fell apart) or ``final``.
    agency : str
        Publishing agency code (e.g. ``"KZ-AEWS"``, ``"KG-MES"``).
    sent_time_ns : int
        When the message was produced; under replay the end time of the last
        packet it depended on [ns].
    origin_time_ns : int
        Estimated origin time [ns].
    origin_time_sigma_s : float
        Its 1-sigma uncertainty [s].
    latitude_deg, longitude_deg : float
        Epicentre [deg].
    horizontal_sigma_km : float
        Epicentral 1-sigma uncertainty [km].
    depth_km, depth_sigma_km : float
        Hypocentral depth and its uncertainty [km].
    magnitude, magnitude_sigma : float
        Event magnitude and its 1-sigma uncertainty.
    magnitude_type : str
        e.g. ``"Mpd"`` (from Pd), ``"Mtc"``, ``"M"`` (combined).
    magnitude_is_lower_bound : bool
        True while the estimate is still growing (large events, windows not yet complete).
    likelihood : float
        Confidence that the event is real (0-1).
    kind : str
        ``source`` (network location and magnitude), ``onsite`` (threshold alert from
        stations close to the source) or ``plum`` (observed-intensity forwarding).
    stations : tuple of str
        ``NET.STA`` codes whose data were used.
    targets : tuple of TargetForecast
        Forecasts at the configured target sites.
    software_version, config_hash : str
        Provenance.
    """

    event_id: str
    version: int
    message_type: str
    agency: str
    sent_time_ns: int
    origin_time_ns: int
    origin_time_sigma_s: float
    latitude_deg: float
    longitude_deg: float
    horizontal_sigma_km: float
    depth_km: float
    depth_sigma_km: float
    magnitude: float
    magnitude_sigma: float
    magnitude_type: str
    magnitude_is_lower_bound: bool
    likelihood: float
    kind: str
    stations: tuple[str, ...]
    targets: tuple[TargetForecast, ...] = field(default_factory=tuple)
    software_version: str = ""
    config_hash: str = ""

    def __post_init__(self) -> None:
        if self.message_type not in MESSAGE_TYPES:
            raise DataError(f"alert {self.event_id}: message_type {self.message_type!r}")
        if self.kind not in ALERT_KINDS:
            raise DataError(f"alert {self.event_id}: kind {self.kind!r}")
        if self.version < 0:
            raise DataError(f"alert {self.event_id}: negative version")

    def with_(self, **changes: Any) -> Alert:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Flat native JSON object (schema ``eew.alert/1``, ``type: "alert"``)."""
        return {
            "type": "alert",
            "schema": SCHEMA,
            "event_id": self.event_id,
            "version": self.version,
            "message_type": self.message_type,
            "agency": self.agency,
            "sent_time": ns_to_iso(self.sent_time_ns),
            "origin_time": ns_to_iso(self.origin_time_ns),
            "origin_time_sigma_s": _out(self.origin_time_sigma_s, 3),
            "latitude_deg": _out(self.latitude_deg, 5),
            "longitude_deg": _out(self.longitude_deg, 5),
            "horizontal_sigma_km": _out(self.horizontal_sigma_km, 3),
            "depth_km": _out(self.depth_km, 3),
            "depth_sigma_km": _out(self.depth_sigma_km, 3),
            "magnitude": _out(self.magnitude, 2),
            "magnitude_sigma": _out(self.magnitude_sigma, 3),
            "magnitude_type": self.magnitude_type,
            "magnitude_is_lower_bound": self.magnitude_is_lower_bound,
            "likelihood": _out(self.likelihood, 4),
            "kind": self.kind,
            "stations": list(self.stations),
            "targets": [t.to_dict() for t in self.targets],
            "software_version": self.software_version,
            "config_hash": self.config_hash,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        """Parse a native JSON object; raises :class:`~eew.errors.DataError` if malformed."""
        if d.get("type") != "alert" or d.get("schema") != SCHEMA:
            raise DataError(
                f"not an {SCHEMA} alert: type={d.get('type')!r} schema={d.get('schema')!r}"
            )
        known = {f.name for f in fields(cls)}
        try:
            return cls(
                event_id=str(d["event_id"]),
                version=int(d["version"]),
                message_type=str(d["message_type"]),
                agency=str(d["agency"]),
                sent_time_ns=iso_to_ns(d["sent_time"]),
                origin_time_ns=iso_to_ns(d["origin_time"]),
                origin_time_sigma_s=_in(d["origin_time_sigma_s"]),
                latitude_deg=_in(d["latitude_deg"]),
                longitude_deg=_in(d["longitude_deg"]),
                horizontal_sigma_km=_in(d["horizontal_sigma_km"]),
                depth_km=_in(d["depth_km"]),
                depth_sigma_km=_in(d["depth_sigma_km"]),
                magnitude=_in(d["magnitude"]),
                magnitude_sigma=_in(d["magnitude_sigma"]),
                magnitude_type=str(d["magnitude_type"]),
                magnitude_is_lower_bound=bool(d["magnitude_is_lower_bound"]),
                likelihood=_in(d["likelihood"]),
                kind=str(d["kind"]),
                stations=tuple(str(s) for s in d["stations"]),
                targets=tuple(TargetForecast.from_dict(t) for t in d.get("targets", [])),
                software_version=str(d.get("software_version", "")),
                config_hash=str(d.get("config_hash", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"malformed alert ({sorted(set(d) - known - {'type', 'schema'})}): {exc!r}"
            ) from exc
