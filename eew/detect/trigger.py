"""The per-channel trigger state machine: on/off thresholds, dead time, coda re-trigger.

Ordinary trigger
    A trigger starts when the STA/LTA ratio rises above ``on_ratio`` and ends
    when it falls below ``off_ratio``; no new trigger may start within
    ``n_dead`` samples of the last start (dead time).

Coda re-trigger (STA/MTA)
    After a strong event the 20-s LTA stays inflated by its S waves and coda
    for tens of seconds, so the P wave of a second event arriving in that coda
    lifts the ratio from ~0.01 to well below ``on_ratio``; and where the coda
    keeps the ratio above ``off_ratio`` the trigger is still on and no new one
    can start. Both hide the second event. While the channel is *busy* (within
    ``n_busy`` samples of its last trigger start) a trigger therefore also
    starts, triggered or not, when the ratio at sample ``i`` exceeds
    ``jump_ratio`` times its minimum over the reference window
    ``[i - n_gap - n_window, i - n_gap)``. The LTA hardly changes over a few
    seconds, so this compares the current STA with the lowest STA of the
    recent past: an STA over "medium-term average" detector whose reference
    follows the decaying coda. A decaying or steady coda never rises much
    above its own recent minimum (its 0.5-s STA fluctuates by a factor of a
    few), while a new P onset adds energy one to three orders of magnitude
    above the local coda level. The gap keeps the onset itself (and the STA
    rise of the first samples) out of the reference. The dead time still
    applies, so the P-to-S rise of the first event (S-P under ``n_dead``)
    gives no re-trigger; later phases of the first event (S at larger
    distance, strong coda bursts) can, and the picker's SNR test, whose noise
    window is the pre-onset coda, and the event core's S-wave recognition
    deal with them.

    The busy window (``retrigger_busy_s``, 30 s by default; every trigger,
    re-triggers included, restarts it) bounds how long a channel stays armed:
    the longer, the more late phases of the first event (PmP/SmS reflections,
    Lg, surface waves) find a decayed coda to stand out from. 30 s covers a
    second event 20 s after the first (``double_m5``) with no extra alert on
    the bundled scenarios.

Causality and packet size: the reference window must lie wholly after the
last trigger start (``i >= last_on + n_gap + n_window``), and the channel
scans every packet while busy, so every decision at sample ``i`` is a
function of ratio samples in ``[last_on, i]`` only, all of which were
scanned, whatever the packet cut. The state carries across packets and is
reset with the channel.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _first_jump(
    x: np.ndarray, lo: int, hi: int, n_window: int, n_gap: int, jump_ratio: float
) -> int:
    """First ``i`` in ``[lo, hi)`` with ``x[i] > jump_ratio * min(x[i-n_gap-n_window:i-n_gap])``.

    Parameters
    ----------
    x : numpy.ndarray
        Ratio samples; the caller guarantees ``lo - n_gap - n_window >= 0``.
    lo, hi : int
        Range of tested indices into ``x``.
    n_window, n_gap : int
        Reference window length and its gap before the tested sample [samples].
    jump_ratio : float
        Threshold on the ratio of the sample to the reference minimum.

    Returns
    -------
    int
        The index, or -1 if there is none. A reference minimum of 0 (flat
        channel) never triggers.
    """
    for i in range(lo, hi):
        v = x[i]
        if v <= 0.0:
            continue
        a = i - n_gap - n_window
        m = x[a]
        for j in range(a + 1, i - n_gap):
            if x[j] < m:
                m = x[j]
        if m > 0.0 and v > jump_ratio * m:
            return i
    return -1


class TriggerState:
    """Turns an STA/LTA ratio stream into trigger-on sample indices.

    Parameters
    ----------
    on_ratio, off_ratio : float
        Ratios that start and end an ordinary trigger.
    n_dead : int
        Dead time after any trigger start [samples].
    jump_ratio : float, optional
        Coda re-trigger threshold (ratio over its reference minimum); 0
        disables the re-trigger.
    n_window, n_gap : int, optional
        Reference window of the re-trigger and its gap before the tested
        sample [samples].
    n_busy : int, optional
        The re-trigger is armed this long after the last trigger start [samples].

    Notes
    -----
    See the module docstring for the re-trigger and why its decisions do not
    depend on the packet size.
    """

    def __init__(
        self,
        on_ratio: float,
        off_ratio: float,
        n_dead: int,
        jump_ratio: float = 0.0,
        n_window: int = 1,
        n_gap: int = 0,
        n_busy: int = 0,
    ) -> None:
        self.on_ratio = on_ratio
        self.off_ratio = off_ratio
        self.n_dead = n_dead
        self.jump_ratio = jump_ratio
        self.n_window = max(1, n_window)
        self.n_gap = max(0, n_gap)
        self.n_busy = n_busy if jump_ratio > 0 else 0
        self._n_tail = self.n_window + self.n_gap
        self.reset()

    def reset(self) -> None:
        """Forget any trigger in progress (after a gap)."""
        self.triggered = False
        self.rearm_index = 0
        #: absolute index of the last trigger start (None: none since the reset)
        self.last_on: int | None = None
        self._tail = np.empty(0)
        self._tail_end = -1

    def busy(self, k: int) -> bool:
        """True while the coda re-trigger is armed at absolute sample ``k``.

        The channel must scan every packet that starts while busy, so that the
        reference window of the re-trigger is always known.
        """
        return self.last_on is not None and k < self.last_on + self.n_busy

    def scan(self, ratio: np.ndarray, base: int) -> list[int]:
        """Return the absolute indices where triggers start in this block.

        Parameters
        ----------
        ratio : numpy.ndarray
            STA/LTA ratio of the block.
        base : int
            Absolute index of ``ratio[0]``.

        Returns
        -------
        list of int
            Trigger starts (ordinary and re-triggers), in increasing order.
        """
        n = ratio.shape[0]
        if self._tail_end == base and self._tail.shape[0]:
            x = np.concatenate((self._tail, ratio))
            x_base = base - self._tail.shape[0]
        else:
            x = ratio
            x_base = base
        ons: list[int] = []
        i = 0
        while i < n:
            start = max(i, self.rearm_index - base)
            if self.triggered:
                rel = np.flatnonzero(ratio[i:] < self.off_ratio)
                k_off = i + int(rel[0]) if rel.size else n
                k_re = self._jump(x, x_base, base, start, k_off)
                if k_re >= 0:
                    self._start(ons, base, k_re)
                    i = k_re + 1
                    continue
                if k_off >= n:
                    break
                self.triggered = False
                i = k_off
                continue
            if start >= n:
                break
            rel = np.flatnonzero(ratio[start:] > self.on_ratio)
            k_on = start + int(rel[0]) if rel.size else n
            k_re = self._jump(x, x_base, base, start, k_on)
            k = k_re if k_re >= 0 else k_on
            if k >= n:
                break
            self._start(ons, base, k)
            i = k + 1
        self._tail = x[max(0, x.shape[0] - self._n_tail) :].copy()
        self._tail_end = base + n
        return ons

    def _start(self, ons: list[int], base: int, k: int) -> None:
        ons.append(base + k)
        self.triggered = True
        self.last_on = base + k
        self.rearm_index = base + k + self.n_dead

    def _jump(self, x: np.ndarray, x_base: int, base: int, lo: int, hi: int) -> int:
        """First re-trigger in block indices ``[lo, hi)``, or -1."""
        if self.last_on is None or self.n_busy <= 0:
            return -1
        first = max(base + lo, self.last_on + self._n_tail, x_base + self._n_tail)
        last = min(base + hi, self.last_on + self.n_busy)
        if first >= last:
            return -1
        k = _first_jump(
            x, first - x_base, last - x_base, self.n_window, self.n_gap, self.jump_ratio
        )
        return -1 if k < 0 else k + x_base - base
