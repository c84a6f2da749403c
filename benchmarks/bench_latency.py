"""Live-path speed: alert latency with 28 stations, and channels one core keeps up with.

1. **Alert latency.** Bundled scenarios (28 stations, 168 channels, 512-byte Steim2
   records) are served by our SeedLink server on a ``ManualClock`` that the benchmark
   advances one second at a time, waiting until the daemon is idle between steps (so
   the figure is processing latency, not a backlog from playing faster than real time).
   The daemon (role ``all``) publishes on the real alert bus; a subscriber thread on
   loopback stamps each alert on receipt. Latency = receipt time - arrival time of the
   packet whose processing emitted the alert (both the wall clock of this process). It
   includes the packets queued ahead of it in the same second, the event core, the
   publisher thread and one ZMQ hop.
2. **Throughput.** N synthetic 100 Hz channels of 1-second packets in ``eew serve``
   (separate process, ``--speed max``) are read as a backlog by the daemon (role
   ``station``: SeedLink client, Steim2 decoding, pipeline, picks to the publisher); the
   daemon process's CPU time gives packets per CPU second = 100 Hz channels per core
   (channel construction on the first packet is included). The same backlog through
   obspy's ``SLClient`` + ``get_trace()`` + the same pipeline is the reference.
3. Optionally (``--realtime N``) N channels at real time (``--speed 1 --now``): CPU
   share of the daemon and data latency.

Nothing is asserted. Run: ``python benchmarks/bench_latency.py [--channels 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import obspy
from obspy.clients.seedlink.slclient import SLClient
from obspy.clients.seedlink.slpacket import SLPacket

from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.archive_server.feed import load_feed
from eew.archive_server.records import synthetic_archive
from eew.archive_server.server import SeedLinkServer
from eew.bus import Subscriber
from eew.config import Config
from eew.daemon.config import settings_from_dict
from eew.daemon.publish import MemoryPublisher
from eew.daemon.runner import Daemon
from eew.detect.router import Pipeline
from eew.inventory import ChannelInfo, Inventory
from eew.model.clock import ManualClock, WallClock
from eew.model.packet import Packet

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("local_m4.5", "verny_m7.0", "verny_m7.5", "kemin_m8.0", "double_m5", "kyrgyz_m5.5")
T0 = 1_700_000_000_000_000_000


# ---- 1. alert latency -------------------------------------------------------------------
class Tap(threading.Thread):
    """Subscriber thread: (event_id, version) -> receipt time [ns]."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.got, self.stop = endpoint, {}, threading.Event()

    def run(self) -> None:
        with Subscriber(self.endpoint, verifier=None, clock=WallClock(), kinds=("alert",)) as s:
            while not self.stop.is_set():
                m = s.receive(0.02)
                if m is not None and m.kind == "alert":
                    self.got.setdefault((m.body.event_id, m.body.version), time.time_ns())


async def latency_one(scenario: str, tmp: Path) -> list[tuple[float, float]]:
    clock = ManualClock(T0)
    srv = SeedLinkServer(load_feed([ROOT / "waveforms_samples" / scenario]), clock, port=0)
    host, port = await srv.start()
    raw = {
        "daemon": {"role": "all", "processing_clock": "data", "insecure_bus": True},
        "seedlink": {"servers": [f"{host}:{port}"], "state_file": "", "future_s": float("inf")},
        "bus": {"endpoint": "tcp://127.0.0.1:*"},
    }
    daemon = Daemon(settings_from_dict(raw, "<bench>", tmp))
    task = asyncio.create_task(daemon.run())
    while daemon.publisher is None or not getattr(daemon.publisher, "endpoint", ""):
        await asyncio.sleep(0.01)
    tap = Tap(daemon.publisher.endpoint)
    tap.start()
    assert daemon.client is not None
    while not (
        daemon.publisher.statistics().subscriptions
        and all(s.connected for s in daemon.client.statistics().servers)
    ):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    for _ in range(90):  # 90 s of data, one second per step
        clock.advance_s(1.0)
        await asyncio.sleep(0.06)  # the pacer wakes at least every 50 ms
        while daemon.client.statistics().queued or daemon.publisher.statistics().alerts_queued:
            await asyncio.sleep(0.002)
    await asyncio.sleep(0.2)
    daemon.request_stop()
    await task
    tap.stop.set()
    tap.join(5)
    await srv.close()
    return [
        (
            (tap.got[(m.event_id, m.version)] - m.arrival_ns) / 1e6,
            (m.queued_ns - m.arrival_ns) / 1e6,
        )
        for m in daemon.outputs.marks
        if (m.event_id, m.version) in tap.got
    ]


# ---- 2. throughput ----------------------------------------------------------------------
def synthetic_inventory(n_channels: int) -> Inventory:
    chans = []
    for c in range(n_channels):
        sta, cha = f"S{c // 3:04d}"[:5], "HH" + "ZNE"[c % 3]
        chans.append(
            ChannelInfo(f"XX.{sta}..{cha}", "XX", sta, "", cha, 43.0 + c * 1e-4, 76.9, 800.0, 0.0,
                        100.0, 2.5e9, 1.0, "M/S", 0.0, -90.0 if cha[2] == "Z" else 0.0, None, None)
        )  # fmt: skip
    return Inventory(chans)


class Serve:
    """``eew serve`` in a subprocess; the port it listens on."""

    def __init__(self, path: Path, *extra: str) -> None:
        self.args = [sys.executable, "-m", "eew", "serve", str(path), "--listen", "127.0.0.1:0"]
        self.args += list(extra)

    def __enter__(self) -> int:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, env=env)
        return int(self.proc.stdout.readline().rsplit(":", 1)[1].split()[0])

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def station_daemon(port: int, inv: Inventory, tmp: Path, window: bool) -> Daemon:
    raw = {
        "daemon": {"role": "station", "publish": False},
        "seedlink": {"servers": [f"127.0.0.1:{port}"], "state_file": "", "queue_size": 50_000},
    }
    daemon = Daemon(settings_from_dict(raw, "<bench>", tmp), publisher=MemoryPublisher(),
                    inventory=inv)  # fmt: skip
    opts = ClientOptions(future_s=None, queue_size=50_000, begin_ns=0 if window else None,
                         end_ns=T0 * 2 if window else None)  # fmt: skip
    daemon.client = SeedLinkClient(
        [ServerSpec.parse(f"127.0.0.1:{port}", "XX_*")], WallClock(), opts
    )
    return daemon


async def ours_backlog(port: int, inv: Inventory, tmp: Path) -> tuple[float, float, int]:
    daemon = station_daemon(port, inv, tmp, window=True)
    c0, w0 = time.process_time(), time.perf_counter()
    await daemon.run()  # ends when the server says END
    assert daemon.pipeline is not None
    return time.process_time() - c0, time.perf_counter() - w0, daemon.pipeline.statistics().packets


def obspy_backlog(port: int, inv: Inventory) -> tuple[float, float, int]:
    pipe = Pipeline(Config(), inv, lambda _v: None, WallClock())
    cl = SLClient(timeout=60)
    cl.slconn.set_sl_address(f"127.0.0.1:{port}")
    cl.multiselect = "XX_*:???"
    cl.begin_time = obspy.UTCDateTime(ns=T0 - 10**9)
    cl.end_time = obspy.UTCDateTime(ns=T0 * 2)
    cl.initialize()

    def handler(_n: int, pkt: SLPacket) -> bool:
        if pkt is None or pkt in (SLPacket.SLNOPACKET, SLPacket.SLERROR):
            return False
        if pkt.get_type() in (SLPacket.TYPE_SLINF, SLPacket.TYPE_SLINFT):
            return False
        tr = pkt.get_trace()
        pipe.feed(Packet(tr.id, tr.stats.starttime.ns, tr.stats.sampling_rate, tr.data))
        return False

    c0, w0 = time.process_time(), time.perf_counter()
    cl.run(packet_handler=handler)
    return time.process_time() - c0, time.perf_counter() - w0, pipe.statistics().packets


async def realtime(port: int, inv: Inventory, tmp: Path, seconds: float) -> dict[str, float]:
    daemon = station_daemon(port, inv, tmp, window=False)
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(seconds * 0.3)  # start-up: channel construction
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds * 0.6)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    assert daemon.client is not None
    lat = [c.latency_last_s for c in daemon.client.statistics().channels if c.packets]
    daemon.request_stop()
    await task
    a = np.array(lat)
    return {"cpu": cpu / wall, "p50": float(np.median(a)), "p99": float(np.percentile(a, 99))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=2000, help="channels in the backlog runs")
    ap.add_argument("--seconds", type=int, default=30, help="seconds of data per channel")
    ap.add_argument("--realtime", type=int, default=0, metavar="N", help="real-time run, N ch")
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        lat: list[tuple[float, float]] = []
        for sc in args.scenarios:
            got = asyncio.run(latency_one(sc, tmpdir))
            worst = max((g[0] for g in got), default=float("nan"))
            print(f"  {sc:<14} {len(got):>3} alerts, max {worst:6.1f} ms")
            lat += got
        a, q = np.array(lat).T
        print(f"\nalert latency, 28 stations, {len(a)} alerts from {len(args.scenarios)} scenarios")
        for name, v in (("arrival -> subscriber", a), ("  of which arrival -> publish call", q)):
            p50, p99 = np.percentile(v, [50, 99])
            print(f"  {name:<34} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {v.max():6.1f} ms")
        print("  (target: p99 < 50 ms)")

        n_ch = args.channels
        inv = synthetic_inventory(max(n_ch, args.realtime))
        back = tmpdir / "backlog.mseed"
        back.write_bytes(synthetic_archive(n_ch, args.seconds, T0))
        rows = []
        with Serve(back, "--speed", "max") as port:
            rows.append(("eew daemon (SeedLink client + pipeline)", *asyncio.run(
                ours_backlog(port, inv, tmpdir))))  # fmt: skip
        with Serve(back, "--speed", "max") as port:
            rows.append(("obspy SLClient + get_trace + pipeline", *obspy_backlog(port, inv)))
        print(f"\nbacklog: {n_ch} channels x {args.seconds} one-second 100 Hz packets, loopback")
        print(f"{'path':<42} {'packets':>8} {'CPU s':>7} {'wall s':>7} {'channels/core':>14}")
        for name, cpu, wall, n in rows:
            print(f"{name:<42} {n:>8} {cpu:>7.2f} {wall:>7.2f} {n / cpu:>14.0f}")
        if args.realtime:
            rt = tmpdir / "rt.mseed"
            rt.write_bytes(synthetic_archive(args.realtime, 20, T0))
            with Serve(rt, "--speed", "1", "--now") as port:
                res = asyncio.run(realtime(port, inv, tmpdir, 20.0))
            print(f"\nreal time: {args.realtime} channels, daemon CPU {res['cpu']:.0%} of a core,"
                  f" data latency p50 {res['p50']:.3f} s p99 {res['p99']:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
