"""The SeedLink 4.0 side of an ``eew serve`` connection (after ``SLPROTO 4.0``).

Commands, as the FDSN SeedLink 4.0 specification defines them: ``USERAGENT``,
``GETCAPABILITIES``, ``STATION NET_STA`` (``*``/``?`` patterns; a station belongs to
the first pattern that matches it), ``SELECT pattern...`` (stream IDs ``LOC_B_S_SS``,
``!`` exclusion, ``.2D`` format patterns, ``:3``/``:native`` filters), ``DATA``/``FETCH
[seq|-1|ALL [start [end]]]`` with decimal 64-bit sequence numbers and ISO times,
``END``/``ENDFETCH``, ``INFO item [station [stream]]`` answered by one JSON packet
(``JI``, or ``JE`` for an error), and ``BYE``. Errors are ``ERROR CODE message``.
``AUTH`` is answered ``ERROR UNSUPPORTED`` (no restricted stations here); v3-only
commands (``BATCH``, ``TIME``, ``CAT``, ``CAPABILITIES``) are ``ERROR UNSUPPORTED``.

References
----------
FDSN (2024). SeedLink protocol, version 4.0 (github.com/FDSN/SeedLink, ``docs/protocol.rst``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import numpy as np

from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.protocol import (
    OK_LINE,
    Command,
    ProtocolError,
    escape_bytes,
)
from eew.archive_server.feed import ArchiveFeed
from eew.archive_server.plan import Plan, Request
from eew.errors import DataError

log = logging.getLogger("eew.archive_server.server")

#: commands of SeedLink 3 only
_V3_ONLY = frozenset({"BATCH", "TIME", "CAT", "CAPABILITIES", "ENABLE", "ACCEPT"})


class ServerSide(Protocol):
    """What a connection uses of :class:`~eew.archive_server.server.SeedLinkServer`."""

    counters: Counter[str]
    feed: ArchiveFeed
    idle_timeout_s: float | None
    write_timeout_s: float
    max_buffer_bytes: int
    protocols: tuple[str, ...]
    #: set when new packets enter the ring (then replaced by a fresh event)
    tick: asyncio.Event

    def client_streams(self) -> None:
        """Note that a client started streaming."""
        ...

    def info_frames(self, level: str) -> list[bytes]:
        """The v3 INFO answer frames."""
        ...

    def hello(self) -> bytes:
        """The two HELLO lines."""
        ...

    def info_packet4(self, level: str, station: str = "*", stream: str = "*") -> bytes:
        """The v4 INFO answer packet."""
        ...


class Handshake4:
    """Mixin of the server's connection: the v4 commands (``self.v4`` is True)."""

    server: ServerSide
    writer: asyncio.StreamWriter
    current: Request | None
    requests: list[Request]

    #: starts streaming ``requests`` (the connection's own method)
    _start: Callable[[list[Request]], None]

    def _error4(self, code: str, message: str) -> None:
        self.server.counters["command_errors"] += 1
        log.info("v4 command refused: %s %s", code, escape_bytes(message))
        self.writer.write(v4.error_line(code, message))

    def command4(self, cmd: Command) -> None:
        """Handle one v4 handshake command (not INFO/BYE, handled by the caller)."""
        verb, args = cmd.verb, cmd.args
        if verb == "HELLO":
            self.writer.write(self.server.hello())
        elif verb == "SLPROTO":
            self._error4("UNEXPECTED", "SLPROTO was given already")
        elif verb == "USERAGENT":
            log.info("user agent %s", escape_bytes(" ".join(args)))
            self.writer.write(OK_LINE)
        elif verb == "GETCAPABILITIES":
            self.writer.write(" ".join(v4.CAPABILITIES).encode("ascii") + b"\r\n")
        elif verb == "AUTH":
            self._error4("UNSUPPORTED", "no authentication on this server")
        elif verb == "STATION":
            if len(args) != 1:
                self._error4("ARGUMENTS", "STATION takes one NET_STA pattern")
                return
            self.current = Request(station_id=args[0].upper())
            self.requests.append(self.current)
            self.writer.write(OK_LINE)
        elif verb == "SELECT":
            self._select4(args)
        elif verb in ("DATA", "FETCH"):
            self._data4(verb, args)
        elif verb in ("END", "ENDFETCH"):
            if not self.requests:
                self._error4("UNEXPECTED", "END without STATION")
                return
            for r in self.requests:
                if verb == "ENDFETCH" and r.action in ("DATA", ""):
                    r.action = "FETCH"
                elif not r.action:
                    r.action = "DATA"  # STATION without DATA: new packets
            self._start(self.requests)
        elif verb in _V3_ONLY:
            self._error4("UNSUPPORTED", f"{verb} is not a SeedLink 4 command")
        else:
            self._error4("UNSUPPORTED", f"unknown command {verb[:20]}")

    def _select4(self, args: tuple[str, ...]) -> None:
        if self.current is None:
            self._error4("UNEXPECTED", "SELECT before STATION")
            return
        if not args:
            self._error4("ARGUMENTS", "empty SELECT is not allowed in v4")
            return
        try:
            sel = tuple(v4.parse_stream_selector(a) for a in args)
        except ProtocolError as exc:
            self._error4("ARGUMENTS", str(exc))
            return
        self.current.stream_selectors = (*self.current.stream_selectors, *sel)
        self.writer.write(OK_LINE)

    def _data4(self, verb: str, args: tuple[str, ...]) -> None:
        req = self.current
        if req is None:
            self._error4("UNEXPECTED", f"{verb} before STATION")
            return
        try:
            if len(args) > 3:
                raise ProtocolError(f"{verb} takes at most a sequence number and two times")
            seq_text = args[0].upper() if args else "-1"
            req.all_data = seq_text == "ALL"
            req.seq = None if seq_text in ("-1", "ALL") else int(seq_text)
            if req.seq is not None and not 0 <= req.seq < 1 << 64:
                raise ProtocolError(f"sequence number out of range: {seq_text}")
            req.begin_ns = v4.parse_time(args[1]) if len(args) > 1 else None
            req.end_ns = v4.parse_time(args[2]) if len(args) > 2 else None
        except (ValueError, ProtocolError) as exc:
            self._error4("ARGUMENTS", str(exc))
            return
        req.action = verb
        self.writer.write(OK_LINE)

    def info4(self, args: tuple[str, ...]) -> None:
        """INFO as one JSON packet (``JI``, or ``JE`` for an unknown item)."""
        level = args[0] if args else "ID"
        self.writer.write(self.server.info_packet4(level, *args[1:3]))

    def packets4(self, plan: Plan, seqs: np.ndarray) -> bytes:
        """v4 packets of ``seqs``: miniSEED 2 as stored, miniSEED 3 where ``:3`` asked.

        A record that cannot be converted is sent as miniSEED 2, counted and logged.
        """
        feed = self.server.feed
        out = []
        for s, c in zip(seqs.tolist(), feed.channel[seqs - 1].tolist(), strict=True):
            net, sta = feed.codes[c][:2]
            if plan.to_v3[c]:
                try:
                    out.append(v4.format_packet("3", "D", s, f"{net}_{sta}", feed.record_v3(s)))
                    continue
                except DataError as exc:
                    self.server.counters["conversion_errors"] += 1
                    log.warning("packet %d sent as miniSEED 2: %s", s, exc)
            out.append(v4.format_packet("2", "D", s, f"{net}_{sta}", feed.record(s)))
        return b"".join(out)
