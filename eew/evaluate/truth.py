"""The known answer of a simulated scenario (``truth.json``, schema ``eew-simulate-truth/1``).

Only what the scorecard needs is read: each event's source and per-station P and S
times, and the station coordinates. Geometry helpers say whether an event lies inside
or near the network, and give true S arrival times at arbitrary sites from the
real-time travel-time tables (:func:`eew.event.traveltime.load_stack`), the same
ALM-1D-v0 model the simulator used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eew.errors import DataError
from eew.event.locate import TravelTimeStack
from eew.model.geo import distances_km
from eew.model.timeutil import iso_to_ns

TRUTH_FILE = "truth.json"
#: an event farther than this from every station is not "near the network" [km]
NEAR_NETWORK_KM = 50.0


@dataclass(frozen=True)
class TrueArrival:
    """True P and S arrival at one station [ns since the epoch]."""

    station_id: str
    p_ns: int
    s_ns: int
    epicentral_km: float


@dataclass(frozen=True)
class TrueTarget:
    """What an event did at one target site (``truth.json`` ``targets``).

    Attributes
    ----------
    name : str
        Target name (as in the targets CSV).
    s_ns : int
        First S arrival from any part of the rupture [ns since the epoch].
    msk, mmi : float
        Observed MSK-64 and MMI intensity of the simulated ground motion (NaN if absent).
    pga_cm_s2 : float
        Peak ground acceleration, larger horizontal [cm/s²].
    """

    name: str
    s_ns: int
    msk: float
    mmi: float
    pga_cm_s2: float


@dataclass(frozen=True)
class TrueSource:
    """How the simulator split the event into point sources (``line_source``).

    Attributes
    ----------
    subevents : numpy.ndarray
        One row per sub-event: latitude [deg], longitude [deg], depth [km], rupture time
        after origin [s].
    subevent_magnitude : float
        Mw of each sub-event (the moment is split equally).
    subevent_corner_frequency_hz : float
        Brune corner frequency of each sub-event [Hz]; its moment is released with the
        Brune source time function (``eew.simulate.source.brune_moment_fraction``).
    """

    subevents: np.ndarray
    subevent_magnitude: float
    subevent_corner_frequency_hz: float


@dataclass(frozen=True)
class TrueEvent:
    """One simulated earthquake."""

    id: str
    kind: str
    origin_ns: int
    latitude_deg: float
    longitude_deg: float
    depth_km: float
    magnitude: float
    arrivals: tuple[TrueArrival, ...]
    #: the scenario's ``expect_public_alert`` (None: decided from magnitude and position)
    expect_public_alert: bool | None = None
    #: (seconds after origin, Mw released so far) of a finite rupture (empty: point source)
    moment_release: tuple[tuple[float, float], ...] = ()
    #: target name -> what the event did there (empty for older truths and teleseisms)
    targets: dict[str, TrueTarget] = field(default_factory=dict)
    #: the point sources the simulator radiated from (None: older truths, teleseisms)
    source: TrueSource | None = None

    def released_magnitude(self, after_origin_s: float) -> float:
        """Mw of the moment released by ``after_origin_s`` (linear between samples).

        Without a moment-release series (older truths) this is the final magnitude; before
        the first release it is NaN, after the last sample the final magnitude.
        """
        series = self.moment_release
        if not series:
            return self.magnitude
        if after_origin_s < series[0][0]:
            return math.nan
        if after_origin_s >= series[-1][0]:
            return self.magnitude
        t = np.array([x[0] for x in series])
        m = np.array([x[1] for x in series])
        return float(np.interp(after_origin_s, t, m))

    def rupture_end_s(self) -> float:
        """Seconds after origin at which the moment release reaches its final value.

        The first sample of ``moment_release`` at the series' last value (within the
        truth's 0.001 rounding); NaN for a point source or an older truth without a series.
        """
        series = self.moment_release
        if not series:
            return math.nan
        final = series[-1][1]
        return next(t for t, m in series if m >= final - 5e-4)

    def p_nth_ns(self, n: int, stations: set[str] | None = None) -> int | None:
        """The ``n``-th earliest P arrival (1-based), among ``stations`` if given [ns]."""
        times = sorted(
            a.p_ns for a in self.arrivals if stations is None or a.station_id in stations
        )
        return times[n - 1] if len(times) >= n else None


@dataclass(frozen=True)
class Truth:
    """A scenario's truth: its events and the coordinates of its stations."""

    scenario: str
    description: str
    start_ns: int
    end_ns: int
    events: tuple[TrueEvent, ...]
    stations: dict[str, tuple[float, float]]

    def nearest_station_km(self, lat_deg: float, lon_deg: float) -> float:
        """Distance from a point to the closest scenario station [km]."""
        if not self.stations:
            return math.inf
        lat = np.array([v[0] for v in self.stations.values()])
        lon = np.array([v[1] for v in self.stations.values()])
        return float(distances_km(lat_deg, lon_deg, lat, lon).min())

    def inside_network(self, lat_deg: float, lon_deg: float) -> bool:
        """True if a point lies inside the convex hull of the scenario's stations."""
        pts = list(self.stations.values())
        if len(pts) < 3:
            return False
        c = math.cos(math.radians(lat_deg))
        xy = [((lo - lon_deg) * c, la - lat_deg) for la, lo in pts]
        hull = _convex_hull(xy)
        if len(hull) < 3:
            return False
        # the origin (the point) is inside a counter-clockwise hull if left of every edge
        for (x1, y1), (x2, y2) in zip(hull, hull[1:] + hull[:1], strict=True):
            if x1 * y2 - x2 * y1 < 0:
                return False
        return True

    def near_network(self, ev: TrueEvent) -> bool:
        """Inside the network, or within :data:`NEAR_NETWORK_KM` of a station (crustal)."""
        if ev.kind != "local" or ev.depth_km > 70.0:
            return False
        return (
            self.inside_network(ev.latitude_deg, ev.longitude_deg)
            or self.nearest_station_km(ev.latitude_deg, ev.longitude_deg) <= NEAR_NETWORK_KM
        )


def _convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Counter-clockwise convex hull (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def load_truth(scenario_dir: str | Path) -> Truth:
    """Read ``truth.json`` from a scenario folder.

    Raises
    ------
    DataError
        Missing or malformed file.
    """
    path = Path(scenario_dir) / TRUTH_FILE
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        events = tuple(
            TrueEvent(
                id=str(e["id"]),
                kind=str(e.get("kind", "local")),
                origin_ns=iso_to_ns(e["origin_time"]),
                latitude_deg=float(e["latitude_deg"]),
                longitude_deg=float(e["longitude_deg"]),
                depth_km=float(e["depth_km"]),
                magnitude=float(e["magnitude"]),
                arrivals=tuple(
                    TrueArrival(
                        str(a["station_id"]),
                        iso_to_ns(a["p_time"]),
                        iso_to_ns(a["s_time"]),
                        float(a.get("epicentral_distance_km", math.nan)),
                    )
                    for a in e.get("arrivals", [])
                ),
                expect_public_alert=_expect(e),
                moment_release=_moment_release(e),
                targets=_targets(e),
                source=_source(e),
            )
            for e in d.get("events", [])
        )
        stations = {
            str(s["station_id"]): (float(s["latitude_deg"]), float(s["longitude_deg"]))
            for s in d.get("stations", [])
        }
        return Truth(
            scenario=str(d.get("scenario", path.parent.name)),
            description=str(d.get("description", "")),
            start_ns=iso_to_ns(d["start_time"]),
            end_ns=iso_to_ns(d["end_time"]),
            events=events,
            stations=stations,
        )
    except OSError as exc:
        raise DataError(f"{path}: cannot read the scenario truth: {exc.strerror}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed truth: {exc!r}") from exc


def _moment_release(e: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    rel = e.get("moment_release")
    if not rel:
        return ()
    return tuple((float(t), float(m)) for t, m in rel["mw"] if m is not None)


def _source(e: dict[str, Any]) -> TrueSource | None:
    """The sub-events of a line or planar source, or the hypocentre of a point source."""
    line = e.get("line_source")
    depth = float(e["depth_km"])
    if line:
        rows = line["subevents"]
        depths = line.get("subevent_depths_km") or [depth] * len(rows)
        sub = np.array(
            [
                [float(r[0]), float(r[1]), float(z), float(r[2])]
                for r, z in zip(rows, depths, strict=True)
            ]
        )
        return TrueSource(
            sub,
            float(line["subevent_magnitude"]),
            float(line["subevent_corner_frequency_hz"]),
        )
    if "corner_frequency_hz" not in e or e.get("kind", "local") != "local":
        return None
    hypo = np.array([[float(e["latitude_deg"]), float(e["longitude_deg"]), depth, 0.0]])
    return TrueSource(hypo, float(e["magnitude"]), float(e["corner_frequency_hz"]))


def _targets(e: dict[str, Any]) -> dict[str, TrueTarget]:
    out = {}
    for t in e.get("targets", []):
        out[str(t["name"])] = TrueTarget(
            name=str(t["name"]),
            s_ns=iso_to_ns(t["s_time"]),
            msk=float(t.get("msk", math.nan)),
            mmi=float(t.get("mmi", math.nan)),
            pga_cm_s2=float(t.get("pga_cm_s2", math.nan)),
        )
    return out


def _expect(e: dict[str, object]) -> bool | None:
    value = e.get("expect_public_alert")
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"expect_public_alert must be true or false, got {value!r}")
    return value


def travel_time_s(
    stack: TravelTimeStack, phase: str, depth_km: float, distance_km: np.ndarray
) -> np.ndarray:
    """P or S travel time [s] from the real-time tables (linear in depth and distance).

    Parameters
    ----------
    stack : TravelTimeStack
        Tables from :func:`eew.event.traveltime.load_stack`.
    phase : str
        ``"P"`` or ``"S"``.
    depth_km : float
        Source depth [km].
    distance_km : numpy.ndarray
        Epicentral distances [km].
    """
    table = stack.p_s if phase.upper() == "P" else stack.s_s
    axis = np.arange(table.shape[1]) * stack.distance_step_km
    z = stack.depth_km
    d = np.asarray(distance_km, dtype=float)
    if z.size == 1:
        single: np.ndarray = np.interp(d, axis, table[0])
        return single
    i = int(np.clip(np.searchsorted(z, depth_km) - 1, 0, z.size - 2))
    w = float(np.clip((depth_km - z[i]) / (z[i + 1] - z[i]), 0.0, 1.0))
    between: np.ndarray = (1.0 - w) * np.interp(d, axis, table[i]) + w * np.interp(
        d, axis, table[i + 1]
    )
    return between
