"""Layered velocity model ALM-1D-v0 and first-arrival travel times through ``obspy.taup``.

The crust is the Almaty starting model "ALM-1D-v0" of the project's science reference
(section 4, a proposal to be calibrated): four constant-velocity layers over a mantle at
50 km. Below 120 km the model follows IASP91 (Kennett & Engdahl 1991, the ``iasp91.tvel``
file shipped with ObsPy), so that TauP can build a whole-Earth model and rays from a
200 km deep Hindu Kush source or to 900 km distance are handled. The model is written at
run time as a ``.nd`` file into a cache folder and compiled once with
:func:`obspy.taup.taup_create.build_taup_model`; first P and S arrivals are then
tabulated against distance for each source depth and interpolated.

References
----------
Kennett, B. L. N., and E. R. Engdahl (1991). Traveltimes for global earthquake location
and phase identification, Geophys. J. Int. 105, 429-465.
Crotwell, H. P., T. J. Owens, and J. Ritsema (1999). The TauP toolkit, Seism. Res. Lett.
70, 154-160.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from obspy.taup import TauPyModel

#: (top_km, bottom_km, vp_km_s, vs_km_s, density_g_cm3) of ALM-1D-v0 above the Moho
ALM_1D_V0_CRUST: tuple[tuple[float, float, float, float, float], ...] = (
    (0.0, 2.0, 4.8, 2.75, 2.40),
    (2.0, 15.0, 6.0, 3.47, 2.70),
    (15.0, 30.0, 6.3, 3.64, 2.80),
    (30.0, 50.0, 6.7, 3.87, 2.90),
)
#: upper-mantle velocities just below the ALM-1D-v0 Moho (km/s, km/s, g/cm3)
ALM_1D_V0_MANTLE: tuple[float, float, float] = (8.0, 4.55, 3.32)
MOHO_DEPTH_KM = 50.0
#: depth (km) from which the IASP91 values take over
IASP91_JOIN_DEPTH_KM = 120.0
MODEL_NAME = "ALM-1D-v0"
KM_PER_DEG = 111.19492664455873  # 2 pi 6371 / 360

_P_PHASES = ("p", "P", "Pn", "Pg")
_S_PHASES = ("s", "S", "Sn", "Sg")


def surface_velocities_km_s() -> tuple[float, float]:
    """Return (Vp, Vs) of the top layer in km/s (used for incidence angles)."""
    return ALM_1D_V0_CRUST[0][2], ALM_1D_V0_CRUST[0][3]


def default_cache_dir() -> Path:
    """Return the travel-time cache folder: ``$EEW_CACHE_DIR`` or ``~/.cache/eew``."""
    env = os.environ.get("EEW_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "eew"


def model_nd_text() -> str:
    """Return ALM-1D-v0 over IASP91 as the text of a TauP ``.nd`` ("named discontinuity") file."""
    import obspy.taup

    lines: list[str] = []
    for top, bottom, vp, vs, rho in ALM_1D_V0_CRUST:
        lines.append(f"{top:.3f} {vp:.4f} {vs:.4f} {rho:.4f}")
        lines.append(f"{bottom:.3f} {vp:.4f} {vs:.4f} {rho:.4f}")
    lines.append("mantle")
    vp_m, vs_m, rho_m = ALM_1D_V0_MANTLE
    lines.append(f"{MOHO_DEPTH_KM:.3f} {vp_m:.4f} {vs_m:.4f} {rho_m:.4f}")
    tvel = Path(obspy.taup.__file__).parent / "data" / "iasp91.tvel"
    prev_vs = None
    for row in tvel.read_text().splitlines()[2:]:
        parts = row.split()
        if len(parts) != 4:
            continue
        depth, vp, vs, rho = (float(x) for x in parts)
        if depth < IASP91_JOIN_DEPTH_KM:
            continue
        if prev_vs is not None and vs == 0.0 and prev_vs > 0.0:
            lines.append("outer-core")
        elif prev_vs is not None and vs > 0.0 and prev_vs == 0.0:
            lines.append("inner-core")
        lines.append(f"{depth:.3f} {vp:.4f} {vs:.4f} {rho:.4f}")
        prev_vs = vs
    return "\n".join(lines) + "\n"


def build_model(cache_dir: Path) -> Path:
    """Compile ALM-1D-v0 to a TauP ``.npz`` model in ``cache_dir`` (once) and return its path.

    The file name carries a hash of the model text, so a changed model is rebuilt.
    """
    text = model_nd_text()
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    cache_dir.mkdir(parents=True, exist_ok=True)
    npz = cache_dir / f"alm1d_v0_{digest}.npz"
    if npz.exists():
        return npz
    from obspy.taup.taup_create import build_taup_model

    nd = cache_dir / f"alm1d_v0_{digest}.nd"
    nd.write_text(text)
    # obspy prints progress; the build takes ~2 s and happens once per cache
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        build_taup_model(str(nd), output_folder=str(cache_dir), verbose=False)
    return npz


@dataclass(frozen=True)
class TravelTimeTable:
    """First-arrival P and S times against epicentral distance for one source depth.

    Attributes
    ----------
    depth_km : float
        Source depth (km).
    distance_km : numpy.ndarray
        Distance nodes (km), increasing.
    p_s, s_s : numpy.ndarray
        First P and S travel times (s) at the nodes.
    p_slowness_s_km, s_slowness_s_km : numpy.ndarray
        Horizontal slowness (ray parameter, s/km) of those first arrivals.
    p_phase, s_phase : tuple of str
        TauP phase name of each first arrival.
    """

    depth_km: float
    distance_km: np.ndarray
    p_s: np.ndarray
    s_s: np.ndarray
    p_slowness_s_km: np.ndarray
    s_slowness_s_km: np.ndarray
    p_phase: tuple[str, ...]
    s_phase: tuple[str, ...]

    def times(self, distance_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolate P and S travel times (s) at ``distance_km``."""
        d = np.asarray(distance_km, dtype=float)
        return (
            np.interp(d, self.distance_km, self.p_s),
            np.interp(d, self.distance_km, self.s_s),
        )

    def slowness(self, distance_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolate P and S horizontal slowness (s/km) at ``distance_km``."""
        d = np.asarray(distance_km, dtype=float)
        return (
            np.interp(d, self.distance_km, self.p_slowness_s_km),
            np.interp(d, self.distance_km, self.s_slowness_s_km),
        )

    def phase_names(self, distance_km: float) -> tuple[str, str]:
        """Return the TauP names of the first P and S arrivals at the nearest node."""
        i = int(np.argmin(np.abs(self.distance_km - distance_km)))
        if self.distance_km.size == 1:
            i = 0
        return self.p_phase[i], self.s_phase[i]


def distance_nodes_km(max_distance_km: float) -> np.ndarray:
    """Return the table nodes: 0.5 km steps to 60 km, 2 km to 400 km, 5 km beyond."""
    near = np.arange(0.0, 60.0, 0.5)
    mid = np.arange(60.0, 400.0, 2.0)
    far = np.arange(400.0, max(max_distance_km, 400.0) + 5.0, 5.0)
    nodes = np.concatenate([near, mid, far])
    return nodes[nodes <= max_distance_km + 5.0]


#: time [s], horizontal slowness [s/km] and TauP name of a first arrival
_First = tuple[float, float, str]


def _first(arrivals: list[Any], phases: tuple[str, ...]) -> _First:
    best = None
    for arr in arrivals:
        if arr.name in phases and (best is None or arr.time < best.time):
            best = arr
    if best is None:
        return float("nan"), float("nan"), ""
    return float(best.time), float(best.ray_param) / 6371.0, str(best.name)


class TravelTimes:
    """First-arrival travel times through ALM-1D-v0, tabulated per depth and cached on disk.

    Parameters
    ----------
    cache_dir : pathlib.Path
        Folder for the compiled model and the tables (created when needed).
    """

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = Path(cache_dir)
        self._model: TauPyModel | None = None
        self._tables: dict[tuple[float, float], TravelTimeTable] = {}
        self._exact: dict[tuple[float, float], tuple[_First, _First]] = {}

    def _taup(self) -> TauPyModel:
        if self._model is None:
            from obspy.taup import TauPyModel

            self._model = TauPyModel(model=str(build_model(self._cache_dir)))
        return self._model

    def exact(self, depth_km: float, distance_km: float) -> tuple[float, float]:
        """Return the first P and S travel times (s) computed directly with TauP."""
        arrs = self._taup().get_travel_times(
            max(depth_km, 0.0),
            distance_km / KM_PER_DEG,
            phase_list=list(_P_PHASES + _S_PHASES),
        )
        return _first(arrs, _P_PHASES)[0], _first(arrs, _S_PHASES)[0]

    def arrivals(self, depth_km: float, distances_km: np.ndarray) -> TravelTimeTable:
        """First arrivals at the given distances, as a table with those distances as nodes.

        Few distances are computed exactly with TauP (memoised); many go through
        :meth:`table` and interpolation.
        """
        d = np.unique(np.round(np.asarray(distances_km, dtype=float), 3))
        if d.size > 60:
            return self.table(depth_km, float(d.max()))
        depth = round(float(depth_km), 1)
        rows = []
        for dist in d:
            key = (depth, float(dist))
            if key not in self._exact:
                arrs = self._taup().get_travel_times(
                    max(depth, 0.0), dist / KM_PER_DEG, phase_list=list(_P_PHASES + _S_PHASES)
                )
                self._exact[key] = (_first(arrs, _P_PHASES), _first(arrs, _S_PHASES))
            rows.append(self._exact[key])
        return TravelTimeTable(
            depth,
            d,
            np.array([r[0][0] for r in rows]),
            np.array([r[1][0] for r in rows]),
            np.array([r[0][1] for r in rows]),
            np.array([r[1][1] for r in rows]),
            tuple(r[0][2] for r in rows),
            tuple(r[1][2] for r in rows),
        )

    def table(self, depth_km: float, max_distance_km: float) -> TravelTimeTable:
        """Return the table for ``depth_km`` covering at least ``max_distance_km``.

        Depth is rounded to 0.1 km. Tables are kept in memory and in ``cache_dir``.
        """
        depth = round(float(depth_km), 1)
        reach = float(np.ceil(max(max_distance_km, 50.0) / 100.0) * 100.0)
        for (d, r), tab in self._tables.items():
            if d == depth and r >= reach:
                return tab
        npz_model = build_model(self._cache_dir)
        path = self._cache_dir / f"tt_{npz_model.stem}_z{depth:.1f}_r{reach:.0f}.npz"
        if path.exists():
            with np.load(path) as f:
                tab = TravelTimeTable(
                    depth,
                    f["distance_km"],
                    f["p_s"],
                    f["s_s"],
                    f["p_slowness_s_km"],
                    f["s_slowness_s_km"],
                    tuple(str(x) for x in f["p_phase"]),
                    tuple(str(x) for x in f["s_phase"]),
                )
        else:
            tab = self._compute(depth, reach)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(
                tmp,
                distance_km=tab.distance_km,
                p_s=tab.p_s,
                s_s=tab.s_s,
                p_slowness_s_km=tab.p_slowness_s_km,
                s_slowness_s_km=tab.s_slowness_s_km,
                p_phase=np.array(tab.p_phase),
                s_phase=np.array(tab.s_phase),
            )
            tmp.replace(path)
        self._tables[(depth, reach)] = tab
        return tab

    def _compute(self, depth_km: float, reach_km: float) -> TravelTimeTable:
        model = self._taup()
        nodes = distance_nodes_km(reach_km)
        cols: list[list[Any]] = [[], [], [], [], [], []]
        for dist in nodes:
            arrs = model.get_travel_times(
                max(depth_km, 0.0), dist / KM_PER_DEG, phase_list=list(_P_PHASES + _S_PHASES)
            )
            tp, pp, np_ = _first(arrs, _P_PHASES)
            ts, ps, ns = _first(arrs, _S_PHASES)
            for col, val in zip(cols, (tp, ts, pp, ps, np_, ns), strict=True):
                col.append(val)
        p_s, s_s, pp_, ps_ = (np.asarray(c, dtype=float) for c in cols[:4])
        ok = np.isfinite(p_s) & np.isfinite(s_s)
        return TravelTimeTable(
            depth_km,
            nodes[ok],
            p_s[ok],
            s_s[ok],
            pp_[ok],
            ps_[ok],
            tuple(n for n, k in zip(cols[4], ok, strict=True) if k),
            tuple(n for n, k in zip(cols[5], ok, strict=True) if k),
        )
