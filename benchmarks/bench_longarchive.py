"""Long archives: ``eew replay`` on continuous noise with disturbances, 1 and N jobs, and memory.

Run ``python benchmarks/bench_longarchive.py [--minutes 60] [--jobs 1,2] [--memory-hours 1,3,6,24]
[--data DIR]``.

The archive (written into a temporary folder, deterministic seed) covers every channel of
the default inventory: the 28 Almaty stations (HH?/HN?, 168 channels) and the 10 KN
stations (BH?/HH?, 30 channels), 198 channels at 100 Hz, one 512-byte Steim2 file per
channel and hour, as an SDS archive holds them. The counts are noise at a plausible level
for each sensor, with the disturbances of a real month: a spike every 10 minutes on some
channel, a 60 s calibration sine on one station, a 30 s telemetry gap on another, a
channel that goes dead (flat) for two minutes, and a small local-looking burst on the
verticals of five stations every 20 minutes.

What is timed is the command itself, ``eew replay ARCHIVE --out /dev/null --jobs N``
(event core and JSON Lines included), started as a subprocess; jobs are interleaved run by
run and the best of ``--reps`` is kept. Two figures per run:

* **replay**: the replay's own summary (index, decode, processing, events, output);
  data seconds / wall seconds is the real-time multiple, data seconds / CPU seconds (this
  process and its workers) the multiple per core, which depends much less on the load of
  other processes. The reference, 1 job, is measured in the same run, and ``x 1 job`` is
  the ratio of the wall times.
* **command**: the whole command, interpreter start, imports, inventory and worker start
  included (CPU from ``wait4``).

``--memory-hours 1,3,6,24`` then replays archives of those lengths once per job count while
sampling the resident memory (RSS, the process and its workers together) every 0.5 s, and
prints the peak and the curve over time: flat memory means the same peak for every length.
``--data DIR`` keeps the archives (about 113 MB per hour) and reuses them in later runs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import obspy

ROOT = Path(__file__).resolve().parents[1]
STATIONXML = [ROOT / "stations" / "almaty_aews.xml", ROOT / "stations" / "kyrgyzstan_kn.xml"]
START = obspy.UTCDateTime(2026, 3, 1, 0, 0, 0)
RECLEN = 512
TARGET = 1000.0
TARGET_JOBS2 = 1.8

NOISE_VELOCITY_M_S = 3e-7
NOISE_ACCELERATION_M_S2 = 2e-4


def write_archive(folder: Path, hours: float, seed: int = 0) -> tuple[int, int]:
    """Write ``hours`` of noise with disturbances; return (channels, samples)."""
    from eew.inventory import load_inventory

    inventory = load_inventory(STATIONXML)
    ids = inventory.channel_ids()
    stations = sorted({inventory[c].station_id for c in ids})
    rng = np.random.default_rng(seed)
    total = 0
    seconds = hours * 3600.0
    n_hours = int(np.ceil(hours))
    struck = stations[3:8]
    for ci, cid in enumerate(ids):
        info = inventory[cid]
        fs = info.sampling_rate_hz
        n = round(seconds * fs)
        rms = NOISE_ACCELERATION_M_S2 if info.kind == "acceleration" else NOISE_VELOCITY_M_S
        sigma = max(20.0, rms * info.sensitivity)
        x = rng.standard_normal(n) * sigma
        # a spike every 10 min, on a channel that changes each time
        for k, t in enumerate(np.arange(300.0, seconds, 600.0)):
            if k % len(ids) == ci:
                x[int(t * fs)] += 2e6 * (1 if k % 2 else -1)
        if info.station_id == stations[0] and seconds > 900:  # calibration sine, 60 s
            i0 = int(600 * fs)
            tt = np.arange(int(60 * fs)) / fs
            x[i0 : i0 + tt.size] += 3e5 * np.sin(2 * np.pi * tt)
        if cid == ids[-1] and seconds > 1200:  # dead for two minutes
            x[int(900 * fs) : int(1020 * fs)] = x[int(900 * fs)]
        if info.station_id in struck and info.component == "Z":  # bursts every 20 min
            delay = 3.0 * struck.index(info.station_id)
            for t in np.arange(1000.0, seconds - 60.0, 1200.0):
                i0 = int((t + delay) * fs)
                m = min(n - i0, int(40 * fs))
                x[i0 : i0 + m] *= 1.0 + 20.0 * np.exp(-np.arange(m) / (6.0 * fs))
        data = np.clip(np.rint(x), -(2**23), 2**23 - 1).astype(np.int32)
        gap = info.station_id == stations[1] and seconds > 1800
        sub = folder / info.station_id
        sub.mkdir(exist_ok=True)
        for h in range(n_hours):
            a, b = int(h * 3600 * fs), min(n, int((h + 1) * 3600 * fs))
            pieces = [(a, b)]
            if gap and h == 0:  # a 30 s telemetry gap at 1500 s
                pieces = [(a, int(1500 * fs)), (int(1530 * fs), b)]
            traces = [
                obspy.Trace(
                    data[p:q],
                    {
                        "network": info.network,
                        "station": info.station,
                        "location": info.location,
                        "channel": info.channel,
                        "sampling_rate": fs,
                        "starttime": START + p / fs,
                    },
                )
                for p, q in pieces
                if q > p
            ]
            obspy.Stream(traces).write(
                str(sub / f"{cid}.{h:03d}.mseed"),
                format="MSEED",
                encoding="STEIM2",
                reclen=RECLEN,
                byteorder=">",
            )
        total += n
    return len(ids), total


def _rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants [kB] (0 once it is gone)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def replay(archive: Path, jobs: int, sample_rss: bool = False) -> dict[str, object]:
    """Run ``eew replay`` once; return its figures (and the RSS samples).

    CPU seconds come from the kernel (``wait4``): the command and its workers, start-up
    included; the replay's own summary gives those of the replay alone.
    """
    cmd = [sys.executable, "-m", "eew", "replay", str(archive), "--out", os.devnull]
    cmd += ["--jobs", str(jobs), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, text=True, env=env)
        samples: list[tuple[float, int]] = []
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if sample_rss:
                samples.append((time.perf_counter() - t0, _rss_kb(proc.pid)))
            time.sleep(0.5 if sample_rss else 0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
    if proc.returncode != 0:
        raise RuntimeError(f"eew replay failed ({proc.returncode}):\n{err[-2000:]}")
    m = re.search(r"data span ([\d.]+) s, wall time ([\d.]+) s.*CPU ([\d.]+) s", err)
    assert m is not None, err[-2000:]
    counts = re.search(r"picks (\d+) .*\n.*events (\d+) .*alerts (\d+)", err)
    workers = re.search(r"of which workers ([\d. +]+) s", err)
    return {
        "workers_cpu": workers.group(1).replace(" ", "") if workers else "-",
        "span": float(m.group(1)),
        "replay_s": float(m.group(2)),
        "replay_cpu_s": float(m.group(3)),
        "process_s": wall,
        "process_cpu_s": usage.ru_utime + usage.ru_stime,
        "summary": err[err.index("replay summary") :] if "replay summary" in err else err,
        "counts": counts.groups() if counts else None,
        "rss": samples,
    }


def _rss_line(samples: list[tuple[float, int]], points: int = 10) -> str:
    if not samples:
        return "(no samples)"
    idx = np.linspace(0, len(samples) - 1, min(points, len(samples))).round().astype(int)
    return "  ".join(f"{samples[i][0]:.0f}s:{samples[i][1] / 1024:.0f}" for i in idx)


def _archive(base: Path, hours: float, seed: int) -> Path:
    """The archive of ``hours`` under ``base`` (written once; reused when complete)."""
    folder = base / f"noise_{hours:g}h_seed{seed}"
    done = folder / ".complete"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        n_ch, n_samp = write_archive(folder, hours, seed)
        size = sum(p.stat().st_size for p in folder.rglob("*.mseed")) / 1e6
        print(
            f"archive {folder.name}: {n_ch} channels x {hours:g} h at 100 Hz = {n_samp:,} "
            f"samples ({RECLEN}-byte Steim2, {size:,.0f} MB), written in "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        done.write_text("ok\n", encoding="ascii")
    return folder


def _f(r: dict[str, object], key: str) -> float:
    return float(r[key])  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="archive length [min]")
    parser.add_argument("--jobs", default="1,2", help="job counts, comma separated")
    parser.add_argument("--reps", type=int, default=3, help="runs per job count (best shown)")
    parser.add_argument(
        "--memory-hours",
        default="",
        help="archive lengths [h] for the memory test, comma separated (e.g. 1,3,6,24)",
    )
    parser.add_argument(
        "--data", metavar="DIR", help="keep the archives here and reuse them (default: temporary)"
    )
    args = parser.parse_args(argv)
    jobs = [int(j) for j in args.jobs.split(",")]
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, cpus {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory(prefix="eew-bench-long-") as tmp:
        base = Path(args.data) if args.data else Path(tmp)
        archive = _archive(base, args.minutes / 60.0, 0)
        replay(archive, 1)  # numba cache load, page cache
        best: dict[int, dict[str, object]] = {}
        for _ in range(args.reps):
            for j in jobs:
                r = replay(archive, j)
                if j not in best or _f(r, "replay_s") < _f(best[j], "replay_s"):
                    best[j] = r
        ref = best[jobs[0]]
        print(f"\n{ref['summary']}")
        print(
            f"eew replay of {args.minutes:g} min, best of {args.reps} (interleaved); "
            "replay: the summary's own figures (index, decode, processing, events, output); "
            "command: the whole process, start-up and workers included; CPU = user + system"
        )
        print(
            f"{'jobs':>4}{'replay s':>10}{'x real':>9}{'x 1 job':>9}{'CPU s':>8}{'x per CPU s':>13}"
            f"{'command s':>11}{'x real':>9}{'CPU s':>8}{'x per CPU s':>13}{'results':>18}"
            f"  {'workers CPU s'}"
        )
        span = _f(ref, "span")
        for j in jobs:
            r = best[j]
            rs, rc = _f(r, "replay_s"), _f(r, "replay_cpu_s")
            ps, pc = _f(r, "process_s"), _f(r, "process_cpu_s")
            print(
                f"{j:>4}{rs:>10.2f}{span / rs:>9,.0f}{_f(ref, 'replay_s') / rs:>9.2f}{rc:>8.2f}"
                f"{span / rc:>13,.0f}{ps:>11.2f}{span / ps:>9,.0f}{pc:>8.2f}{span / pc:>13,.0f}"
                f"{r['counts']!s:>18}  {r['workers_cpu']}"
            )
        one = best[1] if 1 in best else ref
        per_cpu = span / _f(one, "replay_cpu_s")
        print(
            f"target: >= {TARGET:,.0f}x real time per core (1 job, replay CPU) -> "
            f"{per_cpu:,.0f}x ({'met' if per_cpu >= TARGET else 'NOT met'}); wall "
            f"{span / _f(one, 'replay_s'):,.0f}x"
        )
        if 2 in best and 1 in best:
            two = _f(best[1], "replay_s") / _f(best[2], "replay_s")
            print(
                f"target: 2 jobs >= {TARGET_JOBS2}x 1 job (wall) -> {two:.2f}x "
                f"({'met' if two >= TARGET_JOBS2 else 'NOT met'})"
            )
        hours = [float(h) for h in args.memory_hours.split(",") if h]
        if hours:
            print(
                "\nmemory: peak RSS (process and workers, sampled every 0.5 s) against the "
                "archive length"
            )
            print(
                f"{'hours':>6}{'jobs':>5}{'peak MiB':>10}{'wall s':>9}{'x real':>8}"
                f"{'CPU s':>8}{'x per CPU s':>13}  workers CPU s; RSS over time (s:MiB)"
            )
            for h in hours:
                folder = _archive(base, h, 1)
                for j in jobs:
                    r = replay(folder, j, sample_rss=True)
                    rss = r["rss"]
                    peak = max((x[1] for x in rss), default=0) / 1024  # type: ignore[attr-defined]
                    sp = _f(r, "span")
                    print(
                        f"{h:>6g}{j:>5}{peak:>10.0f}{_f(r, 'replay_s'):>9.1f}"
                        f"{sp / _f(r, 'replay_s'):>8,.0f}{_f(r, 'replay_cpu_s'):>8.1f}"
                        f"{sp / _f(r, 'replay_cpu_s'):>13,.0f}  {r['workers_cpu']}; "
                        f"{_rss_line(rss)}",  # type: ignore[arg-type]
                        flush=True,
                    )
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
