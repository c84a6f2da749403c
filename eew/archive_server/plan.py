"""What one streaming server connection sends: requests resolved into vectorised masks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.protocol import (
    Selector,
    selection_matches,
    station_matches,
    unwrap_sequence,
)
from eew.archive_server.feed import ArchiveFeed

log = logging.getLogger("eew.archive_server.server")

_NEVER = np.iinfo(np.int64).max


@dataclass
class Request:
    """What one STATION (or the uni-station mode) asked for."""

    network: str = "*"
    station: str = "*"
    selectors: tuple[Selector, ...] = ()
    action: str = ""  # DATA, FETCH or TIME
    seq: int | None = None
    begin_ns: int | None = None
    end_ns: int | None = None
    #: ``DATA seq time``: where to start by data time when ``seq`` is not in the ring
    resume_ns: int | None = None
    #: SeedLink 4: the ``STATION`` pattern on ``NET_STA`` (None: a v3 request)
    station_id: str | None = None
    #: SeedLink 4 selectors (with their ``:3``/``:native`` filters)
    stream_selectors: tuple[v4.StreamSelector, ...] = ()
    #: SeedLink 4 ``DATA ALL``: from the oldest packet in the ring
    all_data: bool = False


class Plan:
    """Which packets of the feed a streaming connection sends (vectorised).

    A channel belongs to the first request whose station patterns and
    selectors match it (so several STATION requests select the union). In SeedLink 4
    a station belongs to the first ``STATION`` pattern that matches it, whatever its
    selectors (the specification excludes stations matched before); ``to_v3`` marks
    the channels sent as miniSEED 3 (a ``:3`` filter).
    """

    def __init__(self, feed: ArchiveFeed, requests: list[Request]) -> None:
        self.feed = feed
        n_ch = len(feed.codes)
        owner = np.full(n_ch, -1, np.int64)
        self.to_v3 = np.zeros(n_ch, bool)
        for c, (net, sta, loc, cha) in enumerate(feed.codes):
            for r, req in enumerate(requests):
                if req.station_id is not None:
                    if not v4.match(req.station_id, v4.station_id(net, sta)):
                        continue
                    flt = v4.select(req.stream_selectors, v4.stream_id(loc, cha), "2D")
                    if flt is not None:
                        owner[c] = r
                        self.to_v3[c] = flt == "3"
                    break
                if station_matches(req.network, req.station, net, sta) and selection_matches(
                    req.selectors, loc, cha
                ):
                    owner[c] = r
                    break
        self.chan_ok = owner >= 0
        self.from_seq = np.full(n_ch, _NEVER, np.int64)
        self.lo = np.full(n_ch, np.iinfo(np.int64).min, np.int64)
        self.hi = np.full(n_ch, _NEVER, np.int64)
        self.dialup = any(r.action == "FETCH" for r in requests)
        firsts = [self._first(r) for r in requests]
        for c in np.flatnonzero(self.chan_ok).tolist():
            req = requests[owner[c]]
            self.from_seq[c], lo = firsts[owner[c]]
            if lo is not None:
                self.lo[c] = lo
            if req.end_ns is not None:
                self.hi[c] = req.end_ns
        self.timed = bool(np.any(self.hi < _NEVER) or np.any(self.lo > np.iinfo(np.int64).min))
        self.first_seq = int(self.from_seq.min()) if n_ch else 1
        self.last_seq = _NEVER
        if self.chan_ok.any() and np.all(self.hi[self.chan_ok] < _NEVER):
            seqs = self.select(1, len(feed))
            self.last_seq = int(seqs[-1]) if len(seqs) else 0

    def _first(self, req: Request) -> tuple[int, int | None]:
        """First sequence number, and the data time records must end after (or None).

        ``DATA seq time`` whose ``seq`` is not in the ring (it left it, or the ring was
        reset and has not reached it yet) starts at the oldest packet that ends after
        ``time``, as the SeedLink 3.1 specification describes the optional begin time.
        """
        feed = self.feed
        if req.action == "TIME":
            return feed.oldest, req.begin_ns
        if req.station_id is not None:
            return self._first_v4(req)
        if req.seq is None:
            return feed.newest + 1, None
        full = unwrap_sequence(req.seq, len(feed))
        if feed.oldest <= full <= feed.newest + 1:
            return full, None
        if req.resume_ns is not None:
            log.info(
                "resume from %d: not in the ring (%d-%d); starting by data time",
                full,
                feed.oldest,
                feed.newest,
            )
            return feed.oldest, req.resume_ns
        if full < 1:
            return feed.newest + 1, None
        if full < feed.oldest:
            log.warning("resume from %d: packets before %d left the ring", full, feed.oldest)
            return feed.oldest, None
        return full, None

    def _first_v4(self, req: Request) -> tuple[int, int | None]:
        """SeedLink 4 ``DATA [seq|-1|ALL] [start [end]]``: the full 64-bit sequence number.

        A number that left the ring starts at the oldest packet, as the specification
        asks (the next available one); one not reached yet is waited for. ``-1`` or
        none starts with new packets, unless a time window is given, which is searched
        for in the whole ring. With a start time (the client's resume time) a number
        beyond the newest packet (a restarted, fresh ring) starts at the oldest packet
        that ends after that time.
        """
        feed = self.feed
        if req.all_data or (req.seq is None and req.begin_ns is not None):
            return feed.oldest, req.begin_ns
        if req.seq is None:
            return feed.newest + 1, None
        if req.seq < feed.oldest:
            log.warning("resume from %d: packets before %d left the ring", req.seq, feed.oldest)
            return feed.oldest, req.begin_ns
        if req.seq > feed.newest + 1 and req.begin_ns is not None:
            # a fresh ring has not reached the number: the time says where to start
            log.info("resume from %d: not in the ring yet; starting by data time", req.seq)
            return feed.oldest, req.begin_ns
        return req.seq, req.begin_ns

    def select(self, a: int, b: int) -> np.ndarray:
        """Sequence numbers in ``[a, b]`` this connection sends."""
        f = self.feed
        sl = slice(a - 1, b)
        ch = f.channel[sl]
        seqs = np.arange(a, b + 1, dtype=np.int64)
        m = self.chan_ok[ch] & (seqs >= self.from_seq[ch])
        if self.timed:
            m &= (f.end_ns[sl] > self.lo[ch]) & (f.start_ns[sl] < self.hi[ch])
        selected: np.ndarray = seqs[m]
        return selected
