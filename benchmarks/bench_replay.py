"""Replay speed of the per-channel path for the whole Almaty network, as a multiple of real time.

Run ``python benchmarks/bench_replay.py [--minutes 10] [--profile]``. It builds a
synthetic archive in a temporary folder: every channel of ``stations/almaty_aews.xml``
(28 stations x HH?/HN? = 168 channels, 100 Hz), noise in counts at a plausible
level for the sensor's sensitivity, and a few onsets (a 10-30x burst on the
verticals of five stations, delayed station by station), written with obspy as
512-byte big-endian Steim2 miniSEED, one file per channel. Then, on one core:

(a) ingest only: :func:`eew.acquisition.archive.index_archive` and decoding with
    :func:`eew.acquisition.archive.iter_packets`;
(b) pipeline only: :class:`eew.detect.router.Pipeline` (default configuration, results
    to ``list.append``) fed the pre-decoded packets in arrival order, then ``flush()``;
(c) end to end: what ``eew replay`` does between loading the inventory and writing
    results (index + decode + pipeline), in one timed loop.

Each stage prints data seconds / wall seconds (the real-time multiple), packets
per second and microseconds per packet; the best of ``--reps`` runs is shown. A
short replay of the same network first loads the numba kernels, so compile and
cache-load time are excluded. ``--profile`` adds a cProfile of (b) and (c), top
15 functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np
import obspy

from eew.acquisition.archive import index_archive, iter_packets
from eew.daemon.config import load_settings
from eew.detect.router import Pipeline
from eew.inventory import Inventory, load_inventory

ROOT = Path(__file__).resolve().parents[1]
STATIONXML = ROOT / "stations" / "almaty_aews.xml"
START = obspy.UTCDateTime(2026, 3, 1, 12, 0, 0)
RECLEN = 512
TARGET = 1000.0

NOISE_VELOCITY_M_S = 3e-7  # ground velocity noise, rms
NOISE_ACCELERATION_M_S2 = 2e-4  # accelerometer self-noise plus ground, rms


def write_archive(
    folder: Path, inventory: Inventory, seconds: float, seed: int = 0, onsets: bool = True
) -> int:
    """Write ``seconds`` of synthetic counts for every channel; return the sample count."""
    rng = np.random.default_rng(seed)
    ids = inventory.channel_ids() if callable(inventory.channel_ids) else inventory.channel_ids
    stations = sorted({inventory[c].station for c in ids})
    struck = {s: 5.0 * i for i, s in enumerate(stations[:5])}  # station -> extra delay [s]
    total = 0
    for cid in ids:
        info = inventory[cid]
        fs = info.sampling_rate_hz
        n = round(seconds * fs)
        rms = NOISE_ACCELERATION_M_S2 if info.kind == "acceleration" else NOISE_VELOCITY_M_S
        sigma = max(20.0, rms * info.sensitivity)
        x = rng.standard_normal(n) * sigma
        if onsets and info.station in struck:
            t0 = int((0.5 * seconds + struck[info.station]) * fs)
            amp = 30.0 if info.component == "Z" else 10.0
            burst = np.exp(-np.arange(n - t0) / (8.0 * fs))
            x[t0:] *= 1.0 + (amp - 1.0) * burst
        data = np.clip(np.rint(x), -(2**23), 2**23 - 1).astype(np.int32)
        tr = obspy.Trace(
            data,
            {
                "network": info.network,
                "station": info.station,
                "location": info.location,
                "channel": info.channel,
                "sampling_rate": fs,
                "starttime": START,
            },
        )
        tr.write(
            str(folder / f"{cid}.mseed"),
            format="MSEED",
            encoding="STEIM2",
            reclen=RECLEN,
            byteorder=">",
        )
        total += n
    return total


def run_ingest(folder: Path, max_packet_samples: int) -> tuple[list, float, float]:
    t0 = time.perf_counter()
    idx = index_archive([folder])
    t1 = time.perf_counter()
    packets = list(iter_packets(idx, max_packet_samples))
    t2 = time.perf_counter()
    return packets, t1 - t0, t2 - t1


def run_pipeline(cfg, inventory: Inventory, packets: list) -> list:
    results: list = []
    pipe = Pipeline(cfg, inventory, sink=results.append)
    for pkt in packets:
        pipe.feed(pkt)
    pipe.flush()
    return results


def time_channel_setup(cfg, inventory: Inventory, packets: list) -> float:
    """Seconds spent in the first ``feed`` of each channel (building its processor)."""
    pipe = Pipeline(cfg, inventory, sink=[].append)
    seen: set[str] = set()
    spent = 0.0
    for pkt in packets:
        if pkt.channel_id in seen:
            pipe.feed(pkt)
            continue
        seen.add(pkt.channel_id)
        t0 = time.perf_counter()
        pipe.feed(pkt)
        spent += time.perf_counter() - t0
    return spent


def run_end_to_end(cfg, inventory: Inventory, folder: Path) -> list:
    results: list = []
    idx = index_archive([folder])
    pipe = Pipeline(cfg, inventory, sink=results.append)
    for pkt in iter_packets(idx, cfg.replay.max_packet_samples):
        pipe.feed(pkt)
    pipe.flush()
    return results


def _best(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _profile(title: str, fn) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    print(f"\n--- cProfile {title}: top 15 by tottime ---")
    start = next(i for i, ln in enumerate(lines) if "function calls" in ln)
    for ln in lines[start:]:
        print(ln.replace(str(ROOT) + "/", ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="archive length [min]")
    parser.add_argument("--reps", type=int, default=3, help="runs per stage (best is shown)")
    parser.add_argument("--profile", action="store_true", help="cProfile stages (b) and (c)")
    args = parser.parse_args(argv)

    cfg = load_settings().config
    inventory = load_inventory([STATIONXML])
    seconds = args.minutes * 60.0
    with tempfile.TemporaryDirectory(prefix="eew-bench-") as tmp:
        folder = Path(tmp) / "archive"
        warm = Path(tmp) / "warmup"
        folder.mkdir()
        warm.mkdir()
        t0 = time.perf_counter()
        n_samples = write_archive(folder, inventory, seconds)
        write_archive(warm, inventory, 60.0, seed=1)
        t_write = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6

        t0 = time.perf_counter()
        warm_results = run_end_to_end(cfg, inventory, warm)  # numba compile / cache load
        t_warm = time.perf_counter() - t0

        packets, t_index, t_decode = run_ingest(folder, cfg.replay.max_packet_samples)
        n_pk = len(packets)
        for _ in range(args.reps - 1):
            _, ti, td = run_ingest(folder, cfg.replay.max_packet_samples)
            t_index, t_decode = min(t_index, ti), min(t_decode, td)
        t_pipe = _best(lambda: run_pipeline(cfg, inventory, packets), args.reps)
        t_e2e = _best(lambda: run_end_to_end(cfg, inventory, folder), args.reps)
        results = run_pipeline(cfg, inventory, packets)
        t_setup = min(time_channel_setup(cfg, inventory, packets) for _ in range(args.reps))

        n_ch = len({p.channel_id for p in packets})
        print(
            f"archive: {n_ch} channels x {seconds:.0f} s at 100 Hz = {n_samples:,} samples, "
            f"{n_pk:,} packets ({RECLEN}-byte Steim2, {size_mb:.1f} MB); "
            f"written in {t_write:.1f} s"
        )
        print(f"warm-up replay (60 s, numba load): {t_warm:.2f} s, {len(warm_results)} results")
        print(f"results of the timed replay: {len(results)} ({_kinds(results)})")
        print(
            f"\nstage (best of {args.reps}, one core){'wall s':>22}{'x real time':>13}"
            f"{'packets/s':>12}{'us/packet':>11}"
        )
        rows = [
            ("(a) ingest: index_archive", t_index),
            ("(a) ingest: iter_packets (decode)", t_decode),
            ("(a) ingest total", t_index + t_decode),
            ("(b) pipeline on decoded packets", t_pipe),
            ("(c) end to end (eew replay path)", t_e2e),
        ]
        for name, t in rows:
            speed = f"{seconds / t:>13,.0f}{n_pk / t:>12,.0f}"
            print(f"{name:<42}{t:>14.3f}{speed}{t / n_pk * 1e6:>11.1f}")
        print(
            f"(b) includes building the {n_ch} channel processors on their first packet: "
            f"{t_setup:.3f} s ({t_setup / t_pipe:.0%} of (b))"
        )
        verdict = "met" if seconds / t_e2e >= TARGET else "NOT met"
        print(
            f"target: end to end >= {TARGET:,.0f}x real time -> {seconds / t_e2e:,.0f}x ({verdict})"
        )

        if args.profile:
            _profile("(b) pipeline", lambda: run_pipeline(cfg, inventory, packets))
            _profile("(c) end to end", lambda: run_end_to_end(cfg, inventory, folder))


def _kinds(results: list) -> str:
    kinds: dict[str, int] = {}
    for r in results:
        kinds[type(r).__name__] = kinds.get(type(r).__name__, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"


if __name__ == "__main__":
    main()
