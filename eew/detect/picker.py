"""From trigger to pick: onset refinement, rejection tests, growing-window early-P updates.

Each trigger becomes a *track*. ``decision_delay_s`` after the trigger the
onset is refined with the AIC picker and the rejection tests run on the data
around it (calibration flag, clipping, dead channel, spike/step/boxcar, SNR).
A track that passes is emitted as update 0 of a :class:`~eew.model.pick.Pick`
and re-issued every ``update_interval_s`` with the early-P parameters on the
longer window, up to ``window_max_s`` after the onset. A new trigger on the
channel cuts the window there; a gap ends it.

Every decision is taken at a fixed sample index and uses only samples before
it, so the results do not depend on how the data were cut into packets.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eew.config import PickerConfig, RejectionConfig
from eew.detect.state import ChannelData
from eew.dsp import chain, earlyp, quality
from eew.dsp.onset import aic_onset
from eew.inventory import ChannelInfo
from eew.model.pick import Pick, RejectedTrigger
from eew.model.timeutil import ns_to_iso

log = logging.getLogger("eew.detect")

H_RAW = chain.ROW_RAW
H_BP, H_ACC, H_VEL, H_DISP, H_TAUP = (
    chain.ROW_BP,
    chain.ROW_ACC,
    chain.ROW_VEL,
    chain.ROW_DISP,
    chain.ROW_TAUP,
)
H_COUNTS = chain.N_ROWS


@dataclass
class _Track:
    k_on: int
    due: int
    accepted: bool = False
    k0: int = 0
    update: int = 0
    cut: int | None = None
    noise_peak: float = 0.0
    pick_id: str = ""
    last_pd: float = 0.0


class Picker:
    """Tracks of one channel; driven by :meth:`advance` after each packet.

    Parameters
    ----------
    info : ChannelInfo
        Station metadata of the channel (ids, position, sensor kind, sample rate).
    data : ChannelData
        The channel's recent samples and episodes, written by its
        :class:`~eew.detect.channel.ChannelProcessor` and only read here.
    picker, rejection : PickerConfig, RejectionConfig
        The ``[picker]`` and ``[rejection]`` sections.
    emit : callable
        Receives every pick message and rejected trigger.
    now_ns : callable
        Returns the current time [ns] (the ``sent_time`` of what is emitted).
    sampling_rate_hz : float, optional
        The rate the channel runs at (its records'); default the inventory's.
    siblings : callable, optional
        Returns the data of the other components of the same sensor (a calibration
        sine is on every component; an earthquake's P wave is not a steady sine on all).

    Attributes
    ----------
    n_triggers, n_picks, n_messages : int
        Trigger-ons seen, picks accepted, pick messages emitted.
    rejections : collections.Counter
        Rejected triggers per reason.
    """

    def __init__(
        self,
        info: ChannelInfo,
        data: ChannelData,
        picker: PickerConfig,
        rejection: RejectionConfig,
        emit: Callable[[object], None],
        now_ns: Callable[[], int],
        sampling_rate_hz: float | None = None,
        *,
        siblings: Callable[[], Sequence[ChannelData]] | None = None,
    ) -> None:
        self.info = info
        self._siblings = siblings
        self.data = data
        self.cfg = picker
        self.rej = rejection
        self._emit = emit
        self._now_ns = now_ns
        self.n_triggers = 0
        self.n_picks = 0
        self.n_messages = 0
        self.rejections: Counter[str] = Counter()
        fs = float(info.sampling_rate_hz if sampling_rate_hz is None else sampling_rate_hz)
        self.n_delay = max(1, round(self.cfg.decision_delay_s * fs))
        self.n_aic = round(self.cfg.aic_before_s * fs)
        self.n_noise = round(self.cfg.noise_window_s * fs)
        self.n_update = max(1, round(self.cfg.update_interval_s * fs))
        self.n_window = round(self.cfg.window_max_s * fs)
        self.n_extend = max(self.n_window, round(self.cfg.extend_window_s * fs))
        self.n_taup = round(self.cfg.taup_delay_s * fs)
        self.n_guard = round(0.1 * fs)
        self.n_glitch_top = quality.glitch_top(fs)
        self.n_clip_hold = round(self.rej.clip_hold_s * fs)
        self.clip_counts = self.rej.clip_counts
        self.dt = 1.0 / fs
        self.tracks: list[_Track] = []

    # ---- driving ------------------------------------------------------------------
    def advance(self, ons: list[int], end: int) -> None:
        """Handle new trigger-ons and every decision/update due before sample ``end``."""
        pending_ons = list(ons)
        while True:
            nxt = min(self.tracks, key=lambda t: t.due) if self.tracks else None
            next_due = nxt.due if nxt is not None else None
            if pending_ons and (next_due is None or pending_ons[0] <= next_due):
                self._on_trigger(pending_ons.pop(0))
                continue
            if nxt is not None and next_due is not None and next_due <= end:
                self._service(nxt)
                continue
            break

    def on_reset(self, end: int) -> None:
        """The channel resets: finish accepted picks with the data so far, drop undecided ones."""
        for t in self.tracks:
            if t.accepted:
                self._emit_update(t, end, final=True)
            else:
                self._reject(t, "gap", "data stopped before the pick could be decided")
        self.tracks = []

    # ---- steps ------------------------------------------------------------------------
    def _on_trigger(self, k_on: int) -> None:
        self.n_triggers += 1
        for t in self.tracks:
            if t.accepted and (t.cut is None or k_on < t.cut):
                t.cut = k_on
                t.due = min(t.due, k_on)
        self.tracks.append(_Track(k_on=k_on, due=k_on + self.n_delay))

    def _service(self, t: _Track) -> None:
        if not t.accepted:
            self._decide(t)
            return
        final = t.due >= t.k0 + self.n_extend or (t.cut is not None and t.due >= t.cut)
        if not final and t.due - t.k0 >= round(2.0 / self.dt):
            raw = self.data.history.read(H_RAW, t.k0, t.due)
            sine, frac = quality.is_sine_like(raw, self.rej.monochromatic_fraction)
            if sine and self._siblings_disagree(t.k0, t.due):
                sine = False
            if sine:
                self._emit_update(t, t.due, final=True, retracted=True)
                self._reject(
                    t,
                    "calibration",
                    f"monochromatic steady sine ({frac:.2f} of the energy at one frequency)",
                )
                self.tracks.remove(t)
                return
        if self._emit_update(t, t.due, final=final):
            self.tracks.remove(t)
        else:
            self._schedule(t)

    def _siblings_disagree(self, k0: int, k1: int) -> bool:
        """True if another component of the sensor holds the window and shows no sine there.

        A calibration signal drives every component of a sensor; components whose data do
        not (yet) cover the window are not consulted, so a single-component sensor decides
        alone.
        """
        if self._siblings is None:
            return False
        t0, t1 = self.data.time_of(k0), self.data.time_of(k1)
        for other in self._siblings():
            h = other.history
            a = other.anchor_k + round((t0 - other.anchor_ns) / other.period_ns)
            b = other.anchor_k + round((t1 - other.anchor_ns) / other.period_ns)
            if a < h.start or b > h.end or b - a < 16:
                continue
            sine, _frac = quality.is_sine_like(h.read(H_RAW, a, b), self.rej.monochromatic_fraction)
            if not sine:
                return True
        return False

    def _decide(self, t: _Track) -> None:
        data = self.data
        h = data.history
        end = t.due
        w0 = max(h.start, t.k_on - self.n_aic)
        bp = h.read(H_BP, w0, end)
        k_rel = aic_onset(bp)
        t.k0 = w0 + k_rel if k_rel >= 0 else t.k_on
        k0 = t.k0
        # calibration flag in the records around the onset
        if self.rej.calibration_flag:
            for a, b in data.calibration_spans:
                if a < end and b > k0 - round(1.0 / self.dt):
                    self._reject(t, "calibration", "record flagged 'calibration signals present'")
                    self.tracks.remove(t)
                    return
        if data.clipped_between(k0 - self.n_clip_hold, end):
            self._reject(t, "clipped", f"samples at or above {self.clip_counts:.0f} counts")
            self.tracks.remove(t)
            return
        counts_noise = h.read(H_COUNTS, max(h.start, k0 - self.n_noise), k0)
        if counts_noise.shape[0] >= 2 and quality.is_flat(counts_noise):
            self._reject(t, "dead", "no signal before the trigger (flat channel)")
            self.tracks.remove(t)
            return
        counts = h.read(H_COUNTS, max(h.start, k0 - round(0.5 / self.dt)), end)
        code, conc = quality.glitch_test(counts, self.rej.glitch_concentration, self.n_glitch_top)
        if code != quality.GLITCH_NONE:
            self._reject(
                t,
                quality.GLITCH_NAMES[code],
                f"{conc:.2f} of the first-difference energy in {self.n_glitch_top} samples",
            )
            self.tracks.remove(t)
            return
        noise = h.read(H_BP, max(h.start, k0 - self.n_noise), max(h.start, k0 - self.n_guard))
        t.noise_peak = float(np.abs(noise).max()) if noise.shape[0] else 0.0
        if t.noise_peak == 0.0:
            self._reject(t, "dead", "no signal before the onset (flat or just revived channel)")
            self.tracks.remove(t)
            return
        signal_peak = float(np.abs(h.read(H_BP, k0, end)).max()) if end > k0 else 0.0
        snr = signal_peak / t.noise_peak if t.noise_peak > 0 else np.inf
        if snr < self.cfg.min_snr:
            self._reject(t, "low_snr", f"SNR {snr:.2f} < {self.cfg.min_snr}")
            self.tracks.remove(t)
            return
        t.accepted = True
        t.pick_id = f"{self.info.channel_id}@{ns_to_iso(data.time_of(t.k_on))}"
        self.n_picks += 1
        self._emit_update(t, end, final=False)
        self._schedule(t)

    def _schedule(self, t: _Track) -> None:
        m = (t.due - t.k0) // self.n_update + 1
        due = t.k0 + m * self.n_update
        due = min(due, t.k0 + self.n_extend)
        if t.cut is not None:
            due = min(due, t.cut)
        t.due = max(due, t.due + 1)

    # ---- output -----------------------------------------------------------------------
    def _emit_update(self, t: _Track, end: int, final: bool, retracted: bool = False) -> bool:
        """Emit one message of the pick; return whether it was the final one."""
        data = self.data
        h = data.history
        k0 = max(t.k0, h.start)
        p = earlyp.early_p_params(
            h.read(H_DISP, k0, end),
            h.read(H_VEL, k0, end),
            h.read(H_ACC, k0, end),
            h.read(H_TAUP, k0, end),
            h.read(H_BP, k0, end),
            t.noise_peak,
            self.n_taup,
            self.dt,
        )
        clipped = data.clipped_between(t.k0, end)
        if clipped:
            final = True  # the window stops growing once the channel clips
        pd = float(p[earlyp.I_PD])
        if end - t.k0 >= self.n_window and not pd > (1.0 + self.cfg.extend_growth) * t.last_pd:
            final = True  # beyond the early-P window only while Pd is still growing
        t.last_pd = pd
        info = self.info
        pick = Pick(
            pick_id=t.pick_id,
            channel_id=info.channel_id,
            time_ns=data.time_of(t.k0),
            trigger_time_ns=data.time_of(t.k_on),
            sent_time_ns=self._now_ns(),
            update=t.update,
            final=final,
            window_s=(end - t.k0) * self.dt,
            pd_cm=float(p[earlyp.I_PD]),
            pv_cm_s=float(p[earlyp.I_PV]),
            pa_cm_s2=float(p[earlyp.I_PA]),
            tau_c_s=float(p[earlyp.I_TAUC]),
            tau_p_max_s=float(p[earlyp.I_TAUP]),
            snr=float(p[earlyp.I_SNR]),
            sensor=info.kind,
            latitude_deg=info.latitude_deg,
            longitude_deg=info.longitude_deg,
            elevation_m=info.elevation_m,
            clipped=clipped,
            retracted=retracted,
        )
        t.update += 1
        self.n_messages += 1
        self._emit(pick)
        return final

    def _reject(self, t: _Track, reason: str, detail: str) -> None:
        self.rejections[reason] += 1
        trig_ns = self.data.time_of(t.k_on)
        log.warning(
            "%s: trigger at %s rejected: %s (%s)",
            self.info.channel_id,
            ns_to_iso(trig_ns),
            reason,
            detail,
        )
        self._emit(RejectedTrigger(self.info.channel_id, trig_ns, self._now_ns(), reason, detail))
