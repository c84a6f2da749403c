"""Archive replay in batches: many packets per numba call, the same results as one by one.

:meth:`eew.assembly.Chain.run` feeds one :class:`~eew.model.packet.Packet` at a time through
:meth:`Pipeline.feed <eew.detect.router.Pipeline.feed>` and
:meth:`ChannelProcessor.feed <eew.detect.channel.ChannelProcessor.feed>`: about 20 us of
Python per 512-byte record around a few microseconds of arithmetic. On continuous data
almost every packet takes the same path: no gap, not flat, not clipped, no trigger, no pick
in progress, nothing for the event core. :class:`BatchRunner` runs that path for a whole
stretch of decoded records (:func:`eew.acquisition.archive.decode_rows`) in one call of
:func:`_run`, in arrival order, with every channel's state in arrays the kernel shares with
the channel's objects (filter state, flat-run state and history ring are the same arrays;
the few scalars are copied back before any Python code reads them). The kernel stops at
the first record that needs a Python decision, which then goes through ``Pipeline.feed``
itself:

* the channel has no processor yet, another rate, is dead, triggered, has a pick in
  progress or its re-trigger is armed; the record is empty, flagged as calibration, starts
  a gap or overlaps, is flat or ends a flat run, is clipped, or does not fit the ring;
* the STA/LTA ratio exceeds the trigger threshold: the kernel restores the filter state and
  hands the record over (the trigger scan and the picker are Python);

and after the record at which the event core's tick has work
(:meth:`~eew.event.core.EventCore.idle_until_ns`), where it ticks the core as the single
run does after every packet. The chain arithmetic is the same compiled code
(:func:`eew.dsp.ringchain.process_to_ring` runs :func:`~eew.dsp.chain.process_packet`'s loops
straight into the history ring) in the same order, so the outputs are those
of :meth:`Chain.run <eew.assembly.Chain.run>` byte for byte (``tools/golden_replay.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
from numba import njit
from numba.typed import List

from eew.acquisition.archive import ArchiveIndex, DecodedRows, decode_rows
from eew.detect.channel import (
    F_RUN,
    F_VALUE,
    ChannelProcessor,
    _flat_edges,
    _minmax,
)
from eew.detect.peaks import peak_add
from eew.detect.router import Pipeline
from eew.dsp.ringchain import process_to_ring
from eew.event.core import EventCore
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S


class Chain(Protocol):
    """What :class:`BatchRunner` uses of :class:`eew.assembly.Chain`."""

    router: Pipeline | None
    core: EventCore | None
    arrival_ns: int
    packets: int


#: records decoded and run per call (about 20 MiB of samples for 512-byte records)
ROWS_PER_CALL = 4096

# per-channel integer fields (the ``ci`` array)
(
    CI_FAST,
    CI_HAS_NEXT,
    CI_NEXT_NS,
    CI_RING_END,
    CI_RING_MIN,
    CI_FLAT_N,
    CI_BUSY_UNTIL,
    CI_CAN_TRIGGER,
    CI_STATION,
    CI_ANCHOR_NS,
    CI_ANCHOR_K,
    CI_PACKETS,
    CI_SAMPLES,
    CI_DIRTY,
) = range(14)
N_CI = 14
# per-channel float fields (``cf``)
CF_FS, CF_GAP_TOL, CF_CLIP, CF_ON_RATIO, CF_PEAK, CF_PEAK_VEL = range(6)
N_CF = 6
# shared integers (``g``): the data clock, earliest start and latest end fed (0/1: any),
# the event core's last expiry time and whether the kernel may note expiries itself (0/1)
G_NOW, G_FIRST, G_LAST, G_ANY, G_EXPIRED, G_LIGHT = range(6)
#: the event core's expiry interval [ns] (eew.event.core.EventCore.tick)
EXPIRY_NS = NS_PER_S // 2
# why :func:`_run` returned
END, TICK, PYTHON = 0, 1, 2

_MIN = np.iinfo(np.int64).min
_MAX = np.iinfo(np.int64).max


@njit(cache=True)
def _run(
    i0: int,
    i1: int,
    chan: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    rate: np.ndarray,
    calib: np.ndarray,
    ok: np.ndarray,
    data: np.ndarray,
    off: np.ndarray,
    ci: np.ndarray,
    cf: np.ndarray,
    states: List,
    params: List,
    bps: List,
    hps: List,
    lps: List,
    flats: List,
    rings: List,
    st_end: np.ndarray,
    st_dirty: np.ndarray,
    peaks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    g: np.ndarray,
    tick_at: int,
    row_peak: np.ndarray,
) -> tuple[int, int]:
    """Feed records ``i0, i0 + 1, ..., i1 - 1`` while none needs Python; return (next, why).

    ``why`` is :data:`END` (all done), :data:`TICK` (the record before the returned one
    brought the clock to ``tick_at``: tick the event core) or :data:`PYTHON` (the returned
    record goes through ``Pipeline.feed``; nothing of it was changed). With ``g[G_LIGHT]``
    set, the core is idle (:meth:`~eew.event.core.EventCore.idle_expiry`) and ``tick_at``
    its next expiry: the kernel notes each expiry in ``g[G_EXPIRED]`` and goes on.
    ``row_peak[i]`` gets the peak acceleration [cm/s²] and velocity [cm/s] of each record
    fed (NaN: none; a parallel replay's workers pass them on to the event core,
    :mod:`eew.parallel`).
    """
    psec, pval, pvel, phead, pcount = peaks
    for i in range(i0, i1):
        c = chan[i]
        if ci[c, CI_FAST] == 0 or not ok[i] or calib[i] or rate[i] != cf[c, CF_FS]:
            return i, PYTHON
        n = off[i + 1] - off[i]
        if n == 0:
            return i, PYTHON
        s0 = start[i]
        if ci[c, CI_HAS_NEXT] != 0:
            delta = s0 - ci[c, CI_NEXT_NS]
            tol = cf[c, CF_GAP_TOL]
            if delta > tol or delta < -tol:
                return i, PYTHON
        k0 = ci[c, CI_RING_END]
        trig = ci[c, CI_CAN_TRIGGER] != 0
        if trig and k0 < ci[c, CI_BUSY_UNTIL]:
            return i, PYTHON
        ring = rings[c]
        cap = ring.shape[1]
        if n + ci[c, CI_RING_MIN] > cap:
            return i, PYTHON
        x = data[off[i] : off[i + 1]]
        lo, hi = _minmax(x)
        if lo == hi:
            return i, PYTHON
        clip = cf[c, CF_CLIP]
        if hi >= clip or -lo >= clip:
            return i, PYTHON
        flat = flats[c]
        lead, trail = _flat_edges(x)
        run = flat[F_RUN] + lead if (flat[F_RUN] > 0.0 and x[0] == flat[F_VALUE]) else 0.0
        if run >= ci[c, CI_FLAT_N]:
            return i, PYTHON
        state = states[c]
        saved = state.copy() if trig else state  # only a trigger channel goes back
        rmax, peak, vpeak = process_to_ring(
            x, params[c], bps[c], hps[c], lps[c], state, ring, k0 % cap
        )
        if trig and rmax > cf[c, CF_ON_RATIO]:
            state[:] = saved  # the trigger scan is Python: the record goes there
            return i, PYTHON
        flat[F_VALUE] = x[n - 1]
        flat[F_RUN] = trail
        e = end[i]
        ci[c, CI_RING_END] = k0 + n
        ci[c, CI_ANCHOR_NS] = s0
        ci[c, CI_ANCHOR_K] = k0
        ci[c, CI_NEXT_NS] = e
        ci[c, CI_HAS_NEXT] = 1
        ci[c, CI_PACKETS] += 1
        ci[c, CI_SAMPLES] += n
        ci[c, CI_DIRTY] = 1
        cf[c, CF_PEAK] = peak
        cf[c, CF_PEAK_VEL] = vpeak
        row_peak[i, 0] = peak
        row_peak[i, 1] = vpeak
        s = ci[c, CI_STATION]
        peak_add(psec, pval, pvel, phead, pcount, s, e // NS_PER_S, peak, vpeak)
        if e > st_end[s]:
            st_end[s] = e
            st_dirty[s] = 1
        if g[G_ANY] == 0:
            g[G_FIRST], g[G_LAST], g[G_ANY] = s0, e, 1
        else:
            if s0 < g[G_FIRST]:
                g[G_FIRST] = s0
            if e > g[G_LAST]:
                g[G_LAST] = e
        if e > g[G_NOW]:
            g[G_NOW] = e
        if g[G_NOW] >= tick_at:
            if g[G_LIGHT] == 0:
                return i + 1, TICK
            # the idle core's tick would only note the expiry time (EventCore.idle_expiry)
            g[G_EXPIRED] = g[G_NOW]
            tick_at = g[G_NOW] + EXPIRY_NS
    return i1, END


@njit(cache=True)
def typed_list(item: np.ndarray, n: int) -> List:
    """A ``numba.typed.List`` of ``n`` times ``item``.

    Built, and changed (:func:`set_item`, :func:`append_item`), in compiled code: the typed
    list's own Python methods are compiled anew in every process (about a second), these
    are cached.
    """
    out = List()
    for _ in range(n):
        out.append(item)
    return out


@njit(cache=True)
def set_item(items: List, i: int, item: np.ndarray) -> None:
    """``items[i] = item`` for a list of :func:`typed_list`."""
    items[i] = item


@njit(cache=True)
def append_item(items: List, item: np.ndarray) -> None:
    """``items.append(item)`` for a list of :func:`typed_list`."""
    items.append(item)


def array_list(arrays: list[np.ndarray]) -> List:
    """A typed list of arrays of one type (e.g. an index's file bytes)."""
    out = typed_list(arrays[0], 0)
    for a in arrays:
        append_item(out, a)
    return out


class BatchRunner:
    """Feeds decoded archive windows to a chain's router through :func:`_run`.

    Parameters
    ----------
    chain : Chain
        From :func:`eew.assembly.build_chain` with a router on a
        :class:`~eew.model.clock.DataClock` (an archive replay).
    """

    def __init__(self, chain: Chain) -> None:
        router = chain.router
        assert router is not None and router._observe is not None
        self.chain = chain
        self.router = router
        self.core = chain.core
        self.ids: list[str] = []
        self.procs: list[ChannelProcessor | None] = []
        self.groups: list[list[int]] = []  # the channels of each channel's sensor
        self.ci = np.zeros((0, N_CI), np.int64)
        self.cf = np.zeros((0, N_CF))
        self.g = np.zeros(6, np.int64)
        self.st_end = np.zeros(0, np.int64)
        self.st_dirty = np.zeros(0, np.int64)
        self.st_names: list[str] = []
        self._lists: tuple[List, ...] = ()
        self._peaks = router.peaks.arrays

    # ---- the loop -----------------------------------------------------------------------
    def run(self, indexes: Iterable[ArchiveIndex]) -> None:
        """Feed every record of the indexes, in order (windows of one archive)."""
        for idx in indexes:
            if not len(idx):
                continue
            self.bind(idx.channel_ids)
            arrays = array_list(idx.arrays)
            for k0 in range(0, len(idx), ROWS_PER_CALL):
                rows = decode_rows(idx, k0, min(len(idx), k0 + ROWS_PER_CALL), arrays)
                self.feed_rows(idx, rows)
        self.finish()

    def feed_rows(
        self,
        idx: ArchiveIndex,
        rows: DecodedRows,
        after: Callable[[int, Packet | None], None] | None = None,
    ) -> np.ndarray:
        """Feed decoded records; return their peak acceleration [cm/s²] and velocity [cm/s].

        The result is an (n, 2) array (NaN: none).

        ``after(j, packet)`` is called after each record fed through Python (``packet``
        None: it could not be decoded), e.g. to collect its results. Call :meth:`bind`
        with the index's channel ids first.
        """
        chain, router, clock = self.chain, self.router, self.router.clock
        m = rows.chan.shape[0]
        row_peak = np.full((m, 2), math.nan)
        i = 0
        states, params, bps, hps, lps, flats, rings = self._lists
        core = self.core
        while i < m:
            self.g[G_NOW] = clock.now_ns()
            light = self._light()
            j, why = _run(
                i,
                m,
                rows.chan,
                rows.start,
                rows.end,
                rows.rate,
                rows.calib,
                rows.ok,
                rows.data,
                rows.off,
                self.ci,
                self.cf,
                states,
                params,
                bps,
                hps,
                lps,
                flats,
                rings,
                self.st_end,
                self.st_dirty,
                self._peaks,
                self.g,
                self._tick_at(),
                row_peak,
            )
            if light:
                assert core is not None
                core._expired_at = int(self.g[G_EXPIRED])
            chain.packets += j - i
            if why == END:
                break
            if why == TICK:
                self._store_shared()
                chain.arrival_ns = int(rows.end[j - 1])
                assert router._after_packet is not None
                router._after_packet(clock.now_ns())
                i = j
                continue
            c = int(rows.chan[j])
            self._store(self.groups[c])
            self._store_shared()
            pkt = rows.packet(idx, j)
            if pkt is not None:
                chain.arrival_ns = pkt.endtime_ns
                router.feed(pkt)
                chain.packets += 1
                self._load(c)
                self._load_shared()
                proc = self.procs[c]
                if proc is not None:
                    row_peak[j, 0] = proc.last_peak_acc_cm_s2
                    row_peak[j, 1] = proc.last_peak_vel_cm_s
            if after is not None:
                after(j, pkt)
            i = j + 1
        self._store_shared()
        return row_peak

    def station_rows(self, rows: DecodedRows) -> np.ndarray:
        """The peak store's station row of each record's channel (-1: no processor)."""
        ci = self.ci
        fed = np.array([p is not None for p in self.procs], bool)
        return np.where(fed[rows.chan], ci[rows.chan, CI_STATION], -1)

    def station_names(self) -> list[str]:
        """Station ids by peak-store row."""
        return list(self.st_names)

    def finish(self) -> None:
        """Everything the kernel changed into the channels' objects (end of the data)."""
        self._store(range(len(self.ids)))
        self._store_shared()

    def _light(self) -> bool:
        """Let the kernel note the idle event core's expiries itself (see :func:`_run`)."""
        g = self.g
        core = self.core
        g[G_LIGHT] = (
            self.router._after_packet is not None and core is not None and core.idle_expiry()
        )
        if g[G_LIGHT]:
            assert core is not None
            g[G_EXPIRED] = core._expired_at
        return bool(g[G_LIGHT])

    def _tick_at(self) -> int:
        """The clock at which the event core's tick has work (the kernel stops after it)."""
        if self.router._after_packet is None:
            return int(_MAX)
        assert self.core is not None
        due = self.core.idle_until_ns()
        return int(_MIN) if due is None else int(due)

    # ---- state between the kernel and the objects -----------------------------------------
    def bind(self, ids: list[str]) -> None:
        """Arrays for the channels of an index (kept while the channel list is the same)."""
        if ids is self.ids or ids == self.ids:
            return
        self._store(range(len(self.ids)))
        self.ids = ids
        n = len(ids)
        self.procs = [None] * n
        self._state_of: list[np.ndarray | None] = [None] * n
        self._ring_of: list[np.ndarray | None] = [None] * n
        by_sensor: dict[tuple[str, int], list[int]] = {}
        for c, cid in enumerate(ids):
            by_sensor.setdefault((cid[:-1], len(cid)), []).append(c)
        self.groups = [by_sensor[(cid[:-1], len(cid))] for cid in ids]
        self.ci = np.zeros((n, N_CI), np.int64)
        self.cf = np.full((n, N_CF), math.nan)
        one, two = np.zeros(1), np.zeros((1, 1))
        self._lists = tuple(typed_list(a, n) for a in (one, one, two, two, two, one, two))
        self._load_shared()
        for c in range(n):
            self._load(c)

    def _load(self, c: int) -> None:
        """Channel ``c`` from its processor into the arrays (after Python has fed it)."""
        proc = self.router._channels.get(self.ids[c])
        ci, cf = self.ci, self.cf
        old = self.procs[c]
        self.procs[c] = proc
        if proc is None:
            ci[c, CI_FAST] = 0
            cf[c, CF_FS] = math.nan
            return
        states, params, bps, hps, lps, flats, rings = self._lists
        if proc is not old:
            d = proc.design
            set_item(params, c, d.params)
            set_item(bps, c, d.bp_sos)
            set_item(hps, c, d.hp_sos)
            set_item(lps, c, d.lp_sos)
            set_item(flats, c, proc._flat)
            s = self.router.peaks.row(proc.station_id)
            if s >= self.st_end.shape[0]:
                self._load_shared()
            ci[c, CI_STATION] = s
            ci[c, CI_RING_MIN] = proc.history._min
            ci[c, CI_FLAT_N] = proc._flat_n
            ci[c, CI_CAN_TRIGGER] = proc.can_trigger
            cf[c, CF_FS] = proc.fs
            cf[c, CF_GAP_TOL] = proc._gap_tol_ns
            cf[c, CF_CLIP] = proc.picker.clip_counts
            cf[c, CF_ON_RATIO] = proc.trigger.on_ratio
        if proc is not old or self._state_of[c] is not proc._state:
            set_item(states, c, proc._state)
            self._state_of[c] = proc._state
        if proc is not old or self._ring_of[c] is not proc.history._buf:
            set_item(rings, c, proc.history._buf)
            self._ring_of[c] = proc.history._buf
        trig = proc.trigger
        busy = proc.off_rate or proc.dead or proc.picker.tracks
        ci[c, CI_FAST] = not (busy or (proc.can_trigger and trig.triggered))
        ci[c, CI_HAS_NEXT] = proc._next_ns is not None
        ci[c, CI_NEXT_NS] = proc._next_ns if proc._next_ns is not None else 0
        ci[c, CI_RING_END] = proc.history._end
        ci[c, CI_BUSY_UNTIL] = trig.last_on + trig.n_busy if trig.last_on is not None else _MIN
        ci[c, CI_ANCHOR_NS] = proc.data.anchor_ns
        ci[c, CI_ANCHOR_K] = proc.data.anchor_k
        ci[c, CI_PACKETS] = ci[c, CI_SAMPLES] = ci[c, CI_DIRTY] = 0
        cf[c, CF_PEAK] = proc.last_peak_acc_cm_s2
        cf[c, CF_PEAK_VEL] = proc.last_peak_vel_cm_s

    def _store(self, codes: Iterable[int]) -> None:
        """The kernel's changes of these channels into their processors."""
        ci, cf = self.ci, self.cf
        for c in codes:
            if not ci[c, CI_DIRTY]:
                continue
            proc = self.procs[c]
            assert proc is not None
            row = ci[c].tolist()
            proc._n_packets += row[CI_PACKETS]
            proc._n_samples += row[CI_SAMPLES]
            proc.history._end = row[CI_RING_END]
            proc.data.anchor_ns = row[CI_ANCHOR_NS]
            proc.data.anchor_k = row[CI_ANCHOR_K]
            proc._next_ns = row[CI_NEXT_NS]
            proc.last_peak_acc_cm_s2 = float(cf[c, CF_PEAK])
            proc.last_peak_vel_cm_s = float(cf[c, CF_PEAK_VEL])
            ci[c, CI_PACKETS] = ci[c, CI_SAMPLES] = ci[c, CI_DIRTY] = 0

    def _load_shared(self) -> None:
        """Stations' newest data, the span fed so far (from the router)."""
        self._store_shared()
        router = self.router
        peaks = router.peaks
        n = peaks.head.shape[0]
        names = [""] * n
        for sid, s in peaks.index.items():
            names[s] = sid
        self.st_names = names
        self.st_end = np.array([router._station_end.get(sid, 0) for sid in names], np.int64)
        self.st_dirty = np.zeros(n, np.int64)
        self._peaks = peaks.arrays
        g = self.g
        g[G_ANY] = router._first_ns is not None
        g[G_FIRST] = router._first_ns if router._first_ns is not None else 0
        g[G_LAST] = router._last_ns if router._last_ns is not None else 0

    def _store_shared(self) -> None:
        """The kernel's stations' ends, span and clock into the router (before Python runs)."""
        router, g = self.router, self.g
        for s in np.flatnonzero(self.st_dirty).tolist():
            router._station_end[self.st_names[s]] = int(self.st_end[s])
            self.st_dirty[s] = 0
        if g[G_ANY]:
            router._first_ns, router._last_ns = int(g[G_FIRST]), int(g[G_LAST])
        assert router._observe is not None
        router._observe(int(g[G_NOW]))
