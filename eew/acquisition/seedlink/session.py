"""One server of a :class:`~eew.acquisition.seedlink.client.SeedLinkClient`: connect, stream.

A :class:`Session` runs the reconnect loop of one server. Each connection is a
:class:`~eew.acquisition.seedlink.link.Link`; the session negotiates the stations (one
round trip per station: STATION, SELECT..., DATA/FETCH/TIME are pipelined),
switches the link to frame mode with END, and then watches it: ``INFO ID``
after ``keepalive_s`` of silence, abort after ``timeout_s``. Frames are decoded
in the link callback and handed to the ``deliver`` callback (the client's queue).

With a server whose HELLO offers ``SLPROTO:4.0`` (and ``options.protocol`` not
``"3"``) the session sends ``SLPROTO 4.0`` and ``USERAGENT`` and negotiates in
SeedLink 4: ``STATION NET_STA``, selectors in their ``LOC_B_S_SS`` form, ``DATA seq
time`` with the full 64-bit sequence number (compared without wrap-around) and an
ISO time; a refused ``SLPROTO`` falls back to 3.1 on the same connection.

The handshake is :class:`~eew.acquisition.seedlink.negotiate.Negotiation`. The
session does not know the client: it receives the options, the clock and four
callables (accept, deliver, backoff, finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eew.acquisition.mseed import decode_record, parse_header
from eew.acquisition.seedlink.datatime import Seen, after_end
from eew.acquisition.seedlink.link import Link
from eew.acquisition.seedlink.negotiate import Negotiation
from eew.acquisition.seedlink.protocol import (
    ProtocolError,
    escape_bytes,
    format_command,
    station_matches,
)
from eew.acquisition.seedlink.spec import ClientOptions, Received, ServerSpec
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
    seq_resets: int = 0
    #: records delivered without their samples already delivered (:func:`.datatime.after_end`)
    trimmed: int = 0
    #: SeedLink version of the current (or last) connection: "4.0" or "3.1"
    protocol: str = "3.1"


class Session(Negotiation):
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
    ends : dict, optional
        Channel id -> end of the last record processed before a restart [ns] (state
        file): records that start before it were processed already, whatever their
        sequence number.
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
        ends: dict[str, int] | None = None,
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
        #: "NET_STA" -> start time of the last received record [ns] (resume by time)
        self.last_time = {k: v[1] for k, v in resume.items()}
        #: channel id -> what it delivered, by data time
        self._seen: dict[str, Seen] = {}
        #: channel id -> end of the last record processed before this client started [ns]
        self._done = dict(ends or {})
        #: this connection's server renumbered its packets (ring reset): de-duplicate
        #: by data time as well
        self._renumbered = False
        self.counters: Counter[str] = Counter()
        self.link: Link | None = None
        self.finished = False
        #: set by the client before it cancels the task (belt and braces for cancellation)
        self.stopping = False
        self._ended = False
        self._keepalive_pending = False
        self._wanted: dict[str, bool] = {}
        #: the current connection speaks SeedLink 4 (64-bit sequence numbers)
        self.v4 = False

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
                    # ProtocolError texts are escaped where they are made; OSError texts
                    # are the system's
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
        ctx = self._ssl_context()
        async with asyncio.timeout(opts.connect_timeout_s):
            await loop.create_connection(
                lambda: link,
                self.spec.host,
                self.spec.port,
                ssl=ctx,
                server_hostname=self.spec.host if ctx is not None else None,
            )
        self.link = link
        self._keepalive_pending = False
        self._renumbered = False
        self.v4 = False
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

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.spec.tls:
            return None
        return self.options.ssl_context or ssl.create_default_context()

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
            log.warning(
                "server=%s packet %06X undecodable: %s", self.name, seq, escape_bytes(str(exc))
            )
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
            log.warning(
                "server=%s unexpected packet of %s", self.name, escape_bytes(pkt.channel_id)
            )
            return True
        new = self._new_part(seq, key, pkt)
        if new is None:
            self.counters["duplicates"] += 1
            return True
        if new is not pkt:
            self.counters["trimmed"] += 1
            log.debug(
                "server=%s %s: %d samples already delivered cut from the record at %d",
                self.name,
                escape_bytes(pkt.channel_id),
                pkt.n_samples - new.n_samples,
                pkt.starttime_ns,
            )
            pkt = new
        self.last_seq[key] = seq
        self.last_time[key] = pkt.starttime_ns
        seen = self._seen.get(pkt.channel_id)
        if seen is None:
            self._seen[pkt.channel_id] = Seen(pkt)
        else:
            seen.add(pkt)
        if not self._accept(pkt, now):
            self.counters["future"] += 1
            log.warning(
                "server=%s future packet of %s dropped", self.name, escape_bytes(pkt.channel_id)
            )
            return True
        self.counters["packets"] += 1
        if self._deliver(Received(self.name, seq, pkt, now)) and self.link is not None:
            self.link.pause()
        return True

    def _new_part(self, seq: int, key: str, pkt: Packet) -> Packet | None:
        """``pkt``, or None if it was received already, or its part not received yet.

        By sequence number, and by data time: a packet whose sequence number is not after
        the station's last one is new data all the same when it ends after everything its
        channel delivered: the server's ring was reset and its sequence numbers went
        backwards. A packet with a newer sequence number whose record was already
        delivered (same channel and start time) shows a renumbered ring too. Either way
        the connection then de-duplicates by data time as well, and one WARNING is
        logged. A record that straddles the end of what its channel delivered (records
        packed otherwise than those delivered) gives its samples after that end
        (:func:`.datatime.after_end`).
        """
        seen = self._seen.get(pkt.channel_id)
        last = self.last_seq.get(key)
        # a channel not seen since this client started (resumed from the state file) is
        # compared with the end of its last record processed before (its station's
        # sequence number and start time say nothing about it: records of one station's
        # channels last 1-7 s each, and a station's packets may have come from an older
        # ring than its channels' last ones); without that time, by sequence number only
        done = self._done.get(pkt.channel_id) if seen is None else None
        if last is not None and not self._after(seq, last):
            if seen is not None:
                new = after_end(pkt, seen.last_end_ns)
            elif done is not None:
                new = after_end(pkt, done)
            else:
                return None
            if new is not None:
                self._ring_reset(seq, last, key, "went backwards")
            return new
        if seen is None:
            if done is None:
                return pkt
            new = after_end(pkt, done)
            if new is not pkt:
                # a newer sequence number for a record processed (wholly or partly)
                # before the restart
                self._ring_reset(seq, last, key, "were renumbered")
            return new
        if seen.repeats(pkt):
            self._ring_reset(seq, last, key, "were renumbered")
            return after_end(pkt, seen.last_end_ns)
        if self._renumbered:
            return None if seen.before_memory(pkt) else after_end(pkt, seen.last_end_ns)
        return pkt

    def _ring_reset(self, seq: int, last: int | None, key: str, how: str) -> None:
        self.counters["seq_resets"] += 1
        if self._renumbered:
            return
        self._renumbered = True
        log.warning(
            "server=%s sequence numbers %s (%s: %06X after %s): the server's ring was "
            "reset; de-duplicating by data time on this connection",
            self.name,
            how,
            key,
            seq,
            "-" if last is None else f"{last:06X}",
        )

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
            seq_resets=c["seq_resets"],
            trimmed=c["trimmed"],
            protocol="4.0" if self.v4 else "3.1",
        )
