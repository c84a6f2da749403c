"""Does the web console slow the processing? 20 browser-like clients during a 50x replay.

The verny_m7.0 scenario (28 stations, 60 s) is replayed in this process at 50x real time
through the chain of ``eew replay`` (:func:`eew.assembly.build_chain`, data clock, packets
paced by their end time), alternately

* ``without``: no console;
* ``console``: the console server started in this process (its own thread), fed by the tap
  as in ``eew replay --console``, with 20 WebSocket clients connected from another process
  (as browsers are) that read every message.

Alert latency = wall time at which the sink receives an alert minus the time at which the
packet that completed it was handed to the chain (the processing of that packet: where a
console thread competing for the GIL would show). Lateness = the same receipt time minus
the time the pacer scheduled that packet for (its end time mapped to the wall clock at
50x): it adds any backlog of the pacing (a loaded machine). The alerts of every run are
compared, field by field. Nothing is asserted.

Run: ``python benchmarks/bench_console.py [--rounds 5] [--clients 20] [--speed 50]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

from eew.acquisition.archive import index_archive, iter_packets
from eew.assembly import build_chain
from eew.console.assemble import build_console
from eew.console.config import ConsoleConfig
from eew.daemon.config import load_settings
from eew.event.targets import load_targets
from eew.inventory import load_inventory
from eew.model.alert import Alert
from eew.model.clock import DataClock
from eew.model.packet import Packet

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "waveforms_samples" / "verny_m7.0"

CLIENTS = r"""
import asyncio, sys, aiohttp
async def one(session, url, counts, i):
    async with session.ws_connect(url, max_msg_size=0) as ws:
        async for msg in ws:
            counts[i] += 1
async def main(url, n):
    counts = [0] * n
    async with aiohttp.ClientSession() as s:
        await asyncio.gather(*(one(s, url, counts, i) for i in range(n)))
    print(sum(counts), min(counts))
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def replay(
    speed: float, clients: int
) -> tuple[list[dict[str, object]], list[float], list[float], str]:
    """One paced replay; with a console and ``clients`` WebSocket clients if > 0."""
    settings = load_settings(None)
    cfg = settings.config
    inventory = load_inventory(cfg.stationxml_paths())
    idx = index_archive([str(SCENARIO)])
    alerts: list[dict[str, object]] = []
    latencies: list[float] = []
    lateness: list[float] = []
    scheduled = [0.0, 0.0]
    console = proc = None
    observe = None
    clock = DataClock()

    def sink(value: object) -> None:
        if isinstance(value, Alert):
            now = time.perf_counter()
            latencies.append(now - scheduled[1])
            lateness.append(now - scheduled[0])
            alerts.append(value.to_dict())
        if observe is not None:
            observe(value)

    if clients:
        console = build_console(
            ConsoleConfig(port=0, max_clients=clients + 4),
            inventory.stations(),
            load_targets(cfg.targets_path()),
            clock.now_ns,
            mode="replay",
            rate=speed,
        )
        console.start()
        observe = console.tap.observe
        url = f"http://127.0.0.1:{console.port}/ws"
        proc = subprocess.Popen(
            [sys.executable, "-c", CLIENTS, url, str(clients)], stdout=subprocess.PIPE, text=True
        )
        t_end = time.monotonic() + 30
        while len(console.clients) < clients and time.monotonic() < t_end:
            time.sleep(0.05)
        assert len(console.clients) == clients, "the clients did not connect"
    chain = build_chain(cfg, settings.hash(), sink, clock, inventory=inventory)
    t0: list[float] = []

    def before(pkt: Packet) -> None:
        now = time.perf_counter()
        if not t0:
            t0.extend((pkt.endtime_ns / 1e9, now))
        target = t0[1] + (pkt.endtime_ns / 1e9 - t0[0]) / speed
        scheduled[0] = target
        if target > now:
            time.sleep(target - now)
        if console is not None:
            console.tap.observe_packet(pkt)
        scheduled[1] = time.perf_counter()

    chain.run(iter_packets(idx, cfg.replay.max_packet_samples), before)
    note = ""
    if console is not None and proc is not None:
        time.sleep(1.0)  # the last pushes
        console.close()
        out, _ = proc.communicate(timeout=30)
        total, least = out.split()
        ts = console.tap.statistics()
        note = (
            f"messages to the clients {total} (fewest per client {least}), "
            f"tap drops {ts.dropped_packets + ts.dropped_results + ts.dropped_alerts}"
        )
    return alerts, latencies, lateness, note


def main() -> int:
    """Run the rounds and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--speed", type=float, default=50.0)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the per-channel warnings of the scenario
    replay(1e6, 0)  # compile the numba kernels
    runs: dict[str, list[list[float]]] = {"without": [], "console": []}
    late: dict[str, list[float]] = {"without": [], "console": []}
    reference: list[dict[str, object]] | None = None
    same = True
    for r in range(args.rounds):
        for name, n in (("without", 0), ("console", args.clients)):
            alerts, lat, lateness, note = replay(args.speed, n)
            late[name].extend(lateness)
            reference = reference if reference is not None else alerts
            same &= alerts == reference
            runs[name].append(lat)
            med = statistics.median(lat) * 1e3
            print(f"round {r + 1} {name:8s} alerts {len(alerts)}  latency median {med:6.2f} ms  "
                  f"max {max(lat) * 1e3:6.2f} ms  lateness median "
                  f"{statistics.median(lateness) * 1e3:7.1f} ms  {note}")  # fmt: skip
    print(f"\nsame alerts in every run: {same}")
    for name, rounds in runs.items():
        lat = sorted(x for r in rounds for x in r)
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(f"{name:8s} alert latency over {len(lat)} alerts: median "
              f"{statistics.median(lat) * 1e3:6.2f} ms, p95 {p95 * 1e3:6.2f} ms, "
              f"max {lat[-1] * 1e3:6.2f} ms; lateness median "
              f"{statistics.median(late[name]) * 1e3:7.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
