"""ShakeAlert ``event_message`` XML (schema ``ShakeAlert_Message_v10_20191004``).

Mapping (see ``docs/formats.md``, section ShakeAlert):

* ``event_message@message_type``: ``new``/``update``/``delete``; our ``final`` is
  sent as ``update`` (ShakeAlert's ``follow_up`` is a reviewer's verdict, not ours).
  ``orig_sys`` = agency, ``version``, ``timestamp`` = sent time, ``category``
  (``live`` or ``test``), ``alg_vers`` = software version.
* ``core_info`` with all uncertainties; the horizontal 1-sigma [km] becomes
  ``lat_uncer``/``lon_uncer`` in degrees; ``num_stations`` = number of stations.
* ``contributors/contributor`` with ``alg_name="eew"`` carries what the schema has
  no element for, as ``key=value`` pairs separated by ``;`` in ``alg_instance``:
  ``kind``, ``magnitude_type``, ``magnitude_is_lower_bound``, ``config_hash``.
* ``gm_info/gmpoint_pred/pga_pred/pred``: one per target (``SNCL`` = target
  name, ``value`` = median PGA [cm/s/s], ``time`` = S arrival, ``value_uncer`` =
  PGA x (10**sigma_log10 - 1) (the schema fixes its units to ``cm/s``),
  ``app_rad`` = epicentral distance [km], ``time_uncer`` = origin-time sigma).
* ``gm_info/gmmap_pred``: the predicted MMI at the target points (fields
  LAT, LON, PGA [%g], MMI), one grid row per target, in the order of ``pga_pred``.

Not carried: the station codes, MSK-64 intensity and intensity sigma (read back
as NaN), ``final``. Ids of messages from other systems are read as they are.
"""

from __future__ import annotations

import math

from lxml import etree

from eew.errors import DataError
from eew.formats._common import (
    fmt,
    km_to_deg_lat,
    km_to_deg_lon,
    parse_time,
    parse_xml,
    to_bool,
    to_float,
    to_int,
    to_xml_bytes,
)
from eew.model.alert import Alert, TargetForecast
from eew.model.geo import KM_PER_DEG, distance_km
from eew.model.timeutil import NS_PER_S, ns_to_iso

ROOT_TAG = "event_message"
_G_CM_S2 = 980.665
_CORE_UNITS = {
    "mag": "Mw",
    "mag_uncer": "Mw",
    "lat": "deg",
    "lat_uncer": "deg",
    "lon": "deg",
    "lon_uncer": "deg",
    "depth": "km",
    "depth_uncer": "km",
    "orig_time": "UTC",
    "orig_time_uncer": "sec",
}


def _el(parent: etree._Element, tag: str, text: str, units: str | None = None) -> None:
    sub = etree.SubElement(parent, tag)
    if units is not None:
        sub.set("units", units)
    sub.text = text


def alert_to_shakealert(alert: Alert, *, category: str = "live") -> bytes:
    """Serialize ``alert`` as a ShakeAlert ``event_message``.

    Parameters
    ----------
    alert : Alert
        The message.
    category : str
        ``live`` for real alerts, ``test`` for exercises and replays.

    Returns
    -------
    bytes
        UTF-8 XML valid against the version-10 schema.
    """
    mtype = "update" if alert.message_type == "final" else alert.message_type
    root = etree.Element(ROOT_TAG)
    root.set("orig_sys", alert.agency or "-")
    root.set("version", str(alert.version))
    root.set("message_type", mtype)
    root.set("category", category)
    root.set("timestamp", ns_to_iso(alert.sent_time_ns))
    root.set("alg_vers", alert.software_version or "-")
    core = etree.SubElement(root, "core_info", id=alert.event_id)
    h_sigma = alert.horizontal_sigma_km
    values = {
        "mag": fmt(alert.magnitude),
        "mag_uncer": fmt(alert.magnitude_sigma),
        "lat": fmt(alert.latitude_deg),
        "lat_uncer": fmt(km_to_deg_lat(h_sigma), 6),
        "lon": fmt(alert.longitude_deg),
        "lon_uncer": fmt(km_to_deg_lon(h_sigma, alert.latitude_deg), 6),
        "depth": fmt(alert.depth_km),
        "depth_uncer": fmt(alert.depth_sigma_km),
        "orig_time": ns_to_iso(alert.origin_time_ns),
        "orig_time_uncer": fmt(alert.origin_time_sigma_s),
    }
    for tag, units in _CORE_UNITS.items():
        _el(core, tag, values[tag], units)
    _el(core, "likelihood", fmt(alert.likelihood))
    _el(core, "num_stations", str(len(alert.stations)))
    contributors = etree.SubElement(root, "contributors")
    extras = {
        "kind": alert.kind,
        "magnitude_type": alert.magnitude_type,
        "magnitude_is_lower_bound": str(alert.magnitude_is_lower_bound).lower(),
        "config_hash": alert.config_hash,
    }
    for value in extras.values():
        if ";" in value or "=" in value:
            raise DataError(f"ShakeAlert: value {value!r} must not contain ';' or '='")
    etree.SubElement(
        contributors,
        "contributor",
        alg_instance=";".join(f"{k}={v}" for k, v in extras.items()),
        alg_name="eew",
        alg_version=alert.software_version or "-",
        category=category,
        event_id=alert.event_id,
        version=str(alert.version),
    )
    if alert.targets:
        _write_gm_info(root, alert)
    return to_xml_bytes(root)


def _write_gm_info(root: etree._Element, alert: Alert) -> None:
    gm = etree.SubElement(root, "gm_info")
    point = etree.SubElement(gm, "gmpoint_pred")
    pga = etree.SubElement(point, "pga_pred", number=str(len(alert.targets)))
    for t in alert.targets:
        pred = etree.SubElement(pga, "pred")
        _el(pred, "SNCL", t.name)
        _el(pred, "value", fmt(t.pga_cm_s2, 6), "cm/s/s")
        _el(pred, "lat", fmt(t.latitude_deg, 5), "deg")
        _el(pred, "lon", fmt(t.longitude_deg, 5), "deg")
        _el(pred, "time", ns_to_iso(t.s_arrival_time_ns), "UTC")
        _el(pred, "value_uncer", fmt(t.pga_cm_s2 * (10.0**t.pga_sigma_log10 - 1.0), 6), "cm/s")
        _el(pred, "app_rad", fmt(t.distance_km, 3), "km")
        _el(pred, "time_uncer", fmt(alert.origin_time_sigma_s), "sec")
    gmmap = etree.SubElement(gm, "gmmap_pred", number=str(len(alert.targets)))
    for i, (name, units) in enumerate((("LAT", "deg"), ("LON", "deg"), ("PGA", "pctg"))):
        etree.SubElement(gmmap, "grid_field", index=str(i + 1), name=name, units=units)
    etree.SubElement(gmmap, "grid_field", index="4", name="MMI", units="mmi")
    rows = [
        f"{fmt(t.latitude_deg, 5)} {fmt(t.longitude_deg, 5)} "
        f"{fmt(100.0 * t.pga_cm_s2 / _G_CM_S2, 6)} {fmt(t.intensity_mmi, 2)}"
        for t in alert.targets
    ]
    etree.SubElement(gmmap, "grid_data").text = "\n" + "\n".join(rows) + "\n"


def _text(parent: etree._Element, tag: str, what: str) -> str:
    el = parent.find(tag)
    if el is None or el.text is None or not el.text.strip():
        raise DataError(f"ShakeAlert: missing {what}/{tag}")
    return el.text.strip()


def _num(parent: etree._Element, tag: str, what: str) -> float:
    value = to_float(_text(parent, tag, what), f"ShakeAlert {what}/{tag}")
    if not math.isfinite(value):
        raise DataError(f"ShakeAlert: {what}/{tag} is not finite")
    return value


def _extras(root: etree._Element) -> dict[str, str]:
    for c in root.iterfind("contributors/contributor"):
        if c.get("alg_name") == "eew":
            pairs = [p.split("=", 1) for p in c.get("alg_instance", "").split(";") if "=" in p]
            return {k: v for k, v in pairs}
    return {}


def alert_from_shakealert(data: bytes | str) -> Alert:
    """Parse a ShakeAlert ``event_message`` into an :class:`Alert`.

    Raises
    ------
    DataError
        If the document is not an ``event_message`` or lacks required content.
    """
    root = parse_xml(data, "ShakeAlert")
    if root.tag != ROOT_TAG:
        raise DataError(f"ShakeAlert: root element is {root.tag!r}, not {ROOT_TAG!r}")
    mtype = root.get("message_type")
    if mtype not in ("new", "update", "delete", "follow_up"):
        raise DataError(f"ShakeAlert: message_type {mtype!r}")
    core = root.find("core_info")
    if core is None or not core.get("id"):
        raise DataError("ShakeAlert: missing core_info or its id")
    lat = _num(core, "lat", "core_info")
    lon = _num(core, "lon", "core_info")
    extras = _extras(root)
    origin_ns = parse_time(_text(core, "orig_time", "core_info"), "ShakeAlert orig_time")
    stamp = root.get("timestamp", "-")
    sent_ns = parse_time(stamp, "ShakeAlert timestamp") if stamp != "-" else origin_ns
    h_sigma_km = max(
        _num(core, "lat_uncer", "core_info") * KM_PER_DEG,
        _num(core, "lon_uncer", "core_info") * KM_PER_DEG * math.cos(math.radians(lat)),
    )
    num_el = core.find("num_stations")
    if num_el is not None:
        to_int(num_el.text, "ShakeAlert num_stations")
    alg_vers = root.get("alg_vers", "-")
    return Alert(
        event_id=core.get("id", ""),
        version=to_int(root.get("version"), "ShakeAlert version"),
        message_type="update" if mtype == "follow_up" else mtype,
        agency=root.get("orig_sys", ""),
        sent_time_ns=sent_ns,
        origin_time_ns=origin_ns,
        origin_time_sigma_s=_num(core, "orig_time_uncer", "core_info"),
        latitude_deg=lat,
        longitude_deg=lon,
        horizontal_sigma_km=h_sigma_km,
        depth_km=_num(core, "depth", "core_info"),
        depth_sigma_km=_num(core, "depth_uncer", "core_info"),
        magnitude=_num(core, "mag", "core_info"),
        magnitude_sigma=_num(core, "mag_uncer", "core_info"),
        magnitude_type=extras.get("magnitude_type", "Mw"),
        magnitude_is_lower_bound=to_bool(
            extras.get("magnitude_is_lower_bound", "false"), "magnitude_is_lower_bound"
        ),
        likelihood=_num(core, "likelihood", "core_info"),
        kind=extras.get("kind", "source"),
        stations=(),
        targets=_read_targets(root, lat, lon, sent_ns),
        software_version="" if alg_vers == "-" else alg_vers,
        config_hash=extras.get("config_hash", ""),
    )


def _read_targets(
    root: etree._Element, lat_deg: float, lon_deg: float, sent_ns: int
) -> tuple[TargetForecast, ...]:
    preds = root.findall("gm_info/gmpoint_pred/pga_pred/pred")
    mmi = _read_mmi(root, len(preds))
    out = []
    for i, pred in enumerate(preds):
        pga = _num(pred, "value", "pga_pred/pred")
        uncer = _num(pred, "value_uncer", "pga_pred/pred")
        t_lat = _num(pred, "lat", "pga_pred/pred")
        t_lon = _num(pred, "lon", "pga_pred/pred")
        s_ns = parse_time(_text(pred, "time", "pga_pred/pred"), "ShakeAlert pred time")
        rad = pred.find("app_rad")
        dist = (
            _num(pred, "app_rad", "pga_pred/pred")
            if rad is not None
            else distance_km(lat_deg, lon_deg, t_lat, t_lon)
        )
        out.append(
            TargetForecast(
                name=_text(pred, "SNCL", "pga_pred/pred"),
                latitude_deg=t_lat,
                longitude_deg=t_lon,
                pga_cm_s2=pga,
                pga_sigma_log10=math.log10(1.0 + uncer / pga) if pga > 0 else math.nan,
                intensity_msk=math.nan,
                intensity_mmi=mmi[i],
                intensity_sigma=math.nan,
                distance_km=dist,
                s_arrival_time_ns=s_ns,
                warning_time_s=(s_ns - sent_ns) / NS_PER_S,
            )
        )
    return tuple(out)


def _read_mmi(root: etree._Element, n: int) -> list[float]:
    """MMI per target from ``gmmap_pred`` (NaN where absent)."""
    gmmap = root.find("gm_info/gmmap_pred")
    if gmmap is None:
        return [math.nan] * n
    names = [f.get("name") for f in gmmap.iterfind("grid_field")]
    data = gmmap.findtext("grid_data") or ""
    rows = [line.split() for line in data.strip().splitlines() if line.strip()]
    if "MMI" not in names or len(rows) != n:
        return [math.nan] * n
    col = names.index("MMI")
    try:
        return [float(r[col]) for r in rows]
    except (IndexError, ValueError) as exc:
        raise DataError(f"ShakeAlert: malformed gmmap_pred grid_data: {exc}") from exc
