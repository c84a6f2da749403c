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
    StreamInfo,
    format_info_frames,
    info_xml,
)
from eew.archive_server.connection import Connection
from eew.archive_server.feed import ArchiveFeed
from eew.archive_server.records import text_records
from eew.model.clock import Clock

log = logging.getLogger("eew.archive_server.server")

SOFTWARE = f"SeedLink v4.0 (EEW archive server {__version__})"
SOFTWARE_V3 = f"SeedLink v3.1 (EEW archive server {__version__})"


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
        self._live: set[Connection] = set()
        self.tick = asyncio.Event()

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
        tick, self.tick = self.tick, asyncio.Event()
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
        session = Connection(self, reader, writer, self.clock.now_ns())
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
