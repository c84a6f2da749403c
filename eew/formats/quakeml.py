"""QuakeML 1.2 (real-time flavour) for alerts and picks, read and written with obspy.

An alert becomes one ``event`` with a preferred ``origin`` (time, latitude,
longitude and depth with uncertainties, ``originUncertainty`` with the
horizontal 1-sigma, ``evaluationMode`` automatic) and a preferred ``magnitude``
(value and uncertainty, type, station count); ``creationInfo`` carries the agency,
the sent time and the message version. The alert status (actual, exercise, test)
is also a ``comment`` of the event (``status: test``), so that a QuakeML reader sees
a drill as such. ``delete`` is written as ``evaluationStatus`` rejected and event
type ``not existing``; ``final`` as ``evaluationStatus`` final. Likelihood is also
written as SED-EEW's
``vs:likelihood``. Pick messages are ``pick`` elements of an event without origin.

What QuakeML has no element for is kept in one extension element per event
(``eew:alert``) or pick (``eew:pick``) in the namespace :data:`EXT_NS`, with
attributes named as in the native JSON; ``eew:alert`` has one ``eew:target``
child per target forecast. QuakeML from other systems is read without it.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

import obspy
from lxml import etree
from obspy.core.event import (
    Catalog,
    Comment,
    CreationInfo,
    Event,
    Magnitude,
    Origin,
    OriginUncertainty,
    QuantityError,
    ResourceIdentifier,
    WaveformStreamID,
)
from obspy.core.event import Pick as QmlPick

from eew.errors import DataError
from eew.formats._common import (
    parse_time,
    parse_xml,
    to_bool,
    to_float,
    to_int,
    to_xml_bytes,
)
from eew.model.alert import TARGET_FLOAT_FIELDS, Alert, TargetForecast
from eew.model.geo import KM_PER_DEG
from eew.model.pick import PICK_FLOAT_FIELDS, Pick
from eew.model.timeutil import NS_PER_S, ns_to_iso

QML_NS = "http://quakeml.org/xmlns/quakeml/1.2"
BED_NS = "http://quakeml.org/xmlns/bed/1.2"
#: namespace of our extension elements
EXT_NS = "urn:almaty-eew:xmlns:quakeml-ext:1"
#: SED-EEW's namespace for likelihood and rupture extensions
VS_NS = "http://quakeml.org/xmlns/vstypes/0.1"

_ALERT_ATTRS = ("event_id", "message_type", "kind", "software_version", "config_hash", "status")
_TARGET_ATTRS = TARGET_FLOAT_FIELDS
_PICK_FLOATS = PICK_FLOAT_FIELDS


def _rid(agency: str, *parts: str) -> ResourceIdentifier:
    """A QuakeML-valid ``smi:`` id (disallowed characters become ``_``)."""
    authority = re.sub(r"[^\w.\-]", "_", f"eew.{agency or 'local'}")
    path = "/".join(re.sub(r"[^\w.\-]", "_", p) for p in parts)
    return ResourceIdentifier(id=f"smi:{authority}/{path}")


def _utc(t_ns: int) -> obspy.UTCDateTime:
    return obspy.UTCDateTime(ns=int(t_ns))


def _write(catalog: Catalog) -> etree._Element:
    buf = io.BytesIO()
    catalog.write(buf, format="QUAKEML", nsmap={"eew": EXT_NS, "vs": VS_NS})
    return parse_xml(buf.getvalue(), "QuakeML")


def _q(uncertainty: float) -> QuantityError:
    """A QuantityError; an unknown (NaN) uncertainty is left out."""
    return QuantityError(uncertainty=uncertainty if math.isfinite(uncertainty) else None)


def _num(value: float) -> str:
    return repr(float(value))


def alert_to_quakeml(alert: Alert) -> bytes:
    """Serialize ``alert`` as QuakeML 1.2 (one event; loads with ``obspy.read_events``)."""
    a = alert.agency
    status = {"delete": "rejected", "final": "final"}.get(alert.message_type, "preliminary")
    info = CreationInfo(
        agency_id=a or None,
        author=f"eew {alert.software_version}".strip(),
        creation_time=_utc(alert.sent_time_ns),
        version=str(alert.version),
    )
    lat_err = alert.horizontal_sigma_km / KM_PER_DEG
    lon_err = lat_err / max(math.cos(math.radians(alert.latitude_deg)), 1e-6)
    origin = Origin(
        resource_id=_rid(a, "origin", alert.event_id, str(alert.version)),
        time=_utc(alert.origin_time_ns),
        time_errors=_q(alert.origin_time_sigma_s),
        latitude=alert.latitude_deg,
        latitude_errors=_q(lat_err),
        longitude=alert.longitude_deg,
        longitude_errors=_q(lon_err),
        depth=alert.depth_km * 1000.0,
        depth_errors=_q(alert.depth_sigma_km * 1000.0),
        origin_uncertainty=OriginUncertainty(
            horizontal_uncertainty=_q(alert.horizontal_sigma_km * 1000.0).uncertainty,
            preferred_description="horizontal uncertainty",
        ),
        evaluation_mode="automatic",
        evaluation_status=status,
        creation_info=info.copy(),
    )
    magnitude = Magnitude(
        resource_id=_rid(a, "magnitude", alert.event_id, str(alert.version)),
        mag=alert.magnitude,
        mag_errors=_q(alert.magnitude_sigma),
        magnitude_type=alert.magnitude_type,
        origin_id=origin.resource_id,
        station_count=len(alert.stations),
        evaluation_mode="automatic",
        evaluation_status=status,
        creation_info=info.copy(),
    )
    event = Event(
        resource_id=_rid(a, "event", alert.event_id),
        event_type="not existing" if alert.message_type == "delete" else "earthquake",
        origins=[origin],
        magnitudes=[magnitude],
        preferred_origin_id=origin.resource_id,
        preferred_magnitude_id=magnitude.resource_id,
        creation_info=info,
        comments=[
            Comment(
                text=f"status: {alert.status}"
                + ("" if alert.status == "actual" else " (not a real alert)"),
                resource_id=_rid(a, "comment", alert.event_id, str(alert.version), "status"),
            )
        ],
    )
    root = _write(Catalog(events=[event], resource_id=_rid(a, "catalog", alert.event_id)))
    ev_el = root.find(f"{{{BED_NS}}}eventParameters/{{{BED_NS}}}event")
    assert ev_el is not None  # obspy writes the one event we gave it
    etree.SubElement(ev_el, f"{{{VS_NS}}}likelihood").text = _num(alert.likelihood)
    ext = etree.SubElement(ev_el, f"{{{EXT_NS}}}alert")
    for key in _ALERT_ATTRS:
        ext.set(key, str(getattr(alert, key)))
    ext.set("magnitude_is_lower_bound", str(alert.magnitude_is_lower_bound).lower())
    ext.set("likelihood", _num(alert.likelihood))
    ext.set("stations", " ".join(alert.stations))
    ext.set("previous_sent_times", " ".join(ns_to_iso(t, 9) for t in alert.previous_sent_ns))
    for t in alert.targets:
        el = etree.SubElement(ext, f"{{{EXT_NS}}}target", name=t.name)
        for key in _TARGET_ATTRS:
            el.set(key, _num(getattr(t, key)))
        el.set("s_arrival_time", ns_to_iso(t.s_arrival_time_ns, digits=9))
        el.set("intensity_is_lower_bound", str(t.intensity_is_lower_bound).lower())
    return to_xml_bytes(root)


def picks_to_quakeml(picks: Sequence[Pick], *, agency: str) -> bytes:
    """Serialize picks as ``pick`` elements of one origin-less QuakeML event."""
    event = Event(resource_id=_rid(agency, "picks", picks[0].pick_id if picks else "none"))
    for p in picks:
        net, sta, loc, cha = p.channel_id.split(".")
        status = "rejected" if p.retracted else ("final" if p.final else "preliminary")
        event.picks.append(
            QmlPick(
                resource_id=_rid(agency, "pick", p.pick_id),
                time=_utc(p.time_ns),
                waveform_id=WaveformStreamID(net, sta, loc, cha),
                phase_hint="P",
                evaluation_mode="automatic",
                evaluation_status=status,
                creation_info=CreationInfo(
                    agency_id=agency or None,
                    creation_time=_utc(p.sent_time_ns),
                    version=str(p.update),
                ),
            )
        )
    root = _write(Catalog(events=[event], resource_id=_rid(agency, "catalog", "picks")))
    for p, el in zip(picks, root.iter(f"{{{BED_NS}}}pick"), strict=True):
        ext = etree.SubElement(el, f"{{{EXT_NS}}}pick", pick_id=p.pick_id)
        ext.set("trigger_time", ns_to_iso(p.trigger_time_ns, digits=9))
        ext.set("update", str(p.update))
        for key in ("final", "clipped", "retracted"):
            ext.set(key, str(getattr(p, key)).lower())
        for key in _PICK_FLOATS:
            ext.set(key, _num(getattr(p, key)))
        ext.set("sensor", p.sensor)
    return to_xml_bytes(root)


def messages_from_quakeml(data: bytes | str) -> list[Alert | Pick]:
    """Parse QuakeML: one :class:`Alert` per event with an origin, else its picks."""
    root = parse_xml(data, "QuakeML")
    if root.tag != f"{{{QML_NS}}}quakeml":
        raise DataError(f"QuakeML: root element is {root.tag!r}, not quakeml 1.2")
    if root.find(f"{{{BED_NS}}}eventParameters") is None:
        raise DataError("QuakeML: no eventParameters in the BED 1.2 namespace")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        catalog = obspy.read_events(io.BytesIO(raw), format="QUAKEML")
    except (ValueError, TypeError, KeyError, AttributeError, etree.LxmlError) as exc:
        raise DataError(f"QuakeML: obspy cannot read it: {exc!r}") from exc
    events = root.findall(f"{{{BED_NS}}}eventParameters/{{{BED_NS}}}event")
    out: list[Alert | Pick] = []
    for ev, ev_el in zip(catalog, events, strict=True):
        if ev.origins:
            out.append(_alert_from_event(ev, ev_el))
        else:
            by_id = {
                pe.get("publicID"): pe.find(f"{{{EXT_NS}}}pick")
                for pe in ev_el.iter(f"{{{BED_NS}}}pick")
            }
            out.extend(_pick_from_qml(p, by_id.get(str(p.resource_id))) for p in ev.picks)
    if not out:
        raise DataError("QuakeML: no event with an origin and no pick")
    return out


def _alert_from_event(ev: Event, ev_el: etree._Element) -> Alert:
    origin = ev.preferred_origin() or ev.origins[0]
    if not ev.magnitudes:
        raise DataError("QuakeML: event has no magnitude")
    mag = ev.preferred_magnitude() or ev.magnitudes[0]
    if origin.latitude is None or origin.longitude is None or origin.time is None:
        raise DataError("QuakeML: origin without time, latitude or longitude")
    infos = [c for c in (mag.creation_info, origin.creation_info, ev.creation_info) if c]
    created = [c.creation_time for c in infos if c.creation_time is not None]
    if not created:
        raise DataError("QuakeML: no creationInfo/creationTime (sent time)")
    version = next((c.version for c in infos if c.version), "0")
    agency = next((c.agency_id for c in infos if c.agency_id), "")
    ext = ev_el.find(f"{{{EXT_NS}}}alert")
    x = dict(ext.attrib) if ext is not None else {}
    vs = ev_el.findtext(f"{{{VS_NS}}}likelihood")
    status = origin.evaluation_status
    if "message_type" in x:
        mtype = x["message_type"]
    elif status == "rejected" or ev.event_type == "not existing":
        mtype = "delete"
    elif status == "final":
        mtype = "final"
    else:
        mtype = "new" if str(version) == "0" else "update"
    unc = origin.origin_uncertainty
    if unc is not None and unc.horizontal_uncertainty is not None:
        h_km = unc.horizontal_uncertainty / 1000.0
    else:
        h_km = _err(origin.latitude_errors) * KM_PER_DEG
    sent_ns = min(created).ns
    return Alert(
        event_id=x.get("event_id", str(ev.resource_id).rsplit("/", 1)[-1]),
        version=to_int(version, "QuakeML creationInfo/version"),
        message_type=mtype,
        agency=agency,
        sent_time_ns=sent_ns,
        origin_time_ns=origin.time.ns,
        origin_time_sigma_s=_err(origin.time_errors),
        latitude_deg=origin.latitude,
        longitude_deg=origin.longitude,
        horizontal_sigma_km=h_km,
        depth_km=origin.depth / 1000.0 if origin.depth is not None else math.nan,
        depth_sigma_km=_err(origin.depth_errors) / 1000.0,
        magnitude=to_float(mag.mag, "QuakeML magnitude"),
        magnitude_sigma=_err(mag.mag_errors),
        magnitude_type=mag.magnitude_type or "M",
        magnitude_is_lower_bound=to_bool(x.get("magnitude_is_lower_bound", False), "lower bound"),
        likelihood=to_float(x.get("likelihood", vs), "QuakeML likelihood"),
        kind=x.get("kind", "source"),
        stations=tuple(x.get("stations", "").split()),
        targets=tuple(_target(t, sent_ns) for t in ext.iter(f"{{{EXT_NS}}}target"))
        if ext is not None
        else (),
        software_version=x.get("software_version", ""),
        config_hash=x.get("config_hash", ""),
        status=x.get("status", _status_comment(ev)),
        previous_sent_ns=tuple(
            parse_time(t, "QuakeML eew:alert@previous_sent_times")
            for t in x.get("previous_sent_times", "").split()
        ),
    )


def _status_comment(ev: Event) -> str:
    """Status from a ``status: ...`` comment (QuakeML from us without the extension)."""
    for c in ev.comments:
        text = str(c.text or "")
        if text.startswith("status: "):
            word = text[8:].split()[0] if text[8:].split() else ""
            if word in ("actual", "exercise", "test"):
                return word
    return "actual"


def _err(q: QuantityError | None) -> float:
    if q is None or q.uncertainty is None:
        return math.nan
    return float(q.uncertainty)


def _target(el: etree._Element, sent_ns: int) -> TargetForecast:
    f = {k: to_float(el.get(k), f"QuakeML eew:target@{k}") for k in _TARGET_ATTRS}
    s_ns = parse_time(el.get("s_arrival_time"), "QuakeML eew:target@s_arrival_time")
    if math.isnan(f["warning_time_s"]):
        f["warning_time_s"] = (s_ns - sent_ns) / NS_PER_S
    name = el.get("name")
    if not name:
        raise DataError("QuakeML: eew:target without name")
    return TargetForecast(
        name=name,
        s_arrival_time_ns=s_ns,
        intensity_is_lower_bound=to_bool(
            el.get("intensity_is_lower_bound", "false"), "eew:target@intensity_is_lower_bound"
        ),
        **f,
    )


def _pick_from_qml(p: QmlPick, ext: etree._Element | None) -> Pick:
    if p.time is None or p.waveform_id is None:
        raise DataError("QuakeML: pick without time or waveformID")
    w = p.waveform_id
    channel_id = ".".join(
        c or "" for c in (w.network_code, w.station_code, w.location_code, w.channel_code)
    )
    x = dict(ext.attrib) if ext is not None else {}
    info = p.creation_info
    sent = info.creation_time.ns if info and info.creation_time else p.time.ns
    update = x.get("update", info.version if info and info.version else "0")
    return Pick(
        pick_id=x.get("pick_id", str(p.resource_id).rsplit("/", 1)[-1]),
        channel_id=channel_id,
        time_ns=p.time.ns,
        trigger_time_ns=parse_time(x["trigger_time"], "QuakeML eew:pick@trigger_time")
        if "trigger_time" in x
        else p.time.ns,
        sent_time_ns=sent,
        update=to_int(update, "QuakeML pick version"),
        final=to_bool(x.get("final", p.evaluation_status == "final"), "eew:pick@final"),
        sensor=x.get("sensor", ""),
        clipped=to_bool(x.get("clipped", False), "eew:pick@clipped"),
        retracted=to_bool(
            x.get("retracted", p.evaluation_status == "rejected"), "eew:pick@retracted"
        ),
        **{k: to_float(x.get(k), f"QuakeML eew:pick@{k}") for k in _PICK_FLOATS},
    )
