"""SeedLink 4.0 wire format: packet header, station and stream IDs, selectors, times, INFO JSON.

Pure functions of bytes and strings, shared by the client and the archive server.
A v4 packet is ``SE`` + format code + subformat code + payload length (uint32 LE)
+ sequence number (uint64 LE) + station-ID length (uint8) + station ID (``NET_STA``)
+ payload. Payloads used here: ``2D`` (miniSEED 2 data), ``3D`` (miniSEED 3 data with
an FDSN source identifier), ``JI`` (INFO answer, JSON) and ``JE`` (INFO error, JSON).

Station IDs are ``NET_STA``; stream IDs are ``LOC_B_S_SS`` (a SEED channel ``HHZ``
becomes ``H_H_Z``). ``STATION`` and ``SELECT`` patterns use ``*`` and ``?``, anchored at
both ends; the format/subformat pattern after ``.`` is anchored at its start only.

References
----------
FDSN (2024). SeedLink protocol, version 4.0 (github.com/FDSN/SeedLink, ``docs/protocol.rst``):
packet header table, commands, error codes, Appendix B (INFO JSON schema).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eew.acquisition.seedlink.protocol import (
    ConnectionInfo,
    ProtocolError,
    Selector,
    StreamInfo,
)
from eew.model.timeutil import EPOCH, NS_PER_S

SIGNATURE = b"SE"
HEADER = struct.Struct("<2sccIQB")
HEADER_LEN = HEADER.size  # 17
#: payload lengths above this are treated as corrupt headers [bytes]
MAX_PAYLOAD = 1 << 20
MAX_STATION_ID = 64
#: the protocol versions this implementation speaks, highest first
VERSIONS = ("4.0", "3.1")
#: v4 capabilities announced in HELLO and GETCAPABILITIES
CAPABILITIES = ("SLPROTO:4.0", "SLPROTO:3.1", "TIME")
INFO_LEVELS = ("ID", "FORMATS", "CAPABILITIES", "STATIONS", "STREAMS", "CONNECTIONS")
ERROR_CODES = frozenset(
    {"UNSUPPORTED", "UNEXPECTED", "UNAUTHORIZED", "LIMIT", "ARGUMENTS", "AUTH", "INTERNAL"}
)
_CODE_CHARS = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class PacketHeader:
    """The fixed part of a v4 packet header."""

    format: str
    subformat: str
    length: int
    seq: int
    station_id_length: int

    @property
    def total(self) -> int:
        """Header, station ID and payload together [bytes]."""
        return HEADER_LEN + self.station_id_length + self.length


def format_packet(fmt: str, subformat: str, seq: int, station_id: str, payload: bytes) -> bytes:
    """One v4 packet.

    Raises
    ------
    ProtocolError
        If a code is not one character or the station ID is too long.
    """
    sid = station_id.encode("ascii")
    if len(fmt) != 1 or len(subformat) != 1 or len(sid) > 255:
        raise ProtocolError("bad v4 format code or station ID")
    head = HEADER.pack(
        SIGNATURE, fmt.encode("ascii"), subformat.encode("ascii"), len(payload), seq, len(sid)
    )
    return head + sid + payload


def parse_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> PacketHeader:
    """Decode the 17-byte fixed header at ``pos``.

    Raises
    ------
    ProtocolError
        If the bytes are not a plausible v4 header (signature, codes, lengths).
    """
    if len(buf) - pos < HEADER_LEN:
        raise ProtocolError("v4 header shorter than 17 bytes")
    sig, fmt, sub, length, seq, sid_len = HEADER.unpack_from(buf, pos)
    if sig != SIGNATURE or fmt[0] not in _CODE_CHARS or sub[0] not in _CODE_CHARS:
        raise ProtocolError("not a SeedLink 4 packet header")
    if length > MAX_PAYLOAD or sid_len > MAX_STATION_ID:
        raise ProtocolError(f"implausible v4 header (payload {length}, station ID {sid_len})")
    return PacketHeader(fmt.decode("ascii"), sub.decode("ascii"), length, seq, sid_len)


def find_packet(buf: bytes | bytearray, start: int) -> int:
    """Offset of the first plausible v4 header at or after ``start``, or -1."""
    pos = buf.find(SIGNATURE, start)
    while pos >= 0:
        try:
            parse_header(buf, pos)
            return pos
        except ProtocolError:
            if len(buf) - pos < HEADER_LEN:
                return pos  # maybe a header, not complete yet
        pos = buf.find(SIGNATURE, pos + 1)
    return -1


# ---- identifiers ----------------------------------------------------------------------------
def station_id(network: str, station: str) -> str:
    """``NET_STA``."""
    return f"{network}_{station}"


def stream_id(location: str, channel: str) -> str:
    """``LOC_B_S_SS`` of a SEED location and channel (``00``, ``HHZ`` -> ``00_H_H_Z``)."""
    loc = location.strip()
    if len(channel) == 3:
        return f"{loc}_{channel[0]}_{channel[1]}_{channel[2]}"
    return f"{loc}_{channel}"


def match(pattern: str, text: str) -> bool:
    """``*``/``?`` glob anchored at both ends (case-sensitive, ``[`` is literal)."""
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]"))


@dataclass(frozen=True, slots=True)
class StreamSelector:
    """One v4 ``SELECT`` item: ``[!]stream_pattern[.format_pattern][:filter]``.

    ``filter`` is ``""`` (native), ``"native"``, ``"2"`` or ``"3"`` (convert to
    miniSEED 3).
    """

    stream: str
    format: str = ""
    filter: str = ""
    negate: bool = False

    def matches(self, sid: str, fmt_sub: str) -> bool:
        """True if stream ID ``sid`` in format+subformat ``fmt_sub`` matches (ignoring ``!``)."""
        if not match(self.stream, sid):
            return False
        return not self.format or match(self.format + "*", fmt_sub)


def parse_stream_selector(text: str) -> StreamSelector:
    """Parse one v4 selector (``*_H_H_?``, ``00_B_H_Z.2D``, ``!*_H_H_E``, ``*:3``, ``H_H_Z``).

    ``B_S_SS`` (three codes, the first one character: no location) matches any location,
    as libslink clients send it.

    Raises
    ------
    ProtocolError
        If the pattern is empty, has characters other than letters, digits, ``_*?-``,
        or combines ``!`` with a filter.
    """
    t = text.strip()
    negate = t.startswith("!")
    if negate:
        t = t[1:]
    t, _, flt = t.partition(":")
    pat, _, fmt = t.partition(".")
    flt = flt.lower() if flt.lower() == "native" else flt
    if not pat or any(not (c.isalnum() or c in "_*?-") for c in pat):
        raise ProtocolError(f"invalid v4 selector {text!r}")
    if any(not (c.isalnum() or c in "*?") for c in fmt) or flt not in ("", "native", "2", "3"):
        raise ProtocolError(f"invalid v4 selector {text!r}")
    if negate and flt:
        raise ProtocolError(f"a filter cannot go with '!': {text!r}")
    parts = pat.split("_")
    if len(parts) == 3 and len(parts[0]) == 1 and parts[0] != "*":
        # ``B_S_SS`` without a location (libslink's ``-s H_H_Z``, ringserver accepts it):
        # any location
        pat = "*_" + pat
    return StreamSelector(pat.upper(), fmt.upper(), flt, negate)


def selector_from_v3(sel: Selector) -> StreamSelector:
    """The v4 form of a v3 selector (``00BHZ`` -> ``00_B_H_Z``, ``BH?`` -> ``*_B_H_?``)."""
    c = sel.channel
    loc = "*" if sel.location is None else sel.location.strip()
    return StreamSelector(f"{loc}_{c[0]}_{c[1]}_{c[2]}", negate=sel.negate)


def v4_selector_text(sel: StreamSelector) -> str:
    """The wire text of a selector."""
    out = ("!" if sel.negate else "") + sel.stream
    if sel.format:
        out += "." + sel.format
    return out + (":" + sel.filter if sel.filter else "")


def select(selectors: Sequence[StreamSelector], sid: str, fmt_sub: str) -> str | None:
    """Apply a station's selectors: the filter of the first matching positive one, or None.

    No positive selector means every stream (filter ``""``); a matching negative one
    excludes the stream.
    """
    if any(s.negate and s.matches(sid, fmt_sub) for s in selectors):
        return None
    pos = [s for s in selectors if not s.negate]
    if not pos:
        return ""
    for s in pos:
        if s.matches(sid, fmt_sub):
            return s.filter
    return None


# ---- times ----------------------------------------------------------------------------------
def parse_time(text: str) -> int:
    """``%Y-%m-%dT%H:%M:%S[.%f]Z`` (also the v3 comma form) as ns since the epoch.

    Raises
    ------
    ProtocolError
        If the text is no such time.
    """
    t = text.strip()
    if "," in t:
        parts = t.split(",")
        try:
            nums = [int(p) for p in parts[:5]]
            sec = parts[5] if len(parts) > 5 else "0"
            ns = int(parts[6]) if len(parts) > 6 else 0
        except (ValueError, IndexError) as exc:
            raise ProtocolError(f"bad SeedLink time {text!r}") from exc
        t = f"{nums[0]:04d}-{nums[1]:02d}-{nums[2]:02d}T{nums[3]:02d}:{nums[4]:02d}:{sec}"
        return parse_time(t + "Z") + ns
    if t.endswith("Z"):
        t = t[:-1]
    whole, _, frac = t.partition(".")
    try:
        d = _dt.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.UTC)
        if frac and not frac.isdigit():
            raise ValueError(frac)
    except ValueError as exc:
        raise ProtocolError(f"bad SeedLink time {text!r}") from exc
    delta = d - EPOCH
    sub = int((frac + "000000000")[:9]) if frac else 0
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + sub


def format_time(t_ns: int) -> str:
    """Format ns since the epoch as ``YYYY-MM-DDThh:mm:ss.ffffffZ`` (µs, rounded down)."""
    t = EPOCH + _dt.timedelta(microseconds=t_ns // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- INFO JSON ------------------------------------------------------------------------------
def info_json(
    level: str,
    software: str,
    organization: str,
    streams: Iterable[StreamInfo] = (),
    connections: Iterable[ConnectionInfo] = (),
    *,
    station_pattern: str = "*",
    stream_pattern: str = "*",
) -> tuple[str, bytes]:
    """The INFO answer for ``level``: ``(subformat, JSON bytes)``.

    Subformat ``I`` for an answer, ``E`` (with an ``error`` object) for a level that
    is not supported. ``STATIONS``/``STREAMS`` list the stations (and streams) that
    match the optional patterns, with ``begin_seq`` (first available) and ``end_seq``
    (next to come), as Appendix B of the specification defines them, and also under the
    names ringserver 4 sends and libslink 4 reads (``start_seq``, ``start_time``).
    """
    doc: dict[str, Any] = {"software": software, "organization": organization}
    level = level.upper()
    if level == "FORMATS":
        doc["format"] = {
            "2": {"mimetype": "application/vnd.fdsn.mseed", "subformat": {"D": "data/generic"}},
            "3": {"mimetype": "application/vnd.fdsn.mseed3", "subformat": {"D": "data/generic"}},
            "J": {"mimetype": "application/json", "subformat": {"I": "info", "E": "error"}},
        }
        doc["filter"] = {"native": "native format", "3": "convert to miniSEED 3"}
    elif level == "CAPABILITIES":
        doc["capability"] = list(CAPABILITIES)
    elif level in ("STATIONS", "STREAMS"):
        doc["station"] = _stations(
            streams, level == "STREAMS", station_pattern, stream_pattern.partition(".")[0]
        )
    elif level == "CONNECTIONS":
        # the specification leaves CONNECTIONS open; this is the layout ringserver 4
        # sends and libslink 4 (slinktool -C) prints
        doc["connections"] = {
            "client": [
                {
                    "host": c.host,
                    "ip_address": c.host,
                    "client_port": str(c.port),
                    "type": "SeedLink",
                    "connect_time": format_time(c.connected_ns),
                    "current_seq": c.current_seq,
                    "transmit_packets": c.packets,
                    "transmit_bytes": c.bytes_sent,
                    "stream_count": len(c.stations),
                    "match": " ".join(station_id(n, s) for n, s in c.stations),
                }
                for c in connections
            ]
        }
    elif level != "ID":
        doc["error"] = {"code": "ARGUMENTS", "message": f"INFO level {level[:40]} not supported"}
        return "E", json.dumps(doc).encode("utf-8")
    return "I", json.dumps(doc).encode("utf-8")


def _stations(
    streams: Iterable[StreamInfo], with_streams: bool, sta_pat: str, str_pat: str
) -> list[dict[str, Any]]:
    by_station: dict[str, list[StreamInfo]] = {}
    for s in streams:
        sid = station_id(s.network, s.station)
        if match(sta_pat, sid) and match(str_pat or "*", stream_id(s.location, s.channel)):
            by_station.setdefault(sid, []).append(s)
    out = []
    for sid, items in sorted(by_station.items()):
        st: dict[str, Any] = {
            "id": sid,
            "description": "",
            "begin_seq": min(i.begin_seq for i in items),
            "start_seq": min(i.begin_seq for i in items),
            "end_seq": max(i.end_seq for i in items) + 1,
            "backfill": 0,
        }
        if with_streams:
            st["stream"] = [
                {
                    "id": stream_id(i.location, i.channel),
                    "format": "2",
                    "subformat": "D",
                    "origin": "native",
                    "begin_time": format_time(i.begin_ns),
                    "start_time": format_time(i.begin_ns),
                    "end_time": format_time(i.end_ns),
                }
                for i in sorted(items, key=lambda i: (i.location, i.channel))
            ]
        out.append(st)
    return out


def error_line(code: str, message: str) -> bytes:
    """``ERROR CODE message`` (CR LF terminated), the v4 error answer."""
    text = " ".join(message.split())[:200]
    return f"ERROR {code} {text}".encode("ascii", "replace") + b"\r\n"
