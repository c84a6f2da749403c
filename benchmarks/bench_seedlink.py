"""SeedLink ingestion speed: how many 100 Hz channels (1-second packets) one core keeps up with.

Three measurements, each against ``eew serve`` running in a separate process
(so only the client's CPU time is counted in this process):

1. backlog throughput of our asyncio client (frame parsing + Steim2 decoding
   into ``Packet`` values + latency/gap bookkeeping) in packets per CPU second;
2. the same for obspy's ``SLClient`` (``get_trace()`` decodes every packet),
   the reference path;
3. a real-time run: N channels at 1 packet/s each, record times shifted to
   "now", data latency (arrival - last sample) p50/p99 and whether the client
   kept up.

A 100 Hz channel sending 1-second packets is 1 packet/s, so packets per CPU
second = channels one core keeps up with. Nothing is asserted; figures are
printed as a table. Run: ``python benchmarks/bench_seedlink.py [--channels N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import obspy
from obspy.clients.seedlink.slclient import SLClient
from obspy.clients.seedlink.slpacket import SLPacket

from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.archive_server.records import synthetic_archive
from eew.model.clock import WallClock

T0 = 1_700_000_000_000_000_000


class Serve:
    """``eew serve`` in a subprocess."""

    def __init__(self, path: Path, *extra: str) -> None:
        self.args = [sys.executable, "-m", "eew", "serve", str(path), "--listen", "127.0.0.1:0"]
        self.args += list(extra)

    def __enter__(self) -> int:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
        )
        line = self.proc.stdout.readline()
        return int(line.rsplit(":", 1)[1].split()[0])

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


async def ours_backlog(port: int, n: int) -> tuple[float, float, int]:
    opts = ClientOptions(begin_ns=0, end_ns=T0 * 2, future_s=None, queue_size=50_000)
    spec = ServerSpec.parse(f"127.0.0.1:{port}", "XX_*")
    count = 0
    async with SeedLinkClient([spec], WallClock(), opts) as client:
        c0, w0 = time.process_time(), time.perf_counter()
        async for _pkt in client:
            count += 1
        return time.process_time() - c0, time.perf_counter() - w0, count


def obspy_backlog(port: int) -> tuple[float, float, int]:
    cl = SLClient(timeout=60)
    cl.slconn.set_sl_address(f"127.0.0.1:{port}")
    cl.multiselect = "XX_*:???"
    cl.begin_time = obspy.UTCDateTime(ns=T0 - 10**9)
    cl.end_time = obspy.UTCDateTime(ns=T0 * 2)
    cl.initialize()
    count = 0

    def handler(_n: int, pkt: SLPacket) -> bool:
        nonlocal count
        if pkt is None or pkt in (SLPacket.SLNOPACKET, SLPacket.SLERROR):
            return False
        if pkt.get_type() in (SLPacket.TYPE_SLINF, SLPacket.TYPE_SLINFT):
            return False
        pkt.get_trace()
        count += 1
        return False

    c0, w0 = time.process_time(), time.perf_counter()
    cl.run(packet_handler=handler)
    return time.process_time() - c0, time.perf_counter() - w0, count


async def ours_realtime(port: int, n_expected: int, duration_s: float) -> dict[str, float]:
    opts = ClientOptions(begin_ns=0, future_s=None, queue_size=50_000)
    spec = ServerSpec.parse(f"127.0.0.1:{port}", "XX_*")
    clock = WallClock()
    lat = []
    async with SeedLinkClient([spec], clock, opts) as client:
        c0, w0 = time.process_time(), time.perf_counter()
        while len(lat) < n_expected and time.perf_counter() - w0 < duration_s + 10:
            try:
                async with asyncio.timeout(2.0):
                    r = await client.get()
            except TimeoutError:
                break
            if r is None:
                break
            lat.append((clock.now_ns() - (r.packet.endtime_ns - 10_000_000)) / 1e9)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    a = np.array(lat)
    tail = a[len(a) // 2 :] if len(a) else a  # after the first packets' start-up
    return {
        "packets": len(a),
        "cpu_frac": cpu / wall,
        "p50": float(np.percentile(tail, 50)) if len(tail) else float("nan"),
        "p99": float(np.percentile(tail, 99)) if len(tail) else float("nan"),
        "max": float(tail.max()) if len(tail) else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=10_000, help="channels in the real-time run")
    ap.add_argument("--seconds", type=int, default=15, help="length of the real-time run [s]")
    ap.add_argument("--backlog", type=int, default=60_000, help="packets in the backlog runs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        back = Path(tmp) / "backlog.mseed"
        n_ch = 2000
        back.write_bytes(synthetic_archive(n_ch, max(1, args.backlog // n_ch), T0))
        n_back = n_ch * max(1, args.backlog // n_ch)
        rows = []
        with Serve(back, "--speed", "max") as port:
            cpu, wall, n = asyncio.run(ours_backlog(port, n_back))
        rows.append(("eew SeedLinkClient (asyncio, numba Steim2)", n, cpu, wall))
        with Serve(back, "--speed", "max") as port:
            cpu, wall, n = obspy_backlog(port)
        rows.append(("obspy SLClient + get_trace()", n, cpu, wall))
        print(f"\nbacklog: {n_back} one-second 100 Hz Steim2 packets over loopback")
        print(
            f"{'client':<44} {'packets':>8} {'CPU s':>7} {'wall s':>7} {'pkt/CPU-s':>10}"
            f" {'channels/core':>14}"
        )
        for name, n, cpu, wall in rows:
            rate = n / cpu if cpu > 0 else float("nan")
            print(f"{name:<44} {n:>8} {cpu:>7.2f} {wall:>7.2f} {rate:>10.0f} {rate:>14.0f}")

        rt = Path(tmp) / "rt.mseed"
        rt.write_bytes(synthetic_archive(args.channels, args.seconds, T0))
        with Serve(rt, "--speed", "1", "--now") as port:
            res = asyncio.run(ours_realtime(port, args.channels * args.seconds, args.seconds))
        print(f"\nreal time: {args.channels} channels x {args.seconds} s at 1 packet/s per channel")
        print(f"{'packets':>8} {'client CPU':>11} {'latency p50':>12} {'p99':>8} {'max':>8}")
        print(
            f"{res['packets']:>8} {res['cpu_frac']:>10.0%} {res['p50']:>11.3f}s"
            f" {res['p99']:>7.3f}s {res['max']:>7.3f}s"
        )
        print("(latency = arrival - last sample; includes the server's pacing granularity, 50 ms)")


if __name__ == "__main__":
    main()
