"""Helpers shared by the format converters: safe XML, times, numbers, geometry."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from lxml import etree

from eew.errors import DataError
from eew.model.geo import KM_PER_DEG
from eew.model.timeutil import NS_PER_S, iso_to_ns, ns_to_iso

T = TypeVar("T")


def parse_xml(data: bytes | str, what: str) -> etree._Element:
    """Parse an XML document safely (no entity expansion, no network, no DTD loading).

    Parameters
    ----------
    data : bytes or str
        The document.
    what : str
        Name of the expected format, used in error messages.

    Returns
    -------
    lxml.etree._Element
        The root element.

    Raises
    ------
    DataError
        If the document is not well-formed XML.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DataError(f"{what}: not well-formed XML: {exc}") from exc


def to_xml_bytes(root: etree._Element) -> bytes:
    """Serialize an element tree as pretty-printed UTF-8 with an XML declaration."""
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def parse_time(text: str | None, what: str) -> int:
    """Parse an ISO 8601 time to ns since the epoch; :class:`DataError` if malformed."""
    if text is None:
        raise DataError(f"{what}: missing time")
    try:
        return iso_to_ns(str(text))
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: invalid time {text!r}") from exc


def cap_time(t_ns: int) -> str:
    """Format a time as CAP 1.2 requires: ``2024-01-22T18:09:04+00:00`` (whole seconds)."""
    return ns_to_iso(t_ns - t_ns % NS_PER_S, digits=0)[:-1] + "+00:00"


def fmt(value: float, digits: int = 4) -> str:
    """A decimal with at most ``digits`` decimals (no exponent, as ``xs:decimal`` requires)."""
    if not math.isfinite(value):
        raise DataError(f"cannot write non-finite value {value!r} as a decimal")
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def to_float(value: Any, what: str) -> float:
    """``float(value)`` with a :class:`DataError` naming ``what``; ``None`` becomes NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: not a number: {value!r}") from exc


def to_int(value: Any, what: str) -> int:
    """``int(value)`` with a :class:`DataError` naming ``what``."""
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: not an integer: {value!r}") from exc


def to_bool(value: Any, what: str) -> bool:
    """Parse ``true``/``false``/``1``/``0`` (or a JSON bool)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise DataError(f"{what}: not a boolean: {value!r}")


def nan_to_none(value: Any) -> Any:
    """Replace non-finite floats (NaN = unknown) by ``None`` (JSON ``null``), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value


def none_to_nan(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``d`` in which ``None`` under ``keys`` becomes NaN (unknown)."""
    return {k: (math.nan if k in keys and v is None else v) for k, v in d.items()}


def km_to_deg_lat(km: float) -> float:
    """Latitude extent of ``km`` kilometres [deg]."""
    return km / KM_PER_DEG


def km_to_deg_lon(km: float, lat_deg: float) -> float:
    """Longitude extent of ``km`` kilometres at latitude ``lat_deg`` [deg]."""
    return km / (KM_PER_DEG * max(math.cos(math.radians(lat_deg)), 1e-6))


def wrap_errors(what: str, fn: Callable[[], T]) -> T:
    """Call ``fn``; turn ``KeyError``/``TypeError``/``ValueError`` into :class:`DataError`."""
    try:
        return fn()
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"malformed {what}: {exc!r}") from exc
