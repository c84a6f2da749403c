"""Format detection and dispatch: read and write message files in any supported format."""

from __future__ import annotations

import json
from collections.abc import Sequence

from eew.errors import DataError
from eew.formats import anss, cap, native, shakealert
from eew.formats._common import parse_xml
from eew.model.alert import Alert
from eew.model.pick import Pick

#: names accepted by ``eew convert --to``
FORMATS = ("json", "shakealert", "quakeml", "cap", "anss")

Message = Alert | Pick


def detect_format(data: bytes) -> str:
    """Name of the format of a message file, from its content.

    JSON is recognised by ``type``/``schema`` (native) or ``type`` Pick,
    Detection, Retraction or legacy ``Type`` (ANSS); XML by its root element:
    ``event_message`` (ShakeAlert), CAP 1.2 ``alert``, QuakeML 1.2 ``quakeml``.

    Raises
    ------
    DataError
        If the content matches none of the formats.
    """
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        root = parse_xml(text, "XML input")
        if root.tag == shakealert.ROOT_TAG:
            return "shakealert"
        if root.tag == f"{{{cap.CAP_NS}}}alert":
            return "cap"
        if root.tag == "{http://quakeml.org/xmlns/quakeml/1.2}quakeml":
            return "quakeml"
        raise DataError(f"unknown XML message: root element {root.tag!r}")
    if text.startswith((b"{", b"[")):
        first = native.load_json_objects(text)[0]
        if not isinstance(first, dict):
            raise DataError("JSON message is not an object (use one object per line)")
        if str(first.get("schema", "")).startswith("eew.") or first.get("type") in (
            "alert",
            "pick",
        ):
            return "json"
        if first.get("type") in anss.ANSS_TYPES or "Type" in first:
            return "anss"
        raise DataError(
            f"unknown JSON message: type={first.get('type')!r} schema={first.get('schema')!r}"
        )
    raise DataError("unrecognised input: neither a JSON nor an XML message")


def read_messages(data: bytes, fmt: str | None = None) -> list[Message]:
    """Parse a message file (format detected unless ``fmt`` is given)."""
    fmt = fmt or detect_format(data)
    if fmt == "json":
        return native.loads(data)
    if fmt == "anss":
        return [anss.from_anss(d) for d in native.load_json_objects(data)]
    if fmt == "shakealert":
        return [shakealert.alert_from_shakealert(data)]
    if fmt == "cap":
        return [cap.alert_from_cap(data)]
    if fmt == "quakeml":
        from eew.formats import quakeml  # obspy is slow to import: only when needed

        return quakeml.messages_from_quakeml(data)
    raise DataError(f"unknown format {fmt!r}")


def _one_alert(messages: Sequence[Message], fmt: str) -> Alert:
    if len(messages) != 1 or not isinstance(messages[0], Alert):
        raise DataError(f"{fmt} holds exactly one alert, got {_describe(messages)}")
    return messages[0]


def _describe(messages: Sequence[Message]) -> str:
    n_alerts = sum(isinstance(m, Alert) for m in messages)
    return f"{n_alerts} alert(s) and {len(messages) - n_alerts} pick(s)"


def write_messages(
    messages: Sequence[Message],
    fmt: str,
    *,
    agency: str,
    references: Sequence[cap.CapReference] = (),
    status: str | None = None,
    orig_sys: str | None = None,
    shaking: shakealert.ShakingFn | None = None,
) -> bytes:
    """Serialize messages in format ``fmt``.

    Parameters
    ----------
    messages : sequence of Alert or Pick
        What to write. JSON and ANSS write one object per line; QuakeML holds
        one alert or any number of picks; ShakeAlert and CAP exactly one alert.
    fmt : str
        One of :data:`FORMATS`.
    agency : str
        Agency code for picks (which do not carry one).
    references : sequence of CapReference
        Earlier messages, for CAP Update and Cancel (default: each alert's own chain).
    status : str, optional
        ``actual``, ``exercise`` or ``test``: overrides the status of every alert
        (default: keep it).
    orig_sys : str, optional
        ShakeAlert ``orig_sys`` (default: the agency).
    shaking : callable, optional
        Ground-motion model for the ShakeAlert contours and grid.
    """
    if not messages:
        raise DataError("no message to write")
    if status is not None:
        messages = [m.with_(status=status) if isinstance(m, Alert) else m for m in messages]
    if fmt == "json":
        return "".join(native.dumps(m) + "\n" for m in messages).encode("utf-8")
    if fmt == "anss":
        try:
            lines = [
                json.dumps(anss.to_anss(m, agency=agency), ensure_ascii=False, allow_nan=False)
                for m in messages
            ]
        except ValueError as exc:
            raise DataError(f"ANSS: a required value is unknown (NaN): {exc}") from exc
        return "".join(line + "\n" for line in lines).encode("utf-8")
    if fmt == "shakealert":
        return shakealert.alert_to_shakealert(
            _one_alert(messages, fmt), orig_sys=orig_sys, shaking=shaking
        )
    if fmt == "cap":
        return cap.alert_to_cap(_one_alert(messages, fmt), references=references)
    if fmt == "quakeml":
        from eew.formats import quakeml

        if all(isinstance(m, Pick) for m in messages):
            return quakeml.picks_to_quakeml(
                [m for m in messages if isinstance(m, Pick)], agency=agency
            )
        return quakeml.alert_to_quakeml(_one_alert(messages, fmt))
    raise DataError(f"unknown format {fmt!r}; use one of {FORMATS}")
