"""Start-up time and memory of the ``eew`` command: the light commands against a baseline.

Run ``python benchmarks/bench_startup.py [--reps N] [--baseline DIR]``. Each command runs
``--reps`` times in a fresh interpreter (``python -m eew ...``, the same as the ``eew``
script), round-robin over the commands so that load from other processes hits them
alike. The table shows the best and the median wall time, the peak resident memory of
the child process, and whether numba or scipy was loaded (a separate run that lists
``sys.modules`` at exit). ``--baseline DIR`` times the same commands with another checkout
(``PYTHONPATH=DIR``, run in DIR since ``python -m`` puts the current folder first on
``sys.path``; e.g. a worktree of an older commit) in the same rounds.

The light commands are ``--help``, ``--version``, ``convert`` (a native alert to CAP,
ShakeAlert and QuakeML) and ``subscribe`` (0.01 s on an endpoint without publisher);
``replay --help`` (numba, scipy) is the heavy reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALERT = ROOT / "tests" / "data" / "formats" / "alert_new.json"
COMMANDS: list[tuple[str, ...]] = [
    ("--help",),
    ("--version",),
    ("convert", str(ALERT), "--to", "cap"),
    ("convert", str(ALERT), "--to", "shakealert"),
    ("convert", str(ALERT), "--to", "quakeml"),
    ("subscribe", "tcp://127.0.0.1:9", "--insecure", "--duration-s", "0.01"),
    ("config",),
    ("replay", "--help"),
]
MODULES = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules))))\n"
    "from eew.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)


def _env(pythonpath: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pythonpath)
    env.pop("EEW_CONFIG", None)
    return env


def _time_once(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall time [s] and peak RSS [KiB] of one ``python -m eew ARGS``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "eew", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{cwd}: eew {' '.join(args)} exited with {proc.returncode}\n{err}")
    return wall_s, usage.ru_maxrss


def _heavy(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", MODULES, *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=cwd,
    )
    loaded = {m.split(".")[0] for m in proc.stderr.rsplit("\nMODULES ", 1)[1].split()}
    return ",".join(m for m in ("numba", "scipy", "obspy") if m in loaded) or "-"


def main(argv: list[str] | None = None) -> int:
    """Time every command; print one table row per checkout and command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--baseline", type=Path, help="another checkout to time alongside")
    args = parser.parse_args(argv)
    trees = {"this": ROOT}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    envs = {name: _env(path) for name, path in trees.items()}
    times: dict[tuple[str, int], list[float]] = {}
    rss: dict[tuple[str, int], int] = {}
    for _ in range(args.reps):
        for i, cmd in enumerate(COMMANDS):
            for name, env in envs.items():
                wall_s, kib = _time_once(cmd, env, trees[name])
                times.setdefault((name, i), []).append(wall_s)
                rss[(name, i)] = max(rss.get((name, i), 0), kib)
    print(f"{'tree':9s} {'best s':>7s} {'median s':>8s} {'RSS MB':>7s}  {'loads':16s} command")
    for i, cmd in enumerate(COMMANDS):
        label = " ".join(cmd).replace(str(ALERT), "ALERT")
        for name, env in envs.items():
            t = times[(name, i)]
            print(
                f"{name:9s} {min(t):7.3f} {statistics.median(t):8.3f} "
                f"{rss[(name, i)] / 1024:7.0f}  {_heavy(cmd, env, trees[name]):16s} eew {label}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
