"""ANSS detection formats (``anss-formats`` 0.1.x): Pick and Detection JSON.

Picks map to ANSS ``Pick`` and alerts to ANSS ``Detection`` with the exact
published (camelCase) field names; coordinates are GeoJSON ``[lon, lat, z]``
with z = elevation [m] for a channel and depth [km] for a hypocentre, times are
``YYYY-MM-DDTHH:MM:SS.sssZ``. Our ``delete`` is ``detectionType: "Retract"``.
Everything the ANSS models have no field for (pick update counter and early-P
parameters; alert version, likelihood, lower-bound flag, stations, target
forecasts...) is kept under ``analyticsInfo.extensions`` keyed by the native
schema name (``"eew.pick/1"`` or ``"eew.alert/1"``), with native field names.
Messages without that extension (from other networks) are read with defaults.
The legacy PascalCase format of the archived USGS repository is not read.
"""

from __future__ import annotations

import math
from typing import Any

from eew.errors import DataError
from eew.formats._common import (
    none_to_nan,
    parse_time,
    to_bool,
    to_float,
    to_int,
    wrap_errors,
)
from eew.formats.native import PICK_SCHEMA, TARGET_NULLABLE
from eew.model.alert import SCHEMA as ALERT_SCHEMA
from eew.model.alert import Alert, TargetForecast
from eew.model.pick import Pick
from eew.model.timeutil import ns_to_iso

ANSS_TYPES = ("Pick", "Detection", "Retraction")
_DETECTION_TYPES = {"new": "New", "update": "Update", "final": "Final", "delete": "Retract"}
_PICK_EXT_FLOATS = ("window_s", "pd_cm", "pv_cm_s", "pa_cm_s2", "tau_c_s", "tau_p_max_s", "snr")


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` and non-finite floats (anss-formats drops nulls too)."""
    return {
        k: v
        for k, v in d.items()
        if v is not None and not (isinstance(v, float) and not math.isfinite(v))
    }


def _nan_null(v: float) -> float | None:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def pick_to_anss(pick: Pick, *, agency: str, author: str = "eew") -> dict[str, Any]:
    """ANSS ``Pick`` object of ``pick``.

    Parameters
    ----------
    pick : Pick
        The pick.
    agency : str
        FDSN agency code of the producing network (``source.agencyID``).
    author : str
        ``source.author``.
    """
    net, sta, loc, cha = pick.channel_id.split(".")
    channel: dict[str, Any] = {"type": "Feature"}
    coords = (pick.longitude_deg, pick.latitude_deg, pick.elevation_m)
    if all(math.isfinite(c) for c in coords):
        channel["geometry"] = {"type": "Point", "coordinates": list(coords)}
    channel["properties"] = {
        "station": sta,
        "network": net,
        "channel": cha,
        "location": loc or "--",
    }
    out: dict[str, Any] = {
        "type": "Pick",
        "id": pick.pick_id,
        "channel": channel,
        "source": {"agencyID": agency, "author": author},
        "time": ns_to_iso(pick.time_ns),
        "phase": "P",
        "method": "eew",
    }
    amp = _finite({"amplitude": pick.pd_cm, "units": "cm", "method": "Pd", "snr": pick.snr})
    if "amplitude" in amp:
        out["amplitudeInfo"] = amp
    ext = {
        "trigger_time": ns_to_iso(pick.trigger_time_ns),
        "sent_time": ns_to_iso(pick.sent_time_ns),
        "update": pick.update,
        "final": pick.final,
        **{k: _nan_null(getattr(pick, k)) for k in _PICK_EXT_FLOATS},
        "sensor": pick.sensor,
        "clipped": pick.clipped,
        "retracted": pick.retracted,
    }
    out["analyticsInfo"] = {"extensions": {PICK_SCHEMA: ext}}
    return out


def _extension(d: dict[str, Any], key: str) -> dict[str, Any]:
    ext = (d.get("analyticsInfo") or {}).get("extensions") or {}
    value = ext.get(key) or {}
    if not isinstance(value, dict):
        raise DataError(f"ANSS: analyticsInfo.extensions[{key!r}] is not an object")
    return value


def pick_from_anss(d: dict[str, Any]) -> Pick:
    """Parse an ANSS ``Pick`` object; :class:`DataError` if malformed."""
    return wrap_errors("ANSS Pick", lambda: _pick_from_anss(d))


def _pick_from_anss(d: dict[str, Any]) -> Pick:
    if d.get("type") != "Pick":
        raise DataError(f"not an ANSS Pick: type={d.get('type')!r}")
    props = d["channel"]["properties"]
    loc = props.get("location") or ""
    channel_id = ".".join(
        (props["network"], props["station"], "" if loc == "--" else loc, props.get("channel", ""))
    )
    geometry = d["channel"].get("geometry") or {}
    lon, lat, elev = geometry.get("coordinates") or (None, None, None)
    time_ns = parse_time(d["time"], "ANSS Pick time")
    x = _extension(d, PICK_SCHEMA)
    amp = d.get("amplitudeInfo") or {}
    floats = {k: to_float(x.get(k), f"ANSS Pick {k}") for k in _PICK_EXT_FLOATS}
    if PICK_SCHEMA not in ((d.get("analyticsInfo") or {}).get("extensions") or {}):
        if amp.get("units") == "cm":
            floats["pd_cm"] = to_float(amp.get("amplitude"), "ANSS amplitudeInfo.amplitude")
        floats["snr"] = to_float(amp.get("snr"), "ANSS amplitudeInfo.snr")
    return Pick(
        pick_id=str(d["id"]),
        channel_id=channel_id,
        time_ns=time_ns,
        trigger_time_ns=parse_time(x.get("trigger_time", d["time"]), "ANSS trigger_time"),
        sent_time_ns=parse_time(x.get("sent_time", d["time"]), "ANSS sent_time"),
        update=to_int(x.get("update", 0), "ANSS update"),
        final=to_bool(x.get("final", False), "ANSS final"),
        sensor=str(x.get("sensor", "")),
        clipped=to_bool(x.get("clipped", False), "ANSS clipped"),
        retracted=to_bool(x.get("retracted", False), "ANSS retracted"),
        latitude_deg=to_float(lat, "ANSS latitude"),
        longitude_deg=to_float(lon, "ANSS longitude"),
        elevation_m=to_float(elev, "ANSS elevation"),
        **floats,
    )


def alert_to_anss(alert: Alert, *, author: str = "eew") -> dict[str, Any]:
    """ANSS ``Detection`` object of ``alert`` (``source.agencyID`` = the alert's agency)."""
    source = {"agencyID": alert.agency, "author": author}
    props = _finite(
        {
            "originTime": ns_to_iso(alert.origin_time_ns),
            "latitudeError": alert.horizontal_sigma_km,
            "longitudeError": alert.horizontal_sigma_km,
            "depthError": alert.depth_sigma_km,
            "timeError": alert.origin_time_sigma_s,
        }
    )
    ext = {
        "version": alert.version,
        "message_type": alert.message_type,
        "likelihood": _nan_null(alert.likelihood),
        "magnitude_is_lower_bound": alert.magnitude_is_lower_bound,
        "kind": alert.kind,
        "stations": list(alert.stations),
        "targets": [{k: _nan_null(v) for k, v in t.to_dict().items()} for t in alert.targets],
        "software_version": alert.software_version,
        "config_hash": alert.config_hash,
        "status": alert.status,
        "previous_sent_times": [ns_to_iso(t) for t in alert.previous_sent_ns],
    }
    magnitude = _finite(
        {
            "value": alert.magnitude,
            "type": alert.magnitude_type,
            "error": alert.magnitude_sigma,
            "source": source,
        }
    )
    return {
        "type": "Detection",
        "id": alert.event_id,
        "source": source,
        "hypocenter": {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [alert.longitude_deg, alert.latitude_deg, alert.depth_km],
            },
            "properties": props,
        },
        "detectionType": _DETECTION_TYPES[alert.message_type],
        "detectionTime": ns_to_iso(alert.sent_time_ns),
        "eventType": {"type": "Earthquake", "certainty": "Suspected"},
        "method": f"eew-{alert.kind}",
        "magnitudeData": [magnitude],
        "analyticsInfo": {"extensions": {ALERT_SCHEMA: ext}},
    }


def alert_from_anss(d: dict[str, Any]) -> Alert:
    """Parse an ANSS ``Detection`` object; :class:`DataError` if malformed."""
    return wrap_errors("ANSS Detection", lambda: _alert_from_anss(d))


def _alert_from_anss(d: dict[str, Any]) -> Alert:
    if d.get("type") != "Detection":
        raise DataError(f"not an ANSS Detection: type={d.get('type')!r}")
    hypo = d["hypocenter"]
    lon, lat, depth = hypo["geometry"]["coordinates"]
    props = hypo["properties"]
    x = _extension(d, ALERT_SCHEMA)
    dtype = d.get("detectionType", "New")
    by_anss = {v: k for k, v in _DETECTION_TYPES.items()}
    if dtype not in by_anss:
        raise DataError(f"ANSS: detectionType {dtype!r}")
    mags = [m for m in d.get("magnitudeData") or [] if m.get("value") is not None]
    if not mags:
        raise DataError("ANSS Detection without magnitudeData value")
    mag = mags[0]
    origin_ns = parse_time(props["originTime"], "ANSS originTime")
    sent_ns = parse_time(d.get("detectionTime", props["originTime"]), "ANSS detectionTime")
    h_errs = [props.get("latitudeError"), props.get("longitudeError")]
    h_errs = [to_float(e, "ANSS latitude/longitudeError") for e in h_errs if e is not None]
    targets = [none_to_nan(t, TARGET_NULLABLE) for t in x.get("targets", [])]
    return Alert(
        event_id=str(d["id"]),
        version=to_int(x.get("version", 0), "ANSS version"),
        message_type=str(x.get("message_type", by_anss[dtype])),
        agency=str(d["source"]["agencyID"]),
        sent_time_ns=sent_ns,
        origin_time_ns=origin_ns,
        origin_time_sigma_s=to_float(props.get("timeError"), "ANSS timeError"),
        latitude_deg=to_float(lat, "ANSS latitude"),
        longitude_deg=to_float(lon, "ANSS longitude"),
        horizontal_sigma_km=max(h_errs) if h_errs else math.nan,
        depth_km=to_float(depth, "ANSS depth"),
        depth_sigma_km=to_float(props.get("depthError"), "ANSS depthError"),
        magnitude=to_float(mag["value"], "ANSS magnitude"),
        magnitude_sigma=to_float(mag.get("error"), "ANSS magnitude error"),
        magnitude_type=str(mag.get("type", "M")),
        magnitude_is_lower_bound=to_bool(x.get("magnitude_is_lower_bound", False), "lower bound"),
        likelihood=to_float(x.get("likelihood"), "ANSS likelihood"),
        kind=str(x.get("kind", "source")),
        stations=tuple(str(s) for s in x.get("stations", [])),
        targets=tuple(TargetForecast.from_dict(t) for t in targets),
        software_version=str(x.get("software_version", "")),
        config_hash=str(x.get("config_hash", "")),
        status=str(x.get("status", "actual")),
        previous_sent_ns=tuple(
            parse_time(t, "ANSS previous_sent_times") for t in x.get("previous_sent_times", [])
        ),
    )


def to_anss(message: Alert | Pick, *, agency: str, author: str = "eew") -> dict[str, Any]:
    """ANSS object of an alert (Detection) or a pick (Pick; ``agency`` is its agencyID)."""
    if isinstance(message, Alert):
        return alert_to_anss(message, author=author)
    return pick_to_anss(message, agency=agency, author=author)


def from_anss(d: Any) -> Alert | Pick:
    """Parse an ANSS ``Pick`` or ``Detection`` object."""
    if not isinstance(d, dict):
        raise DataError(f"ANSS: expected a JSON object, got {type(d).__name__}")
    kind = d.get("type")
    if kind == "Pick":
        return pick_from_anss(d)
    if kind == "Detection":
        return alert_from_anss(d)
    if kind == "Retraction":
        raise DataError(
            "ANSS Retraction carries no magnitude and cannot become an alert; "
            "send a Detection with detectionType 'Retract'"
        )
    if "Type" in d:
        raise DataError("legacy PascalCase ANSS messages (key 'Type') are not supported")
    raise DataError(f"not an ANSS message: type={kind!r}")
