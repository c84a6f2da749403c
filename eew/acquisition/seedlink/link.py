"""One SeedLink connection as an :class:`asyncio.Protocol`: command lines, then frames.

During negotiation the link hands complete response lines to :meth:`Link.read_line`.
Once streaming, :meth:`Link.data_received` cuts the byte stream into 520-byte
frames synchronously (no per-packet coroutine switches) and hands each one to
the owner's callbacks. Garbage is skipped by searching for the next plausible
frame; a frame whose record cannot be decoded and that contains the start of
the next frame is a truncated frame. ``END`` and ``ERROR`` lines between frames
are recognised. After ``SLPROTO 4.0`` (:attr:`Link.v4`) the stream holds SeedLink 4
packets (``SE`` header with the payload length): miniSEED 2 and 3 payloads go to
``on_data_frame``, JSON INFO packets to ``on_info_frame``, other formats are skipped;
an ``ERROR CODE message`` line is recognised too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.protocol import (
    END_SIGNATURE,
    ERROR_LINE,
    FRAME_LEN,
    HEADER_LEN,
    INFO_SIGNATURE,
    ProtocolError,
    find_frame,
    plausible_frame,
)

log = logging.getLogger("eew.acquisition.seedlink.client")

_HEX = frozenset(b"0123456789ABCDEFabcdef")


class LinkOwner(Protocol):
    """What a :class:`Link` reports to."""

    def on_data_frame(self, seq: int, record: bytes) -> bool:
        """A data frame arrived; return False if the record could not be decoded."""
        ...

    def on_info_frame(self, record: bytes, final: bool) -> None:
        """An INFO frame arrived."""
        ...

    def on_end(self) -> None:
        """The server sent END (dial-up or time window complete)."""
        ...

    def on_error_line(self) -> None:
        """The server sent ERROR while streaming."""
        ...

    def on_garbage(self, n_bytes: int, truncated: bool) -> None:
        """Bytes were skipped (a malformed or truncated frame)."""
        ...


class Link(asyncio.Protocol):
    """The byte-level side of a client connection."""

    def __init__(self, owner: LinkOwner, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.lines: deque[bytes] = deque()
        self.streaming = False
        #: the connection speaks SeedLink 4 (set after ``SLPROTO 4.0`` was accepted)
        self.v4 = False
        self.paused = False
        self.last_rx = loop.time()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._line_waiter: asyncio.Future[None] | None = None

    # ---- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """Resolve :attr:`closed` and wake a waiting reader."""
        if not self.closed.done():
            self.closed.set_result(None)
        self._wake()

    def data_received(self, data: bytes) -> None:
        """Buffer bytes; hand out lines (negotiation) or frames (streaming)."""
        self.last_rx = self.loop.time()
        self.buf += data
        if self.streaming:
            self.parse()
        else:
            self._split_lines()

    # ---- negotiation ----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Write raw bytes (commands)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _wake(self) -> None:
        if self._line_waiter is not None and not self._line_waiter.done():
            self._line_waiter.set_result(None)

    def _split_lines(self) -> None:
        while True:
            i = self.buf.find(b"\n")
            if i < 0:
                break
            self.lines.append(bytes(self.buf[: i + 1]))
            del self.buf[: i + 1]
        if self.lines:
            self._wake()

    async def read_line(self, timeout_s: float) -> bytes:
        """Next response line (with its CR LF).

        Raises
        ------
        TimeoutError
            If no line arrives within ``timeout_s``.
        ConnectionError
            If the connection closes first.
        """
        deadline = self.loop.time() + timeout_s
        while not self.lines:
            if self.closed.done():
                raise ConnectionError("connection closed during negotiation")
            self._line_waiter = self.loop.create_future()
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                raise TimeoutError("no answer from the server")
            async with asyncio.timeout(remaining):
                await self._line_waiter
        return self.lines.popleft()

    def start_streaming(self) -> None:
        """Switch to frame mode (after END or a uni-station DATA)."""
        self.streaming = True
        leftover = b"".join(self.lines)
        self.lines.clear()
        self.buf[:0] = leftover
        self.parse()

    # ---- flow control ---------------------------------------------------------------------
    def pause(self) -> None:
        """Stop reading from the socket (the consumer is behind)."""
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
            self.paused = True

    def resume(self) -> None:
        """Read again; the idle timer restarts (a paused link is not stalled)."""
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self.last_rx = self.loop.time()
        self.paused = False
        if self.streaming and not self.closed.done():
            self.parse()

    # ---- frames ---------------------------------------------------------------------------
    def parse(self) -> None:
        """Handle every complete frame in the buffer (stops early when paused)."""
        if self.v4:
            self._parse4()
            return
        buf = self.buf
        n = len(buf)
        pos = 0
        owner = self.owner
        while n - pos >= 3 and not self.paused:
            if buf[pos] == 83 and buf[pos + 1] == 76:  # "SL"
                if n - pos < FRAME_LEN:
                    break
                head = buf[pos : pos + HEADER_LEN]
                if head[:6] == INFO_SIGNATURE:
                    rec = bytes(buf[pos + HEADER_LEN : pos + FRAME_LEN])
                    owner.on_info_frame(rec, head[7] != 42)
                    pos += FRAME_LEN
                    continue
                if all(c in _HEX for c in head[2:]):
                    nxt = pos + FRAME_LEN
                    # a frame that does not end where the next one starts is truncated
                    # when the next one starts inside it
                    inner = -1
                    if n - nxt >= 16 and not self._frame_or_line(buf, nxt):
                        inner = find_frame(buf, pos + HEADER_LEN, nxt)
                    if inner < 0:
                        rec = bytes(buf[pos + HEADER_LEN : nxt])
                        if owner.on_data_frame(int(head[2:], 16), rec):
                            pos = nxt
                            continue
                        inner = find_frame(buf, pos + HEADER_LEN, nxt)
                    if inner >= 0:
                        owner.on_garbage(inner - pos, True)
                        pos = inner
                    else:  # undecodable record, framing intact: skip it
                        owner.on_garbage(FRAME_LEN, False)
                        pos = nxt
                    continue
            elif buf[pos : pos + 3] == END_SIGNATURE:
                pos += 3
                owner.on_end()
                continue
            elif buf[pos : pos + 7] == ERROR_LINE:
                pos += 7
                owner.on_error_line()
                continue
            elif n - pos < 7 and ERROR_LINE.startswith(bytes(buf[pos:n])):
                break
            nxt = find_frame(buf, pos + 1)
            if nxt < 0:
                keep = max(pos + 1, n - FRAME_LEN)
                owner.on_garbage(keep - pos, False)
                pos = keep
                break
            owner.on_garbage(nxt - pos, False)
            pos = nxt
        del buf[:pos]

    @staticmethod
    def _frame_or_line(buf: bytearray, pos: int) -> bool:
        return (
            plausible_frame(buf, pos)
            or buf[pos : pos + 3] == END_SIGNATURE
            or buf[pos : pos + 7] == ERROR_LINE
        )

    # ---- SeedLink 4 packets ---------------------------------------------------------------
    def _parse4(self) -> None:
        """Handle every complete v4 packet in the buffer (stops early when paused)."""
        buf = self.buf
        n = len(buf)
        pos = 0
        owner = self.owner
        while n - pos >= 3 and not self.paused:
            if buf[pos] == 83 and buf[pos + 1] == 69:  # "SE"
                if n - pos < v4.HEADER_LEN:
                    break
                try:
                    head = v4.parse_header(buf, pos)
                except ProtocolError:
                    head = None
                if head is not None:
                    if n - pos < head.total:
                        break
                    body = pos + v4.HEADER_LEN + head.station_id_length
                    payload = bytes(buf[body : pos + head.total])
                    if head.format in ("2", "3"):
                        if not owner.on_data_frame(head.seq, payload):
                            owner.on_garbage(head.total, False)
                    elif head.format == "J":
                        owner.on_info_frame(payload, True)
                    else:
                        owner.on_garbage(head.total, False)
                    pos += head.total
                    continue
            elif buf[pos : pos + 3] == END_SIGNATURE:
                pos += 3
                owner.on_end()
                continue
            elif buf[pos : pos + 5] == b"ERROR"[: n - pos]:
                eol = buf.find(b"\n", pos)
                if eol < 0 and n - pos < 256:
                    break
                if eol >= 0:
                    pos = eol + 1
                    owner.on_error_line()
                    continue
            nxt = v4.find_packet(buf, pos + 1)
            if nxt < 0:
                keep = max(pos + 1, n - 1)
                owner.on_garbage(keep - pos, False)
                pos = keep
                break
            owner.on_garbage(nxt - pos, False)
            pos = nxt
        del buf[:pos]
