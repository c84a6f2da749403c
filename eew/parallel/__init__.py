"""Replay of long archives on several cores (``eew replay --jobs N``), identical to one core.

Two ways to share an archive out
--------------------------------
**Time chunks** (``--split time``; :mod:`eew.parallel.chunks`). Each worker replays a
stretch of time with the whole chain, after a warm-up (``--chunk-warmup``, 900 s by
default) whose results it throws away; the parent writes the chunks' results one after the
other. The workers never wait for each other, so this scales with the cores, less the
warm-ups: about ``(T + (N - 1) W) / N`` of one core's time for ``T`` seconds of data. The
output is the single run's as long as every state has forgotten the chunk's start by the
end of its warm-up, which the module explains and the parent checks at every edge (and
where it has not, replays that chunk with a longer warm-up).

**Channels** (``--split channels``, below). Every worker runs the router over the whole
time span for its share of the channels; the event core runs once, in the parent, on the
merged picks. The output is the single run's bit for bit whatever the archive, but the
parent's share (the window rescans, the merge, the event core) and the messages between the
processes cost about a fifth more CPU than one run and do not scale.

``--split auto`` (the default) takes time chunks when each would hold at least two
warm-ups of data (:func:`~eew.parallel.plan.use_time_chunks`), and channels for shorter
archives.

Channels
--------
A chunk in time that starts with a warm-up cannot reproduce a single run bit for bit: the
per-channel chain (:mod:`eew.dsp.chain`) carries two trapezoid integrators whose state never
forgets a constant, so the velocity and displacement of a warmed-up chunk differ from the
single run's in their last bits for ever (below the 7 digits written). The channel split
does not have this limit: every worker runs the router
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

A long archive comes window by window of end time (:mod:`eew.acquisition.windowed`). Its
first pass over every file runs on the workers, started and otherwise idle then
(:meth:`WorkerPool.scan`): each scans a run of consecutive files and the parent joins their
block summaries in file order (:func:`~eew.acquisition.windowed.combine_scans`), the index
one pass gives. Then the parent scans each window's headers and hands every worker its rows
of it (compact columns; the worker reads the bytes itself), the next window before it
merges the current one, and carries what the merge needs across the window edge (each
station's newest data, each channel's first packet). Windows are not chunks: the workers'
chains run on from one window to the next.

Records are split into shorter packets (``replay.max_packet_samples > 0``) only in one
process: the parallel path needs one packet per record and falls back with a log line.

Workers are forked on Linux: they start with the parent's imports and inventory (a spawned
worker spends about 2 s of CPU importing numba, scipy and the pipeline and reading the
inventory before its first record, as much as an hour of 198 channels costs it to replay).
The parent forks all of them before it puts anything on a queue (no queue thread yet), and
each uses only its own two queues; elsewhere they are spawned (``spawn``: macOS system
libraries do not survive a fork). Each sends its results in batches through a bounded
queue, so a slow parent stops the workers instead of filling the memory.

The package: :mod:`eew.parallel.messages` (what goes between the parent and the workers,
and the :class:`ReplayResult`), :mod:`eew.parallel.worker` (the workers and their
:class:`WorkerPool`), :mod:`eew.parallel.parent` (the channel split's scheduling and
merge), :mod:`eew.parallel.chunks` (the time chunks, cut by :mod:`eew.parallel.plan`),
:mod:`eew.parallel.stats` (the parts' counters added up); here :func:`replay_archive`, the
entry point of the single and both parallel runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from eew.acquisition.archive import ArchiveIndex, iter_packets
from eew.acquisition.windowed import StreamingIndex, iter_stream_packets
from eew.assembly import Sink, Stages, build_chain
from eew.config import Config
from eew.inventory import Inventory
from eew.model.clock import DataClock
from eew.model.packet import Packet
from eew.parallel.chunks import WARMUP_S, replay_chunks
from eew.parallel.messages import BATCH_PACKETS, QUEUE_MESSAGES, ReplayResult
from eew.parallel.parent import ParallelReplay
from eew.parallel.plan import use_time_chunks
from eew.parallel.worker import WorkerPool, start_method

__all__ = [
    "BATCH_PACKETS",
    "QUEUE_MESSAGES",
    "ReplayResult",
    "WorkerPool",
    "replay_archive",
    "start_method",
]

log = logging.getLogger("eew.parallel")


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
    split: str = "auto",
    warmup_s: float = WARMUP_S,
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
    split : str
        ``time``: time chunks with a warm-up (:mod:`eew.parallel.chunks`), ``channels``:
        channels shared out, ``auto``: time chunks for archives long enough
        (:func:`~eew.parallel.plan.use_time_chunks`), else channels.
    warmup_s : float
        The time chunks' warm-up [s].
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
    if isinstance(idx, StreamingIndex) and use_time_chunks(split, idx, n_jobs, warmup_s):
        if pool is None:
            pool = WorkerPool(n_jobs, config, config_hash, inventory_paths, inventory=inventory)
        try:
            return replay_chunks(
                idx, pool, sink, stages, warmup_s, (config, config_hash, inventory), on_progress
            )
        finally:
            pool.close()
    if pool is None:
        pool = WorkerPool(
            min(n_jobs, len(idx.channel_ids)),
            config,
            config_hash,
            inventory_paths,
            inventory=inventory,
        )
    try:
        replay = ParallelReplay(idx, config, config_hash, inventory, sink, stages)
        return replay.run(pool, on_progress)
    finally:
        pool.close()
