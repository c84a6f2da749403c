"""The asyncio SeedLink client of the live pipeline (4.0 where offered, else 3.1; TLS).

:class:`SeedLinkClient` keeps one connection per server (several servers at
once), negotiates multi-station selections (STATION/SELECT with wildcards),
and delivers decoded :class:`~eew.model.packet.Packet` values, the same
objects replay produces, through ``async for``. Per connection it

* sends ``INFO ID`` as a keepalive after ``keepalive_s`` without traffic and
  declares the link stalled after ``timeout_s`` without a byte, then reconnects;
* reconnects with exponential backoff and jitter after any failure;
* resumes every station from the sequence number after the last one it
  received (``DATA seq``), and drops packets whose sequence number it has
  already seen (so a server restart loses and duplicates nothing);
* counts and logs error answers, unexpected packets (unrequested stations,
  stray INFO), malformed or truncated frames and disconnects; none is fatal.

The last delivered sequence number per station, and the end of the last record
delivered per channel (de-duplication by data time after a restart), are persisted to a state file
every ``state_interval_s`` and on :meth:`SeedLinkClient.close` (atomic rename),
never per packet. Packets wait in one bounded queue; when it is full the
sockets stop being read, and TCP flow control pushes back to the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import struct
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.protocol import (
    FRAME_LEN,
    ProtocolError,
    escape_bytes,
    format_command,
    parse_frame_header,
)
from eew.acquisition.seedlink.session import ServerStatistics, Session
from eew.acquisition.seedlink.spec import ClientOptions, Received, ServerSpec, StationSelection
from eew.acquisition.seedlink.tracking import (
    ChannelEnds,
    ChannelStatistics,
    ChannelTracker,
    State,
    load_channel_ends,
    load_state,
    save_state,
)
from eew.model.clock import Clock
from eew.model.packet import Packet

log = logging.getLogger("eew.acquisition.seedlink.client")

__all__ = [
    "ClientOptions",
    "ClientStatistics",
    "Received",
    "SeedLinkClient",
    "ServerSpec",
    "ServerStatistics",
    "StationSelection",
]


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """Snapshot of a :class:`SeedLinkClient` (see its :meth:`~SeedLinkClient.statistics`)."""

    servers: tuple[ServerStatistics, ...]
    channels: tuple[ChannelStatistics, ...]
    delivered: int
    queued: int
    max_queued: int
    state_saves: int

    @property
    def packets(self) -> int:
        """Packets received and accepted, all servers."""
        return sum(s.packets for s in self.servers)


@dataclass
class _Inbox:
    """The bounded queue between the links and the consumer."""

    size: int
    items: deque[Received] = field(default_factory=deque)
    max_len: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, item: Received) -> bool:
        """Queue ``item``; True when the queue is full (the link should pause)."""
        self.items.append(item)
        self.max_len = max(self.max_len, len(self.items))
        self.event.set()
        return len(self.items) >= self.size


class SeedLinkClient:
    """Receive packets from one or more SeedLink 3 servers.

    Parameters
    ----------
    servers : sequence of ServerSpec
        Servers and their station selections.
    clock : Clock
        Time of arrival of every packet (latency, future data).
    options : ClientOptions
        Timeouts, backoff, state file, queue size, window, policies.
    rng : random.Random, optional
        Source of backoff jitter (seed it in tests).

    Examples
    --------
    >>> async def main():  # doctest: +SKIP
    ...     spec = ServerSpec.parse("127.0.0.1:18000", "KZ_*:HH?")
    ...     async with SeedLinkClient([spec], WallClock()) as client:
    ...         async for packet in client:
    ...             pipeline.feed(packet)
    """

    def __init__(
        self,
        servers: Sequence[ServerSpec],
        clock: Clock,
        options: ClientOptions | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if not servers:
            raise ValueError("at least one server is needed")
        self.options = options or ClientOptions()
        self.clock = clock
        self.tracker = ChannelTracker(
            self.options.late_s, self.options.future_s, self.options.gap_tolerance_samples
        )
        self.rng = rng or random.Random()
        self.servers = list(servers)
        self._state: State = {}
        self._ends: ChannelEnds = {}
        self._sessions: list[Session] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox: _Inbox | None = None
        self._delivered = 0
        self._saves = 0
        self._dirty = False
        self._started = False

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the state file and connect to every server."""
        if self._started:
            return
        self._started = True
        opts = self.options
        if opts.state_file is not None:
            self._state = load_state(opts.state_file)
            self._ends = load_channel_ends(opts.state_file)
        self._inbox = _Inbox(opts.queue_size)
        for spec in self.servers:
            resume = dict(self._state.setdefault(spec.name, {}))
            sess = Session(
                spec,
                resume,
                opts,
                self.clock,
                ends=dict(self._ends.setdefault(spec.name, {})),
                accept=self.tracker.observe,
                deliver=self.deliver,
                backoff_s=self.backoff_s,
                on_finished=self.wake,
            )
            self._sessions.append(sess)
            self._tasks.append(asyncio.create_task(sess.run(), name=f"seedlink-{spec.name}"))
        if opts.state_file is not None:
            self._tasks.append(asyncio.create_task(self._save_periodically(), name="sl-state"))

    async def close(self) -> None:
        """Disconnect, stop every task and write the state file (even if nothing changed)."""
        for sess in self._sessions:
            sess.stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        if self._started:
            self.save_state(force=True)

    async def __aenter__(self) -> SeedLinkClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- consumer side --------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Packets received and waiting to be taken with :meth:`get`."""
        return 0 if self._inbox is None else len(self._inbox.items)

    async def get(self) -> Received | None:
        """The next packet; None once every connection has ended (END) and all are delivered."""
        inbox = self._inbox
        if inbox is None:
            raise RuntimeError("SeedLinkClient not started")
        while not inbox.items:
            if all(s.finished for s in self._sessions):
                return None
            inbox.event.clear()
            await inbox.event.wait()
        item = inbox.items.popleft()
        self._delivered += 1
        pkt = item.packet
        net, sta = pkt.channel_id.split(".", 2)[:2]
        self._state.setdefault(item.server, {})[f"{net}_{sta}"] = (item.seq, pkt.starttime_ns)
        ends = self._ends.setdefault(item.server, {})
        ends[pkt.channel_id] = max(ends.get(pkt.channel_id, 0), pkt.endtime_ns)
        self._dirty = True
        if len(inbox.items) <= inbox.size // 2:
            for s in self._sessions:
                s.resume_reading()
        return item

    async def received(self) -> AsyncIterator[Received]:
        """Iterate over delivered packets with their server and sequence number."""
        while (item := await self.get()) is not None:
            yield item

    async def __aiter__(self) -> AsyncIterator[Packet]:
        while (item := await self.get()) is not None:
            yield item.packet

    # ---- called by sessions ---------------------------------------------------------------
    def deliver(self, item: Received) -> bool:
        """Queue a packet; True when the consumer is behind (pause reading)."""
        assert self._inbox is not None
        return self._inbox.put(item)

    def wake(self) -> None:
        """A session finished: let :meth:`get` re-check."""
        if self._inbox is not None:
            self._inbox.event.set()

    def backoff_s(self, attempt: int) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based): exponential, jittered [s]."""
        o = self.options
        base = min(o.backoff_max_s, o.backoff_initial_s * 2.0 ** min(attempt, 30))
        return base * (0.5 + 0.5 * self.rng.random())

    # ---- state and statistics -------------------------------------------------------------
    def save_state(self, force: bool = False) -> None:
        """Write the state file now, if one is configured and anything changed (or ``force``).

        Every server of the client has an entry, empty until its first packet, so a stop
        before the first packet still leaves a state file that names them.
        """
        path = self.options.state_file
        if path is None or not (self._dirty or force):
            return
        save_state(path, self._state, self._ends)
        self._dirty = False
        self._saves += 1

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.options.state_interval_s)
            self.save_state()

    def statistics(self) -> ClientStatistics:
        """A frozen snapshot of every counter."""
        inbox = self._inbox
        return ClientStatistics(
            servers=tuple(s.statistics() for s in self._sessions),
            channels=self.tracker.statistics(),
            delivered=self._delivered,
            queued=len(inbox.items) if inbox else 0,
            max_queued=inbox.max_len if inbox else 0,
            state_saves=self._saves,
        )

    # ---- INFO -----------------------------------------------------------------------------
    async def info(
        self, level: str = "ID", server: int = 0, timeout_s: float = 10.0, *, v4: bool = False
    ) -> str:
        """Ask a server for INFO ``level`` on a separate connection; return the XML.

        With ``v4`` the question is asked in SeedLink 4 and the answer is the JSON
        document (``software``, ``organization`` and the level's ``station``,
        ``format``... items, or ``error``).

        Raises
        ------
        TimeoutError, ConnectionError, ProtocolError
            If the server does not answer properly within ``timeout_s``.
        """
        spec = self.servers[server]
        ctx = (self.options.ssl_context or ssl.create_default_context()) if spec.tls else None
        async with asyncio.timeout(timeout_s):
            return await _query_info(spec.host, spec.port, level, ctx, v4)


async def _query_info(
    host: str, port: int, level: str, ctx: ssl.SSLContext | None = None, use_v4: bool = False
) -> str:
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ctx, server_hostname=host if ctx is not None else None
    )
    try:
        writer.write(format_command("HELLO"))
        await reader.readline()
        await reader.readline()
        if use_v4:
            writer.write(format_command("SLPROTO", "4.0"))
            answer = await reader.readline()
            if answer.strip() != b"OK":
                raise ProtocolError(f"SLPROTO 4.0 refused: {escape_bytes(answer.strip())}")
            writer.write(format_command("INFO", level.upper()))
            h4 = v4.parse_header(await reader.readexactly(v4.HEADER_LEN))
            body = await reader.readexactly(h4.station_id_length + h4.length)
            writer.write(format_command("BYE"))
            return body[h4.station_id_length :].decode("utf-8", "replace")
        writer.write(format_command("INFO", level.upper()))
        parts = []
        while True:
            frame = await reader.readexactly(FRAME_LEN)
            head = parse_frame_header(frame)
            if head.info:
                parts.append(_text_payload(frame[8:]))
                if head.final:
                    break
        writer.write(format_command("BYE"))
        return b"".join(parts).decode("ascii", "replace")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _text_payload(record: bytes) -> bytes:
    """The text carried by an ASCII miniSEED 2 record (INFO)."""
    order = ">" if 1900 <= struct.unpack_from(">H", record, 20)[0] <= 2100 else "<"
    nsamp = struct.unpack_from(order + "H", record, 30)[0]
    start = struct.unpack_from(order + "H", record, 44)[0]
    return record[start : start + nsamp]
