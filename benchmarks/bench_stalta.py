"""Recursive STA/LTA throughput: ``eew.dsp.stalta`` against obspy's C kernel, one core.

Run ``python benchmarks/bench_stalta.py [--reps N]``. Every implementation is timed
in the same run, with the repetitions interleaved so that load from other processes
hits all of them alike; the table shows the best and the median time per sample
and the ratio of the best times against obspy's ``recursive_sta_lta`` (C, ctypes).

Cases (100 Hz, the configured STA 0.5 s and LTA 20 s):

* whole trace: one hour (360 000 samples) in one call;
* streaming: the same hour in 300-sample packets (3 s, a typical SeedLink record).
  ``recursive_stalta`` carries its state from packet to packet; obspy has no
  streaming state, so it is simply called on every packet (restarting its
  averages each time, which is not a usable streaming result, only a cost floor).

``per-sample`` is the previous kernel (one :func:`eew.dsp.stalta.stalta_step` per
sample), kept here as the baseline of the blocked one.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
from numba import njit
from obspy.signal.trigger import recursive_sta_lta

from eew.dsp.stalta import new_state, recursive_stalta, recursive_stalta_np, stalta_step

RATE_HZ = 100.0
N_STA = 50  # 0.5 s
N_LTA = 2000  # 20 s
N_HOUR = 360_000
PACKET = 300
TARGET = 1.5


@njit(cache=True)
def per_sample_stalta(a: np.ndarray, n_sta: int, n_lta: int, state: np.ndarray) -> np.ndarray:
    """The pre-optimisation kernel: one branchy step per sample."""
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = stalta_step(a[i] * a[i], state, n_sta, n_lta, n_lta, False)
    return out


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _time_interleaved(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, np.ndarray]:
    for fn in fns.values():  # warm up: compile, fault pages in
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: np.array(v) for k, v in times.items()}


def _streamed(kernel: Callable[..., np.ndarray], packets: list[np.ndarray]) -> Callable[[], None]:
    def run() -> None:
        state = new_state()
        for p in packets:
            kernel(p, N_STA, N_LTA, state)

    return run


def _obspy_per_packet(packets: list[np.ndarray]) -> Callable[[], None]:
    def run() -> None:
        for p in packets:
            recursive_sta_lta(p, N_STA, N_LTA)

    return run


def _table(title: str, times: dict[str, np.ndarray], n: int, reference: str) -> float:
    print(f"\n{title}")
    head = f"{'implementation':<31}{'best ns/sample':>15}{'median':>9}{'Msamples/s':>12}"
    print(head + f"{'x obspy':>9}")
    ref = times[reference].min()
    for name, t in times.items():
        best = t.min()
        print(
            f"{name:<31}{best / n * 1e9:>15.3f}{np.median(t) / n * 1e9:>9.3f}"
            f"{n / best / 1e6:>12.1f}{ref / best:>9.2f}"
        )
    return float(ref / times["eew recursive_stalta"].min())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=60, help="interleaved repetitions")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(42)
    a = rng.standard_normal(N_HOUR) * 300.0  # band-passed noise level is irrelevant to speed
    a[200_000:201_000] *= 40.0  # an event
    packets = [np.ascontiguousarray(a[i : i + PACKET]) for i in range(0, N_HOUR, PACKET)]

    # same numbers before timing anything
    ours = recursive_stalta(a, N_STA, N_LTA, new_state())
    ref = recursive_sta_lta(a, N_STA, N_LTA)
    rel = np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), np.finfo(float).tiny))

    print(f"recursive STA/LTA, n_sta={N_STA}, n_lta={N_LTA} samples ({RATE_HZ:.0f} Hz)")
    print(f"machine: {_cpu_name()}, python {platform.python_version()}")
    print(f"max relative difference to obspy C on the hour: {rel:.1e}")

    whole = _time_interleaved(
        {
            "obspy recursive_sta_lta (C)": lambda: recursive_sta_lta(a, N_STA, N_LTA),
            "eew recursive_stalta": lambda: recursive_stalta(a, N_STA, N_LTA, new_state()),
            "per-sample numba (before)": lambda: per_sample_stalta(a, N_STA, N_LTA, new_state()),
        },
        args.reps,
    )
    # the NumPy twin allocates a lot and would disturb the others' caches: timed on its own
    whole |= _time_interleaved(
        {"eew recursive_stalta_np": lambda: recursive_stalta_np(a, N_STA, N_LTA, new_state())}, 5
    )
    r_whole = _table(
        f"whole trace: {N_HOUR} samples (1 h), {args.reps} reps",
        whole,
        N_HOUR,
        "obspy recursive_sta_lta (C)",
    )

    stream = _time_interleaved(
        {
            "obspy C, per packet (no state)": _obspy_per_packet(packets),
            "eew recursive_stalta": _streamed(recursive_stalta, packets),
            "per-sample numba (before)": _streamed(per_sample_stalta, packets),
        },
        max(5, args.reps // 6),
    )
    r_stream = _table(
        f"streaming: {len(packets)} packets of {PACKET} samples, state carried "
        "(obspy restarts per packet)",
        stream,
        N_HOUR,
        "obspy C, per packet (no state)",
    )
    per_packet_us = stream["eew recursive_stalta"].min() / len(packets) * 1e6
    print(f"\nper packet: eew {per_packet_us:.2f} us")
    verdict = "met" if r_whole >= TARGET else "NOT met"
    print(f"target: whole trace >= {TARGET:.1f}x obspy C -> {r_whole:.2f}x ({verdict})")
    print(f"streaming: {r_stream:.2f}x obspy C called per packet")


if __name__ == "__main__":
    main()
