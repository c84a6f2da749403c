"""One server of a :class:`~eew.acquisition.seedlink.client.SeedLinkClient`: connect, stream.

A :class:`Session` runs the reconnect loop of one server. Each connection is a
:class:`~eew.acquisition.seedlink.link.Link`; the session negotiates the stations (one
round trip per station: STATION, SELECT..., DATA/FETCH/TIME are pipelined),
switches the link to frame mode with END, and then watches it: ``INFO ID``
after ``keepalive_s`` of silence, abort after ``timeout_s``. Frames are decoded
in the link callback and handed to the ``deliver`` callback (the client's queue).

The session does not know the client: it receives the options, the clock and four
callables (accept, deliver, backoff, finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eew.acquisition.mseed import decode_record, parse_header
from eew.acquisition.seedlink.link import Link
from eew.acquisition.seedlink.protocol import (
    ProtocolError,
    format_command,
    format_seedlink_time,
    format_sequence,
    seq_after,
    seq_next,
    station_matches,
)
from eew.acquisition.seedlink.spec import ClientOptions, Received, ServerSpec, StationSelection
from eew.errors import DataError
from eew.model.clock import Clock
from eew.model.packet import Packet

log = logging.getLogger("eew.acquisition.seedlink.client")


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """Counters of one server connection of the client."""

    server: str
    connected: bool
    connects: int
    disconnects: int
    connect_failures: int
    stalls: int
    keepalives: int
    error_answers: int
    malformed: int
    truncated: int
    unexpected: int
    duplicates: int
    future: int
    packets: int
    ended: bool


class Session:
    """The reconnecting connection to one server (internal to the client).

    Parameters
    ----------
    spec : ServerSpec
        The server and its station selections.
    resume : dict
        ``NET_STA`` -> (last sequence number, start time [ns]) to resume from.
    options : ClientOptions
        Timeouts, keepalive, window.
    clock : Clock
        Arrival time of every packet.
    accept : callable
        ``accept(packet, arrival_ns)``: account for a packet; False if it is future data
        (dropped).
    deliver : callable
        ``deliver(received)``: queue a packet for the consumer; True when the consumer is
        behind and the socket should stop being read (:meth:`resume_reading` resumes).
    backoff_s : callable
        Delay before reconnect attempt ``attempt`` (0-based) [s].
    on_finished : callable
        Called once when the session ends (END or cancellation).
    """

    def __init__(
        self,
        spec: ServerSpec,
        resume: dict[str, tuple[int, int]],
        options: ClientOptions,
        clock: Clock,
        *,
        accept: Callable[[Packet, int], bool],
        deliver: Callable[[Received], bool],
        backoff_s: Callable[[int], float],
        on_finished: Callable[[], None],
    ) -> None:
        self.spec = spec
        self.options = options
        self.clock = clock
        self._accept = accept
        self._deliver = deliver
        self._backoff_s = backoff_s
        self._on_finished = on_finished
        self.name = spec.name
        #: "NET_STA" -> last received 24-bit sequence number
        self.last_seq = {k: v[0] for k, v in resume.items()}
        self.counters: Counter[str] = Counter()
        self.link: Link | None = None
        self.finished = False
        #: set by the client before it cancels the task (belt and braces for cancellation)
        self.stopping = False
        self._ended = False
        self._keepalive_pending = False
        self._wanted: dict[str, bool] = {}

    # ---- reconnect loop -------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, stream, reconnect, until END (window/dial-up) or cancellation."""
        attempt = 0
        try:
            while not self._ended and not self.stopping:
                try:
                    negotiated = await self._connect_once()
                except (OSError, TimeoutError, ProtocolError) as exc:
                    self.counters["connect_failures"] += 1
                    log.warning("server=%s connection failed: %s", self.name, exc)
                    negotiated = False
                if self._ended:
                    break
                attempt = 0 if negotiated else attempt + 1
                delay = self._backoff_s(attempt)
                log.info("server=%s reconnect in %.2f s", self.name, delay)
                await asyncio.sleep(delay)
        finally:
            if self.link is not None and self.link.transport is not None:
                self.link.transport.abort()
            self.finished = True
            self._on_finished()

    async def _connect_once(self) -> bool:
        """One connection; True if it got as far as streaming."""
        opts = self.options
        loop = asyncio.get_running_loop()
        link = Link(self, loop)
        async with asyncio.timeout(opts.connect_timeout_s):
            await loop.create_connection(lambda: link, self.spec.host, self.spec.port)
        self.link = link
        self._keepalive_pending = False
        try:
            await self._negotiate(link)
            self.counters["connects"] += 1
            log.info("server=%s streaming", self.name)
            link.start_streaming()
            await self._watch(link)
            return True
        finally:
            if link.transport is not None:
                link.transport.abort()
            self.link = None
            if not self._ended:
                self.counters["disconnects"] += 1

    async def _negotiate(self, link: Link) -> None:
        t = self.options.connect_timeout_s
        link.send(format_command("HELLO"))
        hello = await link.read_line(t)
        await link.read_line(t)
        if not hello.startswith(b"SeedLink"):
            raise ProtocolError(f"unexpected HELLO answer {hello[:60]!r}")
        accepted = 0
        for sel in self.spec.stations:
            cmds = [format_command("STATION", sel.station, sel.network)]
            cmds += [format_command("SELECT", s) for s in sel.selectors]
            cmds.append(self._action(sel))
            link.send(b"".join(cmds))
            answers = [await link.read_line(t) for _ in cmds]
            if all(a.strip() == b"OK" for a in answers):
                accepted += 1
                continue
            self.counters["error_answers"] += sum(a.strip() != b"OK" for a in answers)
            log.warning(
                "server=%s station %s_%s: %s",
                self.name,
                sel.network,
                sel.station,
                b" ".join(a.strip() for a in answers).decode("ascii", "replace"),
            )
        if not accepted:
            raise ProtocolError("no station accepted")
        link.send(format_command("END"))

    def _action(self, sel: StationSelection) -> bytes:
        """DATA/FETCH from the resume point, or TIME for a window."""
        opts = self.options
        verb = "FETCH" if opts.dialup else "DATA"
        if opts.end_ns is None:
            nexts = [
                seq_next(seq)
                for key, seq in self.last_seq.items()
                if station_matches(sel.network, sel.station, *key.split("_", 1))
            ]
            if nexts:
                first = nexts[0]
                for s in nexts[1:]:
                    if seq_after(first, s):
                        first = s
                return format_command(verb, format_sequence(first))
        if opts.begin_ns is not None:
            args = [format_seedlink_time(opts.begin_ns)]
            if opts.end_ns is not None:
                args.append(format_seedlink_time(opts.end_ns + 999_999_999))
            return format_command("TIME", *args)
        return format_command(verb)

    async def _watch(self, link: Link) -> None:
        """Keepalive and stall detection until the link closes."""
        opts = self.options
        loop = link.loop
        while not link.closed.done():
            idle = loop.time() - link.last_rx
            if link.paused:
                idle = 0.0
            if idle >= opts.timeout_s:
                self.counters["stalls"] += 1
                log.warning("server=%s silent for %.1f s; reconnecting", self.name, idle)
                return
            if idle >= opts.keepalive_s and not self._keepalive_pending:
                self._keepalive_pending = True
                self.counters["keepalives"] += 1
                link.send(format_command("INFO", "ID"))
            wait = min(opts.timeout_s - idle, opts.keepalive_s)
            if idle < opts.keepalive_s:
                wait = opts.keepalive_s - idle
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.01)):
                    await asyncio.shield(link.closed)
        log.info("server=%s connection closed", self.name)

    def resume_reading(self) -> None:
        """The consumer caught up: read the socket again."""
        if self.link is not None and self.link.paused:
            self.link.resume()

    # ---- LinkOwner callbacks --------------------------------------------------------------
    def on_data_frame(self, seq: int, record: bytes) -> bool:
        """Decode, check and queue a data frame; False if undecodable."""
        now = self.clock.now_ns()  # arrival: stamped on the packet
        try:
            hdr = parse_header(record, 0)
            pkt = decode_record(record, hdr, np.frombuffer(record, np.uint8), now)
        except DataError as exc:
            log.warning("server=%s packet %06X undecodable: %s", self.name, seq, exc)
            return False
        if pkt is None:  # a log/text record: nothing to deliver
            self.counters["unexpected"] += 1
            return True
        net, sta = pkt.channel_id.split(".", 2)[:2]
        key = f"{net}_{sta}"
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = self._wanted[key] = any(
                station_matches(s.network, s.station, net, sta) for s in self.spec.stations
            )
        if not wanted:
            self.counters["unexpected"] += 1
            log.warning("server=%s unexpected packet of %s", self.name, pkt.channel_id)
            return True
        last = self.last_seq.get(key)
        if last is not None and not seq_after(seq, last):
            self.counters["duplicates"] += 1
            return True
        self.last_seq[key] = seq
        if not self._accept(pkt, now):
            self.counters["future"] += 1
            log.warning("server=%s future packet of %s dropped", self.name, pkt.channel_id)
            return True
        self.counters["packets"] += 1
        if self._deliver(Received(self.name, seq, pkt, now)) and self.link is not None:
            self.link.pause()
        return True

    def on_info_frame(self, record: bytes, final: bool) -> None:
        """Consume a keepalive answer; count any other INFO frame."""
        if self._keepalive_pending:
            self._keepalive_pending = not final
            return
        self.counters["unexpected"] += 1
        log.warning("server=%s unexpected INFO packet", self.name)

    def on_end(self) -> None:
        """END from the server: this session is complete."""
        log.info("server=%s END (end of window or buffer)", self.name)
        self._ended = True
        if self.link is not None and self.link.transport is not None:
            self.link.transport.close()

    def on_error_line(self) -> None:
        """Count an ERROR answer received while streaming."""
        self.counters["error_answers"] += 1
        log.warning("server=%s ERROR while streaming", self.name)

    def on_garbage(self, n_bytes: int, truncated: bool) -> None:
        """Count skipped bytes (malformed or truncated frame)."""
        self.counters["truncated" if truncated else "malformed"] += 1
        log.warning(
            "server=%s %s: %d bytes skipped",
            self.name,
            "truncated packet" if truncated else "malformed data",
            n_bytes,
        )

    def statistics(self) -> ServerStatistics:
        """A snapshot of this server's counters."""
        c = self.counters
        return ServerStatistics(
            server=self.name,
            connected=self.link is not None and self.link.streaming,
            connects=c["connects"],
            disconnects=c["disconnects"],
            connect_failures=c["connect_failures"],
            stalls=c["stalls"],
            keepalives=c["keepalives"],
            error_answers=c["error_answers"],
            malformed=c["malformed"],
            truncated=c["truncated"],
            unexpected=c["unexpected"],
            duplicates=c["duplicates"],
            future=c["future"],
            packets=c["packets"],
            ended=self._ended,
        )
