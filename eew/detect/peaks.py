"""Running peak ground acceleration per station, for the finite-fault estimator.

FinDer (Böse et al. 2012, 2018) matches the *current* peak high-frequency amplitudes of
the whole network -- triggered or not, P or S -- to line-source templates. The pick
messages carry only the acceleration of the early-P window, so the router keeps, per
station, the largest absolute acceleration of its unclipped channels in 1-s bins
(bounded: the newest :data:`KEEP_S` bins), and the event core asks for the peak over a
time span (:meth:`PeakStore.peak`).

References
----------
Böse, M., Heaton, T. H. and Hauksson, E. (2012). Real-time Finite Fault Rupture Detector
(FinDer) for large earthquakes. *GJI* 191, 803-812.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from eew.model.timeutil import NS_PER_S

#: bins kept per station [s]
KEEP_S = 600


@dataclass(frozen=True, slots=True)
class PeakSample:
    """One packet's peak acceleration, as a parallel replay's workers pass it on.

    Internal to the replay: never written to an output.
    """

    station_id: str
    end_ns: int
    peak_cm_s2: float


class PeakStore:
    """Per-station peak |acceleration| [cm/s²] in 1-s bins of data time.

    Each station's newest ``keep_s`` bins (seconds with data only) are a ring in two arrays,
    so that the batched replay (:mod:`eew.detect.batch`) adds its packets' peaks inside its
    numba kernel (:func:`peak_add`); :meth:`add` is the same operation for one packet.
    """

    def __init__(self, keep_s: int = KEEP_S) -> None:
        self._keep = int(keep_s)
        #: station id -> row of the arrays
        self.index: dict[str, int] = {}
        self.sec = np.zeros((0, self._keep), np.int64)  # bin (whole seconds of data time)
        self.val = np.zeros((0, self._keep))  # its peak [cm/s²]
        self.head = np.zeros(0, np.int64)  # ring position of the newest bin
        self.count = np.zeros(0, np.int64)  # bins held

    def row(self, station_id: str) -> int:
        """The row of a station (added, empty, if new)."""
        s = self.index.get(station_id)
        if s is None:
            s = self.index[station_id] = len(self.index)
            if s >= self.head.shape[0]:
                grow = max(8, s)
                self.sec = np.concatenate([self.sec, np.zeros((grow, self._keep), np.int64)])
                self.val = np.concatenate([self.val, np.zeros((grow, self._keep))])
                self.head = np.concatenate([self.head, np.zeros(grow, np.int64)])
                self.count = np.concatenate([self.count, np.zeros(grow, np.int64)])
        return s

    def add(self, station_id: str, end_ns: int, peak_cm_s2: float) -> None:
        """Record the peak of one packet ending at ``end_ns``; NaN (clipped, dead) is ignored.

        A packet of a second already held raises that bin; a later second is a new bin (the
        oldest goes when ``keep_s`` are held); a late packet of an earlier second that is no
        longer (or never was) held is dropped.
        """
        if not math.isfinite(peak_cm_s2):
            return
        s = self.row(station_id)
        peak_add(self.sec, self.val, self.head, self.count, s, end_ns // NS_PER_S, peak_cm_s2)

    def add_many(self, rows: np.ndarray, end_ns: np.ndarray, peaks: np.ndarray) -> None:
        """:meth:`add` for many packets, in order: station rows (:meth:`row`), ends, peaks."""
        if rows.shape[0]:
            peak_add_many(self.sec, self.val, self.head, self.count, rows, end_ns, peaks)

    def add_sample(self, sample: PeakSample) -> None:
        """:meth:`add` for a :class:`PeakSample`."""
        self.add(sample.station_id, sample.end_ns, sample.peak_cm_s2)

    def peak(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest peak in the bins of ``[start_ns, end_ns]`` [cm/s²]; None without data."""
        s = self.index.get(station_id)
        if s is None or not self.count[s]:
            return None
        found, best = _peak_between(
            self.sec, self.val, self.head, self.count, s, start_ns // NS_PER_S, end_ns // NS_PER_S
        )
        return float(best) if found else None


@njit(cache=True)
def peak_add(
    sec: np.ndarray,
    val: np.ndarray,
    head: np.ndarray,
    count: np.ndarray,
    s: int,
    b: int,
    v: float,
) -> None:
    """Add a finite peak ``v`` of bin ``b`` [s] to station row ``s`` (see :meth:`PeakStore.add`)."""
    keep = sec.shape[1]
    n = count[s]
    h = head[s]
    if n > 0 and sec[s, h] == b:
        if v > val[s, h]:
            val[s, h] = v
    elif n == 0 or b > sec[s, h]:
        h = (h + 1) % keep if n > 0 else 0
        sec[s, h] = b
        val[s, h] = v
        head[s] = h
        if n < keep:
            count[s] = n + 1
    else:  # a late packet of an earlier second: rare, search back
        for i in range(1, n):
            j = (h - i) % keep
            if sec[s, j] == b:
                if v > val[s, j]:
                    val[s, j] = v
                return
            if sec[s, j] < b:
                return


@njit(cache=True)
def _peak_between(
    sec: np.ndarray,
    val: np.ndarray,
    head: np.ndarray,
    count: np.ndarray,
    s: int,
    b0: int,
    b1: int,
) -> tuple[bool, float]:
    """(any bin in ``[b0, b1]``, the largest peak of those bins) of station row ``s``."""
    keep = sec.shape[1]
    found = False
    best = 0.0
    for i in range(count[s]):
        j = (head[s] - i) % keep
        b = sec[s, j]
        if b < b0:
            break
        if b <= b1 and (not found or val[s, j] > best):
            best = val[s, j]
            found = True
    return found, best


@njit(cache=True)
def peak_add_many(
    sec: np.ndarray,
    val: np.ndarray,
    head: np.ndarray,
    count: np.ndarray,
    rows: np.ndarray,
    end_ns: np.ndarray,
    peaks: np.ndarray,
) -> None:
    """:func:`peak_add` for many packets, in order (finite peaks only)."""
    for i in range(rows.shape[0]):
        if np.isfinite(peaks[i]):
            peak_add(sec, val, head, count, rows[i], end_ns[i] // NS_PER_S, peaks[i])
