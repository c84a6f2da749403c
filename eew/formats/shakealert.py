"""ShakeAlert ``event_message`` XML (schema ``ShakeAlert_Message_v10_20191004``).

Mapping (see ``docs/formats.md``, section ShakeAlert, for the table and a side-by-side
comparison with ShakeAlert's own example messages):

* ``event_message@message_type``: ``new``/``update``/``delete``. The v10 schema has no
  end-of-event message (``follow_up`` is a human reviewer's verdict), so our ``final``
  is the last ``update``, marked ``message_type=final`` in our contributor.
  ``orig_sys`` = the agency unless given, ``version``, ``timestamp`` = sent time,
  ``category`` ``live`` for actual alerts and ``test`` for exercises and tests,
  ``alg_vers`` = software version.
* ``core_info`` with all uncertainties; the horizontal 1-sigma [km] becomes
  ``lat_uncer``/``lon_uncer`` in degrees; ``num_stations`` = number of stations. The
  schema fixes the unit of ``mag`` to ``Mw``: our magnitude type (e.g. ``Mpd``) and
  whether it is a lower bound are stated in the contributor.
* ``contributors/contributor`` with ``alg_name="eew"`` carries what the schema has
  no element for, as ``key=value`` pairs separated by ``;`` in ``alg_instance``:
  ``kind``, ``magnitude_type``, ``magnitude_is_lower_bound``, ``gm_is_lower_bound``,
  ``message_type``, ``status``, ``config_hash``.
* ``fault_info/finite_fault`` when the alert has a line source: one ``segment`` of
  ``segment_shape="line"`` with its two end points as ``vertices`` (at the line's
  depth), ``atten_geom="true"`` (the forecast's distances are to it) and
  ``global_uncertainty`` with ``total_len`` and ``strike``; read back into the
  alert's ``line_source``.
* ``gm_info`` (with a ground-motion model, ``shaking=``): ``gmcontour_pred`` MMI
  contours (polygons around the epicentre where the model's MMI reaches II, III, ...)
  and a ``gmmap_pred`` grid (LAT, LON, PGA [%g], MMI) of ``grid_step_deg``. Our target
  forecasts are not written as ``gmpoint_pred``: that element holds predictions at
  stations (``SNCL``), and our targets are places, not stations.

Not carried: the station codes, the target forecasts (see above), MSK-64 intensity.
Ids of messages from other systems are read as they are; their ``gmpoint_pred``
predictions become targets named by their SNCL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

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
from eew.model.alert import Alert, LineSource, TargetForecast
from eew.model.geo import KM_PER_DEG, distance_km
from eew.model.timeutil import NS_PER_S, ns_to_iso

if TYPE_CHECKING:  # NumPy is imported where the contours and the grid are drawn
    import numpy as np

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


#: (magnitude, epicentral distances [km]) -> (median PGA [cm/s²], MMI); see eew.event.shakemap
ShakingFn = Callable[[float, "np.ndarray"], tuple["np.ndarray", "np.ndarray"]]
#: contours are drawn out to this epicentral distance [km]
CONTOUR_MAX_KM = 300.0
#: Worden et al. (2012) MMI from PGV: C1, C2, C3, C4, T1 (log10 cm/s)
_WORDEN2012_PGV = (3.78, 1.47, 2.89, 3.16, 0.53)


def category_of(alert: Alert) -> str:
    """ShakeAlert ``category``: ``live`` for an actual alert, ``test`` otherwise."""
    return "live" if alert.status == "actual" else "test"


def alert_to_shakealert(
    alert: Alert,
    *,
    category: str | None = None,
    orig_sys: str | None = None,
    shaking: ShakingFn | None = None,
    grid_step_deg: float = 0.1,
    grid_half_width_deg: float = 1.0,
) -> bytes:
    """Serialize ``alert`` as a ShakeAlert ``event_message``.

    Parameters
    ----------
    alert : Alert
        The message.
    category : str, optional
        ``live`` or ``test``; default from the alert's status (:func:`category_of`).
    orig_sys : str, optional
        ``orig_sys`` (the originating system); default the alert's agency.
    shaking : callable, optional
        Ground-motion model for the ``gm_info`` contours and grid
        (:func:`eew.event.shakemap.shaking_model`); without it no ``gm_info``.
    grid_step_deg, grid_half_width_deg : float
        Grid spacing and half-width (in latitude; longitude scaled to the same km) [deg].

    Returns
    -------
    bytes
        UTF-8 XML valid against the version-10 schema.
    """
    category = category or category_of(alert)
    mtype = "update" if alert.message_type == "final" else alert.message_type
    root = etree.Element(ROOT_TAG)
    root.set("orig_sys", orig_sys or alert.agency or "-")
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
    gm_lower = alert.magnitude_is_lower_bound or any(
        t.intensity_is_lower_bound for t in alert.targets
    )
    extras = {
        "kind": alert.kind,
        "magnitude_type": alert.magnitude_type,
        "magnitude_is_lower_bound": str(alert.magnitude_is_lower_bound).lower(),
        "gm_is_lower_bound": str(gm_lower).lower(),
        "message_type": alert.message_type,
        "status": alert.status,
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
    if alert.line_source is not None:
        _write_fault_info(root, alert.line_source)
    if shaking is not None and alert.message_type != "delete":
        _write_gm_info(root, alert, shaking, grid_step_deg, grid_half_width_deg)
    return to_xml_bytes(root)


def _write_fault_info(root: etree._Element, line: LineSource) -> None:
    """``fault_info/finite_fault``: the line source as one two-vertex segment."""
    fault = etree.SubElement(
        etree.SubElement(root, "fault_info"),
        "finite_fault",
        atten_geom="true",
        segment_number="1",
        segment_shape="line",
    )
    vertices = etree.SubElement(etree.SubElement(fault, "segment"), "vertices")
    for lat, lon in (
        (line.start_latitude_deg, line.start_longitude_deg),
        (line.end_latitude_deg, line.end_longitude_deg),
    ):
        v = etree.SubElement(vertices, "vertex")
        _el(v, "lat", fmt(lat), "deg")
        _el(v, "lon", fmt(lon), "deg")
        _el(v, "depth", fmt(line.depth_km), "km")
    unc = etree.SubElement(fault, "global_uncertainty")
    _el(unc, "total_len", fmt(line.length_km), "km")
    _el(unc, "strike", fmt(line.strike_deg), "deg")


def _read_fault_info(root: etree._Element) -> LineSource | None:
    """The first ``finite_fault`` segment as a line (its first and last vertices)."""
    seg = root.find("fault_info/finite_fault/segment")
    if seg is None:
        return None
    vs = seg.findall("vertices/vertex")
    if len(vs) < 2:
        raise DataError("ShakeAlert: finite_fault segment with fewer than 2 vertices")
    a, b = vs[0], vs[-1]
    lat0, lon0 = _num(a, "lat", "vertex"), _num(a, "lon", "vertex")
    lat1, lon1 = _num(b, "lat", "vertex"), _num(b, "lon", "vertex")
    length = distance_km(lat0, lon0, lat1, lon1)
    strike = (
        math.degrees(
            math.atan2((lon1 - lon0) * math.cos(math.radians(0.5 * (lat0 + lat1))), lat1 - lat0)
        )
        % 180.0
    )
    unc = root.find("fault_info/finite_fault/global_uncertainty")
    if unc is not None and unc.find("total_len") is not None:
        length = _num(unc, "total_len", "global_uncertainty")
    if unc is not None and unc.find("strike") is not None:
        strike = _num(unc, "strike", "global_uncertainty")
    return LineSource(
        start_latitude_deg=lat0,
        start_longitude_deg=lon0,
        end_latitude_deg=lat1,
        end_longitude_deg=lon1,
        depth_km=_num(a, "depth", "vertex"),
        length_km=length,
        strike_deg=strike,
    )


def pgv_from_mmi(mmi: float) -> float:
    """PGV [cm/s] at which Worden et al. (2012) gives ``mmi`` (their relation inverted)."""
    c1, c2, c3, c4, t1 = _WORDEN2012_PGV
    t2 = c1 + c2 * t1
    log_v = (mmi - c1) / c2 if mmi <= t2 else (mmi - c3) / c4
    return float(10.0**log_v)


def contours(
    alert: Alert, shaking: ShakingFn, n_vertices: int = 16
) -> list[tuple[int, float, float, list[tuple[float, float]]]]:
    """MMI contours: ``(MMI, PGA cm/s², PGV cm/s, ring of (lat, lon))`` for MMI II, III...

    A point source with distance-only attenuation gives circles around the epicentre
    (drawn as ``n_vertices``-gons); at most 10 levels, as the schema allows. Levels
    reached beyond :data:`CONTOUR_MAX_KM` (outside the attenuation model's range) are
    left out rather than drawn at an arbitrary edge.
    """
    import numpy as np

    dist = np.arange(0.0, CONTOUR_MAX_KM + 0.25, 0.25)
    pga, mmi = shaking(alert.magnitude, dist)
    out: list[tuple[int, float, float, list[tuple[float, float]]]] = []
    for level in range(2, 12):
        reached = np.nonzero(mmi >= level)[0]
        if reached.size == 0 or len(out) == 10:
            break
        if reached[-1] == dist.size - 1:
            continue
        i = int(reached[-1])
        radius = float(max(dist[i], 0.5))
        ring = []
        for k in range(n_vertices + 1):
            az = 2.0 * math.pi * (k % n_vertices) / n_vertices
            ring.append(
                (
                    alert.latitude_deg + km_to_deg_lat(radius * math.cos(az)),
                    alert.longitude_deg + km_to_deg_lon(radius * math.sin(az), alert.latitude_deg),
                )
            )
        out.append((level, float(pga[i]), pgv_from_mmi(level), ring))
    return out


def _write_gm_info(
    root: etree._Element, alert: Alert, shaking: ShakingFn, step: float, half: float
) -> None:
    import numpy as np

    gm = etree.SubElement(root, "gm_info")
    rings = contours(alert, shaking)
    if rings:
        cont = etree.SubElement(gm, "gmcontour_pred", number=str(len(rings)))
        for level, c_pga, pgv, ring in rings:
            c = etree.SubElement(cont, "contour")
            _el(c, "MMI", fmt(level), "")
            _el(c, "PGA", fmt(c_pga), "cm/s/s")
            _el(c, "PGV", fmt(pgv), "cm/s")
            poly = etree.SubElement(c, "polygon", number=str(len(ring) - 1))
            poly.text = " ".join(f"{fmt(la)},{fmt(lo)}" for la, lo in ring)
    n = round(half / step)
    offs = np.arange(-n, n + 1) * step
    lat = alert.latitude_deg + offs
    cos = max(math.cos(math.radians(alert.latitude_deg)), 1e-6)
    lon = alert.longitude_deg + offs / cos
    glat, glon = np.meshgrid(lat, lon, indexing="ij")
    d = np.hypot(
        (glat - alert.latitude_deg) * KM_PER_DEG, (glon - alert.longitude_deg) * KM_PER_DEG * cos
    )
    pga, mmi = shaking(alert.magnitude, d.ravel())
    gmmap = etree.SubElement(gm, "gmmap_pred", number=str(d.size))
    fields = (("LAT", "deg"), ("LON", "deg"), ("PGA", "pctg"), ("MMI", "mmi"))
    for i, (name, units) in enumerate(fields):
        etree.SubElement(gmmap, "grid_field", index=str(i + 1), name=name, units=units)
    rows = [
        f"{la:.4f} {lo:.4f} {100.0 * p / _G_CM_S2:.4f} {m:.2f}"
        for la, lo, p, m in zip(
            glat.ravel().tolist(), glon.ravel().tolist(), pga.tolist(), mmi.tolist(), strict=True
        )
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
    category = root.get("category", "live")
    status = extras.get("status", "actual" if category == "live" else "test")
    if mtype == "update" and extras.get("message_type") == "final":
        mtype = "final"
    return Alert(
        event_id=core.get("id", ""),
        version=to_int(root.get("version"), "ShakeAlert version"),
        message_type="update" if mtype == "follow_up" else mtype,
        status=status,
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
        targets=_read_targets(root, lat, lon, sent_ns, extras),
        software_version="" if alg_vers == "-" else alg_vers,
        config_hash=extras.get("config_hash", ""),
        line_source=_read_fault_info(root),
    )


def _read_targets(
    root: etree._Element, lat_deg: float, lon_deg: float, sent_ns: int, extras: dict[str, str]
) -> tuple[TargetForecast, ...]:
    """Predictions at points (``gmpoint_pred/pga_pred``) of other producers, by SNCL."""
    import numpy as np

    lower = extras.get("gm_is_lower_bound") == "true"
    out = []
    for pred in root.findall("gm_info/gmpoint_pred/pga_pred/pred"):
        pga = _num(pred, "value", "pga_pred/pred")
        uncer = _num(pred, "value_uncer", "pga_pred/pred")
        t_lat = _num(pred, "lat", "pga_pred/pred")
        t_lon = _num(pred, "lon", "pga_pred/pred")
        s_ns = parse_time(_text(pred, "time", "pga_pred/pred"), "ShakeAlert pred time")
        mmi = float(
            np.clip(1.78 + 1.55 * math.log10(pga), 1.0, 10.0)
            if 0 < pga <= 10**1.57
            else np.clip(-1.60 + 3.70 * math.log10(pga), 1.0, 10.0)
            if pga > 0
            else math.nan
        )
        out.append(
            TargetForecast(
                name=_text(pred, "SNCL", "pga_pred/pred"),
                latitude_deg=t_lat,
                longitude_deg=t_lon,
                pga_cm_s2=pga,
                pga_sigma_log10=math.log10(1.0 + uncer / pga) if pga > 0 else math.nan,
                intensity_msk=math.nan,
                intensity_mmi=mmi,
                intensity_sigma=math.nan,
                distance_km=distance_km(lat_deg, lon_deg, t_lat, t_lon),
                s_arrival_time_ns=s_ns,
                warning_time_s=(s_ns - sent_ns) / NS_PER_S,
                intensity_is_lower_bound=lower,
            )
        )
    return tuple(out)
