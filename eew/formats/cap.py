"""CAP 1.2 (OASIS Common Alerting Protocol) for public warning systems.

One ``alert`` per message with ``msgType`` Alert (``new``), Update (``update``,
``final``) or Cancel (``delete``); Update and Cancel must name the earlier
message(s) in ``references`` (``sender,identifier,sent`` triplets). Three
``info`` blocks (kk, ru, en) with headline, description (magnitude, place,
intensity and seconds until shaking per target) and instruction, and one
``area`` per affected target (a circle around it, named in ``areaDesc``).
Date-times have the form the CAP 1.2 schema requires (``2024-01-22T18:09:04+00:00``).

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
    to_xml_bytes,
)
from eew.formats.cap_text import LANGUAGES, info_text, public_intensity
from eew.formats.native import TARGET_NULLABLE, alert_from_dict, alert_to_dict
from eew.model.alert import SCHEMA as ALERT_SCHEMA
from eew.model.alert import Alert, TargetForecast
from eew.model.timeutil import NS_PER_S

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_MSG_TYPES = {"new": "Alert", "update": "Update", "final": "Update", "delete": "Cancel"}
_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
_SCALAR_PARAMS = (
    "event_id",
    "version",
    "message_type",
    "agency",
    "sent_time",
    "origin_time",
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
    return CapReference(cap_sender(alert), cap_identifier(alert), alert.sent_time_ns)


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    el.text = text
    return el


def _severity(affected: tuple[TargetForecast, ...]) -> str:
    worst = max((public_intensity(t)[0] for t in affected), default=0.0)
    for limit, name in ((8.0, "Extreme"), (6.0, "Severe"), (4.0, "Moderate")):
        if worst >= limit:
            return name
    return "Minor"


def alert_to_cap(
    alert: Alert,
    *,
    references: Sequence[CapReference] = (),
    status: str = "Actual",
    min_intensity: float = 2.0,
    target_radius_km: float = 5.0,
    expires_s: float = 600.0,
) -> bytes:
    """Serialize ``alert`` as a CAP 1.2 message.

    Parameters
    ----------
    alert : Alert
        The message.
    references : sequence of CapReference
        Earlier messages of the event (see :func:`cap_reference`); required for
        Update and Cancel.
    status : str
        CAP ``status``: ``Actual``, or ``Exercise``/``Test`` for drills.
    min_intensity : float
        Targets whose public intensity (MSK-64, MMI if unknown) is below this
        get no ``area`` and no text line (all targets are areas of a Cancel).
    target_radius_km : float
        Radius of the circle around each target [km] (must be > 0).
    expires_s : float
        ``expires`` = sent time + this [s].

    Returns
    -------
    bytes
        UTF-8 XML valid against the CAP 1.2 schema.
    """
    msg_type = _MSG_TYPES[alert.message_type]
    if status not in _STATUSES:
        raise DataError(f"CAP status {status!r} not in {_STATUSES}")
    if msg_type != "Alert" and not references:
        raise DataError(f"CAP {msg_type} of {alert.event_id} needs references to earlier messages")
    if not target_radius_km > 0:
        raise DataError("CAP target_radius_km must be > 0")
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", cap_identifier(alert))
    _sub(root, "sender", cap_sender(alert))
    _sub(root, "sent", cap_time(alert.sent_time_ns))
    _sub(root, "status", status)
    _sub(root, "msgType", msg_type)
    _sub(root, "scope", "Public")
    if references:
        _sub(root, "references", " ".join(r.text() for r in references))
    _sub(root, "incidents", _token(alert.event_id))
    if msg_type == "Cancel":
        affected = alert.targets
    else:
        affected = tuple(t for t in alert.targets if public_intensity(t)[0] >= min_intensity)
    params = _parameters(alert)
    for lang in LANGUAGES:
        text = info_text(alert, affected if msg_type != "Cancel" else (), lang)
        info = etree.SubElement(root, f"{{{CAP_NS}}}info")
        _sub(info, "language", lang)
        _sub(info, "category", "Geo")
        _sub(info, "event", text.event)
        _sub(info, "responseType", "AllClear" if msg_type == "Cancel" else "Shelter")
        _sub(info, "urgency", "Past" if msg_type == "Cancel" else "Immediate")
        _sub(info, "severity", "Unknown" if msg_type == "Cancel" else _severity(affected))
        likely = math.isfinite(alert.likelihood) and alert.likelihood >= 0.5
        certainty = "Unlikely" if msg_type == "Cancel" else ("Likely" if likely else "Possible")
        _sub(info, "certainty", certainty)
        _sub(info, "onset", cap_time(alert.origin_time_ns))
        _sub(info, "expires", cap_time(alert.sent_time_ns + round(expires_s * NS_PER_S)))
        _sub(info, "senderName", alert.agency or "-")
        _sub(info, "headline", text.headline)
        _sub(info, "description", text.description)
        _sub(info, "instruction", text.instruction)
        for name, value in params:
            param = etree.SubElement(info, f"{{{CAP_NS}}}parameter")
            _sub(param, "valueName", name)
            _sub(param, "value", value)
        for t in affected:
            area = etree.SubElement(info, f"{{{CAP_NS}}}area")
            _sub(area, "areaDesc", t.name)
            circle = f"{fmt(t.latitude_deg, 5)},{fmt(t.longitude_deg, 5)} {fmt(target_radius_km)}"
            _sub(area, "circle", circle)
    return to_xml_bytes(root)


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
    texts: tuple[str, ...] = (
        "event_id",
        "version",
        "message_type",
        "agency",
        "sent_time",
        "origin_time",
    )
    texts += ("magnitude_type", "kind", "software_version", "config_hash")
    for key in _SCALAR_PARAMS:
        if key not in params:
            raise DataError(f"CAP: missing parameter {key!r}")
        value = params[key][0]
        if key in texts:
            d[key] = value
        elif key == "magnitude_is_lower_bound":
            d[key] = to_bool(value, f"CAP parameter {key}")
        else:
            d[key] = None if value == "null" else to_float(value, f"CAP parameter {key}")
    d["stations"] = params.get("stations", [""])[0].split()
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
    )
