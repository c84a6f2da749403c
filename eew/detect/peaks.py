"""Running peak ground acceleration and velocity per station.

FinDer (Böse et al. 2012, 2018) matches the *current* peak high-frequency amplitudes of
the whole network -- triggered or not, P or S -- to line-source templates, and the PLUM
term of the shaking forecast (Kodera et al. 2018) forwards the intensity being observed
now, from the whole shaking (S waves included), from both its PGA and PGV as ShakeMap's
instrumental intensity (Worden et al. 2012; Wald et al. 1999). The pick messages carry
only the acceleration of the early-P window, so the router keeps, per station, the
largest absolute acceleration and velocity of its unclipped channels in 1-s bins
(bounded: the newest :data:`KEEP_S` bins), and the event core asks for the peaks over a
time span (:meth:`PeakStore.peak`, :meth:`PeakStore.peak_velocity`).

References
----------
Böse, M., Heaton, T. H. and Hauksson, E. (2012). Real-time Finite Fault Rupture Detector
(FinDer) for large earthquakes. *GJI* 191, 803-812.

Kodera, Y. et al. (2018). The propagation of local undamped motion (PLUM) method. *BSSA*
108(2), 983-1003.
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
    """One packet's peak acceleration and velocity, as a parallel replay's workers pass it on.

    Internal to the replay: never written to an output.
    """

    station_id: str
    end_ns: int
    peak_cm_s2: float
    peak_velocity_cm_s: float = math.nan


#: a bin's value where the station had no unclipped sample (peaks are >= 0)
_NONE = -1.0


class PeakStore:
    """Per-station peak |acceleration| [cm/s²] and |velocity| [cm/s] in 1-s bins of data time.

    Each station's newest ``keep_s`` bins (seconds with data only) are a ring in three arrays,
    so that the batched replay (:mod:`eew.detect.batch`) adds its packets' peaks inside its
    numba kernel (:func:`peak_add`); :meth:`add` is the same operation for one packet.
    """

    def __init__(self, keep_s: int = KEEP_S) -> None:
        self._keep = int(keep_s)
        #: station id -> row of the arrays
        self.index: dict[str, int] = {}
        self.sec = np.zeros((0, self._keep), np.int64)  # bin (whole seconds of data time)
        self.val = np.zeros((0, self._keep))  # its peak acceleration [cm/s²] (_NONE: none)
        self.vel = np.zeros((0, self._keep))  # its peak velocity [cm/s] (_NONE: none)
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
                self.vel = np.concatenate([self.vel, np.zeros((grow, self._keep))])
                self.head = np.concatenate([self.head, np.zeros(grow, np.int64)])
                self.count = np.concatenate([self.count, np.zeros(grow, np.int64)])
        return s

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(sec, val, vel, head, count): the store as the numba kernels take it."""
        return self.sec, self.val, self.vel, self.head, self.count

    def add(
        self, station_id: str, end_ns: int, peak_cm_s2: float, peak_velocity_cm_s: float = math.nan
    ) -> None:
        """Record the peaks of one packet ending at ``end_ns``; NaN (clipped, dead) is ignored.

        A packet of a second already held raises that bin; a later second is a new bin (the
        oldest goes when ``keep_s`` are held); a late packet of an earlier second that is no
        longer (or never was) held is dropped.
        """
        if not (math.isfinite(peak_cm_s2) or math.isfinite(peak_velocity_cm_s)):
            return
        s = self.row(station_id)
        peak_add(*self.arrays, s, end_ns // NS_PER_S, peak_cm_s2, peak_velocity_cm_s)

    def add_many(
        self, rows: np.ndarray, end_ns: np.ndarray, peaks: np.ndarray, velocities: np.ndarray
    ) -> None:
        """:meth:`add` for many packets, in order.

        Station rows (:meth:`row`), ends [ns], peaks [cm/s²] and peak velocities [cm/s].
        """
        if rows.shape[0]:
            peak_add_many(*self.arrays, rows, end_ns, peaks, velocities)

    def add_sample(self, sample: PeakSample) -> None:
        """:meth:`add` for a :class:`PeakSample`."""
        self.add(sample.station_id, sample.end_ns, sample.peak_cm_s2, sample.peak_velocity_cm_s)

    def _peak(
        self, values: np.ndarray, station_id: str, start_ns: int, end_ns: int
    ) -> float | None:
        s = self.index.get(station_id)
        if s is None or not self.count[s]:
            return None
        found, best = _peak_between(
            self.sec, values, self.head, self.count, s, start_ns // NS_PER_S, end_ns // NS_PER_S
        )
        return float(best) if found else None

    def peak(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest acceleration in the bins of ``[start_ns, end_ns]`` [cm/s²]; None without data."""
        return self._peak(self.val, station_id, start_ns, end_ns)

    def peak_velocity(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest velocity in the bins of ``[start_ns, end_ns]`` [cm/s]; None without data."""
        return self._peak(self.vel, station_id, start_ns, end_ns)


@njit(cache=True)
def peak_add(
    sec: np.ndarray,
    val: np.ndarray,
    vel: np.ndarray,
    head: np.ndarray,
    count: np.ndarray,
    s: int,
    b: int,
    a: float,
    v: float,
) -> None:
    """Add the peaks ``a`` [cm/s²] and ``v`` [cm/s] of bin ``b`` [s] to station row ``s``.

    A NaN peak is no value (``_NONE`` in a new bin); nothing happens when both are NaN
    (see :meth:`PeakStore.add`).
    """
    if not math.isfinite(a):
        a = _NONE
    if not math.isfinite(v):
        v = _NONE
    if a == _NONE and v == _NONE:
        return
    keep = sec.shape[1]
    n = count[s]
    h = head[s]
    j = -1
    if n > 0 and sec[s, h] == b:
        j = h
    elif n == 0 or b > sec[s, h]:
        h = (h + 1) % keep if n > 0 else 0
        sec[s, h] = b
        val[s, h] = a
        vel[s, h] = v
        head[s] = h
        if n < keep:
            count[s] = n + 1
        return
    else:  # a late packet of an earlier second: rare, search back
        for i in range(1, n):
            k = (h - i) % keep
            if sec[s, k] == b:
                j = k
                break
            if sec[s, k] < b:
                return
        if j < 0:
            return
    if a > val[s, j]:
        val[s, j] = a
    if v > vel[s, j]:
        vel[s, j] = v


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
    """(any value in the bins ``[b0, b1]``, the largest) of station row ``s`` of ``val``."""
    keep = sec.shape[1]
    best = _NONE
    for i in range(count[s]):
        j = (head[s] - i) % keep
        b = sec[s, j]
        if b < b0:
            break
        if b <= b1 and val[s, j] > best:
            best = val[s, j]
    return best != _NONE, best


@njit(cache=True)
def peak_add_many(
    sec: np.ndarray,
    val: np.ndarray,
    vel: np.ndarray,
    head: np.ndarray,
    count: np.ndarray,
    rows: np.ndarray,
    end_ns: np.ndarray,
    peaks: np.ndarray,
    velocities: np.ndarray,
) -> None:
    """:func:`peak_add` for many packets, in order."""
    for i in range(rows.shape[0]):
        peak_add(
            sec, val, vel, head, count, rows[i], end_ns[i] // NS_PER_S, peaks[i], velocities[i]
        )
