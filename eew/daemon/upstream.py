"""The central role's intake: pick feeds of station daemons over the alert bus.

One :class:`eew.bus.Subscriber` per endpoint, each in its own thread (a ZMQ socket
belongs to the thread that made it). Verified picks go into one bounded queue that the
event core drains in the event loop. **Drop policy: oldest first** (a stale pick is worth
less than a fresh one), counted. Heartbeats of each feed tell the newest data time of
that station daemon, which the event core uses to decide whether a station without a
pick counts as silent. A subscriber thread that fails records its exception; the daemon
then stops with that error (it is not swallowed).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from eew.bus import CurveClient, Subscriber, Verifier
from eew.bus.feed import run_feed
from eew.bus.wire import BusMessage, Heartbeat
from eew.daemon.schema import UpstreamConfig
from eew.model.clock import Clock
from eew.model.pick import Pick
from eew.schemafields import optional_path

log = logging.getLogger("eew.daemon.upstream")


@dataclass(frozen=True, slots=True)
class UpstreamStatistics:
    """Counters of the pick feeds."""

    feeds: int
    picks: int
    queued: int
    dropped: int
    heartbeats: int


class Upstream:
    """Receive picks from station daemons.

    Parameters
    ----------
    config : UpstreamConfig
        Section ``[upstream]``.
    base_dir : Path
        Directory of the configuration file; relative key paths start here.
    clock : Clock
        The subscribers' clock (freshness checks, watchdog); the wall clock live.
    """

    def __init__(self, config: UpstreamConfig, base_dir: Path, clock: Clock) -> None:
        self.cfg = config
        self.clock = clock
        self._verifier: Verifier | None = None
        self._curve: CurveClient | None = None
        trusted = optional_path(base_dir, self.cfg.trusted_keys_dir)
        if trusted is not None:
            self._verifier = Verifier.from_dir(trusted)
        key = optional_path(base_dir, self.cfg.curve_key_file)
        server_key = optional_path(base_dir, self.cfg.curve_server_key_file)
        if key is not None and server_key is not None:
            self._curve = CurveClient.from_files(key, server_key)
        self._queue: deque[tuple[Pick, int]] = deque(maxlen=self.cfg.queue_size)
        self._ready = asyncio.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._data_end: dict[str, int] = {}
        self._counts = {"picks": 0, "dropped": 0, "heartbeats": 0}
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def start(self) -> None:
        """Start one subscriber thread per endpoint (call from the event loop)."""
        self._loop = asyncio.get_running_loop()
        for endpoint in self.cfg.endpoints:
            t = threading.Thread(
                target=self._run, args=(endpoint,), name=f"eew-upstream-{endpoint}", daemon=True
            )
            t.start()
            self._threads.append(t)

    async def close(self, timeout_s: float = 2.0) -> None:
        """Stop the threads and close their sockets."""
        self._stop.set()
        threads, self._threads = self._threads, []
        for t in threads:
            await asyncio.to_thread(t.join, timeout_s)

    async def get(self) -> tuple[Pick, int]:
        """The next pick and its arrival time [ns].

        Raises
        ------
        Exception
            What a subscriber thread died of.
        """
        while not self._queue:
            if self.error is not None:
                raise self.error
            self._ready.clear()
            await self._ready.wait()
        if self.error is not None:
            raise self.error
        return self._queue.popleft()

    def get_nowait(self) -> tuple[Pick, int] | None:
        """The next queued pick and its arrival time [ns], or None if the queue is empty."""
        return self._queue.popleft() if self._queue else None

    def data_end_ns(self, station_id: str) -> int | None:
        """Newest data time reported by the station daemons' heartbeats [ns], or None.

        Heartbeats carry one time per daemon, not per station: the oldest over the feeds
        is used for every station (conservative).
        """
        with self._lock:
            ends = list(self._data_end.values())
        return min(ends) if ends else None

    def statistics(self) -> UpstreamStatistics:
        """A snapshot of the counters."""
        with self._lock:
            c = dict(self._counts)
        return UpstreamStatistics(
            len(self.cfg.endpoints), c["picks"], len(self._queue), c["dropped"], c["heartbeats"]
        )

    # ---- subscriber threads ---------------------------------------------------------------
    def _put(self, pick: Pick, arrival_ns: int) -> None:
        if len(self._queue) == self._queue.maxlen:
            with self._lock:
                self._counts["dropped"] += 1
        self._queue.append((pick, arrival_ns))
        self._ready.set()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._ready.set()

    def _run(self, endpoint: str) -> None:
        loop = self._loop
        assert loop is not None

        def on_message(msg: BusMessage | None, _sub: Subscriber) -> None:
            body = msg.body if msg is not None else None
            if isinstance(body, Pick):
                with self._lock:
                    self._counts["picks"] += 1
                loop.call_soon_threadsafe(self._put, body, self.clock.now_ns())
            elif isinstance(body, Heartbeat):
                with self._lock:
                    self._counts["heartbeats"] += 1
                    if body.health.last_packet_time_ns is not None:
                        self._data_end[endpoint] = body.health.last_packet_time_ns

        run_feed(
            endpoint,
            verifier=self._verifier,
            clock=self.clock,
            curve=self._curve,
            kinds=("pick",),
            max_clock_skew_s=self.cfg.max_clock_skew_s,
            stop=self._stop,
            on_message=on_message,
            loop=loop,
            on_crash=self._fail,
            what="pick feed",
        )
