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

Records are split into shorter packets (``replay.max_packet_samples > 0``) only in one
process: the parallel path needs one packet per record and falls back with a log line.

Workers are started with the ``spawn`` context (numba and threads do not survive a fork);
each sends its results in batches through a bounded queue, so a slow parent stops the
workers instead of filling the memory.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing as mp
import queue
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eew.acquisition import scan
from eew.acquisition.archive import C_CHANNEL, C_FILE, ArchiveIndex, iter_packets, iter_records
from eew.assembly import Sink, Stages, build_chain
from eew.config import Config
from eew.detect.peaks import PeakSample, PeakStore
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
    """

    statistics: PipelineStatistics
    events: EventStatistics | None
    ingest: Counter[str]
    jobs: int = 1


def replay_archive(
    idx: ArchiveIndex,
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
    idx : ArchiveIndex
        From :func:`eew.acquisition.archive.index_archive`.
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
    if n_jobs <= 1 or len(idx.channel_ids) <= 1:
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
        chain.run(iter_packets(idx, config.replay.max_packet_samples), on_packet)
        stats = chain.statistics()
        assert stats is not None
        return ReplayResult(stats, chain.event_statistics(), idx.counters, 1)
    if pool is None:
        pool = WorkerPool(min(n_jobs, len(idx.channel_ids)), config, config_hash, inventory_paths)
    try:
        return _Parallel(idx, config, config_hash, inventory, sink, stages).run(pool, on_progress)
    finally:
        pool.close()


# ---- the workers ------------------------------------------------------------------------------
@dataclass
class _WorkerSpec:
    """Everything a worker needs (pickled into the spawned process)."""

    files: list[str]
    channel_ids: list[str]
    table: np.ndarray  # rows in arrival order, C_FILE renumbered into ``files``
    rate_hz: np.ndarray
    end_ns: np.ndarray
    positions: np.ndarray  # position of each row in the whole archive's arrival order


@dataclass
class _Batch:
    """A worker's message: results and facts up to its progress mark."""

    mark: int  # every packet of this worker up to this position is done
    results: list[tuple[int, list[object]]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # records that could not be decoded
    known: list[tuple[str, int, bool]] = field(default_factory=list)  # (channel, pos, known)


@dataclass
class _End:
    """A worker's last message: the end-of-data results and its counters."""

    flushed: list[object]
    statistics: PipelineStatistics
    ingest: Counter[str]


@dataclass
class _Setup:
    """What a worker needs before the work: the chain's configuration."""

    config: Config
    config_hash: str
    inventory_paths: list[str]
    log_level: int
    quiet_channels: bool = False  # per-channel warnings held back (eew replay without -v)


def _worker(out: Any, control: Any) -> None:
    """Run the router over one share of the channels (runs in a spawned process).

    The worker builds its chain as soon as it starts (:class:`_Setup`), while the parent
    is still indexing the archive, then waits for its share (:class:`_WorkerSpec`; None: no
    work). Both come through ``control``, not as process arguments, whose pickle the parent
    would write while the child is still importing.
    """
    try:
        setup = control.get()
        logging.basicConfig(
            level=setup.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if setup.quiet_channels:
            logging.getLogger("eew.detect").setLevel(logging.ERROR)
        _work(setup, out, control)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        out.put(("error", exc))


def _work(setup: _Setup, out: Any, control: Any) -> None:
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
    spec = control.get()
    if spec is None:
        return
    idx = ArchiveIndex()
    for path in spec.files:
        buf = Path(path).read_bytes()
        idx.buffers.append(buf)
        idx.arrays.append(np.frombuffer(buf, dtype=np.uint8))
        idx.sources.append(path)
    idx.channel_ids = spec.channel_ids
    idx.table, idx.rate_hz, idx.end_ns = spec.table, spec.rate_hz, spec.end_ns
    idx.order = np.arange(spec.table.shape[0])
    positions = spec.positions.tolist()
    seen: set[str] = set()
    batch = _Batch(-1)
    expected = 0
    for k, pkt in iter_records(idx):
        batch.skipped.extend(positions[expected:k])
        expected = k + 1
        pos = positions[k]
        chain.feed(pkt)
        cid = pkt.channel_id
        sample = router.peak_sample(cid, pkt.endtime_ns)
        if sample is not None:
            results.append(sample)  # the parent's event core needs it (eew.detect.peaks)
        if cid not in seen:
            seen.add(cid)
            batch.known.append((cid, pos, router.has_channel(cid)))
        if results:
            batch.results.append((pos, results[:]))
            results.clear()
        if k % BATCH_PACKETS == BATCH_PACKETS - 1:
            batch.mark = pos
            out.put(("batch", batch))
            batch = _Batch(-1)
    batch.skipped.extend(positions[expected:])
    batch.mark = sys.maxsize
    out.put(("batch", batch))
    final_ns = control.get()  # the clock at the end of the whole archive
    clock.observe_ns(final_ns)
    router.flush()
    out.put(("end", _End(results[:], router.statistics(), idx.counters)))


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
    """

    def __init__(
        self,
        jobs: int,
        config: Config,
        config_hash: str,
        inventory_paths: Sequence[str],
        *,
        quiet_channels: bool = False,
    ) -> None:
        ctx = mp.get_context("spawn")
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
            ctx.Process(target=_worker, args=(o, c), name=f"eew-replay-{j}", daemon=True)
            for j, (o, c) in enumerate(zip(self.outs, self.controls, strict=True))
        ]
        self._given = False
        for p, c in zip(self.procs, self.controls, strict=True):
            p.start()
            c.put(setup)

    def __len__(self) -> int:
        return len(self.procs)

    def give(self, specs: Sequence[_WorkerSpec]) -> None:
        """Hand each worker its share (once)."""
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
class _Parallel:
    def __init__(
        self,
        idx: ArchiveIndex,
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
        order = idx.order
        self.end = idx.end_ns[order]  # non-decreasing: the arrival order is by end time
        self.start = idx.table[order, scan.C_START_NS]
        self.chan = idx.table[order, C_CHANNEL]
        self.skipped: set[int] = set()
        self.clock = DataClock()
        self._limit = -1  # packets up to this position count in data_end_ns
        self._known: dict[str, bool] = {}
        self._station_pos, self._tick_pos = self._stations()
        self._tick_end = self.end[self._tick_pos]
        self.chain = None
        #: the stations' peak accelerations, from the workers' PeakSample results
        self.peaks = PeakStore()
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
                deferred=True,
            )
        self._emit: Callable[[object], None] = (
            self.chain.core if self.chain is not None and self.chain.core is not None else sink
        )
        self._pending: list[tuple[int, int, list[object]]] = []
        self._done = -1

    def _stations(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Positions of the packets the router keeps (channels in the inventory), by station."""
        ids = self.idx.channel_ids
        first = np.full(len(ids), -1, np.int64)
        codes, where = np.unique(self.chan, return_index=True)
        first[codes] = where
        station_of = np.full(len(ids), -1, np.int64)
        names: list[str] = []
        for c in codes.tolist():
            info = self.inventory.get(ids[c], int(self.start[first[c]]))
            self._known[ids[c]] = info is not None
            if info is not None:
                if info.station_id not in names:
                    names.append(info.station_id)
                station_of[c] = names.index(info.station_id)
        st = station_of[self.chan]
        per = {name: np.flatnonzero(st == i) for i, name in enumerate(names)}
        return per, np.flatnonzero(st >= 0)

    def _data_end_ns(self, station_id: str) -> int | None:
        pos = self._station_pos.get(station_id)
        if pos is None:
            return None
        j = int(np.searchsorted(pos, self._limit, "right")) - 1
        while j >= 0 and int(pos[j]) in self.skipped:
            j -= 1
        return int(self.end[pos[j]]) if j >= 0 else None

    # ---- the merge --------------------------------------------------------------------------
    def run(self, pool: WorkerPool, on_progress: Callable[[int], None] | None) -> ReplayResult:
        pool.give(self._specs(len(pool)))
        # the workers read their own files: the parent keeps no record bytes
        self.idx.buffers, self.idx.arrays = [], []
        return self._merge(pool.procs, pool.outs, pool.controls, on_progress)

    def _specs(self, n_jobs: int) -> list[_WorkerSpec]:
        """Share out the channels by samples (largest first, to the least loaded worker)."""
        idx = self.idx
        order = idx.order
        n_ch = len(idx.channel_ids)
        load = np.bincount(
            self.chan, weights=idx.table[order, scan.C_NSAMP].astype(float), minlength=n_ch
        )
        share = np.zeros(n_ch, np.int64)
        heap = [(0.0, j) for j in range(n_jobs)]
        for c in sorted(range(n_ch), key=lambda c: (-load[c], idx.channel_ids[c])):
            w_load, j = heapq.heappop(heap)
            share[c] = j
            heapq.heappush(heap, (w_load + float(load[c]), j))
        specs = []
        for j in range(n_jobs):
            pos = np.flatnonzero(share[self.chan] == j)
            rows = order[pos]
            table = idx.table[rows].copy()
            files, local = np.unique(table[:, C_FILE], return_inverse=True)
            table[:, C_FILE] = local
            specs.append(
                _WorkerSpec(
                    [idx.sources[f] for f in files.tolist()],
                    idx.channel_ids,
                    table,
                    idx.rate_hz[rows].copy(),
                    idx.end_ns[rows].copy(),
                    pos,
                )
            )
        return specs

    def _merge(
        self,
        procs: list[Any],
        outs: list[Any],
        controls: list[Any],
        on_progress: Callable[[int], None] | None,
    ) -> ReplayResult:
        n = len(procs)
        marks = [-1] * n
        seq = 0
        while min(marks) < sys.maxsize:
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
            for pos, values in batch.results:
                heapq.heappush(self._pending, (pos, seq, values))
                seq += 1
            marks[j] = batch.mark
            upto = min(marks)
            self._advance(min(upto, len(self.end) - 1))
            if on_progress is not None:
                on_progress(min(upto, len(self.end) - 1) + 1)
        # end of data: the clock of the last decoded packet, then each channel's flush
        last = len(self.end) - 1
        while last >= 0 and last in self.skipped:
            last -= 1
        final_ns = int(self.end[last]) if last >= 0 else 0
        for c in controls:
            c.put(final_ns)
        ends: list[_End] = []
        for p, o in zip(procs, outs, strict=True):
            end = self._receive(p, o, "end")
            assert isinstance(end, _End)
            ends.append(end)
        if last >= 0:
            self.clock.observe_ns(final_ns)
        self._limit = len(self.end)
        first_pos = self._first_positions()
        flushed: list[tuple[int, int, object]] = []
        for e in ends:
            for i, v in enumerate(e.flushed):
                flushed.append((first_pos[getattr(v, "channel_id")], i, v))  # noqa: B009
        for _p, _i, v in sorted(flushed, key=lambda t: (t[0], t[1])):
            self._emit(v)
        if self.chain is not None:
            self.chain.flush()
        return ReplayResult(
            self._statistics([e.statistics for e in ends]),
            self.chain.event_statistics() if self.chain is not None else None,
            self._ingest([e.ingest for e in ends]),
            n,
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
        core = self.chain.core if self.chain is not None else None
        pending = self._pending
        while True:
            nxt = pending[0][0] if pending and pending[0][0] <= upto else None
            if core is not None:
                q = self._next_tick(core.idle_until_ns())
                if q <= upto and (nxt is None or q < nxt):
                    now = int(self.end[q])
                    self._limit = q
                    self.clock.observe_ns(now)
                    core.tick(now)
                    self._done = q
                    continue
            if nxt is None:
                break
            now = int(self.end[nxt])
            self.clock.observe_ns(now)
            self._limit = nxt - 1  # the router notes a packet's station after its results
            while pending and pending[0][0] == nxt:
                for v in heapq.heappop(pending)[2]:
                    if isinstance(v, PeakSample):
                        self.peaks.add_sample(v)
                    else:
                        self._emit(v)
            self._limit = nxt
            if core is not None:
                core.tick(now)
            self._done = nxt
        self._done = max(self._done, upto)

    def _next_tick(self, t_ns: int | None) -> int:
        """The first packet after those done whose tick has work (a large number if none)."""
        tp = self._tick_pos
        i = int(np.searchsorted(tp, self._done, "right"))
        if t_ns is not None:
            i = max(i, int(np.searchsorted(self._tick_end, t_ns, "left")))
        while i < tp.shape[0] and int(tp[i]) in self.skipped:
            i += 1
        return int(tp[i]) if i < tp.shape[0] else sys.maxsize

    def _first_positions(self) -> dict[str, int]:
        """Position of each channel's first decoded packet (the single run's channel order)."""
        ids = self.idx.channel_ids
        out: dict[str, int] = {}
        for pos, c in enumerate(self.chan.tolist()):
            if ids[c] not in out and pos not in self.skipped:
                out[ids[c]] = pos
        return out

    def _statistics(self, parts: list[PipelineStatistics]) -> PipelineStatistics:
        per: dict[str, ChannelCounts] = {}
        unknown_packets = 0
        for s in parts:
            per.update(s.per_channel)
            unknown_packets += s.packets - sum(c.packets for c in s.per_channel.values())
        per = dict(sorted(per.items()))
        total = sum(per.values(), ChannelCounts())
        fed = np.ones(len(self.end), bool)
        if self.skipped:
            fed[list(self.skipped)] = False
        span = 0.0
        if fed.any():
            span = (int(self.end[fed].max()) - int(self.start[fed].min())) / 1e9
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
