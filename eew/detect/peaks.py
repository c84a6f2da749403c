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
from collections import deque
from dataclasses import dataclass

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
    """Per-station peak |acceleration| [cm/s²] in 1-s bins of data time."""

    def __init__(self, keep_s: int = KEEP_S) -> None:
        self._keep = keep_s
        self._bins: dict[str, deque[list[float]]] = {}

    def add(self, station_id: str, end_ns: int, peak_cm_s2: float) -> None:
        """Record the peak of one packet ending at ``end_ns``; NaN (clipped, dead) is ignored."""
        if not math.isfinite(peak_cm_s2):
            return
        b = float(end_ns // NS_PER_S)
        q = self._bins.get(station_id)
        if q is None:
            q = self._bins[station_id] = deque(maxlen=self._keep)
        if q and q[-1][0] == b:
            q[-1][1] = max(q[-1][1], peak_cm_s2)
        elif not q or b > q[-1][0]:
            q.append([b, peak_cm_s2])
        else:  # a late packet of an earlier second: rare, search back
            for item in reversed(q):
                if item[0] == b:
                    item[1] = max(item[1], peak_cm_s2)
                    return
                if item[0] < b:
                    break

    def add_sample(self, sample: PeakSample) -> None:
        """:meth:`add` for a :class:`PeakSample`."""
        self.add(sample.station_id, sample.end_ns, sample.peak_cm_s2)

    def peak(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest peak in the bins of ``[start_ns, end_ns]`` [cm/s²]; None without data."""
        q = self._bins.get(station_id)
        if not q:
            return None
        b0, b1 = start_ns // NS_PER_S, end_ns // NS_PER_S
        best: float | None = None
        for b, v in reversed(q):
            if b < b0:
                break
            if b <= b1 and (best is None or v > best):
                best = v
        return best
