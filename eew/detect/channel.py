"""Streaming processing of one channel: continuity, the fused chain, triggers and picks.

A :class:`ChannelProcessor` owns all the state of one channel (filter and
STA/LTA state, recent-sample history, trigger state, picks in progress). It is
fed :class:`~eew.model.packet.Packet` values in time order and emits
:class:`~eew.model.pick.Pick` and :class:`~eew.model.pick.RejectedTrigger`
values through the ``emit`` callback; it never publishes anything itself.

Continuity rules (state resets, pyrocko/SeisComP style):

* a packet that starts more than ``gap_tolerance_samples`` after the expected
  time is a **gap**: the state resets, the LTA warms up again (no trigger for
  ``lta_s``), so no phantom trigger comes out of the gap;
* a packet that lies wholly before the expected time is a **duplicate** or late
  record and is dropped; one that partly overlaps is an **overlap** and resets;
* the channel runs at the sample rate of its records, with filter corners adapted to its
  Nyquist frequency (:mod:`eew.detect.bands`); records at a rate other than the
  inventory's are processed and counted (**rate_mismatch**), and a change of rate within
  the stream restarts the channel (the router's policy, :mod:`eew.detect.router`);
* a channel flat for ``flat_window_s`` is **dead**; it resets when data return.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from numba import njit

from eew.config import PickerConfig, ProcessingConfig, RejectionConfig, TriggerConfig
from eew.detect.bands import channel_filters
from eew.detect.picker import Picker
from eew.detect.ring import History, _ring_write
from eew.detect.state import ChannelCounts, ChannelData
from eew.detect.trigger import TriggerState
from eew.dsp import chain
from eew.dsp.filters import design_bandpass, design_highpass, design_lowpass
from eew.errors import ChannelError, ConfigError
from eew.inventory import ChannelInfo
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.detect")

#: the history keeps the chain's output rows (eew.dsp.chain.ROW_*) plus the raw counts
H_COUNTS = chain.N_ROWS


@njit(cache=True)
def _flat_edges(x: np.ndarray) -> tuple[int, int]:
    """Numbers of leading samples equal to ``x[0]`` and trailing samples equal to ``x[-1]``."""
    n = x.shape[0]
    lead = 1
    while lead < n and x[lead] == x[0]:
        lead += 1
    trail = 1
    while trail < n and x[n - 1 - trail] == x[n - 1]:
        trail += 1
    return lead, trail


@njit(cache=True)
def _process_and_store(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
    ring: np.ndarray,
    pos: int,
) -> float:
    """Run the chain on a packet, store outputs and counts in the ring; return the max ratio.

    One dispatch per packet instead of three (the Python call overhead, not the
    arithmetic, dominates a 100-300 sample packet).
    """
    chain.process_packet(x, params, bp_sos, hp_sos, lp_sos, state, out)
    _ring_write(ring, pos, out, x)
    rmax = 0.0
    for i in range(out.shape[1]):
        if out[0, i] > rmax:
            rmax = out[0, i]
    return rmax


#: the flat-run state of a channel: samples equal to the last value, and that value
F_RUN, F_VALUE = 0, 1


@njit(cache=True)
def _feed_fast(
    x: np.ndarray,
    flat: np.ndarray,
    flat_n: int,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    out: np.ndarray,
    ring: np.ndarray,
    pos: int,
) -> tuple[bool, float, float, float]:
    """The common packet in one call: not flat, no dead stretch ending in it.

    Returns ``(done, min, max, max ratio)``. When the packet needs the general path
    (a flat packet, or a flat run that reaches ``flat_n`` inside it) nothing is changed and
    ``done`` is False; otherwise the flat-run state is updated as
    :meth:`ChannelProcessor._check_flat` would, and the chain runs as in
    :func:`_process_and_store`.
    """
    lo, hi = _minmax(x)
    if lo == hi:
        return False, lo, hi, 0.0
    lead, trail = _flat_edges(x)
    run = flat[F_RUN] + lead if (flat[F_RUN] > 0.0 and x[0] == flat[F_VALUE]) else 0.0
    if run >= flat_n:
        return False, lo, hi, 0.0
    flat[F_VALUE] = x[x.shape[0] - 1]
    flat[F_RUN] = trail
    rmax = _process_and_store(x, params, bp_sos, hp_sos, lp_sos, state, out, ring, pos)
    return True, lo, hi, rmax


@njit(cache=True)
def _scan_counts(x: np.ndarray) -> tuple[float, float, int, int]:
    """(min, max, leading run equal to x[0], trailing run equal to x[-1]) in one call."""
    lo, hi = _minmax(x)
    if lo == hi:
        return lo, hi, x.shape[0], x.shape[0]
    lead, trail = _flat_edges(x)
    return lo, hi, lead, trail


@njit(cache=True)
def _minmax(x: np.ndarray) -> tuple[float, float]:
    """Return (min, max) of ``x`` in one pass."""
    lo = x[0]
    hi = x[0]
    for i in range(x.shape[0]):
        v = x[i]
        if v < lo:
            lo = v
        elif v > hi:
            hi = v
    return float(lo), float(hi)


class ChannelProcessor:
    """All streaming state and logic of one channel.

    Parameters
    ----------
    info : ChannelInfo
        Station metadata of the channel.
    processing : ProcessingConfig
        Section ``[processing]``: gain, baseline, integration, continuity.
    trigger : TriggerConfig
        Section ``[trigger]``: band-pass and STA/LTA.
    picker : PickerConfig
        Section ``[picker]`` (for the :class:`~eew.detect.picker.Picker`).
    rejection : RejectionConfig
        Section ``[rejection]`` (for the :class:`~eew.detect.picker.Picker`).
    emit : callable
        Receives every emitted value (picks, rejected triggers).
    now_ns : callable
        Returns the current time [ns]; under replay the data clock.
    filter_cache : dict, optional
        Filter designs shared between channels of the same rate and kind (scipy's design
        functions cost about 1 ms each; a network has few distinct designs).
    sampling_rate_hz : float, optional
        The rate to process at (the records'); default the inventory's.
    can_trigger : bool, optional
        Whether the channel may trigger; default: its component is in ``trigger.components``
        (the router also lets a station without such a channel trigger on its others).

    Raises
    ------
    ChannelError
        If the channel cannot be processed (unsupported unit, a rate too low for a trigger
        band; :func:`~eew.detect.bands.channel_filters`): the router sets it aside.
    """

    def __init__(
        self,
        info: ChannelInfo,
        processing: ProcessingConfig,
        trigger: TriggerConfig,
        picker: PickerConfig,
        rejection: RejectionConfig,
        emit: Callable[[object], None],
        now_ns: Callable[[], int],
        filter_cache: dict[tuple[object, ...], np.ndarray] | None = None,
        *,
        sampling_rate_hz: float | None = None,
        can_trigger: bool | None = None,
        siblings: Callable[[], Sequence[ChannelData]] | None = None,
    ) -> None:
        self.info = info
        self.station_id = info.station_id  # ``NET.STA``, cached (read for every packet)
        self.fs = float(info.sampling_rate_hz if sampling_rate_hz is None else sampling_rate_hz)
        proc, trig = processing, trigger
        #: the corners this channel runs with (adapted to its Nyquist frequency)
        self.filters = channel_filters(info.kind, self.fs, proc, trig)
        self.period_ns = NS_PER_S / self.fs
        #: continuity and data-quality counters (the picker keeps its own)
        self.counters: Counter[str] = Counter()
        self._n_packets = 0  # the two per-packet counters are plain ints (hot path)
        self._n_samples = 0
        #: the records are processed at a rate other than the inventory's (each is counted)
        self.off_rate = self.fs != float(info.sampling_rate_hz)
        self._emit = emit
        is_acc = info.kind == "acceleration"
        self.can_trigger = info.component in trig.components if can_trigger is None else can_trigger
        f = self.filters
        designs = {} if filter_cache is None else filter_cache
        try:
            key_bp = ("bp", f.band_low_hz, f.band_high_hz, self.fs, trig.band_order)
            if key_bp not in designs:
                designs[key_bp] = design_bandpass(
                    f.band_low_hz, f.band_high_hz, self.fs, trig.band_order
                )
            key_hp = ("hp", f.highpass_hz, self.fs, proc.highpass_order)
            if key_hp not in designs:
                designs[key_hp] = design_highpass(f.highpass_hz, self.fs, proc.highpass_order)
            key_lp = ("lp", f.taup_lowpass_hz, self.fs, 2)
            if key_lp not in designs:
                designs[key_lp] = design_lowpass(f.taup_lowpass_hz, self.fs, 2)
        except ConfigError as exc:  # a corner the rule let through but the design refuses
            raise ChannelError(f"filter design failed at {self.fs:g} Hz: {exc}") from exc
        bp, hp, lp = designs[key_bp], designs[key_hp], designs[key_lp]
        self.n_sta = max(1, round(trig.sta_s * self.fs))
        self.n_lta = max(self.n_sta + 1, round(trig.lta_s * self.fs))
        self.design = chain.design_chain(
            sensitivity=info.sensitivity,
            is_acceleration=is_acc,
            sampling_rate_hz=self.fs,
            bp_sos=bp,
            hp_sos=hp,
            lp_sos=lp,
            baseline_window_s=proc.baseline_window_s,
            n_sta=self.n_sta,
            n_lta=self.n_lta,
            taup_time_constant_s=proc.taup_time_constant_s,
            can_trigger=self.can_trigger,
            n_warmup=round(trig.warmup_s * self.fs),
        )
        self._gap_tol_ns = proc.gap_tolerance_samples * self.period_ns
        self._flat_n = round(proc.flat_window_s * self.fs)
        self.trigger = TriggerState(
            trig.on_ratio,
            trig.off_ratio,
            round(trig.dead_time_s * self.fs),
            jump_ratio=trig.retrigger_ratio,
            n_window=round(trig.retrigger_window_s * self.fs),
            n_gap=round(trig.retrigger_gap_s * self.fs),
            n_busy=round(trig.retrigger_busy_s * self.fs),
        )
        hist_s = (
            picker.aic_before_s
            + picker.noise_window_s
            + picker.window_max_s
            + picker.decision_delay_s
            + 2.0
        )
        #: recent samples, time base, clip and calibration episodes (what the picker reads)
        self.data = ChannelData(History(chain.N_ROWS + 1, round(hist_s * self.fs)), self.period_ns)
        self.history = self.data.history
        self.picker = Picker(
            info, self.data, picker, rejection, emit, now_ns, self.fs, siblings=siblings
        )
        self._state = self.design.new_state()
        self._next_ns: int | None = None
        self._flat = np.zeros(2)  # F_RUN, F_VALUE
        self._out = np.empty((chain.N_ROWS, 0))  # the chain's output, reused per size
        self.dead = False
        #: largest |acceleration| of the last packet [cm/s²]; NaN when clipped or dead
        self.last_peak_acc_cm_s2 = math.nan
        #: largest |velocity| (high-passed) of the last packet [cm/s]; NaN when clipped or dead
        self.last_peak_vel_cm_s = math.nan

    @property
    def _flat_run(self) -> int:
        return int(self._flat[F_RUN])

    @_flat_run.setter
    def _flat_run(self, value: int) -> None:
        self._flat[F_RUN] = value

    @property
    def _flat_value(self) -> float:
        return float(self._flat[F_VALUE])

    @_flat_value.setter
    def _flat_value(self, value: float) -> None:
        self._flat[F_VALUE] = value

    # ---- feeding ----------------------------------------------------------------------
    def feed(self, packet: Packet) -> None:
        """Process one packet (see the module docstring for the continuity rules)."""
        c = self.counters
        self._n_packets += 1
        n = packet.n_samples
        if n == 0:
            c["empty_packets"] += 1
            log.warning(
                "%s: empty record at %d ns ignored", self.info.channel_id, packet.starttime_ns
            )
            return
        if self.off_rate:
            c["rate_mismatch"] += 1  # processed at the record's rate (the router's policy)
        if self._next_ns is not None:
            delta = packet.starttime_ns - self._next_ns
            if delta > self._gap_tol_ns:
                c["gaps"] += 1
                log.warning(
                    "%s: gap of %.3f s before %s; state reset",
                    self.info.channel_id,
                    delta / NS_PER_S,
                    _iso(packet.starttime_ns),
                )
                self.reset()
            elif delta < -self._gap_tol_ns:
                if packet.endtime_ns <= self._next_ns + self._gap_tol_ns:
                    c["duplicates"] += 1
                    log.warning(
                        "%s: duplicate or late record %s-%s dropped",
                        self.info.channel_id,
                        _iso(packet.starttime_ns),
                        _iso(packet.endtime_ns),
                    )
                    return
                c["overlaps"] += 1
                log.warning(
                    "%s: overlap of %.3f s at %s; state reset",
                    self.info.channel_id,
                    -delta / NS_PER_S,
                    _iso(packet.starttime_ns),
                )
                self.reset()
        counts = packet.data
        start_ns = packet.starttime_ns
        history = self.history
        k0 = history.end
        d = self.design
        done = False
        lo = hi = rmax = 0.0
        out = self._out
        if not self.dead:
            pos = history.slot(n)
            if pos >= 0:
                if out.shape[1] != n:
                    out = self._out = np.empty((chain.N_ROWS, n))
                done, lo, hi, rmax = _feed_fast(
                    counts,
                    self._flat,
                    self._flat_n,
                    d.params,
                    d.bp_sos,
                    d.hp_sos,
                    d.lp_sos,
                    self._state,
                    out,
                    history.buffer,
                    pos,
                )
        if not done:
            lo, hi, lead, trail = _scan_counts(counts)
            drop = self._check_flat(counts, lo, hi, n, lead, trail)
            if drop:
                counts = counts[drop:]
                n -= drop
                start_ns += round(drop * self.period_ns)
                lo, hi = _minmax(counts)
            k0 = history.end
            out = np.empty((chain.N_ROWS, n))  # contiguous: faster in the kernel than a view
            ring, pos = history.reserve(n)
            rmax = _process_and_store(
                counts, d.params, d.bp_sos, d.hp_sos, d.lp_sos, self._state, out, ring, pos
            )
        data = self.data
        data.anchor_ns, data.anchor_k = start_ns, k0
        history.advance(n)
        self._next_ns = packet.endtime_ns
        self._n_samples += n
        clip = self.picker.clip_counts
        clipped = hi >= clip or -lo >= clip
        if clipped or self.dead or n == 0:
            self.last_peak_acc_cm_s2 = self.last_peak_vel_cm_s = math.nan
        else:
            self.last_peak_acc_cm_s2 = float(np.abs(history.read(chain.ROW_ACC, k0, k0 + n)).max())
            self.last_peak_vel_cm_s = float(np.abs(history.read(chain.ROW_VEL, k0, k0 + n)).max())
        if clipped:
            idx = np.flatnonzero(np.abs(counts) >= clip)
            first, last = k0 + int(idx[0]), k0 + int(idx[-1])
            spans = data.clip_spans
            if spans and first - spans[-1][1] <= self.picker.n_clip_hold:
                spans[-1] = (spans[-1][0], last)  # the same episode goes on
            else:
                c["clip_episodes"] += 1
                log.warning(
                    "%s: clipped at %s (|x| >= %.0f counts)",
                    self.info.channel_id,
                    _iso(data.time_of(first)),
                    clip,
                )
                data.clip_spans = [*spans[-7:], (first, last)]
        if packet.calibration:
            data.calibration_spans = [*data.calibration_spans[-7:], (k0, k0 + n)]
        ons: list[int] = []
        trig = self.trigger
        if (
            self.can_trigger
            and not self.dead
            and (trig.triggered or rmax > trig.on_ratio or trig.busy(k0))
        ):
            ons = self.trigger.scan(out[chain.ROW_RATIO], k0)
        if ons or self.picker.tracks:
            self.picker.advance(ons, self.history.end)

    def _check_flat(
        self, counts: np.ndarray, lo: float, hi: float, n: int, lead: int, trail: int
    ) -> int:
        """Track the run of constant samples across packets; declare dead/revived channels.

        Returns the number of leading samples to drop: when a dead channel comes back,
        processing restarts at its first live sample (flat samples must not warm up the LTA).
        """
        if lo == hi:
            if self._flat_run and lo == self._flat_value:
                self._flat_run += n
            else:
                self._flat_value, self._flat_run = lo, n
        else:
            run = self._flat_run + lead if (self._flat_run and counts[0] == self._flat_value) else 0
            if run >= self._flat_n:
                self._flat_run = run  # a dead stretch that ends inside this packet
                self._declare_dead()
            self._flat_value, self._flat_run = float(counts[-1]), trail
            if self.dead:
                self.dead = False
                self.counters["revived"] += 1
                log.warning("%s: data alive again; state reset", self.info.channel_id)
                self.reset()
                return lead if counts[0] == counts[lead - 1] and lead < n else 0
            return 0
        if self._flat_run >= self._flat_n:
            self._declare_dead()
        return 0

    def _declare_dead(self) -> None:
        if not self.dead:
            self.dead = True
            self.counters["dead"] += 1
            log.warning(
                "%s: dead channel (flat for %.1f s); triggers suppressed",
                self.info.channel_id,
                self._flat_run / self.fs,
            )

    def reset(self) -> None:
        """Start afresh (gap, overlap, revived channel): finish picks, clear all state."""
        self.picker.on_reset(self.history.end)
        self._state = self.design.new_state()
        self.data.clear()
        self.trigger.reset()
        self._next_ns = None

    def slow_state(self) -> np.ndarray:
        """What of the channel's state forgets its past most slowly, as numbers.

        The running-mean baseline, the STA and the LTA (which holds a strong event's energy
        for many minutes), whether a trigger is on, whether the channel is dead, the picks in
        progress, and last the end of its newest data [ns] (NaN before any or after a gap).
        Two runs that agree on the first six at the same data time agree on what the channel
        does next (the filters forget within seconds); the time chunks of a parallel replay
        check their warm-ups with it (:mod:`eew.parallel.chunks`).
        """
        st = self._state
        return np.array(
            [
                st[chain.S_MEAN],
                st[chain.S_STA],
                st[chain.S_LTA],
                float(self.trigger.triggered),
                float(self.dead),
                float(len(self.picker.tracks)),
                float(self._next_ns) if self._next_ns is not None else math.nan,
            ]
        )

    def statistics(self) -> ChannelCounts:
        """Counters of this channel (packets, samples, gaps, picks, rejections by reason...)."""
        c, p = self.counters, self.picker
        return ChannelCounts(
            packets=self._n_packets,
            samples=self._n_samples,
            gaps=c["gaps"],
            overlaps=c["overlaps"],
            duplicates=c["duplicates"],
            rate_mismatch=c["rate_mismatch"],
            empty_packets=c["empty_packets"],
            dead=c["dead"],
            revived=c["revived"],
            clip_episodes=c["clip_episodes"],
            triggers=p.n_triggers,
            picks=p.n_picks,
            pick_messages=p.n_messages,
            rejections=dict(p.rejections),
        )


def _iso(t_ns: int) -> str:
    from eew.model.timeutil import ns_to_iso

    return ns_to_iso(t_ns)
