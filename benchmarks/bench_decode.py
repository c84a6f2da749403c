"""Decoding one 512-byte Steim2 miniSEED record: libmseed (pymseed) and numba against obspy.

Run ``python benchmarks/bench_decode.py [--reps N]``. The record is made in memory
with obspy (100 Hz int32 counts, a random walk like broadband noise, big-endian
Steim2, 512-byte records; the first record is used). Each decoder is checked
against obspy's samples first, then timed in interleaved rounds of about
``--round-s`` seconds each; the table shows the best round as time per record,
records per second and the ratio against ``obspy.read``.

* ``obspy.read(BytesIO(record))``: what a script would do (format auto-detection);
* ``obspy.read(..., format="MSEED")``: the same without auto-detection;
* ``pymseed MS3Record.parse(record, unpack_data=True)``: libmseed, with the samples
  taken out as a NumPy array;
* ``eew decode_steim`` (numba): the decoder that ``eew replay`` uses for Steim records
  (header already indexed, so only the data frames are decoded).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from io import BytesIO

import numpy as np
import obspy
import pymseed

from eew.acquisition.steim import STATUS_OK, decode_steim

RECLEN = 512


def make_record() -> tuple[bytes, np.ndarray]:
    """First 512-byte Steim2 record of an obspy-written trace, and its samples."""
    rng = np.random.default_rng(3)
    counts = np.cumsum(rng.integers(-400, 401, 6000)).astype(np.int32)
    tr = obspy.Trace(
        counts,
        {
            "network": "AW",
            "station": "ALM01",
            "channel": "HHZ",
            "sampling_rate": 100.0,
            "starttime": obspy.UTCDateTime(2026, 1, 1),
        },
    )
    buf = BytesIO()
    tr.write(buf, format="MSEED", encoding="STEIM2", reclen=RECLEN, byteorder=">")
    record = buf.getvalue()[:RECLEN]
    samples = obspy.read(BytesIO(record))[0].data
    return record, samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--round-s", type=float, default=0.15, help="seconds per decoder and round")
    args = parser.parse_args(argv)

    record, expected = make_record()
    n = expected.shape[0]
    arr = np.frombuffer(record, dtype=np.uint8)
    begin_data = int.from_bytes(record[44:46], "big")  # fixed header field 'beginning of data'

    def eew_numba() -> np.ndarray:
        data, status = decode_steim(arr, begin_data, RECLEN, n, 2, True)
        assert status == STATUS_OK
        return data

    decoders: dict[str, Callable[[], np.ndarray]] = {
        "obspy.read(BytesIO(record))": lambda: obspy.read(BytesIO(record))[0].data,
        'obspy.read(..., format="MSEED")': lambda: (
            obspy.read(BytesIO(record), format="MSEED")[0].data
        ),
        "pymseed MS3Record.parse": lambda: np.asarray(
            pymseed.MS3Record.parse(record, unpack_data=True).np_datasamples
        ),
        "eew decode_steim (numba)": eew_numba,
    }
    for name, fn in decoders.items():
        np.testing.assert_array_equal(fn(), expected, err_msg=name)

    loops = {}
    for name, fn in decoders.items():  # calls per round so that a round takes ~round_s
        t0 = time.perf_counter()
        for _ in range(10):
            fn()
        loops[name] = max(10, int(args.round_s / ((time.perf_counter() - t0) / 10)))
    times: dict[str, list[float]] = {k: [] for k in decoders}
    for _ in range(args.reps):
        for name, fn in decoders.items():
            t0 = time.perf_counter()
            for _ in range(loops[name]):
                fn()
            times[name].append((time.perf_counter() - t0) / loops[name])

    print(f"one {RECLEN}-byte Steim2 record, {n} samples; best of {args.reps} interleaved rounds")
    print(f"{'decoder':<34}{'us/record':>10}{'records/s':>12}{'x obspy.read':>14}")
    ref = min(times["obspy.read(BytesIO(record))"])
    for name, t in times.items():
        best = min(t)
        print(f"{name:<34}{best * 1e6:>10.2f}{1 / best:>12,.0f}{ref / best:>14.1f}")
    print(f"libmseed vs obspy.read: {ref / min(times['pymseed MS3Record.parse']):.0f}x")


if __name__ == "__main__":
    main()
