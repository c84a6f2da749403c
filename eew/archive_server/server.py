"""An asyncio SeedLink 3.1 and 4.0 server that plays an archive (``eew serve``).

Each client connection is one task that reads commands and, once streaming,
one more that sends packets. Negotiation follows SeedLink 3.1 as obspy,
slinktool and libslink use it: HELLO, CAPABILITIES, BATCH, STATION, SELECT,
DATA/FETCH ``[seq [time]]``, TIME ``start [end]``, END, ENDFETCH, INFO
(ID, CAPABILITIES, STATIONS, STREAMS, CONNECTIONS; other levels get the ID
document marked as an error) and BYE. Without STATION the connection is in
uni-station mode: DATA/FETCH/TIME get no answer and start streaming at once, for
every station (libslink reads the first frame right after the command). A
connection that sends no command for ``idle_timeout_s`` before it streams is
closed. Bytes from the network are escaped in every log line.

``SLPROTO 4.0`` switches a connection to SeedLink 4 (:mod:`eew.archive_server.handshake4`):
``SE`` packets with 64-bit sequence numbers, miniSEED 2 records as stored or miniSEED 3
on request (``:3``), JSON INFO. HELLO announces both versions; a client that sends
no ``SLPROTO`` speaks 3.1. With an :class:`ssl.SSLContext` the server speaks TLS.

Slow clients: a client only ever blocks its own task. Its transport buffer is
bounded (``max_buffer_bytes``); when it stays full for ``write_timeout_s`` the
client is disconnected. A client that is slow but alive and falls more than
``ring_size`` packets behind skips ahead to the oldest packet still in the ring
(counted as an overrun and logged), as ringserver does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from dataclasses import dataclass

import numpy as np

from eew import __version__
from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.protocol import (
    ERROR_LINE,
    OK_LINE,
    Command,
    ConnectionInfo,
    ProtocolError,
    StreamInfo,
    escape_bytes,
    format_data_frame,
    format_info_frames,
    info_xml,
    parse_command,
    parse_seedlink_time,
    parse_selector,
    parse_sequence,
    split_lines,
)
from eew.archive_server.feed import ArchiveFeed
from eew.archive_server.handshake4 import Handshake4
from eew.archive_server.plan import Plan, Request
from eew.archive_server.records import text_records
from eew.model.clock import Clock

log = logging.getLogger("eew.archive_server.server")

SOFTWARE = f"SeedLink v4.0 (EEW archive server {__version__})"
SOFTWARE_V3 = f"SeedLink v3.1 (EEW archive server {__version__})"
_CHUNK = 256  # frames per write
_MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """Counters of a :class:`SeedLinkServer` (see :meth:`SeedLinkServer.statistics`)."""

    clients: int
    connections: int
    packets_sent: int
    bytes_sent: int
    info_requests: int
    command_errors: int
    slow_disconnects: int
    idle_disconnects: int
    overruns: int
    skipped_packets: int
    newest_seq: int
    oldest_seq: int


class SeedLinkServer:
    """Serve an :class:`~eew.archive_server.feed.ArchiveFeed` over SeedLink 3.1.

    Parameters
    ----------
    feed : ArchiveFeed
        The records to serve; started by :meth:`start`.
    clock : Clock
        Drives the playback schedule and stamps INFO answers.
    host, port : str, int
        Where to listen (port 0: any free port, see :attr:`address`).
    speed : float or None
        Playback speed (1 = real time, None = everything at once).
    shift_to_now : bool
        Shift record times so the archive starts "now".
    ring_size : int or None
        Packets kept for resuming clients (None: the whole archive).
    organization : str
        Second line of the HELLO answer.
    write_timeout_s : float
        A client whose buffer stays full this long is disconnected [s].
    max_buffer_bytes : int
        Transport buffer size above which a client's task waits [bytes].
    idle_timeout_s : float or None
        A connection that sends no command this long before it streams is closed [s];
        None: never.
    protocols : tuple of str
        SeedLink versions announced and spoken: ``("4.0", "3.1")`` or ``("3.1",)``.
    ssl_context : ssl.SSLContext or None
        Serve over TLS with this context.
    wait_clients : int
        A paced playback begins when this many connections have started streaming
        (1: the first). Clients that start together, each without a resume point
        (``DATA`` alone: new packets only), then all receive the archive from its first
        record; a later one gets what is released after it starts.
    """

    def __init__(
        self,
        feed: ArchiveFeed,
        clock: Clock,
        *,
        host: str = "127.0.0.1",
        port: int = 18000,
        speed: float | None = 1.0,
        shift_to_now: bool = False,
        ring_size: int | None = None,
        organization: str = "EEW archive",
        write_timeout_s: float = 30.0,
        max_buffer_bytes: int = 256 * 1024,
        idle_timeout_s: float | None = 120.0,
        protocols: tuple[str, ...] = v4.VERSIONS,
        ssl_context: ssl.SSLContext | None = None,
        wait_clients: int = 1,
    ) -> None:
        if wait_clients < 1:
            raise ValueError("wait_clients must be at least 1")
        self.feed = feed
        self.clock = clock
        self.host = host
        self.port = port
        self.speed = speed
        self.shift_to_now = shift_to_now
        self.ring_size = ring_size
        self.organization = organization
        self.write_timeout_s = write_timeout_s
        self.max_buffer_bytes = max_buffer_bytes
        self.idle_timeout_s = idle_timeout_s
        self.protocols = protocols
        self.ssl_context = ssl_context
        self.wait_clients = wait_clients
        #: connections that have started streaming (the playback waits for wait_clients)
        self._streamers = 0
        self.software = SOFTWARE if "4.0" in protocols else SOFTWARE_V3
        self.counters: Counter[str] = Counter()
        self.started_ns = 0
        self._server: asyncio.Server | None = None
        self._pacer: asyncio.Task[None] | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._live: set[_Session] = set()
        self._tick = asyncio.Event()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually listened on."""
        if self._server is None or not self._server.sockets:
            return self.host, self.port
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def start(self) -> tuple[str, int]:
        """Listen; return the address.

        With ``speed=None`` the whole archive is in the ring at once. A paced playback
        begins when the first client starts streaming (:meth:`begin_playback`): nothing
        is played to nobody, so a client that connects a moment after the server started
        still receives the archive from its first record, as replay reads it.
        """
        self.started_ns = self.clock.now_ns()
        if self.speed is None:
            self.begin_playback()
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, ssl=self.ssl_context
        )
        log.info("serving %d packets on %s:%d", len(self.feed), *self.address)
        return self.address

    @property
    def streaming_connections(self) -> int:
        """Connections that have started streaming since the server started."""
        return self._streamers

    def client_streams(self) -> None:
        """A connection starts streaming: begin the playback once ``wait_clients`` have."""
        self._streamers += 1
        if self._streamers >= self.wait_clients:
            self.begin_playback()

    def begin_playback(self) -> None:
        """Start the playback clock now (once; later calls do nothing)."""
        if self._pacer is not None:
            return
        self.feed.start(
            self.clock.now_ns(),
            speed=self.speed,
            shift_to_now=self.shift_to_now,
            ring_size=self.ring_size,
            # paced: the records due now are released by the pacer, after the first
            # client's plan was made, so that its DATA starts at sequence number 1
            release=self.speed is None,
        )
        self._pacer = asyncio.create_task(self._pace(), name="seedlink-pacer")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop listening, disconnect every client, stop the playback."""
        if self._server is not None:
            self._server.close()
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
        # drop the connections: each handler then ends by itself (cancelling a
        # start_server handler task makes asyncio log a spurious error in 3.11)
        for session in list(self._live):
            session.abort()
        tasks = list(self._sessions)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for t in pending:
                t.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SeedLinkServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def statistics(self) -> ServerStatistics:
        """A snapshot of the server's counters."""
        c = self.counters
        return ServerStatistics(
            clients=len(self._sessions),
            connections=c["connections"],
            packets_sent=c["packets_sent"],
            bytes_sent=c["bytes_sent"],
            info_requests=c["info_requests"],
            command_errors=c["command_errors"],
            slow_disconnects=c["slow_disconnects"],
            idle_disconnects=c["idle_disconnects"],
            overruns=c["overruns"],
            skipped_packets=c["skipped_packets"],
            newest_seq=self.feed.newest,
            oldest_seq=self.feed.oldest,
        )

    # ---- playback -------------------------------------------------------------------------
    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def _pace(self) -> None:
        """Release records as the clock reaches them; wake the streaming tasks."""
        while True:
            now = self.clock.now_ns()
            if self.feed.advance(now):
                self._notify()
            due = self.feed.next_release_ns()
            if due is None:
                self._notify()
                return
            await asyncio.sleep(min(max(due - now, 0) / 1e9, 0.05))

    # ---- connections ----------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        self.counters["connections"] += 1
        peer = writer.get_extra_info("peername")
        log.info("client connected peer=%s", peer)
        writer.transport.set_write_buffer_limits(high=self.max_buffer_bytes)
        session = _Session(self, reader, writer, self.clock.now_ns())
        self._live.add(session)
        try:
            await session.run()
        except (ConnectionError, TimeoutError) as exc:
            log.info("client peer=%s dropped: %s", peer, exc)
        finally:
            await session.stop()
            self._live.discard(session)
            self._sessions.discard(task)
            log.info("client disconnected peer=%s", peer)

    def hello(self) -> bytes:
        """The two HELLO lines, in one write (obspy reads them with a single ``recv()``)."""
        caps = " ".join(f"SLPROTO:{v}" for v in self.protocols)
        return f"{self.software} :: {caps}\r\n{self.organization}\r\n".encode("ascii")

    def info_packet4(self, level: str, station: str = "*", stream: str = "*") -> bytes:
        """The SeedLink 4 INFO answer: one ``JI`` (or ``JE``) packet."""
        self.counters["info_requests"] += 1
        level = level.upper()
        streams = self._stream_infos() if level in ("STATIONS", "STREAMS") else []
        conns = [s.info() for s in self._live] if level == "CONNECTIONS" else []
        sub, doc = v4.info_json(
            level,
            self.software,
            self.organization,
            streams,
            [c for c in conns if c is not None],
            station_pattern=station.upper(),
            stream_pattern=stream.upper(),
        )
        return v4.format_packet("J", sub, 0, "", doc)

    def info_frames(self, level: str) -> list[bytes]:
        """INFO answer frames for ``level``."""
        self.counters["info_requests"] += 1
        level = level.upper()
        known = level in ("ID", "CAPABILITIES", "STATIONS", "STREAMS", "CONNECTIONS")
        streams = self._stream_infos() if level in ("STATIONS", "STREAMS") else []
        conns = [s.info() for s in self._live] if level == "CONNECTIONS" else []
        xml = info_xml(
            level if known else "ID",
            self.software,
            self.organization,
            self.started_ns,
            streams,
            [c for c in conns if c is not None],
        )
        recs = text_records(
            xml.encode("ascii"), channel="INF" if known else "ERR", time_ns=self.clock.now_ns()
        )
        return format_info_frames(recs)

    def _stream_infos(self) -> list[StreamInfo]:
        f = self.feed
        a, b = f.oldest - 1, f.newest
        if b <= a:
            return []
        ch = f.channel[a:b]
        chans, first = np.unique(ch, return_index=True)
        _, last_rev = np.unique(ch[::-1], return_index=True)
        last = (b - a - 1) - last_rev
        start, end = f.start_ns[a:b], f.end_ns[a:b]
        out = []
        for c, i, j in zip(chans.tolist(), first.tolist(), last.tolist(), strict=True):
            net, sta, loc, cha = f.codes[c]
            out.append(
                StreamInfo(net, sta, loc, cha, int(start[i]), int(end[j]), a + i + 1, a + j + 1)
            )
        return out


class _Session(Handshake4):
    """One client connection: negotiation, then streaming (SeedLink 3.1, or 4.0)."""

    server: SeedLinkServer

    def __init__(
        self,
        server: SeedLinkServer,
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
            if len(buf) > _MAX_LINE:
                log.warning("command line too long; closing: %s", escape_bytes(buf))
                return

    def abort(self) -> None:
        """Drop the connection now (server shutdown)."""
        self.writer.transport.abort()

    async def stop(self) -> None:
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
            tick = server._tick
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
            hi = min(feed.newest, cursor + _CHUNK - 1)
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
