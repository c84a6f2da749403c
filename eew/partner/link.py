"""Incoming side of the exchange: the partner's feeds, verified, into two bounded queues.

One :class:`eew.bus.Subscriber` per partner endpoint, each in its own thread (a ZMQ
socket belongs to its thread). The subscriber's gate trusts **only the partner's key for
the partner's agency**: unsigned, forged (another signer, another agency, a bad
signature), stale (sent more than ``max_clock_skew_s`` from our clock), replayed and
malformed messages are dropped and counted there, never queued. Verified picks go into a
drop-oldest queue of ``queue_size``; alerts into their own queue (never dropped by a pick
flood). The daemon's event loop drains both (:meth:`PartnerLink.get`). A thread that
fails records its exception, which :meth:`get` raises: errors are not swallowed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

from eew.bus import CurveClient, GateStatistics, Subscriber, Verifier
from eew.bus.errors import KeyFileError
from eew.bus.feed import run_feed
from eew.bus.keys import load_verify_key
from eew.bus.wire import BusMessage, Heartbeat
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.pick import Pick
from eew.partner.config import PartnerConfig

log = logging.getLogger("eew.partner.link")

#: a queued partner value and its arrival time on our clock [ns]
Item = tuple[Pick | Alert, int]


@dataclass(frozen=True, slots=True)
class LinkStatistics:
    """Counters of the partner feeds (a snapshot).

    Attributes
    ----------
    feeds : int
        Partner endpoints.
    picks, alerts, heartbeats : int
        Verified messages received.
    queued : int
        Picks and alerts waiting for the event loop.
    dropped : int
        Picks dropped from the full queue (oldest first).
    gate : GateStatistics
        The subscribers' gate counters, summed over the feeds (forged, stale, ...).
    alive : int
        Feeds whose partner heartbeats are on time (the subscribers' watchdogs).
    heartbeat_age_s : float
        Time since the last verified partner heartbeat, the oldest over the feeds
        [s, our clock]; inf before the first.
    heartbeats_rejected : int
        Partner heartbeats dropped by the gate (forged, unsigned, stale...).
    remote : mapping
        The ``partner`` block of the partner's newest heartbeat: how the partner sees
        its own partner (us, if it names our agency), e.g. its measurement of our clock.
    """

    feeds: int
    picks: int
    alerts: int
    heartbeats: int
    queued: int
    dropped: int
    gate: GateStatistics
    alive: int = 0
    heartbeat_age_s: float = math.inf
    heartbeats_rejected: int = 0
    remote: Mapping[str, str | int | float | None] = field(default_factory=dict)


def partner_verifier(cfg: PartnerConfig, key_file: str | os.PathLike[str]) -> Verifier:
    """A verifier that trusts the partner's key for the partner's agency only.

    Raises
    ------
    KeyFileError
        Unreadable key file, or a key of another agency.
    """
    agency, key = load_verify_key(key_file)
    if agency != cfg.agency:
        raise KeyFileError(f"{key_file}: key of {agency}, but the partner is {cfg.agency}")
    return Verifier({agency: (key,)})


class PartnerLink:
    """Receive the partner's picks and alerts.

    Parameters
    ----------
    cfg : PartnerConfig
        Endpoints, what to import, queue size, clock skew.
    verifier : Verifier or None
        The partner's key (:func:`partner_verifier`); ``None`` accepts unsigned messages
        (insecure; tests only).
    clock : Clock
        Our clock (freshness checks, watchdog).
    curve : CurveClient, optional
        Our CURVE certificate and the partner publisher's public key.
    """

    def __init__(
        self,
        cfg: PartnerConfig,
        verifier: Verifier | None,
        clock: Clock,
        curve: CurveClient | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self._verifier = verifier
        self._curve = curve
        kinds = [k for k, on in (("pick", cfg.import_picks), ("alert", cfg.import_alerts)) if on]
        self._kinds = tuple(kinds)
        self._picks: deque[Item] = deque(maxlen=cfg.queue_size)
        self._alerts: deque[Item] = deque()
        self._ready = asyncio.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._counts = {"picks": 0, "alerts": 0, "heartbeats": 0, "dropped": 0}
        self._gates: dict[str, GateStatistics] = {}
        self._data_end: dict[str, int] = {}
        self._beat_ns: dict[str, int] = {}  # endpoint -> our clock at its last heartbeat
        self._alive: dict[str, bool] = {}
        self._hb_rejected: dict[str, int] = {}
        self._remote: Mapping[str, str | int | float | None] = {}
        self.error: BaseException | None = None
        #: called in the event loop with (the heartbeat's sent time, our clock at its
        #: reception) [ns] for every verified partner heartbeat (the clock measurement)
        self.on_heartbeat: Callable[[int, int], None] | None = None

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start one subscriber thread per endpoint (call from the event loop)."""
        self._loop = asyncio.get_running_loop()
        for endpoint in self.cfg.endpoints:
            t = threading.Thread(
                target=self._run,
                args=(endpoint,),
                name=f"eew-partner-{self.cfg.agency}-{endpoint}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    async def close(self, timeout_s: float = 2.0) -> None:
        """Stop the threads; their sockets and contexts are closed by the threads."""
        self._stop.set()
        threads, self._threads = self._threads, []
        for t in threads:
            await asyncio.to_thread(t.join, timeout_s)
            if t.is_alive():
                raise RuntimeError(f"partner feed thread {t.name} did not stop in {timeout_s} s")

    # ---- consumer side (event loop) ---------------------------------------------------------
    async def get(self) -> Item:
        """The next partner alert (first) or pick, with its arrival time [ns].

        Raises
        ------
        Exception
            What a subscriber thread died of.
        """
        while True:
            if self.error is not None:
                raise self.error
            item = self.get_nowait()
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()

    def get_nowait(self) -> Item | None:
        """The next queued alert (first) or pick, or None."""
        if self._alerts:
            return self._alerts.popleft()
        return self._picks.popleft() if self._picks else None

    def data_end_ns(self) -> int | None:
        """Oldest newest-data time over the partner's heartbeats [ns], or None."""
        with self._lock:
            ends = list(self._data_end.values())
        return min(ends) if ends else None

    def statistics(self) -> LinkStatistics:
        """A snapshot of the counters."""
        with self._lock:
            c = dict(self._counts)
            gates = list(self._gates.values())
            beats = [self._beat_ns.get(e) for e in self.cfg.endpoints]
            alive = sum(self._alive.values())
            rejected = sum(self._hb_rejected.values())
            remote = self._remote
        now = self.clock.now_ns()
        age = max(((now - b) / 1e9 if b is not None else math.inf for b in beats), default=math.inf)
        total = {f.name: sum(getattr(g, f.name) for g in gates) for f in fields(GateStatistics)}
        return LinkStatistics(
            feeds=len(self.cfg.endpoints),
            picks=c["picks"],
            alerts=c["alerts"],
            heartbeats=c["heartbeats"],
            queued=len(self._picks) + len(self._alerts),
            dropped=c["dropped"],
            gate=GateStatistics(**total),
            alive=alive,
            heartbeat_age_s=age,
            heartbeats_rejected=rejected,
            remote=remote,
        )

    # ---- subscriber threads -----------------------------------------------------------------
    def _put(self, item: Item) -> None:
        if isinstance(item[0], Alert):
            self._alerts.append(item)
        else:
            if len(self._picks) == self._picks.maxlen:
                with self._lock:
                    self._counts["dropped"] += 1
            self._picks.append(item)
        self._ready.set()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._ready.set()

    def _run(self, endpoint: str) -> None:
        loop = self._loop
        assert loop is not None

        def on_message(msg: BusMessage | None, sub: Subscriber) -> None:
            st = sub.statistics()
            with self._lock:
                self._gates[endpoint] = st.messages
                self._alive[endpoint] = st.heartbeats_alive
                self._hb_rejected[endpoint] = st.heartbeats_rejected
            body = msg.body if msg is not None else None
            if isinstance(body, (Pick, Alert)):
                key = "picks" if isinstance(body, Pick) else "alerts"
                with self._lock:
                    self._counts[key] += 1
                loop.call_soon_threadsafe(self._put, (body, self.clock.now_ns()))
            elif isinstance(body, Heartbeat):
                received = self.clock.now_ns()
                with self._lock:
                    self._counts["heartbeats"] += 1
                    self._beat_ns[endpoint] = received
                    if body.health.last_packet_time_ns is not None:
                        self._data_end[endpoint] = body.health.last_packet_time_ns
                    self._remote = body.health.partner
                if self.on_heartbeat is not None:
                    loop.call_soon_threadsafe(self.on_heartbeat, body.sent_time_ns, received)

        run_feed(
            endpoint,
            verifier=self._verifier,
            clock=self.clock,
            curve=self._curve,
            kinds=self._kinds,
            max_clock_skew_s=self.cfg.max_clock_skew_s,
            stop=self._stop,
            on_message=on_message,
            loop=loop,
            on_crash=self._fail,
            what="partner feed",
        )
