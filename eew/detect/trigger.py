"""The per-channel trigger state machine: on/off thresholds and dead time."""

from __future__ import annotations

import numpy as np


class TriggerState:
    """Turns an STA/LTA ratio stream into trigger-on sample indices.

    A trigger starts when the ratio rises above ``on_ratio`` and ends when it
    falls below ``off_ratio``; no new trigger may start within ``n_dead``
    samples of the last start (dead time). The state carries across packets
    and is reset with the channel.
    """

    def __init__(self, on_ratio: float, off_ratio: float, n_dead: int) -> None:
        self.on_ratio = on_ratio
        self.off_ratio = off_ratio
        self.n_dead = n_dead
        self.reset()

    def reset(self) -> None:
        """Forget any trigger in progress (after a gap)."""
        self.triggered = False
        self.rearm_index = 0

    def scan(self, ratio: np.ndarray, base: int) -> list[int]:
        """Return the absolute indices where triggers start in this block.

        Parameters
        ----------
        ratio : numpy.ndarray
            STA/LTA ratio of the block.
        base : int
            Absolute index of ``ratio[0]``.
        """
        ons: list[int] = []
        n = ratio.shape[0]
        i = 0
        while i < n:
            if self.triggered:
                rel = np.flatnonzero(ratio[i:] < self.off_ratio)
                if rel.size == 0:
                    break
                i += int(rel[0])
                self.triggered = False
                continue
            start = max(i, self.rearm_index - base)
            if start >= n:
                break
            rel = np.flatnonzero(ratio[start:] > self.on_ratio)
            if rel.size == 0:
                break
            k = start + int(rel[0])
            ons.append(base + k)
            self.triggered = True
            self.rearm_index = base + k + self.n_dead
            i = k + 1
        return ons
