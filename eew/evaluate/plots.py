"""Scorecard pictures (PNG): errors against time, and a map of the estimates.

Figures are built with :class:`matplotlib.figure.Figure` (Agg canvas), never through
``pyplot``, so nothing global (backend, current figure) is touched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eew.evaluate.run import ReplayRun
from eew.evaluate.score import ScenarioScore
from eew.evaluate.truth import Truth

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def plot_errors(score: ScenarioScore, out_path: str | Path) -> Path:
    """Magnitude, epicentral and depth error of every estimate against time after origin.

    Filled markers are estimates that were alerted; the dashed line is the true P at
    the fourth station, the dotted line 3 s later.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 8), dpi=100)
    axes = fig.subplots(3, 1, sharex=True)
    for k, ev in enumerate(score.events):
        col = _COLOURS[k % len(_COLOURS)]
        if ev.series:
            s = np.array([row[:4] for row in ev.series], dtype=float)
            alerted = np.array([row[6] for row in ev.series], dtype=bool)
            for ax, col_i in zip(axes, (3, 1, 2), strict=True):
                ax.plot(s[:, 0], s[:, col_i], "-", color=col, lw=0.8, alpha=0.6)
                ax.plot(s[alerted, 0], s[alerted, col_i], "o", color=col, ms=3)
                ax.plot(s[~alerted, 0], s[~alerted, col_i], "o", mfc="none", color=col, ms=3)
        axes[0].axhline(
            ev.magnitude, color=col, ls="-", lw=1.5, label=f"{ev.id} true M{ev.magnitude:g}"
        )
        if math.isfinite(ev.p4_after_origin_s):
            for ax in axes:
                ax.axvline(ev.p4_after_origin_s, color=col, ls="--", lw=0.8)
                ax.axvline(ev.p4_after_origin_s + 3.0, color=col, ls=":", lw=0.8)
    axes[0].set_ylabel("magnitude")
    axes[1].set_ylabel("epicentral error [km]")
    axes[2].set_ylabel("depth error [km]")
    axes[2].axhline(0.0, color="0.5", lw=0.5)
    axes[2].set_xlabel("time after origin [s]")
    if score.events:
        axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title(f"{score.scenario}: estimates (filled: alerted)")
    for ax in axes:
        ax.grid(alpha=0.3)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def plot_map(truth: Truth, run: ReplayRun, score: ScenarioScore, out_path: str | Path) -> Path:
    """Stations, true and estimated epicentres, and the first alert's target intensities."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 7), dpi=100)
    ax = fig.subplots()
    if truth.stations:
        lat = [v[0] for v in truth.stations.values()]
        lon = [v[1] for v in truth.stations.values()]
        ax.plot(lon, lat, "^", color="0.55", ms=5, label="stations", zorder=1)
    for k, ev in enumerate(truth.events):
        col = _COLOURS[k % len(_COLOURS)]
        ax.plot(
            ev.longitude_deg,
            ev.latitude_deg,
            "*",
            color=col,
            ms=16,
            mec="k",
            zorder=4,
            label=f"true {ev.id} M{ev.magnitude:g}",
        )
    source = [a for a in run.alerts if a.kind == "source" and a.message_type != "delete"]
    for eid in sorted({a.event_id for a in source}):
        msgs = sorted((a for a in source if a.event_id == eid), key=lambda a: a.sent_time_ns)
        ax.plot(
            [a.longitude_deg for a in msgs],
            [a.latitude_deg for a in msgs],
            "-",
            color="k",
            lw=0.8,
            zorder=3,
        )
        ax.plot(
            msgs[0].longitude_deg,
            msgs[0].latitude_deg,
            "o",
            mfc="none",
            mec="k",
            ms=9,
            zorder=3,
            label=f"first alert {eid[-12:]}",
        )
        ax.plot(msgs[-1].longitude_deg, msgs[-1].latitude_deg, "x", color="k", ms=9, zorder=3)
    for a in run.alerts:
        if a.kind == "onsite":
            ax.plot(
                a.longitude_deg,
                a.latitude_deg,
                "D",
                color="tab:red",
                ms=7,
                zorder=3,
                label="onsite alert",
            )
    first = next((a for a in sorted(source, key=lambda a: a.sent_time_ns)), None)
    if run.targets:
        tlon = [t.longitude_deg for t in run.targets]
        tlat = [t.latitude_deg for t in run.targets]
        fc = {f.name: f.intensity_msk for f in first.targets} if first is not None else {}
        vals = [fc.get(t.name, math.nan) for t in run.targets]
        sc = ax.scatter(
            tlon,
            tlat,
            c=vals,
            cmap="YlOrRd",
            vmin=2,
            vmax=10,
            s=60,
            marker="s",
            edgecolors="k",
            zorder=2,
            label="targets (first-alert MSK)",
        )
        fig.colorbar(sc, ax=ax, label="predicted MSK-64 intensity (first alert)")
    _frame(ax, truth, run)
    ax.set_xlabel("longitude [deg]")
    ax.set_ylabel("latitude [deg]")
    mid = float(np.mean([v[0] for v in truth.stations.values()])) if truth.stations else 43.0
    ax.set_aspect(1.0 / math.cos(math.radians(mid)))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    ax.set_title(f"{score.scenario}: epicentres (o first alert, x last) and target intensity")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def _frame(ax: Axes, truth: Truth, run: ReplayRun) -> None:
    """Limit the map to the network, targets and estimates; name events outside it."""
    pts = [*truth.stations.values(), *((t.latitude_deg, t.longitude_deg) for t in run.targets)]
    pts += [(a.latitude_deg, a.longitude_deg) for a in run.alerts]
    far = []
    for ev in truth.events:
        if truth.nearest_station_km(ev.latitude_deg, ev.longitude_deg) <= 300.0:
            pts.append((ev.latitude_deg, ev.longitude_deg))
        else:
            far.append(ev)
    if not pts:
        return
    lat = np.array([p[0] for p in pts])
    lon = np.array([p[1] for p in pts])
    ax.set_xlim(lon.min() - 0.2, lon.max() + 0.2)
    ax.set_ylim(lat.min() - 0.15, lat.max() + 0.15)
    for i, ev in enumerate(far):
        ax.text(
            0.02,
            0.02 + 0.05 * i,
            f"true {ev.id}: M{ev.magnitude:g} at {ev.latitude_deg:.1f} N {ev.longitude_deg:.1f} E, "
            f"{ev.depth_km:g} km deep (off the map)",
            transform=ax.transAxes,
            fontsize=8,
        )
