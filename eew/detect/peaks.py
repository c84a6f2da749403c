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
from collections import deque
from dataclasses import dataclass

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


#: a bin's value where the station had no unclipped sample
_NONE = -1.0


def _value(x: float) -> float:
    return x if math.isfinite(x) else _NONE


class PeakStore:
    """Per-station peak |acceleration| [cm/s²] and |velocity| [cm/s] in 1-s bins of data time."""

    def __init__(self, keep_s: int = KEEP_S) -> None:
        self._keep = keep_s
        #: per station: [second, peak acceleration, peak velocity] (``_NONE``: no value)
        self._bins: dict[str, deque[list[float]]] = {}

    def add(
        self, station_id: str, end_ns: int, peak_cm_s2: float, peak_velocity_cm_s: float = math.nan
    ) -> None:
        """Record the peaks of one packet ending at ``end_ns``; NaN (clipped, dead) is ignored."""
        acc, vel = _value(peak_cm_s2), _value(peak_velocity_cm_s)
        if acc == _NONE and vel == _NONE:
            return
        b = float(end_ns // NS_PER_S)
        q = self._bins.get(station_id)
        if q is None:
            q = self._bins[station_id] = deque(maxlen=self._keep)
        if q and q[-1][0] == b:
            item = q[-1]
        elif not q or b > q[-1][0]:
            q.append([b, acc, vel])
            return
        else:  # a late packet of an earlier second: rare, search back
            for item in reversed(q):
                if item[0] <= b:
                    break
            else:
                return
            if item[0] < b:
                return
        item[1] = max(item[1], acc)
        item[2] = max(item[2], vel)

    def add_sample(self, sample: PeakSample) -> None:
        """:meth:`add` for a :class:`PeakSample`."""
        self.add(sample.station_id, sample.end_ns, sample.peak_cm_s2, sample.peak_velocity_cm_s)

    def _peak(self, column: int, station_id: str, start_ns: int, end_ns: int) -> float | None:
        q = self._bins.get(station_id)
        if not q:
            return None
        b0, b1 = start_ns // NS_PER_S, end_ns // NS_PER_S
        best = _NONE
        for item in reversed(q):
            if item[0] < b0:
                break
            if item[0] <= b1 and item[column] > best:
                best = item[column]
        return None if best == _NONE else best

    def peak(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest acceleration in the bins of ``[start_ns, end_ns]`` [cm/s²]; None without data."""
        return self._peak(1, station_id, start_ns, end_ns)

    def peak_velocity(self, station_id: str, start_ns: int, end_ns: int) -> float | None:
        """Largest velocity in the bins of ``[start_ns, end_ns]`` [cm/s]; None without data."""
        return self._peak(2, station_id, start_ns, end_ns)
