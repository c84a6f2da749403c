"""SeedLink 3.1 wire format: frames, commands, selectors, sequence numbers, INFO XML.

Everything here is a pure function of bytes or strings, so it is tested offline
on recorded bytes. A v3 data frame is ``SL`` + six hex digits (the low 24 bits of
the packet sequence number) + one 512-byte miniSEED 2 record; an INFO frame is
``SLINFO`` + a space + ``*`` (more frames follow) or a space (last frame) + a
512-byte ASCII miniSEED record carrying a piece of the XML answer.

References
----------
SeisComP (2023). SeedLink protocol, version 3.1 (``seedlink.html`` in the SeisComP docs).
EarthScope ringserver 4.5.3 and obspy 1.5.1 as measured in ``shared/reference/seedlink.md``.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eew.errors import EEWError
from eew.model.timeutil import EPOCH, NS_PER_S

HEADER_LEN = 8
RECORD_LEN = 512
FRAME_LEN = HEADER_LEN + RECORD_LEN
SEQ_BITS = 24
SEQ_MODULUS = 1 << SEQ_BITS
DATA_SIGNATURE = b"SL"
INFO_SIGNATURE = b"SLINFO"
END_SIGNATURE = b"END"
ERROR_LINE = b"ERROR\r\n"
OK_LINE = b"OK\r\n"
_HEX = frozenset(b"0123456789ABCDEFabcdef")
_QUALITY = frozenset(b"DRQM")

#: commands a v3 server understands (``CAT`` is answered with an error)
VERBS = frozenset(
    {"HELLO", "CAPABILITIES", "BATCH", "STATION", "SELECT", "DATA", "FETCH", "TIME", "END"}
    | {"INFO", "BYE", "CAT", "ENDFETCH"}
)


class ProtocolError(EEWError):
    """Bytes or text that do not follow the SeedLink protocol."""


# ---- frames -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FrameHeader:
    """What the 8-byte header of a frame says.

    ``seq`` is the 24-bit sequence number of a data frame (-1 for INFO);
    ``final`` is False for an INFO frame that is continued by another one.
    """

    info: bool
    seq: int
    final: bool = True


def format_data_frame(seq: int, record: bytes) -> bytes:
    """Frame one 512-byte miniSEED record with sequence number ``seq`` (low 24 bits sent).

    Raises
    ------
    ProtocolError
        If the record is not 512 bytes long.
    """
    if len(record) != RECORD_LEN:
        raise ProtocolError(f"SeedLink 3 frames carry 512-byte records, not {len(record)}")
    return b"SL%06X" % (seq % SEQ_MODULUS) + record


def format_info_frames(records: Sequence[bytes]) -> list[bytes]:
    """Frame INFO records: every frame but the last is marked ``*`` (continued)."""
    n = len(records)
    return [
        (b"SLINFO *" if i < n - 1 else b"SLINFO  ") + bytes(rec) for i, rec in enumerate(records)
    ]


def parse_frame_header(head: bytes | bytearray | memoryview) -> FrameHeader:
    """Decode the 8-byte header of a frame.

    Raises
    ------
    ProtocolError
        If the bytes are neither ``SLINFO`` nor ``SL`` + six hex digits.
    """
    head = bytes(head[:HEADER_LEN])
    if len(head) < HEADER_LEN:
        raise ProtocolError("frame header shorter than 8 bytes")
    if head[:6] == INFO_SIGNATURE:
        return FrameHeader(True, -1, head[7:8] != b"*")
    if head[:2] != DATA_SIGNATURE or not all(c in _HEX for c in head[2:8]):
        raise ProtocolError(f"not a SeedLink frame header: {head!r}")
    return FrameHeader(False, int(head[2:8], 16))


def plausible_frame(buf: bytes | bytearray, pos: int) -> bool:
    """True if a frame header followed by a miniSEED 2 fixed header starts at ``pos``."""
    if len(buf) - pos < HEADER_LEN + 8 or buf[pos : pos + 2] != DATA_SIGNATURE:
        return False
    if buf[pos : pos + 6] != INFO_SIGNATURE and not all(c in _HEX for c in buf[pos + 2 : pos + 8]):
        return False
    rec = buf[pos + HEADER_LEN : pos + HEADER_LEN + 8]
    return (
        all(48 <= c <= 57 or c == 32 for c in rec[:6]) and rec[6] in _QUALITY and rec[7] in (32, 0)
    )


def find_frame(buf: bytes | bytearray, start: int, stop: int | None = None) -> int:
    """Offset of the first plausible frame at or after ``start`` (before ``stop``), or -1.

    Used to resynchronise after a malformed or truncated frame.
    """
    end = len(buf) if stop is None else min(stop, len(buf))
    pos = buf.find(DATA_SIGNATURE, start, end)
    while pos >= 0:
        if plausible_frame(buf, pos):
            return pos
        pos = buf.find(DATA_SIGNATURE, pos + 1, end)
    return -1


# ---- sequence numbers ---------------------------------------------------------------------
def format_sequence(seq: int) -> str:
    """Six upper-case hex digits of the low 24 bits of ``seq``."""
    return f"{seq % SEQ_MODULUS:06X}"


def parse_sequence(text: str) -> int:
    """Parse a hex sequence number (``00001A``; obspy sends ``0x1a``).

    Raises
    ------
    ProtocolError
        If ``text`` is not hexadecimal.
    """
    t = text[2:] if text[:2].lower() == "0x" else text
    if not t or not all(c in "0123456789abcdefABCDEF" for c in t):
        raise ProtocolError(f"bad sequence number {text!r}")
    return int(t, 16)


def unwrap_sequence(seq24: int, reference: int) -> int:
    """The largest full sequence number <= ``reference`` whose low 24 bits are ``seq24``.

    May be < 1 when no such positive number exists.
    """
    low = seq24 % SEQ_MODULUS
    return reference - ((reference - low) % SEQ_MODULUS)


def seq_after(a: int, b: int) -> bool:
    """True if 24-bit sequence number ``a`` comes after ``b`` (modulo wrap-around)."""
    d = (a - b) % SEQ_MODULUS
    return 0 < d < SEQ_MODULUS // 2


def seq_next(seq: int) -> int:
    """The 24-bit sequence number following ``seq``."""
    return (seq + 1) % SEQ_MODULUS


# ---- commands -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Command:
    """One command line: verb (upper case) and its arguments."""

    verb: str
    args: tuple[str, ...] = ()


def parse_command(line: bytes | str) -> Command:
    """Split a command line (CR and/or LF terminated) into verb and arguments.

    Raises
    ------
    ProtocolError
        If the line is empty or not ASCII.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProtocolError("command is not ASCII") from exc
    parts = line.strip().split()
    if not parts:
        raise ProtocolError("empty command")
    return Command(parts[0].upper(), tuple(parts[1:]))


def format_command(verb: str, *args: str) -> bytes:
    """Encode a command as sent by clients (terminated by CR)."""
    return " ".join((verb, *args)).encode("ascii") + b"\r"


def split_lines(buf: bytearray) -> list[bytes]:
    """Remove and return the complete (CR or LF terminated) non-empty lines of ``buf``."""
    last = max(buf.rfind(b"\r"), buf.rfind(b"\n"))
    if last < 0:
        return []
    text = bytes(buf[: last + 1])
    del buf[: last + 1]
    return [ln for ln in re.split(rb"[\r\n]+", text) if ln.strip()]


# ---- selectors ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Selector:
    """A v3 stream selector: ``[!][LL]CCC[.T]`` with ``?`` wildcards.

    ``location`` is None for the 3-character form (any location); a location
    pattern matches the space-padded 2-character location code.
    """

    channel: str
    location: str | None = None
    negate: bool = False

    def matches(self, location: str, channel: str) -> bool:
        """Return True if the stream ``location``/``channel`` matches (ignoring negation)."""
        if not _match_fixed(self.channel, channel):
            return False
        return self.location is None or _match_fixed(self.location, f"{location:<2}"[:2])


def _match_fixed(pattern: str, code: str) -> bool:
    if len(code) != len(pattern):
        return False
    return all(p == "?" or p == c for p, c in zip(pattern, code, strict=True))


def parse_selector(text: str) -> Selector:
    """Parse one v3 selector (``BHZ``, ``00BH?``, ``!EHE``, ``BHZ.D``).

    Raises
    ------
    ProtocolError
        If the pattern is not 3 or 5 characters (after ``!`` and ``.T``).
    """
    t = text.strip()
    negate = t.startswith("!")
    if negate:
        t = t[1:]
    if "." in t:
        t, _, kind = t.partition(".")
        if len(kind) != 1:
            raise ProtocolError(f"invalid selector pattern {text!r}")
    t = t.upper()
    if len(t) == 3:
        return Selector(t, None, negate)
    if len(t) == 5:
        return Selector(t[2:], t[:2].replace("-", " "), negate)
    raise ProtocolError(f"invalid selector pattern {text!r}")


def selection_matches(selectors: Sequence[Selector], location: str, channel: str) -> bool:
    """Apply a station's selectors: any positive one (or none) matches and no negative one."""
    pos = [s for s in selectors if not s.negate]
    if pos and not any(s.matches(location, channel) for s in pos):
        return False
    return not any(s.matches(location, channel) for s in selectors if s.negate)


def station_matches(net_pattern: str, sta_pattern: str, network: str, station: str) -> bool:
    """Match a station against STATION patterns (``?`` and ``*`` globs, case-sensitive)."""
    return fnmatch.fnmatchcase(station, sta_pattern) and fnmatch.fnmatchcase(network, net_pattern)


# ---- times --------------------------------------------------------------------------------
def parse_seedlink_time(text: str) -> int:
    """Parse ``YYYY,MM,DD,hh,mm,ss[.ffffff]`` (UTC) into ns since the epoch.

    Raises
    ------
    ProtocolError
        If the text is not such a time.
    """
    parts = text.split(",")
    try:
        if len(parts) != 6:
            raise ValueError(text)
        y, mo, d, h, mi = (int(p) for p in parts[:5])
        sec = float(parts[5])
        whole = int(sec)
        t = _dt.datetime(y, mo, d, h, mi, whole, tzinfo=_dt.UTC)
    except ValueError as exc:
        raise ProtocolError(f"bad SeedLink time {text!r}") from exc
    delta = t - EPOCH
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + round((sec - whole) * 1e9)


def format_seedlink_time(t_ns: int) -> str:
    """Format ns since the epoch as ``YYYY,MM,DD,hh,mm,ss`` (whole seconds, rounded down)."""
    t = EPOCH + _dt.timedelta(seconds=t_ns // NS_PER_S)
    return f"{t.year},{t.month},{t.day},{t.hour},{t.minute},{t.second}"


def format_info_time(t_ns: int) -> str:
    """Format ns since the epoch as ``YYYY/MM/DD hh:mm:ss.ffff`` (INFO XML)."""
    t = EPOCH + _dt.timedelta(microseconds=t_ns // 1000)
    return t.strftime("%Y/%m/%d %H:%M:%S.") + f"{t.microsecond // 100:04d}"


# ---- logging ------------------------------------------------------------------------------
def escape_bytes(data: bytes | bytearray | str, limit: int = 80) -> str:
    r"""Bytes from the network as one printable ASCII string, for log lines.

    Printable ASCII passes; every other byte is written ``\xNN``; more than ``limit``
    bytes are cut, with the total length appended. A ``str`` (a decoded command, an
    error text) is encoded as UTF-8 first. Backslashes are not doubled, so a text that
    was escaped already (a ``repr`` in an error message) passes unchanged.
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    out = "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw[:limit])
    return out if len(raw) <= limit else f"{out}...({len(raw)} bytes)"


# ---- INFO XML -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One client connection as listed by INFO CONNECTIONS."""

    host: str
    port: int
    connected_ns: int
    begin_seq: int
    current_seq: int
    packets: int
    bytes_sent: int
    realtime: bool
    stations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One stream as listed by INFO STREAMS (times in ns, sequence numbers full)."""

    network: str
    station: str
    location: str
    channel: str
    begin_ns: int
    end_ns: int
    begin_seq: int
    end_seq: int


def _root(software: str, organization: str, started_ns: int) -> ET.Element:
    return ET.Element(
        "seedlink",
        software=software,
        organization=organization,
        started=format_info_time(started_ns),
    )


def info_xml(
    level: str,
    software: str,
    organization: str,
    started_ns: int,
    streams: Iterable[StreamInfo] = (),
    connections: Iterable[ConnectionInfo] = (),
) -> str:
    """The INFO answer for ``level``.

    ``ID``, ``CAPABILITIES``, ``STATIONS``, ``STREAMS`` and ``CONNECTIONS``; other levels
    get the ID document (as ringserver does; the caller flags the error).
    """
    root = _root(software, organization, started_ns)
    level = level.upper()
    if level == "CAPABILITIES":
        for cap in ("dialup", "multistation", "window-extraction", "info:id"):
            ET.SubElement(root, "capability", name=cap)
        for cap in ("info:capabilities", "info:stations", "info:streams", "info:connections"):
            ET.SubElement(root, "capability", name=cap)
    elif level == "CONNECTIONS":
        _connections_xml(root, connections)
    elif level in ("STATIONS", "STREAMS"):
        by_station: dict[tuple[str, str], list[StreamInfo]] = {}
        for s in streams:
            by_station.setdefault((s.network, s.station), []).append(s)
        for (net, sta), items in sorted(by_station.items()):
            st = ET.SubElement(
                root,
                "station",
                name=sta,
                network=net,
                description="",
                begin_seq=format_sequence(min(i.begin_seq for i in items)),
                end_seq=format_sequence(max(i.end_seq for i in items)),
                stream_check="enabled",
            )
            if level == "STREAMS":
                for i in sorted(items, key=lambda i: (i.location, i.channel)):
                    ET.SubElement(
                        st,
                        "stream",
                        location=i.location,
                        seedname=i.channel,
                        type="D",
                        begin_time=format_info_time(i.begin_ns),
                        end_time=format_info_time(i.end_ns),
                        begin_recno="0",
                        end_recno="0",
                        gap_check="disabled",
                        gap_treshold="0",
                    )
    return '<?xml version="1.0"?>' + ET.tostring(root, encoding="unicode")


def _connections_xml(root: ET.Element, connections: Iterable[ConnectionInfo]) -> None:
    """Add one ``station`` element per station, with the connections streaming it.

    SeisComP's layout; counters that an archive server does not keep are given as 0.
    """
    by_station: dict[tuple[str, str], list[ConnectionInfo]] = {}
    for c in connections:
        for key in c.stations:
            by_station.setdefault(key, []).append(c)
    for (net, sta), conns in sorted(by_station.items()):
        st = ET.SubElement(root, "station", name=sta, network=net, description="")
        for c in conns:
            ET.SubElement(
                st,
                "connection",
                host=c.host,
                port=str(c.port),
                ctime=format_info_time(c.connected_ns),
                begin_seq=format_sequence(c.begin_seq),
                current_seq=format_sequence(c.current_seq),
                sequence_gaps="0",
                txcount=str(c.packets),
                totBytes=str(c.bytes_sent),
                begin_seq_valid="yes",
                realtime="yes" if c.realtime else "no",
                end_of_data="no",
            )


def parse_info_stations(xml: str) -> list[tuple[str, str]]:
    """``(network, station)`` pairs of an INFO STATIONS or STREAMS answer."""
    root = ET.fromstring(xml.strip().rstrip("\x00"))
    return [(s.attrib["network"], s.attrib["name"]) for s in root.iter("station")]


def parse_info_streams(xml: str) -> list[tuple[str, str, str, str]]:
    """``(network, station, location, channel)`` of an INFO STREAMS answer."""
    root = ET.fromstring(xml.strip().rstrip("\x00"))
    out = []
    for s in root.iter("station"):
        for c in s.iter("stream"):
            out.append(
                (s.attrib["network"], s.attrib["name"], c.attrib["location"], c.attrib["seedname"])
            )
    return out


def parse_stream_list(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """Parse obspy/slinktool multiselect ``NET_STA[:SEL SEL],NET_STA...``.

    Returns ``(network, station, selectors)`` triples.

    Raises
    ------
    ProtocolError
        If an item has no ``NET_STA`` part.
    """
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        ns, _, sel = item.partition(":")
        net, sep, sta = ns.partition("_")
        if not sep or not net or not sta:
            raise ProtocolError(f"stream {item!r} is not NET_STA[:SELECTORS]")
        out.append((net, sta, tuple(sel.split())))
    return out
