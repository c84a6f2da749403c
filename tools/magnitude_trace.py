"""Trace the parts of an event's magnitude while a scenario replays (issue 11, great events).

For each re-evaluation of the scenario's events it prints, seconds after origin: the
magnitude of the moment released so far (``truth.json`` ``moment_release``), the P-wave
station combination (:func:`eew.event.magnitude.event_magnitude`), the Pd growth curve
(:func:`eew.event.pgrowth.pd_growth`), the P-wave magnitude after their fusion, the
finite-fault line (length, magnitude, sigma, length sigma, stations above the floor, stations
used), what :func:`eew.event.magnitude.with_finite_fault` gives, and the duration lower bound
(:mod:`eew.event.duration`; ``-`` while it is empty). With ``--lengths`` it also prints, per
line estimate, how many stations are still lower bounds (for the hypocentre's S) and the
lengths whose best template is within ``--delta-chi2`` of the best misfit (causal ones
only): while every station is a lower bound that range is wide and the line's magnitude is
set by its priors. With ``--stations`` it
also lists each station's epicentral distance [km], P window [s] and Pd magnitude at 5,
10, 15 and 20 s.

Usage::

    PYTHONPATH=$PWD python tools/magnitude_trace.py waveforms_samples/verny_m7.5 --stations

The tool wraps methods of the event core for the duration of the replay; it changes
nothing in what the pipeline computes.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from eew.evaluate.scenario import Evaluator
from eew.event import evaluation as evm
from eew.event import finder
from eew.event import magnitude as mag
from eew.event.pgrowth import pd_growth

NS = 1_000_000_000


def trace(scenario: Path) -> list[dict[str, Any]]:
    """Replay ``scenario`` and return one row per magnitude evaluation."""
    cur: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    orig_eval = evm.Evaluation._evaluate
    orig_mag = evm.Evaluation._magnitude
    orig_wff = mag.with_finite_fault
    orig_est = finder.FiniteFaultEstimator.estimate

    def _estimate(self: Any, *args: Any, **kwargs: Any) -> Any:
        cur["ff_args"] = (self, args, kwargs)
        return orig_est(self, *args, **kwargs)

    def _evaluate(self: Any, ev: Any, now: int, changed: bool, touch: bool = True) -> None:
        cur["ev"], cur["now"] = ev, now
        orig_eval(self, ev, now, changed, touch)

    def _magnitude(self: Any, ev: Any, picks: Any) -> Any:
        loc = ev.location
        _tp, ts_all, repi_all = self._predicted_all(ev)
        idx = [self._index[sp.station_id] for sp in picks]
        regional = mag.is_regional(repi_all[idx])
        st = []
        for sp, ts, r in zip(picks, ts_all[idx], repi_all[idx], strict=True):
            msg = sp.latest(max_end_ns=round(float(ts)))
            if msg is None:
                continue
            m, _s = mag.pd_magnitude(msg.pd_cm, math.hypot(float(r), loc.depth_km), regional)
            st.append((sp.station_id, round(float(r)), msg.window_s, round(m, 2)))
        cur["pd"] = mag.event_magnitude(picks, ts_all[idx], repi_all[idx], loc.depth_km)
        cur["growth"] = pd_growth(
            picks, ts_all[idx], np.hypot(repi_all[idx], loc.depth_km), regional=regional
        )
        cur["stations"] = sorted(st, key=lambda s: s[1])
        return orig_mag(self, ev, picks)

    def _with_finite_fault(p: Any, ff: Any, *args: Any, **kwargs: Any) -> Any:
        out = orig_wff(p, ff, *args, **kwargs)
        ev = cur["ev"]
        rows.append(
            {
                "event": ev.number,
                "t": (cur["now"] - ev.origin_ns) / NS,
                "pd": cur.get("pd"),
                "growth": cur.get("growth"),
                "p": p,
                "ff": ff,
                "out": out,
                "stations": cur.get("stations", []),
                "ff_args": cur.pop("ff_args", None),
                "duration": None,
            }
        )
        return out

    evm.Evaluation._evaluate = _evaluate  # type: ignore[method-assign]
    evm.Evaluation._magnitude = _magnitude  # type: ignore[method-assign]
    mag.with_finite_fault = _with_finite_fault
    finder.FiniteFaultEstimator.estimate = _estimate  # type: ignore[method-assign]
    orig_lower = mag.with_lower_bound

    def _with_lower_bound(p: Any, low: Any) -> Any:
        if rows:
            rows[-1]["duration"] = low
        return orig_lower(p, low)

    mag.with_lower_bound = _with_lower_bound
    try:
        Evaluator.default().evaluate(scenario)
    finally:
        evm.Evaluation._evaluate = orig_eval  # type: ignore[method-assign]
        evm.Evaluation._magnitude = orig_mag  # type: ignore[method-assign]
        mag.with_finite_fault = orig_wff
        finder.FiniteFaultEstimator.estimate = orig_est  # type: ignore[method-assign]
        mag.with_lower_bound = orig_lower
    return rows


def length_range(call: Any, delta_chi2: float) -> str:
    """Lower-bound stations and the lengths the line's misfit allows, for one estimate.

    ``call`` is ``(estimator, args, kwargs)`` of :meth:`FiniteFaultEstimator.estimate`;
    the kernel is run again with the same inputs. A length is allowed when its best
    causal template's chi-square is within ``delta_chi2`` of the overall minimum.
    """
    est, args, kwargs = call
    names = ("epi_lat_deg", "epi_lon_deg", "depth_km", "st_lat_deg", "st_lon_deg",
             "pga_cm_s2", "seconds_since_origin", "lower_bound")  # fmt: skip
    v = dict(zip(names, args, strict=False)) | kwargs
    lat, lon, t = v["epi_lat_deg"], v["epi_lon_deg"], float(v["seconds_since_origin"])
    cos = math.cos(math.radians(lat))
    sx = np.ascontiguousarray((v["st_lon_deg"] - lon) * finder.KM_PER_DEG * cos, dtype=float)
    sy = np.ascontiguousarray((v["st_lat_deg"] - lat) * finder.KM_PER_DEG, dtype=float)
    obs = np.log10(np.maximum(np.asarray(v["pga_cm_s2"], dtype=float), 1e-3))
    low = v.get("lower_bound")
    low = np.zeros(obs.size, dtype=np.bool_) if low is None else np.asarray(low, dtype=np.bool_)
    chi2, _unseen = est.kernel(
        sx, sy, obs, np.ascontiguousarray(low), est.floor,
        est.lengths, est.strikes, est.fractions, est.offsets,
        max(est.vmax * max(t, 0.0), 1.0), finder.PHI_LOG10, finder.TAU_LOG10,
        np.array([t, float(v["depth_km"]), est.vr, finder.VS_KM_S, est.settle]), est.cover,
    )  # fmt: skip
    best = chi2.reshape(est.lengths.size, -1).min(axis=1)
    ok = est.lengths[best <= best.min() + delta_chi2]
    return (
        f"lower {int(low.sum())}/{low.size}, chi2 within {delta_chi2:g} of the best: "
        f"L {ok.min():.0f}-{ok.max():.0f} km (M {float(finder.magnitude_from_length(ok.min())):.2f}"
        f"-{float(finder.magnitude_from_length(ok.max())):.2f})"
    )


def _m(e: Any) -> str:
    return "-" if e is None else f"{e.magnitude:.2f}±{e.sigma:.2f}"


def main() -> None:
    """Print the trace of one scenario folder."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--stations", action="store_true", help="per-station windows at 5-20 s")
    ap.add_argument("--until-s", type=float, default=40.0, help="last time shown [s]")
    ap.add_argument("--lengths", action="store_true", help="lengths the line's misfit allows")
    ap.add_argument("--delta-chi2", type=float, default=1.0, help="for --lengths")
    a = ap.parse_args()
    truth = json.loads((a.scenario / "truth.json").read_text("utf-8"))
    released = {
        i + 1: dict(map(tuple, e["moment_release"]["mw"]))
        for i, e in enumerate(truth["events"])
        if e.get("moment_release")
    }
    shown: set[tuple[int, int]] = set()
    for r in trace(a.scenario):
        key = (r["event"], int(r["t"]))
        if r["t"] > a.until_s or key in shown:
            continue
        shown.add(key)
        rel = released.get(r["event"], {}).get(round(r["t"] * 2) / 2)
        ff = r["ff"]
        line = (
            "-"
            if ff is None
            else f"L {ff.line.length_km:.0f}±{ff.length_sigma_km:.0f} km M {_m(ff)} "
            f"({ff.n_above}/{ff.n_stations})"
        )
        g = r["growth"]
        gs = "-" if g is None else f"{_m(g)}{' plateau' if g.plateau else ''}"
        print(
            f"ev{r['event']} t {r['t']:5.1f} released {rel if rel is not None else '-':>5} "
            f"Pd {_m(r['pd'])} growth {gs} P {_m(r['p'])} line {line} "
            f"-> {_m(r['out'])} {r['out'].magnitude_type}"
            f" duration {'-' if r['duration'] is None else format(r['duration'], '.2f')}"
        )
        if a.lengths and r["ff_args"] is not None:
            print("    line: " + length_range(r["ff_args"], a.delta_chi2))
        if a.stations and key[1] in (5, 10, 15, 20):
            print(
                "    "
                + " ".join(f"{s[0][3:]}:{s[1]}km/{s[2]:.1f}s/{s[3]:.2f}" for s in r["stations"])
            )


if __name__ == "__main__":
    main()
