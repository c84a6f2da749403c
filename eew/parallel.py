"""Replay of long archives on several cores (``eew replay --jobs N``), identical to one core.

Why channels and not time chunks
--------------------------------
A chunk in time that starts with a warm-up cannot reproduce a single run bit for bit: the
per-channel chain (:mod:`eew.dsp.chain`) carries two trapezoid integrators and a running-mean
baseline whose state never forgets, so the velocity and displacement of a warmed-up chunk
differ from the single run's in the last digits for ever, and a pick's ``pd_cm`` would too.
The archive is therefore split **by channel**: every worker runs the router
(:class:`~eew.detect.router.Pipeline`, built by :func:`eew.assembly.build_chain`) over the
whole time span for its share of the channels, with the state carried from the first record
to the last, exactly as the single run does. A channel's processing depends on nothing but
its own packets and the data clock, and the data clock at a packet is that packet's end time
(packets are delivered in order of end time), so each worker's picks are the single run's.

The event core runs once, in the parent, on the merged results: the workers tag every result
with the position of its packet in the archive's arrival order, and the parent feeds them to
an event-only chain in that order, ticking it at the packets where the single run's tick has
work (:meth:`~eew.event.core.EventCore.idle_until_ns`), with the same clock and the same
``data_end_ns`` per station. No event ever straddles a chunk edge, because there is no edge
in time: the output (JSON Lines, order included) is the single run's. The end of the data
(``flush``) finishes each channel's picks in the order the single run created the channels.

A long archive comes window by window of end time (:mod:`eew.acquisition.windowed`): the
parent scans each window's headers and hands every worker its rows of it (the worker reads
the bytes itself), the next window before it merges the current one, and carries what the
merge needs across the window edge (each station's newest data, each channel's first
packet). Windows are not chunks: the workers' chains run on from one window to the next.

Records are split into shorter packets (``replay.max_packet_samples > 0``) only in one
process: the parallel path needs one packet per record and falls back with a log line.

Workers are forked on Linux: they start with the parent's imports and inventory (a spawned
worker spends about 2 s of CPU importing numba, scipy and the pipeline and reading the
inventory before its first record, as much as an hour of 198 channels costs it to replay).
The parent forks all of them before it puts anything on a queue (no queue thread yet), and
each uses only its own two queues; elsewhere they are spawned (``spawn``: macOS system
libraries do not survive a fork). Each sends its results in batches through a bounded
queue, so a slow parent stops the workers instead of filling the memory.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing as mp
import os
import queue
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from eew.acquisition import scan
from eew.acquisition.archive import (
    C_CHANNEL,
    C_FILE,
    ArchiveIndex,
    decode_rows,
    iter_packets,
    read_file,
)
from eew.acquisition.windowed import StreamingIndex, iter_stream_packets
from eew.assembly import Sink, Stages, build_chain
from eew.config import Config
from eew.detect.batch import EXPIRY_NS, BatchRunner, array_list
from eew.detect.peaks import PeakStore
from eew.detect.router import PipelineStatistics
from eew.detect.state import ChannelCounts
from eew.event.core import EventStatistics
from eew.inventory import Inventory, load_inventory
from eew.model.clock import DataClock
from eew.model.packet import Packet

log = logging.getLogger("eew.parallel")

#: packets a worker processes between two messages (its progress mark)
BATCH_PACKETS = 2048
#: messages a worker may have queued before it waits for the parent
QUEUE_MESSAGES = 32


@dataclass
class ReplayResult:
    """What a replay leaves besides its results: counters for the summary.

    Attributes
    ----------
    statistics : PipelineStatistics
        The per-channel stage's counters (summed over the workers).
    events : EventStatistics or None
        The event stage's counters (None without one).
    ingest : Counter
        Ingest counters (files, records, corrupt records...).
    jobs : int
        Processes that ran the channels (1: the single run).
    worker_cpu_s : list of float
        CPU time of each worker process [s] (empty for the single run).
    """

    statistics: PipelineStatistics
    events: EventStatistics | None
    ingest: Counter[str]
    jobs: int = 1
    worker_cpu_s: list[float] = field(default_factory=list)


def replay_archive(
    idx: ArchiveIndex | StreamingIndex,
    config: Config,
    config_hash: str,
    inventory: Inventory,
    inventory_paths: Sequence[str],
    sink: Sink,
    *,
    stages: Stages | None = None,
    jobs: int = 1,
    on_packet: Callable[[Packet], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    pool: WorkerPool | None = None,
    clock: DataClock | None = None,
) -> ReplayResult:
    """Replay an indexed archive through the chain on ``jobs`` processes.

    Parameters
    ----------
    idx : ArchiveIndex or StreamingIndex
        From :func:`eew.acquisition.archive.index_archive`, or for a long archive from
        :func:`eew.acquisition.windowed.scan_archive` (replayed window by window).
    config, config_hash : Config, str
        Processing configuration and the hash stamped on alerts.
    inventory : Inventory
        Station metadata (loaded from ``inventory_paths``).
    inventory_paths : sequence of str
        StationXML files the workers load.
    sink : callable
        Receives every result in the single run's order.
    stages : Stages, optional
        Default both; ``events`` off is ``eew replay --picks-only``.
    jobs : int
        Processes for the channels; 1 runs everything here (the single run).
    on_packet : callable, optional
        Called before each packet (single run only: pacing, progress).
    on_progress : callable, optional
        Called with the number of packets done (parallel run).
    pool : WorkerPool, optional
        Workers started before the indexing (its size is the number of jobs); closed here.
        Without one, ``jobs > 1`` starts its own.
    clock : DataClock, optional
        The single run's clock (e.g. shared with the web console); a new one by default.
    """
    stages = stages if stages is not None else Stages()
    if pool is not None:
        jobs = len(pool)
    n_jobs = jobs
    if n_jobs > 1 and config.replay.max_packet_samples > 0:
        log.warning(
            "replay.max_packet_samples = %d: records are cut into packets in one process only; "
            "--jobs %d ignored",
            config.replay.max_packet_samples,
            jobs,
        )
        n_jobs = 1
    if n_jobs <= 1 or len(idx.channel_ids) <= 1 or len(idx) == 0:
        if pool is not None:
            pool.close()
        chain = build_chain(
            config,
            config_hash,
            sink,
            clock if clock is not None else DataClock(),
            stages=stages,
            inventory=inventory,
        )
        n_max = config.replay.max_packet_samples
        if n_max <= 0 and on_packet is None:  # many packets per numba call (eew.detect.batch)
            chain.run_windows(idx.windows() if isinstance(idx, StreamingIndex) else [idx])
        else:
            packets = (
                iter_stream_packets(idx, n_max)
                if isinstance(idx, StreamingIndex)
                else iter_packets(idx, n_max)
            )
            chain.run(packets, on_packet)
        stats = chain.statistics()
        assert stats is not None
        return ReplayResult(stats, chain.event_statistics(), idx.counters, 1)
    if pool is None:
        pool = WorkerPool(
            min(n_jobs, len(idx.channel_ids)),
            config,
            config_hash,
            inventory_paths,
            inventory=inventory,
        )
    try:
        return _Parallel(idx, config, config_hash, inventory, sink, stages).run(pool, on_progress)
    finally:
        pool.close()


# ---- the workers ------------------------------------------------------------------------------
def start_method() -> str:
    """How workers start: ``fork`` on Linux (see the module docstring), else ``spawn``.

    ``EEW_REPLAY_START`` (``fork``, ``spawn`` or ``forkserver``) overrides it.
    """
    method = os.environ.get("EEW_REPLAY_START", "")
    if method in mp.get_all_start_methods():
        return method
    return "fork" if sys.platform.startswith("linux") else "spawn"


@dataclass
class _WorkerSpec:
    """A worker's share of one window (pickled into the spawned process)."""

    files: list[tuple[str, int, int]]  # (path, byte offset, size; -1: to the end)
    channel_ids: list[str]
    table: np.ndarray  # rows in arrival order, C_FILE renumbered into ``files``
    rate_hz: np.ndarray
    end_ns: np.ndarray
    positions: np.ndarray  # position of each row in the whole archive's arrival order
    last: int  # position of the window's last packet (the worker's mark when done)


@dataclass
class _Batch:
    """A worker's message: results and facts up to its progress mark."""

    mark: int  # every packet of this worker up to this position is done
    results: list[tuple[int, list[object]]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # records that could not be decoded
    known: list[tuple[str, int, bool]] = field(default_factory=list)  # (channel, pos, known)
    #: the packets' peak motions for the parent's event core (eew.detect.peaks): positions,
    #: station numbers (into ``stations``), end times [ns], peaks [cm/s²], peaks [cm/s]
    peaks: tuple[np.ndarray, ...] = ()
    stations: list[str] = field(default_factory=list)


@dataclass
class _End:
    """A worker's last message: the end-of-data results and its counters."""

    flushed: list[object]
    statistics: PipelineStatistics
    ingest: Counter[str]
    cpu_s: float = 0.0  # the worker's CPU time (user + system) [s]


@dataclass
class _Setup:
    """What a worker needs before the work: the chain's configuration."""

    config: Config
    config_hash: str
    inventory_paths: list[str]
    log_level: int
    quiet_channels: bool = False  # per-channel warnings held back (eew replay without -v)


def _worker(out: Any, control: Any, inventory: Inventory | None = None) -> None:
    """Run the router over one share of the channels (runs in a spawned process).

    The worker builds its chain as soon as it starts (:class:`_Setup`), while the parent
    is still indexing the archive, then waits for its share (:class:`_WorkerSpec`; None: no
    work). Both come through ``control``, not as process arguments, whose pickle the parent
    would write while the child is still importing. A forked worker gets the parent's
    ``inventory`` (no copy is made); a spawned one loads it.
    """
    try:
        setup = control.get()
        logging.basicConfig(
            level=setup.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,  # a forked worker has the parent's handlers
        )
        if setup.quiet_channels:
            logging.getLogger("eew.detect").setLevel(logging.ERROR)
        _work(setup, out, control, inventory)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        out.put(("error", exc))
    # Everything is sent once the queue's feeder thread has written it: leave without the
    # interpreter's teardown (numba, scipy, LLVM), which takes seconds on a busy machine and
    # which the parent would wait for when it joins the workers.
    out.close()
    out.join_thread()
    sys.stderr.flush()
    os._exit(0)


def _work(setup: _Setup, out: Any, control: Any, inventory: Inventory | None) -> None:
    if inventory is None:
        inventory = load_inventory(setup.inventory_paths)
    results: list[object] = []
    clock = DataClock()
    chain = build_chain(
        setup.config,
        setup.config_hash,
        results.append,
        clock,
        stages=Stages(channels=True, events=False),
        inventory=inventory,
    )
    router = chain.router
    assert router is not None
    runner = BatchRunner(chain)
    spec = control.get()
    if spec is None:
        return
    seen: set[str] = set()
    ingest: Counter[str] = Counter()
    while isinstance(spec, _WorkerSpec):
        _work_window(spec, chain, runner, results, seen, ingest, out)
        spec = control.get()
    final_ns = spec  # the clock at the end of the whole archive
    runner.finish()
    clock.observe_ns(final_ns)
    router.flush()
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    end = _End(results[:], router.statistics(), ingest, use.ru_utime + use.ru_stime)
    out.put(("end", end))


def _work_window(
    spec: _WorkerSpec,
    chain: Any,
    runner: BatchRunner,
    results: list[object],
    seen: set[str],
    ingest: Counter[str],
    out: Any,
) -> None:
    """Feed one window's share to the chain; send the results in batches.

    The records go through :class:`eew.detect.batch.BatchRunner`, :data:`BATCH_PACKETS` at a
    time; each batch carries their results, peaks and undecodable positions.
    """
    router = chain.router
    idx = ArchiveIndex(counters=ingest)
    for path, offset, size in spec.files:
        buf = read_file(path, offset, size)
        idx.buffers.append(buf)
        idx.arrays.append(np.frombuffer(buf, dtype=np.uint8))
        idx.sources.append(path)
    idx.channel_ids = spec.channel_ids
    idx.table, idx.rate_hz, idx.end_ns = spec.table, spec.rate_hz, spec.end_ns
    n = spec.table.shape[0]
    idx.order = np.arange(n)
    if n == 0:
        out.put(("batch", _Batch(spec.last)))
        return
    positions = spec.positions
    runner.bind(spec.channel_ids)
    arrays = array_list(idx.arrays)
    for k0 in range(0, n, BATCH_PACKETS):
        k1 = min(n, k0 + BATCH_PACKETS)
        batch = _Batch(-1)

        def after(j: int, pkt: Packet | None, batch: _Batch = batch, k0: int = k0) -> None:
            pos = int(positions[k0 + j])
            if pkt is None:
                batch.skipped.append(pos)
                return
            cid = pkt.channel_id
            if cid not in seen:
                seen.add(cid)
                batch.known.append((cid, pos, router.has_channel(cid)))
            if results:
                batch.results.append((pos, results[:]))
                results.clear()

        rows = decode_rows(idx, k0, k1, arrays)
        peak = runner.feed_rows(idx, rows, after)
        st = runner.station_rows(rows)
        keep = (np.isfinite(peak[:, 0]) | np.isfinite(peak[:, 1])) & (st >= 0)
        batch.peaks = (
            positions[k0:k1][keep],
            st[keep],
            rows.end[keep],
            peak[keep, 0],
            peak[keep, 1],
        )
        batch.stations = runner.station_names()
        batch.mark = int(positions[k1 - 1]) if k1 < n else spec.last
        out.put(("batch", batch))


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


class WorkerPool:
    """Worker processes for a parallel replay, started before the archive is indexed.

    Their start (interpreter, imports, numba cache, inventory, chain) then overlaps the
    parent's indexing. Pass the pool to :func:`replay_archive`; :meth:`close` it after.

    Parameters
    ----------
    jobs : int
        Processes.
    config, config_hash : Config, str
        Processing configuration and its hash.
    inventory_paths : sequence of str
        StationXML files the workers load.
    quiet_channels : bool
        The workers log no per-channel warnings (``eew.detect``), ERROR and above only.
    inventory : Inventory, optional
        The inventory loaded from ``inventory_paths``: forked workers use it as it is.
    """

    def __init__(
        self,
        jobs: int,
        config: Config,
        config_hash: str,
        inventory_paths: Sequence[str],
        *,
        quiet_channels: bool = False,
        inventory: Inventory | None = None,
    ) -> None:
        method = start_method()
        ctx: Any = mp.get_context(method)
        if method != "fork":
            inventory = None  # spawned: loaded there (a pickle would cost the parent)
        setup = _Setup(
            config,
            config_hash,
            list(inventory_paths),
            logging.getLogger().getEffectiveLevel(),
            quiet_channels,
        )
        self.outs = [ctx.Queue(QUEUE_MESSAGES) for _ in range(jobs)]
        self.controls = [ctx.Queue(2) for _ in range(jobs)]
        self.procs = [
            ctx.Process(target=_worker, args=(o, c, inventory), name=f"eew-replay-{j}", daemon=True)
            for j, (o, c) in enumerate(zip(self.outs, self.controls, strict=True))
        ]
        self._given = False
        for p in self.procs:  # all forked before the first put starts a queue thread
            p.start()
        for c in self.controls:
            c.put(setup)

    def __len__(self) -> int:
        return len(self.procs)

    def give(self, specs: Sequence[_WorkerSpec]) -> None:
        """Hand each worker its share of the next window."""
        self._given = True
        for c, spec in zip(self.controls, specs, strict=True):
            c.put(spec)

    def close(self) -> None:
        """Stop the workers (those never given work are told to quit)."""
        if not self._given:
            self._given = True
            for c in self.controls:
                c.put(None)
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()


# ---- the parent -------------------------------------------------------------------------------
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


class _Parallel:
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
    ) -> list[_WorkerSpec]:
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
            specs.append(
                _WorkerSpec(
                    extents,
                    self.idx.channel_ids,
                    table,
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
            batch = self._receive(procs[j], outs[j], "batch")
            assert isinstance(batch, _Batch)
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
        ends: list[_End] = []
        for p, o in zip(procs, outs, strict=True):
            end = self._receive(p, o, "end")
            assert isinstance(end, _End)
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
            self._statistics([e.statistics for e in ends]),
            self.chain.event_statistics() if self.chain is not None else None,
            self._ingest([e.ingest for e in ends]),
            len(procs),
            [e.cpu_s for e in ends],
        )

    def _receive(self, proc: Any, out: Any, kind: str) -> object:
        while True:
            try:
                tag, payload = out.get(timeout=1.0)
            except queue.Empty:
                if not proc.is_alive():
                    raise RuntimeError(
                        f"parallel replay: worker {proc.name} stopped (exit code {proc.exitcode})"
                    ) from None
                continue
            if tag == "error":
                raise payload
            if tag != kind:
                raise RuntimeError(f"parallel replay: {kind} expected from {proc.name}, got {tag}")
            return payload

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
        """Hold a batch's peaks until the merge reaches their packets (in packet order)."""
        held = self._peaks_held
        new = (pos, rows, end, acc, vel)
        parts = [np.concatenate([h, x]) for h, x in zip(held, new, strict=True)]
        order = np.argsort(parts[0], kind="stable")
        self._peaks_held = tuple(x[order] for x in parts)

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

    def _statistics(self, parts: list[PipelineStatistics]) -> PipelineStatistics:
        per: dict[str, ChannelCounts] = {}
        unknown_packets = 0
        for s in parts:
            per.update(s.per_channel)
            unknown_packets += s.packets - sum(c.packets for c in s.per_channel.values())
        per = dict(sorted(per.items()))
        total = sum(per.values(), ChannelCounts())
        span = (self._span[1] - self._span[0]) / 1e9 if self._span else 0.0
        return PipelineStatistics(
            channels=len(per),
            packets=total.packets + unknown_packets,
            samples=total.samples,
            picks=total.picks,
            pick_messages=total.pick_messages,
            rejections=dict(sorted(total.rejections.items())),
            data_problems=total.data_problems(),
            unknown_channels=sum(s.unknown_channels for s in parts),
            data_span_s=span,
            per_channel=per,
        )

    def _ingest(self, parts: list[Counter[str]]) -> Counter[str]:
        out = Counter(self.idx.counters)
        for c in parts:
            for k, v in c.items():
                if k not in ("files", "records"):
                    out[k] += v
        return out
