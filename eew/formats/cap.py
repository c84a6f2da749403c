"""CAP 1.2 (OASIS Common Alerting Protocol) for public warning systems.

One ``alert`` per message with ``msgType`` Alert (``new``), Update (``update``,
``final``) or Cancel (``delete``); Update and Cancel name the earlier versions in
``references`` (``sender,identifier,sent`` triplets), built from the alert's own
``previous_sent_ns`` chain, so a converter needs no state. ``status`` follows the
alert's (Actual, Exercise, Test). Four ``info`` blocks (kk, ru, en, ky) with
headline, description, instruction by intensity level (:mod:`.cap_text`) and one
``area`` per affected target (a polygon or a circle of the target's extent from
``eew/data/cap_areas.toml``, named in the block's language).

Date-times have the form the CAP 1.2 schema requires (``2024-01-22T18:09:04+00:00``:
whole seconds, numeric offset). So that the versions of an event stay ordered, the
``sent`` of version *v* is ``max(floor(sent_v), sent_(v-1) + 1 s)`` (:func:`cap_sent_times`):
at most a few seconds later than the true sent time, which the ``sent_time``
parameter keeps to the millisecond.

Each ``info`` also carries the full alert as ``parameter`` elements named as in
the native JSON (``magnitude``, ``latitude_deg``...; one ``target`` parameter
with a JSON object per target forecast), so that :func:`alert_from_cap` can
rebuild the alert. CAP from SeisComP's sceewlog (parameters ``magnitude``,
``latitude``, ``longitude``, ``depth``, ``originTime``) is read with unknown
uncertainties.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from eew.errors import DataError
from eew.formats._common import (
    cap_time,
    fmt,
    parse_time,
    parse_xml,
    to_bool,
    to_float,
    to_int,
    to_xml_bytes,
)
from eew.formats.cap_text import LANGUAGES, area_of, info_text, public_level, worst
from eew.formats.native import TARGET_NULLABLE, alert_from_dict, alert_to_dict
from eew.model.alert import SCHEMA as ALERT_SCHEMA
from eew.model.alert import Alert, TargetForecast
from eew.model.timeutil import NS_PER_S

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_MSG_TYPES = {"new": "Alert", "update": "Update", "final": "Update", "delete": "Cancel"}
_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
#: alert status -> CAP status, and back (System and Draft are read as test)
CAP_STATUS = {"actual": "Actual", "exercise": "Exercise", "test": "Test"}
_FROM_CAP_STATUS = {"Actual": "actual", "Exercise": "exercise", "Test": "test"}
#: the identity and time parameters (read back as text, except ``version``)
_HEAD_PARAMS = ("event_id", "version", "message_type", "agency", "sent_time", "origin_time")
#: the scalar parameters in the order they are written (the alert's fields, natively named)
_SCALAR_PARAMS = (
    *_HEAD_PARAMS,
    "origin_time_sigma_s",
    "latitude_deg",
    "longitude_deg",
    "horizontal_sigma_km",
    "depth_km",
    "depth_sigma_km",
    "magnitude",
    "magnitude_sigma",
    "magnitude_type",
    "magnitude_is_lower_bound",
    "likelihood",
    "kind",
    "software_version",
    "config_hash",
    "status",
)


@dataclass(frozen=True, slots=True)
class CapReference:
    """One earlier CAP message named in ``references``.

    Attributes
    ----------
    sender, identifier : str
        ``sender`` and ``identifier`` of that message.
    sent_ns : int
        Its ``sent`` time [ns since the epoch; CAP keeps whole seconds].
    """

    sender: str
    identifier: str
    sent_ns: int

    def text(self) -> str:
        """``sender,identifier,sent`` as CAP writes it."""
        return f"{self.sender},{self.identifier},{cap_time(self.sent_ns)}"


def _token(text: str) -> str:
    """CAP ``identifier``/``sender`` text: no spaces, commas or restricted characters."""
    return re.sub(r"[\s,<&]", "_", text) or "-"


def cap_sender(alert: Alert) -> str:
    """The CAP ``sender`` of ``alert`` (its agency)."""
    return _token(alert.agency)


def cap_identifier(alert: Alert) -> str:
    """The CAP ``identifier`` of ``alert``: ``<event_id>-v<version>``."""
    return _token(f"{alert.event_id}-v{alert.version}")


def cap_reference(alert: Alert) -> CapReference:
    """The ``references`` entry that names the CAP message made from ``alert``."""
    return CapReference(cap_sender(alert), cap_identifier(alert), cap_sent_times(alert)[-1])


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    el.text = text
    return el


def severity(level: int) -> str:
    """CAP ``severity`` of a public intensity level (table in docs/formats.md)."""
    for limit, name in ((8, "Extreme"), (6, "Severe"), (4, "Moderate")):
        if level >= limit:
            return name
    return "Minor"


def cap_codes(alert: Alert, affected: tuple[TargetForecast, ...]) -> dict[str, str]:
    """``responseType``, ``urgency``, ``severity`` and ``certainty`` of an alert.

    Documented as a table in docs/formats.md: severity from the highest public level
    among the affected targets (the same level the headline shows); urgency Immediate
    while shaking is to come, Past for the last message and a Cancel; certainty Observed
    for shaking seen by the city stations (onsite) and for the last message, Likely for
    likelihood >= 0.5, else Possible; Unlikely for a Cancel.
    """
    if alert.message_type == "delete":
        return {
            "responseType": "AllClear",
            "urgency": "Past",
            "severity": "Unknown",
            "certainty": "Unlikely",
        }
    top = worst(affected)
    level = top[1].action_level if top is not None else 1
    sev = severity(level) if top is not None else "Minor"
    if alert.message_type == "final":
        return {
            "responseType": "Monitor",
            "urgency": "Past",
            "severity": sev,
            "certainty": "Observed",
        }
    if alert.kind in ("onsite", "plum"):
        certainty = "Observed"
    elif math.isfinite(alert.likelihood) and alert.likelihood >= 0.5:
        certainty = "Likely"
    else:
        certainty = "Possible"
    return {
        "responseType": "Shelter" if level >= 4 else "Monitor",
        "urgency": "Immediate",
        "severity": sev,
        "certainty": certainty,
    }


def cap_sent_times(alert: Alert) -> list[int]:
    """CAP ``sent`` of every version of the alert's chain, the alert's own last [ns].

    Whole seconds, strictly increasing: ``max(floor(sent_v), previous + 1 s)``.
    """
    out: list[int] = []
    for t in (*alert.previous_sent_ns[: alert.version], alert.sent_time_ns):
        whole = t - t % NS_PER_S
        out.append(max(whole, out[-1] + NS_PER_S) if out else whole)
    return out


def chain_references(alert: Alert) -> tuple[CapReference, ...]:
    """References to every earlier version, from the alert's own chain."""
    sent = cap_sent_times(alert)[:-1]
    sender = cap_sender(alert)
    return tuple(
        CapReference(sender, _token(f"{alert.event_id}-v{v}"), t) for v, t in enumerate(sent)
    )


def alert_to_cap(
    alert: Alert,
    *,
    references: Sequence[CapReference] = (),
    status: str | None = None,
    min_intensity: float = 2.0,
    expires_s: float = 600.0,
) -> bytes:
    """Serialize ``alert`` as a CAP 1.2 message.

    Parameters
    ----------
    alert : Alert
        The message.
    references : sequence of CapReference
        Earlier messages of the event; default: the alert's own chain
        (:func:`chain_references`). Update and Cancel need at least one.
    status : str, optional
        CAP ``status``; default from the alert (:data:`CAP_STATUS`).
    min_intensity : float
        Targets whose public level is below this get no ``area`` and no text
        line (all targets are areas of a Cancel).
    expires_s : float
        ``expires`` = sent time + this [s].

    Returns
    -------
    bytes
        UTF-8 XML valid against the CAP 1.2 schema.
    """
    msg_type = _MSG_TYPES[alert.message_type]
    status = status or CAP_STATUS[alert.status]
    if status not in _STATUSES:
        raise DataError(f"CAP status {status!r} not in {_STATUSES}")
    refs = tuple(references) or chain_references(alert)
    if msg_type != "Alert" and not refs:
        raise DataError(
            f"CAP {msg_type} of {alert.event_id} v{alert.version}: no earlier versions known "
            "(the alert carries no previous_sent_times; give references)"
        )
    sent_ns = cap_sent_times(alert)[-1]
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", cap_identifier(alert))
    _sub(root, "sender", cap_sender(alert))
    _sub(root, "sent", cap_time(sent_ns))
    _sub(root, "status", status)
    _sub(root, "msgType", msg_type)
    _sub(root, "scope", "Public")
    if refs:
        _sub(root, "references", " ".join(r.text() for r in refs))
    _sub(root, "incidents", _token(alert.event_id))
    if msg_type == "Cancel":
        affected = alert.targets
    else:
        affected = tuple(t for t in alert.targets if public_level(t).value >= min_intensity)
    codes = cap_codes(alert, affected)
    params = _parameters(alert)
    for lang in LANGUAGES:
        text = info_text(alert, affected if msg_type != "Cancel" else (), lang)
        info = etree.SubElement(root, f"{{{CAP_NS}}}info")
        _sub(info, "language", lang)
        _sub(info, "category", "Geo")
        _sub(info, "event", text.event)
        for key in ("responseType", "urgency", "severity", "certainty"):
            _sub(info, key, codes[key])
        _sub(info, "onset", cap_time(alert.origin_time_ns))
        _sub(info, "expires", cap_time(sent_ns + round(expires_s * NS_PER_S)))
        _sub(info, "senderName", alert.agency or "-")
        _sub(info, "headline", text.headline)
        _sub(info, "description", text.description)
        _sub(info, "instruction", text.instruction)
        for name, value in params:
            param = etree.SubElement(info, f"{{{CAP_NS}}}parameter")
            _sub(param, "valueName", name)
            _sub(param, "value", value)
        for t in affected:
            _area(info, t, lang)
    return to_xml_bytes(root)


def _area(info: etree._Element, t: TargetForecast, lang: str) -> None:
    a = area_of(t)
    area = etree.SubElement(info, f"{{{CAP_NS}}}area")
    _sub(area, "areaDesc", a.names[lang])
    if a.polygon:
        _sub(area, "polygon", " ".join(f"{fmt(la, 5)},{fmt(lo, 5)}" for la, lo in a.polygon))
    else:
        circle = f"{fmt(t.latitude_deg, 5)},{fmt(t.longitude_deg, 5)} {fmt(a.radius_km, 3)}"
        _sub(area, "circle", circle)


def _parameters(alert: Alert) -> list[tuple[str, str]]:
    d = alert_to_dict(alert)
    out = []
    for key in _SCALAR_PARAMS:
        value = d[key]
        if isinstance(value, bool):
            text = str(value).lower()
        elif value is None:
            text = "null"
        else:
            text = str(value)
        out.append((key, text))
    out.append(("stations", " ".join(d["stations"])))
    out.append(("previous_sent_times", " ".join(d["previous_sent_times"])))
    out.extend(("target", json.dumps(t, ensure_ascii=False)) for t in d["targets"])
    return out


def _root(data: bytes | str) -> etree._Element:
    root = parse_xml(data, "CAP")
    if root.tag != f"{{{CAP_NS}}}alert":
        raise DataError(f"CAP: root element is {root.tag!r}, not a CAP 1.2 alert")
    return root


def cap_references(data: bytes | str) -> tuple[CapReference, ...]:
    """The ``references`` of a CAP message."""
    text = _root(data).findtext(f"{{{CAP_NS}}}references") or ""
    out = []
    for triplet in text.split():
        parts = triplet.split(",")
        if len(parts) != 3:
            raise DataError(f"CAP: malformed reference {triplet!r}")
        out.append(CapReference(parts[0], parts[1], parse_time(parts[2], "CAP reference")))
    return tuple(out)


def alert_from_cap(data: bytes | str) -> Alert:
    """Rebuild an :class:`Alert` from a CAP message made by :func:`alert_to_cap`.

    Raises
    ------
    DataError
        If the document is not CAP 1.2 or carries neither our parameters nor
        sceewlog's.
    """
    root = _root(data)
    info = root.find(f"{{{CAP_NS}}}info")
    if info is None:
        raise DataError("CAP: no info block")
    params: dict[str, list[str]] = {}
    for p in info.iterfind(f"{{{CAP_NS}}}parameter"):
        name = p.findtext(f"{{{CAP_NS}}}valueName") or ""
        params.setdefault(name, []).append(p.findtext(f"{{{CAP_NS}}}value") or "")
    if "event_id" in params:
        return _from_eew_parameters(params)
    if "magnitude" in params and "originTime" in params:
        return _from_sceewlog(root, params)
    raise DataError("CAP: no eew (or sceewlog) parameters to rebuild the alert from")


def _from_eew_parameters(params: dict[str, list[str]]) -> Alert:
    d: dict[str, object] = {"type": "alert", "schema": ALERT_SCHEMA}
    texts = (*_HEAD_PARAMS, "magnitude_type", "kind", "software_version", "config_hash", "status")
    for key in _SCALAR_PARAMS:
        if key == "status" and key not in params:
            continue
        if key not in params:
            raise DataError(f"CAP: missing parameter {key!r}")
        value = params[key][0]
        if key == "version":
            d[key] = to_int(value, "CAP parameter version")
        elif key in texts:
            d[key] = value
        elif key == "magnitude_is_lower_bound":
            d[key] = to_bool(value, f"CAP parameter {key}")
        else:
            d[key] = None if value == "null" else to_float(value, f"CAP parameter {key}")
    d["stations"] = params.get("stations", [""])[0].split()
    d["previous_sent_times"] = params.get("previous_sent_times", [""])[0].split()
    targets: list[dict[str, object]] = []
    for text in params.get("target", []):
        try:
            t = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"CAP: malformed target parameter: {exc}") from exc
        if not isinstance(t, dict):
            raise DataError("CAP: target parameter is not a JSON object")
        targets.append({**dict.fromkeys(TARGET_NULLABLE), **t})
    d["targets"] = targets
    return alert_from_dict(d)


def _from_sceewlog(root: etree._Element, params: dict[str, list[str]]) -> Alert:
    def num(key: str) -> float:
        return to_float(params.get(key, [None])[0], f"CAP parameter {key}")

    msg = root.findtext(f"{{{CAP_NS}}}msgType")
    mtype = {"Alert": "new", "Update": "update", "Cancel": "delete"}.get(msg or "")
    if mtype is None:
        raise DataError(f"CAP: msgType {msg!r}")
    sent = parse_time(root.findtext(f"{{{CAP_NS}}}sent"), "CAP sent")
    return Alert(
        event_id=root.findtext(f"{{{CAP_NS}}}identifier") or "",
        version=0,
        message_type=mtype,
        agency=root.findtext(f"{{{CAP_NS}}}sender") or "",
        sent_time_ns=sent,
        origin_time_ns=parse_time(params["originTime"][0], "CAP originTime"),
        origin_time_sigma_s=math.nan,
        latitude_deg=num("latitude"),
        longitude_deg=num("longitude"),
        horizontal_sigma_km=math.nan,
        depth_km=num("depth"),
        depth_sigma_km=math.nan,
        magnitude=num("magnitude"),
        magnitude_sigma=math.nan,
        magnitude_type="M",
        magnitude_is_lower_bound=False,
        likelihood=math.nan,
        kind="source",
        stations=(),
        status=_FROM_CAP_STATUS.get(root.findtext(f"{{{CAP_NS}}}status") or "", "test"),
    )
