"""The handshake of a SeedLink session: HELLO, SLPROTO, stations, selectors, resume point.

:class:`Negotiation` is the part of :class:`~eew.acquisition.seedlink.session.Session`
that talks to a server before it streams. SeedLink 3.1: one round trip per station
(``STATION``, ``SELECT``..., ``DATA``/``FETCH``/``TIME`` pipelined), then ``END``. With
a server whose HELLO offers ``SLPROTO:4.0`` (and ``options.protocol`` not ``"3"``):
``SLPROTO 4.0`` and ``USERAGENT``, then ``STATION NET_STA`` answered before its
selectors (``LOC_B_S_SS`` form) and ``DATA seq time`` with the full 64-bit sequence
number; a refused ``SLPROTO`` falls back to 3.1 on the same connection.

The resume point of a station is its last sequence number plus one, with a data time
(:meth:`Negotiation._resume_ns`) that lets a server whose ring no longer holds that
number (restarted with a fresh ring) position by time instead.
"""

from __future__ import annotations

import logging
from collections import Counter

from eew import __version__
from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.datatime import Seen
from eew.acquisition.seedlink.link import Link
from eew.acquisition.seedlink.protocol import (
    ProtocolError,
    escape_bytes,
    format_command,
    format_seedlink_time,
    format_sequence,
    parse_selector,
    seq_after,
    seq_next,
    station_matches,
)
from eew.acquisition.seedlink.spec import ClientOptions, ServerSpec, StationSelection

log = logging.getLogger("eew.acquisition.seedlink.client")


def _specificity(sel: StationSelection) -> tuple[int, str]:
    sid = v4.station_id(sel.network, sel.station)
    return (2 if "*" in sid else 1 if "?" in sid else 0), sid


class Negotiation:
    """The handshake methods of a session (a mixin of its state, declared here)."""

    spec: ServerSpec
    options: ClientOptions
    name: str
    counters: Counter[str]
    #: "NET_STA" -> last received sequence number
    last_seq: dict[str, int]
    #: "NET_STA" -> start time of the last received record [ns]
    last_time: dict[str, int]
    _seen: dict[str, Seen]
    _done: dict[str, int]
    #: the current connection speaks SeedLink 4 (64-bit sequence numbers)
    v4: bool

    async def _negotiate(self, link: Link) -> None:
        t = self.options.connect_timeout_s
        link.send(format_command("HELLO"))
        hello = await link.read_line(t)
        await link.read_line(t)
        if not hello.startswith(b"SeedLink"):
            raise ProtocolError(f"unexpected HELLO answer {escape_bytes(hello)}")
        if await self._slproto(link, hello):
            await self._negotiate4(link)
            return
        accepted = 0
        for sel in self.spec.stations:
            cmds = [format_command("STATION", sel.station, sel.network)]
            cmds += [format_command("SELECT", s) for s in sel.selectors]
            cmds.append(self._action(sel))
            link.send(b"".join(cmds))
            answers = [await link.read_line(t) for _ in cmds]
            accepted += self._accepted(sel, answers)
        if not accepted:
            raise ProtocolError("no station accepted")
        link.send(format_command("END"))

    def _accepted(self, sel: StationSelection, answers: list[bytes]) -> bool:
        """True if every answer for ``sel`` is OK; else count and log the refusals."""
        if all(a.strip() == b"OK" for a in answers):
            return True
        self.counters["error_answers"] += sum(a.strip() != b"OK" for a in answers)
        log.warning(
            "server=%s station %s_%s: %s",
            self.name,
            sel.network,
            sel.station,
            escape_bytes(b" ".join(a.strip() for a in answers)),
        )
        return False

    async def _slproto(self, link: Link, hello: bytes) -> bool:
        """Switch to SeedLink 4 when the server offers it and we may; True if switched.

        Raises
        ------
        ProtocolError
            If ``protocol="4"`` is asked for and the server does not speak it.
        """
        want = self.options.protocol
        offered = b"SLPROTO:4." in hello
        if want == "4" and not offered:
            raise ProtocolError(f"the server does not offer SeedLink 4: {escape_bytes(hello)}")
        if want == "3" or not offered:
            return False
        t = self.options.connect_timeout_s
        link.send(format_command("SLPROTO", "4.0"))
        answer = await link.read_line(t)
        if answer.strip() != b"OK":
            if want == "4":
                raise ProtocolError(f"SLPROTO 4.0 refused: {escape_bytes(answer.strip())}")
            log.warning(
                "server=%s SLPROTO 4.0 refused (%s); speaking 3.1",
                self.name,
                escape_bytes(answer.strip()),
            )
            return False
        self.v4 = link.v4 = True
        link.send(format_command("USERAGENT", f"eew/{__version__}"))
        await link.read_line(t)  # OK; an ERROR changes nothing
        return True

    async def _negotiate4(self, link: Link) -> None:
        """SeedLink 4 stations: STATION (answered before the rest), SELECT..., DATA; END.

        A v4 station belongs to the first STATION pattern that matches it, so exact
        station IDs are sent first, then patterns with ``?``, then with ``*`` (as
        libslink orders them): the selectors of an exact station win over a pattern's.
        """
        t = self.options.connect_timeout_s
        accepted = 0
        for sel in sorted(self.spec.stations, key=_specificity):
            link.send(format_command("STATION", v4.station_id(sel.network, sel.station)))
            answers = [await link.read_line(t)]
            if answers[0].strip() == b"OK":
                cmds = [format_command("SELECT", *self._selectors4(sel))]
                cmds = cmds if sel.selectors or self.options.mseed3 else []
                cmds.append(self._action4(sel))
                link.send(b"".join(cmds))
                answers += [await link.read_line(t) for _ in cmds]
            accepted += self._accepted(sel, answers)
        if not accepted:
            raise ProtocolError("no station accepted")
        link.send(format_command("END"))

    def _selectors4(self, sel: StationSelection) -> list[str]:
        """The selectors in their v4 form; ``:3`` added when miniSEED 3 is wanted."""
        out = []
        for text in sel.selectors or ("*",):
            if any(c in text for c in "_*:"):
                out.append(text)
                continue
            try:
                s4 = v4.selector_from_v3(parse_selector(text))
            except ProtocolError:
                out.append(text)  # the server says what is wrong with it
                continue
            out.append(v4.v4_selector_text(s4))
        if self.options.mseed3:
            out = [s if s.startswith("!") or ":" in s else s + ":3" for s in out]
        return out

    def _resumed_keys(self, sel: StationSelection) -> list[str]:
        """The ``NET_STA`` keys with a resume point that ``sel`` selects."""
        return [
            k for k in self.last_seq if station_matches(sel.network, sel.station, *k.split("_", 1))
        ]

    def _resume_ns(self, keys: list[str]) -> int | None:
        """The data time to resume ``keys`` (``NET_STA``) from [ns], or None.

        A SeedLink 4 server takes it as a filter even when it has the sequence number
        (records that end after it), a 3.1 server only when it has not: it must pass
        every record not yet delivered. That is the earliest end of the last record of
        each of their channels (received on this client, else processed before a
        restart); a station whose channels are unknown falls back to the start of its
        last record.
        """
        ends: dict[str, int] = {}
        for cid, done in self._done.items():
            ends[cid] = done
        for cid, seen in self._seen.items():
            ends[cid] = seen.last_end_ns
        by_station: dict[str, int] = {}
        for cid, end in ends.items():
            key = "_".join(cid.split(".", 2)[:2])
            by_station[key] = min(end, by_station.get(key, end))
        times = [
            by_station[k] if k in by_station else self.last_time[k]
            for k in keys
            if k in by_station or k in self.last_time
        ]
        return min(times) if times else None

    def _action4(self, sel: StationSelection) -> bytes:
        """v4 ``DATA``/``FETCH``: from the resume point (``seq time``), or a time window."""
        opts = self.options
        verb = "FETCH" if opts.dialup else "DATA"
        if opts.end_ns is None:
            keys = self._resumed_keys(sel)
            if keys:
                first = min(self.last_seq[k] for k in keys) + 1
                t = self._resume_ns(keys)
                if t is not None:
                    return format_command(verb, str(first), v4.format_time(t))
                return format_command(verb, str(first))
        if opts.begin_ns is not None:
            # "ALL": the whole ring within the window (ringserver 4.5 refuses the
            # specification's "-1" together with times: "Invalid sequence number")
            args = ["ALL", v4.format_time(opts.begin_ns)]
            if opts.end_ns is not None:
                args.append(v4.format_time(opts.end_ns))
            return format_command(verb, *args)
        return format_command(verb)

    def _after(self, a: int, b: int) -> bool:
        """Sequence number ``a`` comes after ``b``: 64-bit in SeedLink 4, 24-bit wrap in 3."""
        return a > b if self.v4 else seq_after(a, b)

    def _action(self, sel: StationSelection) -> bytes:
        """DATA/FETCH from the resume point, or TIME for a window."""
        opts = self.options
        verb = "FETCH" if opts.dialup else "DATA"
        if opts.end_ns is None:
            keys = self._resumed_keys(sel)
            if keys:
                nexts = [seq_next(self.last_seq[k]) for k in keys]
                first = nexts[0]
                for s in nexts[1:]:
                    if seq_after(first, s):
                        first = s
                # the time lets a server whose ring no longer holds this sequence number
                # (restarted with a fresh ring) position by data time instead
                t = self._resume_ns(keys)
                if t is not None:
                    return format_command(verb, format_sequence(first), format_seedlink_time(t))
                return format_command(verb, format_sequence(first))
        if opts.begin_ns is not None:
            args = [format_seedlink_time(opts.begin_ns)]
            if opts.end_ns is not None:
                args.append(format_seedlink_time(opts.end_ns + 999_999_999))
            return format_command("TIME", *args)
        return format_command(verb)
