"""Native JSON messages: ``eew.alert/1`` and ``eew.pick/1``.

The native format is the canonical model written out field by field (see
``docs/formats.md`` and the JSON Schema files in ``docs/schemas/``). Field names
carry their units, times are ISO 8601 UTC with milliseconds. A float that is
unknown in memory (NaN, e.g. after converting from a format that cannot carry
it) is written as ``null`` and read back as NaN.
"""

from __future__ import annotations

import json
from typing import Any

from eew.errors import DataError
from eew.formats._common import nan_to_none, parse_time, to_bool, to_float, to_int
from eew.model.alert import SCHEMA as ALERT_SCHEMA
from eew.model.alert import Alert
from eew.model.pick import PICK_FLOAT_FIELDS, Pick

PICK_SCHEMA = "eew.pick/1"

#: top-level alert fields that may be ``null`` (unknown)
ALERT_NULLABLE = (
    "origin_time_sigma_s",
    "horizontal_sigma_km",
    "depth_sigma_km",
    "magnitude_sigma",
    "likelihood",
)
#: target forecast fields that may be ``null`` (unknown)
TARGET_NULLABLE = (
    "pga_cm_s2",
    "pga_sigma_log10",
    "intensity_msk",
    "intensity_mmi",
    "intensity_sigma",
)
_PICK_FLOATS = PICK_FLOAT_FIELDS

Message = Alert | Pick


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """The ``eew.alert/1`` object of ``alert`` (NaN written as ``None``)."""
    d: dict[str, Any] = nan_to_none(alert.to_dict())
    return d


def alert_from_dict(d: dict[str, Any]) -> Alert:
    """Parse an ``eew.alert/1`` object; :class:`DataError` if malformed."""
    if not isinstance(d, dict):
        raise DataError(f"{ALERT_SCHEMA}: expected a JSON object, got {type(d).__name__}")
    return Alert.from_dict(d)


def pick_to_dict(pick: Pick) -> dict[str, Any]:
    """The ``eew.pick/1`` object of ``pick``: :meth:`Pick.to_dict` plus ``schema``."""
    d = pick.to_dict()
    return {"type": d.pop("type"), "schema": PICK_SCHEMA, **d}


def pick_from_dict(d: dict[str, Any]) -> Pick:
    """Parse an ``eew.pick/1`` object (``schema`` may be absent); :class:`DataError` if bad."""
    if not isinstance(d, dict) or d.get("type") != "pick":
        raise DataError(f"not an {PICK_SCHEMA} pick")
    if d.get("schema", PICK_SCHEMA) != PICK_SCHEMA:
        raise DataError(f"unsupported pick schema {d.get('schema')!r} (expected {PICK_SCHEMA})")
    try:
        channel_id = str(d["channel_id"])
        if len(channel_id.split(".")) != 4:
            raise DataError(f"{PICK_SCHEMA}: channel_id {channel_id!r} is not NET.STA.LOC.CHA")
        floats = {k: to_float(d[k], f"{PICK_SCHEMA} {k}") for k in _PICK_FLOATS}
        return Pick(
            pick_id=str(d["pick_id"]),
            channel_id=channel_id,
            time_ns=parse_time(d["time"], f"{PICK_SCHEMA} time"),
            trigger_time_ns=parse_time(d["trigger_time"], f"{PICK_SCHEMA} trigger_time"),
            sent_time_ns=parse_time(d["sent_time"], f"{PICK_SCHEMA} sent_time"),
            update=to_int(d["update"], f"{PICK_SCHEMA} update"),
            final=to_bool(d["final"], f"{PICK_SCHEMA} final"),
            sensor=str(d["sensor"]),
            clipped=to_bool(d.get("clipped", False), f"{PICK_SCHEMA} clipped"),
            retracted=to_bool(d.get("retracted", False), f"{PICK_SCHEMA} retracted"),
            **floats,
        )
    except KeyError as exc:
        raise DataError(f"{PICK_SCHEMA}: missing field {exc.args[0]!r}") from exc


def to_dict(message: Message) -> dict[str, Any]:
    """Native JSON object of an alert or a pick."""
    if isinstance(message, Alert):
        return alert_to_dict(message)
    if isinstance(message, Pick):
        return pick_to_dict(message)
    raise TypeError(f"not a message: {type(message).__name__}")


def from_dict(d: Any) -> Message:
    """Parse a native JSON object, dispatching on ``type``/``schema``."""
    if not isinstance(d, dict):
        raise DataError(f"expected a JSON object, got {type(d).__name__}")
    if d.get("type") == "alert" or d.get("schema") == ALERT_SCHEMA:
        return alert_from_dict(d)
    if d.get("type") == "pick" or d.get("schema") == PICK_SCHEMA:
        return pick_from_dict(d)
    raise DataError(f"unknown native message: type={d.get('type')!r} schema={d.get('schema')!r}")


def dumps(message: Message) -> str:
    """One native message as compact single-line JSON (UTF-8 text, no NaN)."""
    return json.dumps(to_dict(message), ensure_ascii=False, allow_nan=False)


def loads(text: str | bytes) -> list[Message]:
    """Parse one JSON message or JSON Lines (one message per line)."""
    return [from_dict(d) for d in load_json_objects(text)]


def _no_constant(name: str) -> Any:
    raise DataError(f"JSON: {name} is not a number in JSON (unknown values are null)")


def _decode(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity and turns deep nesting into DataError."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise DataError("JSON: nested too deeply") from None


def load_json_objects(text: str | bytes) -> list[Any]:
    """Decode a JSON document or JSON Lines; :class:`DataError` if neither.

    ``NaN`` and ``Infinity`` (which Python's ``json`` would accept) are refused, and
    nesting too deep for the decoder is a :class:`DataError`, not a ``RecursionError``.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"JSON input is not UTF-8: {exc}") from exc
    try:
        return [_decode(text)]
    except json.JSONDecodeError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        objs = [_decode(line) for line in lines]
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc}") from exc
    if not objs:
        raise DataError("empty JSON input")
    return objs
