"""One client connection of ``eew serve``: commands, then a task that streams frames.

:class:`Connection` reads command lines (SeedLink 3.1 here, 4.0 in
:class:`~eew.archive_server.handshake4.Handshake4` after ``SLPROTO 4.0``), answers them,
and once a ``DATA``/``FETCH``/``TIME`` ends the handshake (``END``, or at once in
uni-station mode) streams the planned records of the server's ring
(:class:`~eew.archive_server.plan.Plan`) in chunks of :data:`CHUNK` frames. Bytes from
the network are escaped in every log line; a line longer than :data:`MAX_LINE` bytes
closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np

from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.protocol import (
    ERROR_LINE,
    OK_LINE,
    Command,
    ConnectionInfo,
    ProtocolError,
    escape_bytes,
    format_data_frame,
    parse_command,
    parse_seedlink_time,
    parse_selector,
    parse_sequence,
    split_lines,
)
from eew.archive_server.handshake4 import Handshake4, ServerSide
from eew.archive_server.plan import Plan, Request

log = logging.getLogger("eew.archive_server.server")

#: frames per write
CHUNK = 256
#: longest command line accepted [bytes]
MAX_LINE = 4096


class Connection(Handshake4):
    """One client connection: negotiation, then streaming (SeedLink 3.1, or 4.0)."""

    server: ServerSide

    def __init__(
        self,
        server: ServerSide,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connected_ns: int,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.connected_ns = connected_ns
        self.plan: Plan | None = None
        self.cursor = 0
        self.packets = 0
        self.bytes_sent = 0
        self.batch = False
        self.uni = Request()
        self.current: Request | None = None
        self.requests: list[Request] = []
        self.streamer: asyncio.Task[None] | None = None
        #: the client sent ``SLPROTO 4.0``
        self.v4 = False

    def info(self) -> ConnectionInfo | None:
        """Describe the connection for INFO CONNECTIONS (no stations before it streams)."""
        plan = self.plan
        peer = self.writer.get_extra_info("peername") or ("?", 0)
        if plan is None:
            return ConnectionInfo(
                str(peer[0]), int(peer[1]), self.connected_ns, 0, 0, 0, 0, False, ()
            )
        feed = self.server.feed
        stations = sorted({feed.codes[c][:2] for c in np.flatnonzero(plan.chan_ok).tolist()})
        return ConnectionInfo(
            host=str(peer[0]),
            port=int(peer[1]),
            connected_ns=self.connected_ns,
            begin_seq=plan.first_seq if plan.first_seq < 2**62 else 0,
            current_seq=max(self.cursor - 1, 0),
            packets=self.packets,
            bytes_sent=self.bytes_sent,
            realtime=not plan.dialup and plan.last_seq >= 2**62,
            stations=tuple((str(n), str(s)) for n, s in stations),
        )

    async def run(self) -> None:
        """Read and answer commands until BYE, EOF, the idle timeout or an error."""
        buf = bytearray()
        idle = self.server.idle_timeout_s
        while True:
            try:
                async with asyncio.timeout(idle if self.streamer is None else None):
                    chunk = await self.reader.read(4096)
            except TimeoutError:
                self.server.counters["idle_disconnects"] += 1
                log.info("client idle for %.0f s before streaming; closed", idle)
                return
            if not chunk:
                return
            buf += chunk
            for line in split_lines(buf):
                if not self._command(line):
                    return
            if len(buf) > MAX_LINE:
                log.warning("command line too long; closing: %s", escape_bytes(buf))
                return

    def abort(self) -> None:
        """Drop the connection now (server shutdown)."""
        self.writer.transport.abort()

    async def stop(self) -> None:
        """Cancel the streaming task and wait for it."""
        if self.streamer is not None:
            self.streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, TimeoutError):
                await self.streamer
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()

    def _reply(self, ok: bool, *, always: bool = False) -> None:
        if not ok:
            self.server.counters["command_errors"] += 1
        if always or not self.batch:
            self.writer.write(OK_LINE if ok else ERROR_LINE)

    def _command(self, line: bytes) -> bool:
        """Handle one command line; False to close the connection."""
        try:
            cmd = parse_command(line)
        except ProtocolError:
            self._reply(False, always=True)
            return True
        if log.isEnabledFor(logging.DEBUG):
            log.debug("command %s", escape_bytes(" ".join((cmd.verb, *cmd.args))))
        if cmd.verb == "BYE":
            return False
        if cmd.verb == "INFO":
            if self.v4:
                self.info4(cmd.args)
                return True
            level = cmd.args[0] if cmd.args else "ID"
            self.writer.write(b"".join(self.server.info_frames(level)))
            return True
        if self.streamer is not None:
            log.debug("command %s ignored while streaming", escape_bytes(cmd.verb))
            return True
        if self.v4:
            self.command4(cmd)
        elif cmd.verb == "HELLO":
            self.writer.write(self.server.hello())
        elif cmd.verb == "SLPROTO":
            self._slproto(cmd)
        elif cmd.verb in ("CAPABILITIES", "BATCH"):
            self.batch = self.batch or cmd.verb == "BATCH"
            self._reply(True, always=cmd.verb == "BATCH")
        elif cmd.verb == "STATION" and 1 <= len(cmd.args) <= 2:
            net = cmd.args[1] if len(cmd.args) > 1 else "*"
            self.current = Request(net, cmd.args[0])
            self._reply(True)
        elif cmd.verb == "SELECT":
            self._select(cmd)
        elif cmd.verb in ("DATA", "FETCH", "TIME"):
            return self._action(cmd)
        elif cmd.verb in ("END", "ENDFETCH") and self.requests:
            if cmd.verb == "ENDFETCH":
                for r in self.requests:
                    r.action = "FETCH" if r.action == "DATA" else r.action
            self._start(self.requests)
        else:
            self._reply(False, always=cmd.verb in ("CAT", "END", "ENDFETCH"))
        return True

    def _slproto(self, cmd: Command) -> None:
        """``SLPROTO x.y``: 4.0 switches to SeedLink 4; 3.x stays; anything else is refused.

        Only before any other handshake command, as the specification asks.
        """
        want = cmd.args[0] if len(cmd.args) == 1 else ""
        major = want.partition(".")[0]
        offered = {v.partition(".")[0] for v in self.server.protocols}
        if major not in offered or self.requests or self.current is not None:
            self.server.counters["command_errors"] += 1
            log.info("SLPROTO %s refused", escape_bytes(want))
            self.writer.write(v4.error_line("UNSUPPORTED", f"protocol {want[:10]} not supported"))
            return
        self.v4 = major == "4"
        self.writer.write(OK_LINE)

    def _select(self, cmd: Command) -> None:
        req = self.current if self.current is not None else self.uni
        try:
            sel = tuple(parse_selector(a) for a in cmd.args)
        except ProtocolError as exc:
            log.info("%s", escape_bytes(str(exc)))
            self._reply(False)
            return
        req.selectors = (*req.selectors, *sel) if sel else ()
        self._reply(True)

    def _action(self, cmd: Command) -> bool:
        req = self.current if self.current is not None else self.uni
        try:
            if cmd.verb == "TIME":
                if not 1 <= len(cmd.args) <= 2:
                    raise ProtocolError("TIME needs a start and an optional end time")
                req.begin_ns = parse_seedlink_time(cmd.args[0])
                req.end_ns = parse_seedlink_time(cmd.args[1]) if len(cmd.args) > 1 else None
            else:
                req.seq = parse_sequence(cmd.args[0]) if cmd.args else None
                req.resume_ns = self._resume_time(cmd.args[1:])
        except ProtocolError as exc:
            log.info("%s", escape_bytes(str(exc)))
            self._reply(False, always=self.current is None)
            return True
        req.action = cmd.verb
        if self.current is None:
            # uni-station mode: no answer, the data follow at once (libslink, ringserver)
            self._start([self.uni])
        else:
            self._reply(True)
            if all(r is not self.current for r in self.requests):
                self.requests.append(self.current)
        return True

    @staticmethod
    def _resume_time(args: tuple[str, ...]) -> int | None:
        """The optional begin time of ``DATA seq time`` (an unreadable one is ignored)."""
        if not args:
            return None
        try:
            return parse_seedlink_time(args[0])
        except ProtocolError as exc:
            log.info("DATA time ignored: %s", escape_bytes(str(exc)))
            return None

    def _start(self, requests: list[Request]) -> None:
        self.server.client_streams()
        plan = self.plan = Plan(self.server.feed, requests)
        self.streamer = asyncio.create_task(self._stream(plan), name="seedlink-stream")

    async def _stream(self, plan: Plan) -> None:
        graceful = False
        try:
            graceful = await self._send(plan)
        finally:
            # the connection is over: flush (END) or drop (slow client); run() then sees EOF
            if graceful:
                self.writer.close()
            else:
                self.writer.transport.abort()

    def _frames(self, plan: Plan, seqs: np.ndarray) -> bytes:
        """The packets of ``seqs``: v3 frames, or v4 packets (miniSEED 3 where asked)."""
        feed = self.server.feed
        if self.v4:
            return self.packets4(plan, seqs)
        return b"".join([format_data_frame(s, feed.record(s)) for s in seqs.tolist()])

    async def _send(self, plan: Plan) -> bool:
        server, feed, w = self.server, self.server.feed, self.writer
        cursor = plan.first_seq
        while True:
            tick = server.tick
            if cursor < feed.oldest:
                skipped = feed.oldest - cursor
                server.counters["overruns"] += 1
                server.counters["skipped_packets"] += skipped
                log.warning("client fell behind the ring; %d packets skipped", skipped)
                cursor = feed.oldest
            if cursor > plan.last_seq or (plan.dialup and cursor > feed.newest):
                w.write(b"END")
                return True
            if cursor > feed.newest:
                await tick.wait()
                continue
            hi = min(feed.newest, cursor + CHUNK - 1)
            seqs = plan.select(cursor, hi)
            cursor = self.cursor = hi + 1
            if len(seqs):
                data = self._frames(plan, seqs)
                w.write(data)
                server.counters["packets_sent"] += len(seqs)
                server.counters["bytes_sent"] += len(data)
                self.packets += len(seqs)
                self.bytes_sent += len(data)
            if w.transport.get_write_buffer_size() > server.max_buffer_bytes:
                try:
                    async with asyncio.timeout(server.write_timeout_s):
                        await w.drain()
                except TimeoutError:
                    server.counters["slow_disconnects"] += 1
                    log.warning(
                        "client too slow (buffer full %.1f s); disconnected", server.write_timeout_s
                    )
                    return False
            else:
                await asyncio.sleep(0)
