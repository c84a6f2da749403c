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
from dataclasses import dataclass, field, replace
from typing import Any

from eew.errors import DataError
from eew.model.timeutil import NS_PER_S, iso_to_ns, ns_to_iso

SCHEMA = "eew.alert/1"


def _out(value: float, digits: int) -> float | None:
    """Round for the wire; NaN (unknown) becomes JSON null."""
    return None if math.isnan(value) else round(value, digits)


def _in(value: object, key: str = "value") -> float:
    """Read a number from the wire; null means unknown (NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{key}: not a number: {value!r}")
    return float(value)


def _get(d: dict[str, Any], key: str, where: str) -> Any:
    """``d[key]`` with a :class:`DataError` naming the missing field."""
    try:
        return d[key]
    except KeyError:
        raise DataError(f"{where}: missing field {key!r}") from None


def _time_in(d: dict[str, Any], key: str, where: str) -> int:
    value = _get(d, key, where)
    if not isinstance(value, str):
        raise DataError(f"{where}: {key} must be an ISO 8601 time string, got {value!r}")
    try:
        return iso_to_ns(value)
    except (ValueError, OverflowError) as exc:
        raise DataError(f"{where}: {key}: invalid time {value!r}") from exc


def _text(d: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = d.get(key, default) if default is not None else _get(d, key, where)
    if not isinstance(value, str):
        raise DataError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _bool_in(d: dict[str, Any], key: str, where: str, default: bool | None = None) -> bool:
    value = d.get(key, default) if default is not None else _get(d, key, where)
    if not isinstance(value, bool):
        raise DataError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _check(where: str, key: str, value: float, lo: float, hi: float, *, nullable: bool) -> None:
    """One clear :class:`DataError` naming ``key`` if ``value`` is not allowed.

    ``nullable`` fields may be NaN (unknown, ``null`` on the wire); no field may be
    infinite, and a known value must lie in ``[lo, hi]``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{where}: {key} is not a number: {value!r}")
    if math.isnan(value):
        if nullable:
            return
        raise DataError(f"{where}: {key} is null or NaN where a value is required")
    if not lo <= value <= hi:
        raise DataError(f"{where}: {key} = {value!r} is outside [{lo:g}, {hi:g}]")


MESSAGE_TYPES = ("new", "update", "delete", "final")
ALERT_KINDS = ("source", "onsite", "plum")
#: ``actual`` for real alerts, ``exercise`` for drills, ``test`` for technical tests
#: and replays (CAP ``status`` Actual/Exercise/Test, ShakeAlert ``category`` live/test)
ALERT_STATUSES = ("actual", "exercise", "test")
_INF = math.inf


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
    intensity_is_lower_bound : bool
        True when the intensities (and PGA) are a lower bound of the shaking to come,
        not a median forecast: observed shaking forwarded by an onsite/PLUM alert
        while it is still growing.
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
    intensity_is_lower_bound: bool = False

    def __post_init__(self) -> None:
        w = f"target {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise DataError("target: name must be a non-empty string")
        _check(w, "latitude_deg", self.latitude_deg, -90.0, 90.0, nullable=False)
        _check(w, "longitude_deg", self.longitude_deg, -180.0, 180.0, nullable=False)
        _check(w, "pga_cm_s2", self.pga_cm_s2, 0.0, 1e5, nullable=True)
        _check(w, "pga_sigma_log10", self.pga_sigma_log10, 0.0, 10.0, nullable=True)
        _check(w, "intensity_msk", self.intensity_msk, -5.0, 13.0, nullable=True)
        _check(w, "intensity_mmi", self.intensity_mmi, -5.0, 13.0, nullable=True)
        _check(w, "intensity_sigma", self.intensity_sigma, 0.0, 12.0, nullable=True)
        _check(w, "distance_km", self.distance_km, 0.0, 20040.0, nullable=False)
        _check(w, "warning_time_s", self.warning_time_s, -_INF, _INF, nullable=False)
        if not isinstance(self.intensity_is_lower_bound, bool):
            raise DataError(f"{w}: intensity_is_lower_bound must be true or false")

    def with_(self, **changes: Any) -> TargetForecast:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def with_warning(self, sent_time_ns: int) -> TargetForecast:
        """A copy whose warning time is counted from ``sent_time_ns``."""
        return replace(self, warning_time_s=(self.s_arrival_time_ns - sent_time_ns) / NS_PER_S)

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
            "intensity_is_lower_bound": self.intensity_is_lower_bound,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetForecast:
        """Inverse of :meth:`to_dict`; :class:`DataError` naming the field if malformed."""
        if not isinstance(d, dict):
            raise DataError(f"target: expected a JSON object, got {type(d).__name__}")
        w = f"target {d.get('name')!r}"
        name = _get(d, "name", "target")
        if not isinstance(name, str):
            raise DataError(f"target: name must be a string, got {name!r}")
        f = {k: _in(_get(d, k, w), f"{w}: {k}") for k in TARGET_FLOAT_FIELDS}
        return cls(
            name=name,
            s_arrival_time_ns=_time_in(d, "s_arrival_time", w),
            intensity_is_lower_bound=_bool_in(d, "intensity_is_lower_bound", w, False),
            **f,
        )


@dataclass(frozen=True, slots=True)
class LineSource:
    """A finite rupture seen as a line (FinDer-style, :mod:`eew.event.finder`).

    Attributes
    ----------
    start_latitude_deg, start_longitude_deg, end_latitude_deg, end_longitude_deg : float
        End points of the line [deg].
    depth_km : float
        Depth given to the line [km] (the hypocentre's).
    length_km : float
        Length [km].
    strike_deg : float
        Strike, clockwise from north [deg], 0-180 (a line has no direction; the start
        point is at ``strike_deg + 180``).
    """

    start_latitude_deg: float
    start_longitude_deg: float
    end_latitude_deg: float
    end_longitude_deg: float
    depth_km: float
    length_km: float
    strike_deg: float

    def __post_init__(self) -> None:
        w = "line_source"
        for k in ("start_latitude_deg", "end_latitude_deg"):
            _check(w, k, getattr(self, k), -90.0, 90.0, nullable=False)
        for k in ("start_longitude_deg", "end_longitude_deg"):
            _check(w, k, getattr(self, k), -180.0, 180.0, nullable=False)
        _check(w, "depth_km", self.depth_km, -10.0, 800.0, nullable=False)
        _check(w, "length_km", self.length_km, 0.0, 2000.0, nullable=False)
        _check(w, "strike_deg", self.strike_deg, 0.0, 360.0, nullable=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: _out(getattr(self, k), 5 if k.endswith("_deg") else 3) for k in LINE_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LineSource:
        """Inverse of :meth:`to_dict`; :class:`DataError` naming the field if malformed."""
        if not isinstance(d, dict):
            raise DataError(f"line_source: expected a JSON object, got {type(d).__name__}")
        return cls(**{k: _in(_get(d, k, "line_source"), f"line_source: {k}") for k in LINE_FIELDS})


#: the fields of :class:`LineSource`
LINE_FIELDS = (
    "start_latitude_deg",
    "start_longitude_deg",
    "end_latitude_deg",
    "end_longitude_deg",
    "depth_km",
    "length_km",
    "strike_deg",
)


#: the float fields of :class:`TargetForecast` (NaN where unknown)
TARGET_FLOAT_FIELDS = (
    "latitude_deg",
    "longitude_deg",
    "pga_cm_s2",
    "pga_sigma_log10",
    "intensity_msk",
    "intensity_mmi",
    "intensity_sigma",
    "distance_km",
    "warning_time_s",
)
#: the float fields of :class:`Alert` (NaN where unknown)
ALERT_FLOAT_FIELDS = (
    "origin_time_sigma_s",
    "latitude_deg",
    "longitude_deg",
    "horizontal_sigma_km",
    "depth_km",
    "depth_sigma_km",
    "magnitude",
    "magnitude_sigma",
    "likelihood",
)


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
        ``"Mpd"``: P-wave magnitude (Pd, tau_c, tau_p_max and the growth of Pd, combined;
        :mod:`eew.event.magnitude`); ``"Mpdr"``: the P-wave magnitude of a regional event
        (no station within 150 km; Wu & Zhao 2006 Pd relation, no line source);
        ``"Mfd"``: the finite-fault (FinDer-style) length magnitude fused with them
        (:mod:`eew.event.finder`); ``"Mw"`` from ShakeAlert.
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
    status : str
        ``actual`` (a real alert), ``exercise`` (a drill) or ``test`` (technical tests,
        replays, demos): see :data:`ALERT_STATUSES`.
    previous_sent_ns : tuple of int
        Sent times of the earlier versions of this event, ``previous_sent_ns[v]`` for
        version ``v`` [ns]; entries from ``version`` on are ignored. The publishing
        side keeps the chain so that a converter without state can name the earlier
        messages (CAP ``references``).
    line_source : LineSource or None
        The rupture as a line, when the finite-fault estimator has one (written only then).
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
    status: str = "actual"
    previous_sent_ns: tuple[int, ...] = ()
    line_source: LineSource | None = None

    def __post_init__(self) -> None:
        w = f"alert {self.event_id}"
        if not isinstance(self.event_id, str) or not self.event_id:
            raise DataError("alert: event_id must be a non-empty string")
        if self.message_type not in MESSAGE_TYPES:
            raise DataError(f"{w}: message_type {self.message_type!r} not in {MESSAGE_TYPES}")
        if self.kind not in ALERT_KINDS:
            raise DataError(f"{w}: kind {self.kind!r} not in {ALERT_KINDS}")
        if self.status not in ALERT_STATUSES:
            raise DataError(f"{w}: status {self.status!r} not in {ALERT_STATUSES}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise DataError(f"{w}: version must be an integer >= 0, got {self.version!r}")
        if not all(isinstance(t, int) for t in self.previous_sent_ns):
            raise DataError(f"{w}: previous_sent_ns must be integers [ns]")
        _check(w, "origin_time_sigma_s", self.origin_time_sigma_s, 0.0, 3600.0, nullable=True)
        _check(w, "latitude_deg", self.latitude_deg, -90.0, 90.0, nullable=False)
        _check(w, "longitude_deg", self.longitude_deg, -180.0, 180.0, nullable=False)
        _check(w, "horizontal_sigma_km", self.horizontal_sigma_km, 0.0, 20040.0, nullable=True)
        _check(w, "depth_km", self.depth_km, -10.0, 800.0, nullable=False)
        _check(w, "depth_sigma_km", self.depth_sigma_km, 0.0, 1000.0, nullable=True)
        _check(w, "magnitude", self.magnitude, -3.0, 10.5, nullable=False)
        _check(w, "magnitude_sigma", self.magnitude_sigma, 0.0, 10.0, nullable=True)
        _check(w, "likelihood", self.likelihood, 0.0, 1.0, nullable=True)

    def with_(self, **changes: Any) -> Alert:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Flat native JSON object (schema ``eew.alert/1``, ``type: "alert"``).

        ``line_source`` is written only when known.
        """
        out: dict[str, Any] = {
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
            "status": self.status,
            "previous_sent_times": [ns_to_iso(t) for t in self.previous_sent_ns],
        }
        if self.line_source is not None:
            out["line_source"] = self.line_source.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        """Parse a native JSON object; raises :class:`~eew.errors.DataError` if malformed."""
        if d.get("type") != "alert" or d.get("schema") != SCHEMA:
            raise DataError(
                f"not an {SCHEMA} alert: type={d.get('type')!r} schema={d.get('schema')!r}"
            )
        w = f"{SCHEMA} {d.get('event_id')!r}"
        version = _get(d, "version", w)
        if isinstance(version, bool) or not isinstance(version, int):
            raise DataError(f"{w}: version must be an integer, got {version!r}")
        stations = _get(d, "stations", w)
        if not isinstance(stations, list) or not all(isinstance(x, str) for x in stations):
            raise DataError(f"{w}: stations must be a list of strings")
        targets = d.get("targets", [])
        if not isinstance(targets, list):
            raise DataError(f"{w}: targets must be a list of objects")
        previous = d.get("previous_sent_times", [])
        if not isinstance(previous, list):
            raise DataError(f"{w}: previous_sent_times must be a list of times")
        line = d.get("line_source")
        t = {k: _text(d, k, w) for k in ("event_id", "message_type", "agency", "kind")}
        f = {k: _in(_get(d, k, w), f"{w}: {k}") for k in ALERT_FLOAT_FIELDS}
        return cls(
            event_id=t["event_id"],
            message_type=t["message_type"],
            agency=t["agency"],
            kind=t["kind"],
            magnitude_type=_text(d, "magnitude_type", w),
            software_version=_text(d, "software_version", w, ""),
            config_hash=_text(d, "config_hash", w, ""),
            status=_text(d, "status", w, "actual"),
            version=version,
            sent_time_ns=_time_in(d, "sent_time", w),
            origin_time_ns=_time_in(d, "origin_time", w),
            magnitude_is_lower_bound=_bool_in(d, "magnitude_is_lower_bound", w),
            stations=tuple(stations),
            targets=tuple(TargetForecast.from_dict(t) for t in targets),
            previous_sent_ns=tuple(
                _time_in({"t": t}, "t", f"{w}: previous_sent_times") for t in previous
            ),
            line_source=None if line is None else LineSource.from_dict(line),
            **f,
        )
