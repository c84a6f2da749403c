"""A growable ring buffer of recent samples, indexed by absolute sample number."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _ring_write(buf: np.ndarray, pos: int, block: np.ndarray, extra: np.ndarray) -> None:
    """Write ``block`` rows and ``extra`` (as the last row) at ring position ``pos``.

    As slices, in at most two runs (the ring wraps once at most): contiguous copies rather
    than one store per row and sample.
    """
    cap = buf.shape[1]
    rows = block.shape[0]
    n = block.shape[1]
    first = min(n, cap - pos)
    buf[:rows, pos : pos + first] = block[:, :first]
    buf[rows, pos : pos + first] = extra[:first]
    if first < n:
        buf[:rows, : n - first] = block[:, first:]
        buf[rows, : n - first] = extra[first:]


class History:
    """The last ``capacity`` samples of several parallel rows.

    Samples are addressed by their absolute index since the channel's last
    (re)start; :meth:`read` returns a contiguous copy of ``[k0, k1)``.

    Parameters
    ----------
    n_rows : int
        Number of parallel quantities.
    min_capacity : int
        Samples that must stay readable behind the newest one [samples].
    """

    def __init__(self, n_rows: int, min_capacity: int) -> None:
        self._min = int(min_capacity)
        self._buf = np.zeros((n_rows, self._min))
        self._end = 0

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self._end

    @property
    def start(self) -> int:
        """Oldest absolute index still readable."""
        return max(0, self._end - self._buf.shape[1])

    def clear(self) -> None:
        """Forget everything (after a gap); indices restart at 0."""
        self._end = 0

    def reserve(self, n: int) -> tuple[np.ndarray, int]:
        """Make room for ``n`` new samples; return the buffer and the write position.

        The caller writes with :func:`_ring_write` (wrapping) and then calls :meth:`advance`.
        """
        if n + self._min > self._buf.shape[1]:
            self._grow(n + self._min)
        return self._buf, self._end % self._buf.shape[1]

    def slot(self, n: int) -> int:
        """Write position for ``n`` new samples if they fit without growing, else -1.

        The fast path of :meth:`eew.detect.channel.ChannelProcessor.feed` writes into
        :attr:`buffer` at this position, then calls :meth:`advance`.
        """
        cap = self._buf.shape[1]
        return -1 if n + self._min > cap else self._end % cap

    @property
    def buffer(self) -> np.ndarray:
        """The ring itself (rows x capacity)."""
        return self._buf

    def advance(self, n: int) -> None:
        """Commit ``n`` samples written after :meth:`reserve`."""
        self._end += n

    def read(self, row: int, k0: int, k1: int) -> np.ndarray:
        """Samples ``[k0, k1)`` of ``row`` (clamped to what is still held)."""
        k0 = max(k0, self.start)
        k1 = min(k1, self._end)
        if k1 <= k0:
            return np.zeros(0)
        cap = self._buf.shape[1]
        p0, p1 = k0 % cap, k1 % cap
        if p0 < p1 or (p1 == 0 and k1 > k0):
            return self._buf[row, p0 : p1 if p1 else cap].copy()
        return np.concatenate((self._buf[row, p0:], self._buf[row, :p1]))

    def _grow(self, needed: int) -> None:
        rows, cap = self._buf.shape
        new_cap = max(needed, int(cap * 1.5))
        k0 = self.start
        old = np.stack([self.read(r, k0, self._end) for r in range(rows)])
        self._buf = np.zeros((rows, new_cap))
        pos, n = k0 % new_cap, old.shape[1]
        first = min(n, new_cap - pos)
        self._buf[:, pos : pos + first] = old[:, :first]
        self._buf[:, : n - first] = old[:, first:]
