"""Replay of a long archive in time chunks with a warm-up (``eew replay --jobs N --split time``).

Each worker replays one stretch of time with the whole chain (router and event core), as a
single run would, after a warm-up: it starts ``warmup_s`` before the stretch it owns and
keeps only what it emits while it processes the records that end inside that stretch. The
parent writes the chunks' results one chunk after the other. No process waits for another
and the parent does nothing but merge, so on N free cores the replay takes about
``(T + (N - 1) W) / N`` of one core's time for an archive of ``T`` seconds and a warm-up of
``W`` (the chunks are cut so that each processes as many records, warm-up included).

Why the results are the single run's
------------------------------------
A result is owned by the chunk whose records were being processed when it was emitted, so
the owned results of the chunks, one after the other, are the single run's results in the
single run's order, provided every state at the start of a chunk's own stretch is the one
the single run has there. The warm-up brings them there:

* the filters, the STA/LTA and the baseline forget their start exponentially. The LTA is
  the slowest (``trigger.lta_s``, 20 s by default), and after a strong event it carries the
  event's energy for a long time: a record clipped at 2^23 counts over a noise floor of one
  count holds about 7e13 times the noise energy, which takes about 62 time constants to
  fall below the last digits. The default warm-up, :data:`WARMUP_S` = 900 s, is 45 LTA
  time constants: what the chunk's start leaves falls to 3e-20 of itself, enough for noise,
  spikes and moderate events (the noise archives of ``benchmarks/bench_longarchive.py``
  pass the check below at every edge). After a strong event it is not (a warm-up of 300 s
  that began three minutes after a clipped M4.8 in a test archive gave noise triggers that
  the single run's inflated LTA did not have), and the check catches it. The two trapezoid
  integrators never forget a constant, so velocities and displacements can still differ in
  their last bits (about 1e-16 of the integrator's value); the JSON Lines keep 7
  significant digits, so this does not show;
* the pickers, triggers, dead-channel and clip states, and the event core's events, picks
  and incidents hold nothing older than a few minutes (``event.event_timeout_s``,
  ``association_window_s``, ``teleseism_hold_s``, ``finite_fault.follow_s``): an event
  alive at the edge was born inside the warm-up and is rebuilt there, message for message;
* the one count that never forgets is the event number in ``event_id`` (the n-th event of the
  run). Each chunk reports how many events it had created when its own stretch began and
  when it ended; the parent adds the difference to the later chunk's event numbers
  (:func:`renumber`).

**An event that straddles a chunk edge** is therefore written by the earlier chunk up to the
edge and by the later chunk from the edge on, which rebuilt it during its warm-up: the same
messages, versions and id as one run.

**Every edge is checked**, twice:

1. *States.* The earlier chunk, which ran exactly as one run up to the edge, reports each
   channel's slow state there (:meth:`~eew.detect.router.Pipeline.slow_states`: baseline,
   STA, LTA, trigger on, dead, picks in progress); the later chunk reports the same at the
   start of its own stretch. Where they differ by more than :data:`STATE_RTOL`, the warm-up
   was too short: the parent replays the later chunk itself with a warm-up four times as
   long, then, if needed, from the start of the data (exact by construction), logs a
   warning and counts ``chunk_warmups_extended``. This costs that chunk's time again, on
   one core; it happens where an edge falls within minutes after a strong event.
2. *Results.* The later chunk also returns what it emitted in the last quarter of its
   warm-up, which must equal what the earlier chunk owns there (JSON for JSON, event ids
   renumbered): the event core's events, whose state the first check does not cover. A
   difference is logged as a warning naming the edge and counted
   (``chunk_edges_differing``); raise ``--chunk-warmup`` then.

Not reproduced: the per-channel data-problem counters of a channel whose gap covers a whole
warm-up (one gap in the single run, a new channel in the chunk), and the order of
end-of-data pick messages of channels that start late in the archive.

Memory: a worker holds one window of its stretch and the results of the last quarter of
its warm-up; it writes the results of its own stretch to a file as they come (a temporary
folder, removed at the end), which the parent reads back in order. No process holds the
results of the whole archive, so ``eew evaluate --continuous`` keeps its flat memory with
time chunks too.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from eew.acquisition.archive import ArchiveIndex
from eew.acquisition.windowed import StreamingIndex
from eew.assembly import Chain, Sink, Stages, build_chain
from eew.config import Config
from eew.detect.batch import BatchRunner
from eew.detect.router import PipelineStatistics
from eew.event.core import EventStatistics
from eew.inventory import Inventory
from eew.model.clock import DataClock
from eew.model.timeutil import ns_to_iso
from eew.parallel.messages import ReplayResult
from eew.parallel.plan import NEVER, plan_chunks
from eew.parallel.stats import minus_events, minus_statistics, sum_events, sum_statistics

log = logging.getLogger("eew.parallel")

#: the default warm-up before each chunk's own stretch [s] (see the module docstring)
WARMUP_S = 900.0

_NUMBERED = re.compile(r"^(.*-)(\d+)$")


@dataclass(frozen=True)
class ChunkSpec:
    """One worker's stretch of time (end times of records, [ns]).

    Attributes
    ----------
    index : StreamingIndex
        The whole archive's index (the first pass).
    start_ns : int
        Records ending from here on are processed (the warm-up begins).
    own_ns : int
        Results emitted while records ending from here on are processed are owned.
    stop_ns : int or None
        Records ending from here on are left to the next chunk; None: the last chunk, which
        runs to the end of the data and flushes.
    check_ns : int
        Results emitted in the warm-up from this data time on are returned for the check.
    stages : Stages
        The chain's stages.
    spool : str
        File the chunk's own results are written to, as they come (:func:`read_spool`).
    """

    index: StreamingIndex
    start_ns: int
    own_ns: int
    stop_ns: int | None
    check_ns: int
    stages: Stages
    spool: str


@dataclass
class ChunkOutput:
    """What a worker returns for its chunk.

    Attributes
    ----------
    spool : str
        The file of (data time at emission [ns], result) of its own stretch, in order
        (:func:`read_spool`); on disk, so that no process holds the results of a long
        archive in memory.
    warm_tail : list of (int, object)
        The same for the warm-up from ``check_ns`` on (for the parent's check).
    created_at_own, created_at_end : int
        Events created when its own stretch began and when it ended (event numbering).
    statistics : PipelineStatistics
        Counters of its own stretch.
    events : EventStatistics or None
        Event counters of its own stretch.
    ingest : Counter
        Records that failed to decode in its own stretch.
    span_ns : (int, int) or None
        Start of its earliest and end of its latest packet [ns].
    state_at_own, state_at_end : dict
        The channels' slow state (:meth:`~eew.detect.router.Pipeline.slow_states`) when its
        own stretch began and when it ended (empty for the last chunk).
    cpu_s : float
        The worker's CPU time [s].
    """

    spool: str
    warm_tail: list[tuple[int, object]]
    created_at_own: int
    created_at_end: int
    statistics: PipelineStatistics
    events: EventStatistics | None
    ingest: Counter[str] = field(default_factory=Counter)
    span_ns: tuple[int, int] | None = None
    state_at_own: dict[str, np.ndarray] = field(default_factory=dict)
    state_at_end: dict[str, np.ndarray] = field(default_factory=dict)
    cpu_s: float = 0.0


def _windows(
    sidx: StreamingIndex,
    lo: int,
    hi: int | None,
    done: Callable[[int], None] | None = None,
) -> Iterator[ArchiveIndex]:
    """The archive's windows cut to the records that end in ``[lo, hi)``.

    ``done`` is called with the records of the windows consumed so far, before each next one.
    """
    n = 0
    for t0, t1 in sidx.window_edges():
        a, z = max(t0, lo), t1 if hi is None else min(t1, hi)
        if a < z:
            win = sidx.window(a, z)
            if len(win):
                yield win
                n += len(win)
                if done is not None:
                    done(n)


def run_chunk(
    spec: ChunkSpec,
    config: Config,
    config_hash: str,
    inventory: Inventory,
    done: Callable[[int], None] | None = None,
) -> ChunkOutput:
    """Replay one chunk: warm-up, then its own stretch (runs in a worker).

    ``done`` is told the records of its own stretch done so far (progress), window by window.
    """
    with open(spec.spool, "wb") as spool:
        return _run_chunk(spec, config, config_hash, inventory, done, spool)


def _run_chunk(
    spec: ChunkSpec,
    config: Config,
    config_hash: str,
    inventory: Inventory,
    done: Callable[[int], None] | None,
    spool: IO[bytes],
) -> ChunkOutput:
    warm: list[tuple[int, object]] = []
    clock = DataClock()
    owning = False

    def sink(value: object) -> None:
        t = clock.now_ns()
        if owning:
            pickle.dump((t, value), spool, pickle.HIGHEST_PROTOCOL)
        elif t >= spec.check_ns:
            warm.append((t, value))

    chain = build_chain(config, config_hash, sink, clock, stages=spec.stages, inventory=inventory)
    sidx = spec.index
    if spec.own_ns > spec.start_ns:
        BatchRunner(chain).run(_windows(sidx, spec.start_ns, spec.own_ns))
    stats0, events0, created0 = _counters(chain)
    router = chain.router
    assert router is not None
    state0 = router.slow_states()
    ingest = Counter(sidx.counters)
    owning = True
    state1: dict[str, np.ndarray] = {}
    if spec.stop_ns is None:
        chain.run_windows(_windows(sidx, spec.own_ns, None, done))
    else:
        BatchRunner(chain).run(_windows(sidx, spec.own_ns, spec.stop_ns, done))
        state1 = router.slow_states()
    stats1, events1, created1 = _counters(chain)
    ingest = Counter({k: v - ingest[k] for k, v in sidx.counters.items() if v > ingest[k]})
    return ChunkOutput(
        spec.spool,
        warm,
        created0,
        created1,
        minus_statistics(stats1, stats0),
        minus_events(events1, events0),
        ingest,
        span_ns=router.fed_span_ns,
        state_at_own=state0,
        state_at_end=state1,
    )


def read_spool(path: str) -> Iterator[tuple[int, object]]:
    """The (data time [ns], result) pairs a chunk wrote to its spool, in order."""
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


#: relative difference of two slow states (baseline, STA, LTA) taken as the same
STATE_RTOL = 1e-9


#: a channel with data this close before an edge must be known to the later chunk [ns]
RECENT_NS = 60_000_000_000


def state_difference(end: dict[str, np.ndarray], start: dict[str, np.ndarray], edge_ns: int) -> str:
    """Why two runs' channels differ at the edge ``edge_ns`` ("" when they agree).

    ``end`` is the earlier chunk's slow state at the end of its stretch, ``start`` the
    later chunk's at the start of its own. A channel that the earlier chunk fed within
    :data:`RECENT_NS` before the edge must be in ``start`` too; one silent for longer is
    not compared (after such a gap one run resets it, the other starts it afresh).
    """
    for cid in sorted(end):
        a, b = end[cid], start.get(cid)
        if b is None:
            if a[6] >= edge_ns - RECENT_NS:
                return f"{cid}: not yet seen by the later chunk, fed up to the edge"
            continue
        if not np.array_equal(a[3:6], b[3:6]):
            return f"{cid}: trigger, dead or picks in progress differ"
        diff = np.abs(a[:3] - b[:3])
        scale = np.maximum(np.abs(a[:3]), np.abs(b[:3]))
        bad = diff > STATE_RTOL * scale
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            name = ("baseline", "STA", "LTA")[k]
            return f"{cid}: {name} differs by {diff[k] / scale[k]:.1e} of its value"
    return ""


def _counters(chain: Chain) -> tuple[PipelineStatistics, EventStatistics | None, int]:
    stats = chain.statistics()
    assert stats is not None
    events = chain.event_statistics()
    return stats, events, events.events if events is not None else 0


def renumber(value: object, offset: int) -> object:
    """``value`` with the event number in its event ids raised by ``offset``.

    Event ids end in the event's number (``AGENCY-ORIGIN-N``, :mod:`eew.event.lifecycle`);
    onsite ids have none and are left as they are.
    """
    if not offset:
        return value
    changes: dict[str, str] = {}
    for name in ("event_id", "incident_id"):
        text = getattr(value, name, None)
        if isinstance(text, str):
            m = _NUMBERED.match(text)
            if m is not None:
                changes[name] = f"{m.group(1)}{int(m.group(2)) + offset}"
    return replace(value, **changes) if changes else value  # type: ignore[type-var]


def _json(value: object) -> str:
    return json.dumps(value.to_dict(), sort_keys=True)  # type: ignore[attr-defined]


def merge_chunks(
    outputs: list[ChunkOutput], specs: list[ChunkSpec], sink: Sink, ingest: Counter[str]
) -> tuple[PipelineStatistics, EventStatistics | None]:
    """Write the chunks' owned results in order, renumbered; check every edge.

    Returns the counters of the whole replay (the chunks' own stretches added up).
    ``ingest`` gets the chunks' decode failures and ``chunk_edges_differing``.
    """
    offset = 0
    for k, out in enumerate(outputs):
        nxt = outputs[k + 1] if k + 1 < len(outputs) else None
        check = max(specs[k + 1].check_ns, specs[k].own_ns) if nxt is not None else None
        tail: list[str] = []  # what this chunk owns where the next one's warm-up is checked
        for t, v in read_spool(out.spool):
            v = renumber(v, offset)
            sink(v)
            if check is not None and t >= check:
                tail.append(_json(v))
        for key, n in out.ingest.items():
            ingest[key] += n
        if nxt is None or check is None:
            continue
        offset += out.created_at_end - nxt.created_at_own
        mine = [_json(renumber(v, offset)) for t, v in nxt.warm_tail if t >= check]
        if mine != tail:
            ingest["chunk_edges_differing"] += 1
            log.warning(
                "time chunks: at the edge %s the warm-up did not reproduce the results of "
                "the %.0f s before it (%d against %d results): the output may differ from "
                "one run there; a longer --chunk-warmup avoids it",
                ns_to_iso(specs[k + 1].own_ns),
                (specs[k + 1].own_ns - check) / 1e9,
                len(mine),
                len(tail),
            )
    spans = [o.span_ns for o in outputs if o.span_ns is not None]
    span = (max(s[1] for s in spans) - min(s[0] for s in spans)) / 1e9 if spans else 0.0
    statistics = sum_statistics([o.statistics for o in outputs], span, same_channels=True)
    return statistics, sum_events([o.events for o in outputs])


class ChunkPool(Protocol):
    """The workers that run the chunks (:class:`eew.parallel.worker.WorkerPool`)."""

    def __len__(self) -> int:
        """Workers."""
        ...

    def give_chunks(self, specs: list[ChunkSpec]) -> None:
        """Hand the first ``len(specs)`` workers a chunk each; the others quit."""
        ...

    def collect(self, kind: str, n: int, on_wait: Callable[[], None] | None = None) -> list[Any]:
        """The next message of the first ``n`` workers, each of the ``kind`` expected."""
        ...

    def records_done(self) -> int:
        """Records of their own stretches the chunks have done."""
        ...


def replay_chunks(
    idx: StreamingIndex,
    pool: ChunkPool,
    sink: Sink,
    stages: Stages,
    warmup_s: float,
    rerun: tuple[Config, str, Inventory],
    on_progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay ``idx`` in time chunks on the pool's workers; results to ``sink`` in order.

    Each edge is checked: the later chunk's channels at the start of its own stretch must
    be in the state the earlier chunk left them in (:func:`state_difference`). Where they
    are not (the warm-up began in the long shadow of a strong event on the LTA), the later
    chunk is replayed again here, its warm-up four times longer, and then, if that is not
    enough either, from the start of the data; that edge is then exact, at the cost of the
    replayed chunk's time. ``rerun`` is the configuration, its hash and the inventory;
    ``on_progress`` is told the records done while the workers run.
    """
    with tempfile.TemporaryDirectory(prefix="eew-chunks-") as spool:
        return _replay_chunks(idx, pool, sink, stages, warmup_s, rerun, on_progress, Path(spool))


def _replay_chunks(
    idx: StreamingIndex,
    pool: ChunkPool,
    sink: Sink,
    stages: Stages,
    warmup_s: float,
    rerun: tuple[Config, str, Inventory],
    on_progress: Callable[[int], None] | None,
    spool: Path,
) -> ReplayResult:
    warmup_ns = round(warmup_s * 1e9)
    plan = plan_chunks(idx, len(pool), warmup_ns)
    specs = [
        ChunkSpec(idx, start, own, stop, own - warmup_ns // 4, stages, str(spool / f"{k}.pickle"))
        for k, (start, own, stop) in enumerate(plan)
    ]
    log.info(
        "time chunks: %d of the %.0f s archive, warm-up %.0f s, edges %s",
        len(specs),
        idx.span_s(),
        warmup_s,
        ", ".join(ns_to_iso(s.own_ns) for s in specs[1:]) or "none",
    )
    pool.give_chunks(specs)
    on_wait = (lambda: on_progress(pool.records_done())) if on_progress is not None else None
    outputs = pool.collect("chunk", len(specs), on_wait)
    if on_progress is not None:
        on_progress(len(idx))
    assert all(isinstance(o, ChunkOutput) for o in outputs)
    ingest = Counter(idx.counters)
    for k in range(1, len(specs)):
        spec = specs[k]
        for start in (spec.own_ns - 4 * warmup_ns, NEVER):
            why = state_difference(
                outputs[k - 1].state_at_end, outputs[k].state_at_own, spec.own_ns
            )
            if not why:
                break
            if spec.start_ns <= start != NEVER:  # no longer warm-up (--chunk-warmup 0)
                continue
            ingest["chunk_warmups_extended"] += 1
            log.warning(
                "time chunks: at the edge %s the channels had not forgotten the chunk's start "
                "after a warm-up of %.0f s (%s); replaying that chunk again from %s",
                ns_to_iso(spec.own_ns),
                (spec.own_ns - spec.start_ns) / 1e9,
                why,
                ns_to_iso(start) if start != NEVER else "the start of the data",
            )
            specs[k] = spec = replace(spec, start_ns=start, spool=f"{spec.spool}.again")
            again = run_chunk(spec, *rerun)  # here: its CPU is this process's
            again.cpu_s = outputs[k].cpu_s
            outputs[k] = again
    statistics, events = merge_chunks(outputs, specs, sink, ingest)
    return ReplayResult(statistics, events, ingest, len(specs), [o.cpu_s for o in outputs])
