"""The parent side of a parallel replay: scheduling the windows and merging the results.

:class:`ParallelReplay` shares the channels out over the workers, hands each its rows of
every window (the next one before it merges the current one), merges the workers' results
in packet order into the event-only chain (the event core runs here, once), holds the
workers' peaks until the merge reaches their packets, skips the idle event core's expiry
ticks in one call (:func:`_idle_expiries`), and carries across the window edges what the
merge needs. The reasoning is in :mod:`eew.parallel`.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from eew.acquisition import scan
from eew.acquisition.archive import C_CHANNEL, C_FILE, ArchiveIndex
from eew.acquisition.windowed import StreamingIndex
from eew.assembly import Sink, Stages, build_chain
from eew.config import Config
from eew.detect.batch import EXPIRY_NS
from eew.detect.peaks import PeakStore
from eew.inventory import Inventory
from eew.model.clock import DataClock
from eew.parallel.messages import Batch, End, ReplayResult, WorkerSpec
from eew.parallel.stats import sum_statistics
from eew.parallel.worker import WorkerPool, receive


@njit(cache=True)
def _idle_expiries(
    tick_pos: np.ndarray, tick_end: np.ndarray, i: int, last: int, expired_at: int, every: int
) -> tuple[int, int]:
    """The idle event core's expiry ticks among ticks ``i...`` up to window position ``last``.

    A tick is due at the first packet (of a station the router keeps) ending at least
    ``every`` after the last expiry (:meth:`~eew.event.core.EventCore.tick`); while the
    core is idle (:meth:`~eew.event.core.EventCore.idle_expiry`) it only notes its time.
    Returns the last expiry time [ns] and the window position of its packet (-1: none).
    """
    done = -1
    n = tick_pos.shape[0]
    while True:
        j = max(i, int(np.searchsorted(tick_end, expired_at + every)))
        if j >= n or tick_pos[j] > last:
            return expired_at, done
        expired_at = tick_end[j]
        done = tick_pos[j]
        i = j + 1


@dataclass
class _Window:
    """The parent's view of one window: arrays by position in the window."""

    base: int  # position of its first packet in the whole archive
    end: np.ndarray  # non-decreasing: the arrival order is by end time
    start: np.ndarray
    chan: np.ndarray
    station_pos: dict[str, np.ndarray]  # positions of the packets the router keeps
    tick_pos: np.ndarray
    tick_end: np.ndarray

    @property
    def last(self) -> int:
        """Position of the window's last packet in the whole archive."""
        return self.base + int(self.end.shape[0]) - 1


class ParallelReplay:
    """The parent of a parallel replay: windows out to the workers, results merged in order.

    Parameters
    ----------
    idx : ArchiveIndex or StreamingIndex
        The archive (one window, or window by window).
    config, config_hash : Config, str
        Processing configuration and the hash stamped on alerts.
    inventory : Inventory
        Station metadata (which channels the router keeps, and their stations).
    sink : callable
        Receives every result in the single run's order.
    stages : Stages
        With ``events``, the parent runs the event core on the merged results.
    """

    def __init__(
        self,
        idx: ArchiveIndex | StreamingIndex,
        config: Config,
        config_hash: str,
        inventory: Inventory,
        sink: Sink,
        stages: Stages,
    ) -> None:
        self.idx = idx
        self.config = config
        self.config_hash = config_hash
        self.inventory = inventory
        self.sink = sink
        self.skipped: set[int] = set()
        self.clock = DataClock()
        self._limit = -1  # packets up to this position count in data_end_ns
        self._known: dict[str, bool] = {}
        self._station_of: dict[int, str | None] = {}  # channel number -> station (None: not kept)
        self._station_end: dict[str, int] = {}  # last end per station, windows merged so far
        self._first_pos: dict[str, int] = {}  # channel -> position of its first decoded packet
        self._span: list[int] = []  # earliest start, latest end of the decoded packets
        self._last_end: int | None = None  # end of the last decoded packet
        self.w: _Window | None = None
        self.chain = None
        #: the stations' peak accelerations and velocities, from the workers' batches
        self.peaks = PeakStore()
        #: peaks received, not yet added: positions, station rows, ends [ns], accelerations,
        #: velocities, by position
        self._peaks_held: tuple[np.ndarray, ...] = (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0),
        )
        if stages.events:
            self.chain = build_chain(
                config,
                config_hash,
                sink,
                self.clock,
                stages=Stages(channels=False, events=True),
                inventory=inventory,
                data_end_ns=self._data_end_ns,
                peak_acceleration=self.peaks.peak,
                peak_velocity=self.peaks.peak_velocity,
                deferred=True,
            )
        self._emit: Callable[[object], None] = (
            self.chain.core if self.chain is not None and self.chain.core is not None else sink
        )
        self._pending: list[tuple[int, int, list[object]]] = []
        self._seq = 0
        self._done = -1

    def _window(self, win: ArchiveIndex, base: int) -> _Window:
        """The parent's arrays of a window; inventory look-ups for channels new in it."""
        order = win.order
        end = win.end_ns[order]
        start = win.table[order, scan.C_START_NS]
        chan = win.table[order, C_CHANNEL]
        ids = self.idx.channel_ids
        codes, first = np.unique(chan, return_index=True)
        for c, f in zip(codes.tolist(), first.tolist(), strict=True):
            if c not in self._station_of:
                info = self.inventory.get(ids[c], int(start[f]))
                self._known[ids[c]] = info is not None
                self._station_of[c] = info.station_id if info is not None else None
        names: list[str] = []
        station_of = np.full(len(ids), -1, np.int64)
        for c in codes.tolist():
            sid = self._station_of[c]
            if sid is not None:
                if sid not in names:
                    names.append(sid)
                station_of[c] = names.index(sid)
        st = station_of[chan]
        per = {name: np.flatnonzero(st == i) for i, name in enumerate(names)}
        tick_pos = np.flatnonzero(st >= 0)
        return _Window(base, end, start, chan, per, tick_pos, end[tick_pos])

    def _data_end_ns(self, station_id: str) -> int | None:
        w = self.w
        assert w is not None
        pos = w.station_pos.get(station_id)
        if pos is not None:
            j = int(np.searchsorted(pos, self._limit - w.base, "right")) - 1
            while j >= 0 and w.base + int(pos[j]) in self.skipped:
                j -= 1
            if j >= 0:
                return int(w.end[pos[j]])
        return self._station_end.get(station_id)

    # ---- the merge --------------------------------------------------------------------------
    def run(self, pool: WorkerPool, on_progress: Callable[[int], None] | None) -> ReplayResult:
        """Replay the archive on the pool's workers; the merged results go to the sink."""
        share = self._share(len(pool))
        if isinstance(self.idx, StreamingIndex):
            wins: Iterator[ArchiveIndex] = self.idx.windows()
        else:
            wins = iter([self.idx])
        first = next(wins, None)
        if first is None:  # replay_archive runs an archive without records in one process
            raise RuntimeError("parallel replay: the archive has no records")
        w0 = self._window(first, 0)
        pool.give(self._specs(first, w0, share, len(pool)))
        cur: tuple[ArchiveIndex, _Window] | None = (first, w0)
        marks = [-1] * len(pool)
        while cur is not None:
            # the next window goes out before this one is merged: the workers never wait
            nxt = next(wins, None)
            following = None
            if nxt is not None:
                following = (nxt, self._window(nxt, cur[1].last + 1))
                pool.give(self._specs(nxt, following[1], share, len(pool)))
            self.w = cur[1]
            self._merge_window(pool.procs, pool.outs, marks, on_progress)
            self._close_window()
            cur = following
        return self._finish(pool.procs, pool.outs, pool.controls)

    def _share(self, n_jobs: int) -> np.ndarray:
        """Worker of each channel, by samples (largest first, to the least loaded worker)."""
        idx = self.idx
        n_ch = len(idx.channel_ids)
        if isinstance(idx, StreamingIndex):
            load = idx.channel_samples
        else:
            load = np.bincount(
                idx.table[:, C_CHANNEL],
                weights=idx.table[:, scan.C_NSAMP].astype(float),
                minlength=n_ch,
            )
        share = np.zeros(n_ch, np.int64)
        heap = [(0.0, j) for j in range(n_jobs)]
        for c in sorted(range(n_ch), key=lambda c: (-load[c], idx.channel_ids[c])):
            w_load, j = heapq.heappop(heap)
            share[c] = j
            heapq.heappush(heap, (w_load + float(load[c]), j))
        return share

    def _specs(
        self, win: ArchiveIndex, w: _Window, share: np.ndarray, n_jobs: int
    ) -> list[WorkerSpec]:
        """Each worker's rows of a window; the workers read the record bytes themselves."""
        order = win.order
        specs = []
        for j in range(n_jobs):
            pos = np.flatnonzero(share[w.chan] == j)
            rows = order[pos]
            table = win.table[rows].copy()
            files, local = np.unique(table[:, C_FILE], return_inverse=True)
            table[:, C_FILE] = local
            extents = [
                (
                    win.sources[f],
                    win.offsets[f] if win.offsets else 0,
                    len(win.buffers[f]) if win.offsets else -1,
                )
                for f in files.tolist()
            ]
            wide, narrow = WorkerSpec.pack(table)
            specs.append(
                WorkerSpec(
                    extents,
                    self.idx.channel_ids,
                    wide,
                    narrow,
                    win.rate_hz[rows].copy(),
                    win.end_ns[rows].copy(),
                    pos + w.base,
                    w.last,
                )
            )
        # the workers read their own files: the parent keeps no record bytes
        win.buffers, win.arrays = [], []
        return specs

    def _merge_window(
        self,
        procs: list[Any],
        outs: list[Any],
        marks: list[int],
        on_progress: Callable[[int], None] | None,
    ) -> None:
        w = self.w
        assert w is not None
        while min(marks) < w.last:
            j = marks.index(min(marks))
            batch = receive(procs[j], outs[j], "batch")
            assert isinstance(batch, Batch)
            for cid, pos, known in batch.known:
                if known != self._known.get(cid):
                    raise RuntimeError(
                        f"parallel replay: {cid} at position {pos} is handled differently "
                        "from the single run; replay it with --jobs 1"
                    )
            self.skipped.update(batch.skipped)
            if batch.peaks and batch.peaks[0].shape[0]:
                rowmap = np.array([self.peaks.row(sid) for sid in batch.stations], np.int64)
                at, st, end, acc, vel = batch.peaks
                self._pending_peaks(at, rowmap[st], end, acc, vel)
            for pos, values in batch.results:
                heapq.heappush(self._pending, (pos, self._seq, values))
                self._seq += 1
            marks[j] = batch.mark
            upto = min(min(marks), w.last)
            self._advance(upto)
            if on_progress is not None:
                on_progress(upto + 1)

    def _close_window(self) -> None:
        """Carry what later windows need: stations' last ends, first packets, the span."""
        w = self.w
        assert w is not None
        fed = np.ones(w.end.shape[0], bool)
        gone = [p - w.base for p in self.skipped if w.base <= p <= w.last]
        if gone:
            fed[gone] = False
        for sid, pos in w.station_pos.items():
            kept = pos[fed[pos]]
            if kept.shape[0]:
                self._station_end[sid] = int(w.end[kept[-1]])
        where = np.flatnonzero(fed)
        if not where.shape[0]:
            return
        ids = self.idx.channel_ids
        codes, first = np.unique(w.chan[where], return_index=True)
        for c, f in zip(codes.tolist(), first.tolist(), strict=True):
            self._first_pos.setdefault(ids[c], w.base + int(where[f]))
        lo, hi = int(w.start[where].min()), int(w.end[where].max())
        self._span = [min(self._span[0], lo), max(self._span[1], hi)] if self._span else [lo, hi]
        self._last_end = int(w.end[where[-1]])

    def _finish(self, procs: list[Any], outs: list[Any], controls: list[Any]) -> ReplayResult:
        """End of data: the clock of the last decoded packet, then each channel's flush."""
        final_ns = self._last_end if self._last_end is not None else 0
        for c in controls:
            c.put(final_ns)
        ends: list[End] = []
        for p, o in zip(procs, outs, strict=True):
            end = receive(p, o, "end")
            assert isinstance(end, End)
            ends.append(end)
        if self._last_end is not None:
            self.clock.observe_ns(final_ns)
        self._limit = sys.maxsize
        self._peaks_upto(sys.maxsize)
        flushed: list[tuple[int, int, object]] = []
        for e in ends:
            for i, v in enumerate(e.flushed):
                flushed.append((self._first_pos[getattr(v, "channel_id")], i, v))  # noqa: B009
        for _p, _i, v in sorted(flushed, key=lambda t: (t[0], t[1])):
            self._emit(v)
        if self.chain is not None:
            self.chain.flush()
        return ReplayResult(
            sum_statistics(
                [e.statistics for e in ends],
                (self._span[1] - self._span[0]) / 1e9 if self._span else 0.0,
                same_channels=False,
            ),
            self.chain.event_statistics() if self.chain is not None else None,
            self._ingest([e.ingest for e in ends]),
            len(procs),
            [e.cpu_s for e in ends],
        )

    def _advance(self, upto: int) -> None:
        """Feed the results and the event core's ticks of every packet up to ``upto``."""
        w = self.w
        assert w is not None
        core = self.chain.core if self.chain is not None else None
        pending = self._pending
        while True:
            nxt = pending[0][0] if pending and pending[0][0] <= upto else None
            if core is not None:
                if core.idle_expiry() and not self.skipped:
                    # ticks that would only note their time as the last expiry, in one call
                    last = upto if nxt is None else nxt - 1
                    i = int(np.searchsorted(w.tick_pos, self._done - w.base, "right"))
                    expired, done = _idle_expiries(
                        w.tick_pos, w.tick_end, i, last - w.base, core._expired_at, EXPIRY_NS
                    )
                    if done >= 0:
                        core._expired_at = int(expired)
                        self._done = w.base + int(done)
                q = self._next_tick(core.idle_until_ns())
                if q <= upto and (nxt is None or q < nxt):
                    now = int(w.end[q - w.base])
                    self._limit = q
                    self.clock.observe_ns(now)
                    self._peaks_upto(q)
                    core.tick(now)
                    self._done = q
                    continue
            if nxt is None:
                break
            now = int(w.end[nxt - w.base])
            self.clock.observe_ns(now)
            self._limit = nxt - 1  # the router notes a packet's station after its results
            self._peaks_upto(nxt - 1)
            while pending and pending[0][0] == nxt:
                for v in heapq.heappop(pending)[2]:
                    self._emit(v)
            self._limit = nxt
            self._peaks_upto(nxt)
            if core is not None:
                core.tick(now)
            self._done = nxt
        self._done = max(self._done, upto)

    def _pending_peaks(
        self, pos: np.ndarray, rows: np.ndarray, end: np.ndarray, acc: np.ndarray, vel: np.ndarray
    ) -> None:
        """Hold a batch's peaks until the merge reaches their packets (in packet order).

        A batch's positions rise, and no packet has two peaks (a packet is one worker's):
        they are merged into the held ones where they belong, without a sort.
        """
        if (np.diff(pos) <= 0).any():
            raise RuntimeError("parallel replay: a batch's peaks out of packet order")
        held = self._peaks_held
        at = np.searchsorted(held[0], pos)
        self._peaks_held = tuple(
            np.insert(h, at, x) for h, x in zip(held, (pos, rows, end, acc, vel), strict=True)
        )

    def _peaks_upto(self, pos: int) -> None:
        """Add the held peaks of the packets up to position ``pos`` to the peak store."""
        held = self._peaks_held
        k = int(np.searchsorted(held[0], pos, "right"))
        if k:
            self.peaks.add_many(held[1][:k], held[2][:k], held[3][:k], held[4][:k])
            self._peaks_held = tuple(x[k:] for x in held)

    def _next_tick(self, t_ns: int | None) -> int:
        """The first packet after those done whose tick has work (a large number if none)."""
        w = self.w
        assert w is not None
        tp = w.tick_pos
        i = int(np.searchsorted(tp, self._done - w.base, "right"))
        if t_ns is not None:
            i = max(i, int(np.searchsorted(w.tick_end, t_ns, "left")))
        while i < tp.shape[0] and w.base + int(tp[i]) in self.skipped:
            i += 1
        return w.base + int(tp[i]) if i < tp.shape[0] else sys.maxsize

    def _ingest(self, parts: list[Counter[str]]) -> Counter[str]:
        out = Counter(self.idx.counters)
        for c in parts:
            for k, v in c.items():
                if k not in ("files", "records"):
                    out[k] += v
        return out
