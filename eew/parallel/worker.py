"""The worker side of a parallel replay: the processes, their pool and what each one runs.

A worker (:func:`_worker`) builds a channels-only chain, takes its share of each window
(:class:`~eew.parallel.messages.WorkerSpec`), reads the record bytes itself, runs them through
:class:`eew.detect.batch.BatchRunner` and sends its results, its packets' peaks (as arrays)
and the facts the parent checks, in batches tagged with packet positions
(:class:`~eew.parallel.messages.Batch`); at the end of the data it flushes its channels
(:class:`~eew.parallel.messages.End`). :class:`WorkerPool` starts and stops the workers
(forked on Linux, spawned elsewhere: see :mod:`eew.parallel`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eew.acquisition.archive import ArchiveIndex, decode_rows, read_file
from eew.acquisition.windowed import ScanShare, scan_share
from eew.assembly import Stages, build_chain
from eew.config import Config
from eew.detect.batch import BatchRunner, array_list
from eew.inventory import Inventory, load_inventory
from eew.model.clock import DataClock
from eew.model.packet import Packet
from eew.parallel.chunks import ChunkSpec, run_chunk
from eew.parallel.messages import (
    BATCH_PACKETS,
    QUEUE_MESSAGES,
    Batch,
    End,
    ScanRequest,
    Setup,
    WorkerSpec,
)


def start_method() -> str:
    """How workers start: ``fork`` on Linux (see the module docstring), else ``spawn``.

    ``EEW_REPLAY_START`` (``fork``, ``spawn`` or ``forkserver``) overrides it.
    """
    method = os.environ.get("EEW_REPLAY_START", "")
    if method in mp.get_all_start_methods():
        return method
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _worker(
    out: Any, control: Any, inventory: Inventory | None = None, progress: Any = None
) -> None:
    """Run the router over one share of the channels (runs in a spawned process).

    The worker builds its chain as soon as it starts (:class:`Setup`), while the parent
    is still indexing the archive, then waits for its share (:class:`WorkerSpec`; None: no
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
        _work(setup, out, control, inventory, progress)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        out.put(("error", exc))
    # Everything is sent once the queue's feeder thread has written it: leave without the
    # interpreter's teardown (numba, scipy, LLVM), which takes seconds on a busy machine and
    # which the parent would wait for when it joins the workers.
    out.close()
    out.join_thread()
    sys.stderr.flush()
    os._exit(0)


def _work(setup: Setup, out: Any, control: Any, inventory: Inventory | None, progress: Any) -> None:
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
    while isinstance(spec, ScanRequest):  # the first pass over the archive, shared out
        out.put(("scan", scan_share(spec.paths)))
        spec = control.get()
    if spec is None:
        return
    if isinstance(spec, ChunkSpec):  # a stretch of time with the whole chain

        def done(n: int) -> None:
            if progress is not None:
                progress.value = n

        chunk = run_chunk(spec, setup.config, setup.config_hash, inventory, done)
        chunk.cpu_s = _cpu_s()
        out.put(("chunk", chunk))
        return
    seen: set[str] = set()
    ingest: Counter[str] = Counter()
    while isinstance(spec, WorkerSpec):
        _work_window(spec, chain, runner, results, seen, ingest, out)
        spec = control.get()
    final_ns = spec  # the clock at the end of the whole archive
    runner.finish()
    clock.observe_ns(final_ns)
    router.flush()
    out.put(("end", End(results[:], router.statistics(), ingest, _cpu_s())))


def _cpu_s() -> float:
    """CPU time of this process, user and system [s]."""
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _work_window(
    spec: WorkerSpec,
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
    idx.table, idx.rate_hz, idx.end_ns = spec.table(), spec.rate_hz, spec.end_ns
    n = idx.table.shape[0]
    idx.order = np.arange(n)
    if n == 0:
        out.put(("batch", Batch(spec.last)))
        return
    positions = spec.positions
    runner.bind(spec.channel_ids)
    arrays = array_list(idx.arrays)
    for k0 in range(0, n, BATCH_PACKETS):
        k1 = min(n, k0 + BATCH_PACKETS)
        batch = Batch(-1)

        def after(j: int, pkt: Packet | None, batch: Batch = batch, k0: int = k0) -> None:
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
        setup = Setup(
            config,
            config_hash,
            list(inventory_paths),
            logging.getLogger().getEffectiveLevel(),
            quiet_channels,
        )
        self.outs = [ctx.Queue(QUEUE_MESSAGES) for _ in range(jobs)]
        self.controls = [ctx.Queue(2) for _ in range(jobs)]
        #: records each worker's time chunk has done (its own stretch; written by the worker)
        self.progress = [ctx.Value("q", 0, lock=False) for _ in range(jobs)]
        self.procs = [
            ctx.Process(
                target=_worker, args=(o, c, inventory, v), name=f"eew-replay-{j}", daemon=True
            )
            for j, (o, c, v) in enumerate(zip(self.outs, self.controls, self.progress, strict=True))
        ]
        self._given = False
        for p in self.procs:  # all forked before the first put starts a queue thread
            p.start()
        for c in self.controls:
            c.put(setup)

    def __len__(self) -> int:
        return len(self.procs)

    def give(self, specs: Sequence[WorkerSpec]) -> None:
        """Hand each worker its share of the next window."""
        self._given = True
        for c, spec in zip(self.controls, specs, strict=True):
            c.put(spec)

    def give_chunks(self, specs: Sequence[ChunkSpec]) -> None:
        """Hand the first ``len(specs)`` workers a time chunk each; the others quit."""
        self._given = True
        for j, c in enumerate(self.controls):
            c.put(specs[j] if j < len(specs) else None)

    def collect(self, kind: str, n: int, on_wait: Callable[[], None] | None = None) -> list[Any]:
        """The next message of the first ``n`` workers, each of the ``kind`` expected.

        ``on_wait`` is called about twice a second while a message is awaited.
        """
        return [
            receive(p, o, kind, on_wait) for p, o in zip(self.procs[:n], self.outs[:n], strict=True)
        ]

    def records_done(self) -> int:
        """Records of their own stretches the time chunks have done, all workers."""
        return sum(int(v.value) for v in self.progress)

    def scan(self, paths: list[Path]) -> list[ScanShare]:
        """The first pass over the archive's files, shared out over the workers.

        Each worker scans a run of consecutive files (about as many bytes each) while the
        others scan theirs (:func:`eew.acquisition.windowed.scan_share`); the shares come
        back in file order, for :func:`eew.acquisition.windowed.combine_scans`. Pass it as
        ``scanner`` to :func:`eew.acquisition.windowed.scan_archive`.
        """
        sizes = np.zeros(len(paths))
        for i, path in enumerate(paths):
            try:
                sizes[i] = path.stat().st_size
            except OSError:
                pass  # counted and logged by the worker that reads it
        n = len(self.procs)
        cum = np.cumsum(sizes)
        total = float(cum[-1]) if len(paths) else 0.0
        cuts = [0]
        for j in range(1, n):
            at = int(np.searchsorted(cum, total * j / n, "left")) + 1
            cuts.append(min(len(paths), max(cuts[-1], at)))
        cuts.append(len(paths))
        for j, c in enumerate(self.controls):
            c.put(ScanRequest([str(p) for p in paths[cuts[j] : cuts[j + 1]]]))
        shares = []
        for p, o in zip(self.procs, self.outs, strict=True):
            share = receive(p, o, "scan")
            assert isinstance(share, ScanShare)
            shares.append(share)
        return shares

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


def receive(proc: Any, out: Any, kind: str, on_wait: Callable[[], None] | None = None) -> object:
    """The next message of a worker, of the ``kind`` expected; a worker's error is raised.

    ``on_wait`` is called each half second the message has not come.

    Raises
    ------
    RuntimeError
        If the worker stopped or sent something else.
    """
    while True:
        try:
            tag, payload = out.get(timeout=0.5)
        except queue.Empty:
            if on_wait is not None:
                on_wait()
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
