"""Pictures of a simulated scenario: a record section and a map (matplotlib, Agg backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from obspy import UTCDateTime

from eew.errors import DataError
from eew.simulate.stations import ALMATY_LAT_DEG, ALMATY_LON_DEG


def read_picks(path: Path) -> list[tuple[str, UTCDateTime]]:
    """Read ``(channel_id, time)`` of every ``"type": "pick"`` line of a JSON Lines file."""
    picks = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{n}: not JSON: {exc}") from exc
        if obj.get("type") == "pick" and "channel_id" in obj and "time" in obj:
            picks.append((str(obj["channel_id"]), UTCDateTime(obj["time"])))
    return picks


def _pick_trace_ids(truth: dict[str, Any], folder: Path) -> dict[str, str]:
    """Station id -> channel id of the vertical trace to show.

    Unclipped broadband first (HHZ, BHZ, EHZ), then the accelerometer, then anything on Z.
    """
    clipped = {c["channel_id"] for c in truth["channels"] if c.get("clipped_samples")}
    ids = sorted(c["channel_id"] for c in truth["channels"])
    out: dict[str, str] = {}
    for pref in ("HHZ", "BHZ", "EHZ", "HNZ", "Z"):
        for cid in ids:
            if cid in clipped and pref != "Z":
                continue
            sid = ".".join(cid.split(".")[:2])
            if sid not in out and cid.endswith(pref) and (folder / f"{cid}.mseed").exists():
                out[sid] = cid
    return out


def plot_record_section(
    folder: Path,
    truth: dict[str, Any],
    out_path: Path,
    picks: list[tuple[str, UTCDateTime]] | None = None,
) -> Path:
    """Vertical traces against epicentral distance with true P/S and picked arrivals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from obspy import read

    t0 = UTCDateTime(truth["start_time"])
    events = truth["events"]
    arrivals = {a["station_id"]: a for a in events[0]["arrivals"]} if events else {}
    traces = _pick_trace_ids(truth, folder)
    order = sorted(
        traces, key=lambda s: (arrivals.get(s, {}).get("epicentral_distance_km") or 0.0, s)
    )
    fig_h = min(max(4.0, 0.28 * len(order) + 1.5), 16.0)
    fig, ax = plt.subplots(figsize=(11, fig_h), dpi=100)
    for row, sid in enumerate(order):
        tr = read(str(folder / f"{traces[sid]}.mseed")).merge(fill_value=None)[0]
        data: np.ma.MaskedArray = np.ma.asarray(tr.data, dtype=float)
        data = data - np.ma.median(data)  # type: ignore[no-untyped-call]  # unannotated in numpy.ma
        peak = float(np.ma.max(np.abs(data))) or 1.0
        step = max(1, int(tr.stats.sampling_rate // 25))
        t = (tr.stats.starttime - t0) + np.arange(0, tr.stats.npts, step) * tr.stats.delta
        ax.plot(t, row + 0.45 * data[::step] / peak, color="0.2", lw=0.5)
        for k, ev in enumerate(events):
            arr = next((a for a in ev["arrivals"] if a["station_id"] == sid), None)
            if arr is None:
                continue
            for key, col, lab in (
                ("p_time", "tab:blue", "true P"),
                ("s_time", "tab:red", "true S"),
            ):
                if arr.get(key):
                    x = UTCDateTime(arr[key]) - t0
                    ax.plot(
                        [x, x],
                        [row - 0.42, row + 0.42],
                        color=col,
                        lw=1.4,
                        label=lab if row == 0 and k == 0 else None,
                    )
        for cid, tp in picks or []:
            if ".".join(cid.split(".")[:2]) == sid:
                x = tp - t0
                ax.plot(
                    [x, x],
                    [row - 0.42, row + 0.42],
                    color="tab:green",
                    lw=1.4,
                    ls="--",
                    label="picked" if "picked" not in [h.get_label() for h in ax.lines] else None,
                )
        dist = arrivals.get(sid, {}).get("epicentral_distance_km")
        label = f"{sid}  {dist:.0f} km" if dist is not None else sid
        ax.text(
            -0.01,
            row,
            label,
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=7,
        )
    ax.set_yticks([])
    ax.set_ylim(-0.8, len(order) - 0.2)
    ax.invert_yaxis()
    ax.set_xlim(0.0, UTCDateTime(truth["end_time"]) - t0)
    ax.set_xlabel(f"seconds after {truth['start_time']}")
    title = truth["scenario"]
    if events:
        title += "  |  " + ", ".join(
            f"M{e['magnitude']:.1f} {e['depth_km']:.0f} km" for e in events
        )
    ax.set_title(f"{title}  (vertical traces, each normalised; ordered by distance)", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.subplots_adjust(left=0.17, right=0.98, top=1.0 - 0.4 / fig_h, bottom=0.5 / fig_h)
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def plot_map(truth: dict[str, Any], out_path: Path) -> Path:
    """Stations (city sites highlighted), sources, line ruptures and the Almaty reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    st = truth["stations"]
    for city, col, lab in ((False, "tab:blue", "station"), (True, "tab:orange", "city site")):
        sel = [s for s in st if s["city_site"] == city]
        if sel:
            ax.scatter(
                [s["longitude_deg"] for s in sel],
                [s["latitude_deg"] for s in sel],
                marker="^",
                s=45,
                color=col,
                edgecolor="k",
                lw=0.5,
                label=lab,
                zorder=3,
            )
    for s in st:
        ax.annotate(
            s["station_id"].split(".")[1],
            (s["longitude_deg"], s["latitude_deg"]),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=6,
        )
    ax.scatter(
        [ALMATY_LON_DEG], [ALMATY_LAT_DEG], marker="s", s=40, color="k", label="Almaty", zorder=3
    )
    lats = [s["latitude_deg"] for s in st] + [ALMATY_LAT_DEG]
    lons = [s["longitude_deg"] for s in st] + [ALMATY_LON_DEG]
    for ev in truth["events"]:
        if ev["kind"] == "teleseism":
            pw = ev.get("plane_wave", {})
            ax.set_title(
                f"teleseism {ev['magnitude']} at {pw.get('distance_deg')} deg, "
                f"back-azimuth {pw.get('back_azimuth_deg')} deg"
            )
            continue
        line = ev.get("line_source")
        if line:
            pts = np.array(line["subevents"])
            ax.plot(
                pts[:, 1],
                pts[:, 0],
                color="tab:red",
                lw=2.5,
                alpha=0.6,
                label="rupture" if ev is truth["events"][0] else None,
            )
            lats += list(pts[:, 0])
            lons += list(pts[:, 1])
        ax.scatter(
            [ev["longitude_deg"]],
            [ev["latitude_deg"]],
            marker="*",
            s=260,
            color="tab:red",
            edgecolor="k",
            zorder=4,
        )
        ax.annotate(
            f"{ev['id']} M{ev['magnitude']:.1f}, {ev['depth_km']:.0f} km",
            (ev["longitude_deg"], ev["latitude_deg"]),
            xytext=(6, -12),
            textcoords="offset points",
            fontsize=8,
            color="tab:red",
        )
        lats.append(ev["latitude_deg"])
        lons.append(ev["longitude_deg"])
    pad_lat = max(0.1, 0.08 * (max(lats) - min(lats)))
    pad_lon = max(0.1, 0.08 * (max(lons) - min(lons)))
    ax.set_xlim(min(lons) - pad_lon, max(lons) + pad_lon)
    ax.set_ylim(min(lats) - pad_lat, max(lats) + pad_lat)
    ax.set_aspect(1.0 / np.cos(np.radians(np.mean(lats))))
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    ax.grid(True, lw=0.3)
    ax.legend(loc="best", fontsize=8)
    if not ax.get_title():
        ax.set_title(f"{truth['scenario']}: stations and source")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def plot_scenario(
    folder: str | Path, picks_path: str | Path | None = None, out_dir: str | Path | None = None
) -> tuple[Path, Path]:
    """Write ``record_section.png`` and ``map.png`` for a simulated scenario folder."""
    folder = Path(folder)
    truth_path = folder / "truth.json"
    if not truth_path.exists():
        raise DataError(f"{folder}: no truth.json (not a simulated scenario folder)")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    out = Path(out_dir) if out_dir else folder
    out.mkdir(parents=True, exist_ok=True)
    picks = read_picks(Path(picks_path)) if picks_path else None
    return (
        plot_record_section(folder, truth, out / "record_section.png", picks),
        plot_map(truth, out / "map.png"),
    )
