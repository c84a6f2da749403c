"""The whole live chain in well under a minute (``make demo``).

1. ``eew run`` (role ``all``) starts with fresh CURVE and Ed25519 keys and waits for
   its SeedLink server;
2. a subscriber in this process connects to the daemon's alert bus (CURVE, signatures
   verified);
3. ``eew serve`` plays a bundled scenario at 10x real time, re-packed into 1-s records
   as dataloggers for early warning are set (``--record-seconds 1``), with record times
   shifted to "now" (the daemon's future-data check is off, as docs/seedlink.md says for
   ``--now`` at speed > 1, and its processing clock follows the data);
4. every alert is printed as ``eew subscribe`` shows it (the nearest five targets); when
   the archive has been played and processed, everything is stopped and a summary is printed.

Usage: ``python tools/live_demo.py [--scenario local_m4.5|verny_m7.0] [--no-bus]``.
``--no-bus`` prints the alerts from the daemon's own log (its sink) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEED = 10.0
SERVE_ARGS = ("--speed", str(SPEED), "--now", "--record-seconds", "1")


def free_port() -> int:
    """A free loopback TCP port (released at once; the race is harmless for a demo)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_keys(keys: Path) -> None:
    """Publisher CURVE + agency signing key, one allowed subscriber, the trusted key."""
    import shutil

    from eew.bus.keys import generate_keys

    generate_keys(keys, "publisher", agency="KZ-AEWS", signing=False)
    generate_keys(keys, "KZ-AEWS", curve=False)
    generate_keys(keys, "demo", signing=False)
    for sub, src in (("allowed", "demo.key"), ("trusted", "KZ-AEWS.ed25519")):
        (keys / sub).mkdir(mode=0o700)
        shutil.copy(keys / src, keys / sub / src)


def daemon_config(path: Path, seedlink_port: int, bus_port: int, bus: bool) -> None:
    """The daemon's TOML for the demo."""
    path.write_text(
        f"""
[daemon]
role = "all"
processing_clock = "data"
publish = {"true" if bus else "false"}
heartbeat_interval_s = 0.5
event_tick_s = 0.5
[alert]
status = "test"
[seedlink]
servers = ["127.0.0.1:{seedlink_port}"]
streams = "*_*"
state_file = ""
future_s = inf
backoff_initial_s = 0.1
backoff_max_s = 0.3
[bus]
endpoint = "tcp://127.0.0.1:{bus_port}"
heartbeat_interval_s = 1.0
[bus_security]
curve_secret_key_file = "keys/publisher.key_secret"
curve_allowed_keys_dir = "keys/allowed"
signing_key_file = "keys/KZ-AEWS.ed25519_secret"
""",
        encoding="utf-8",
    )


class LogWatcher:
    """Reads the daemon's stderr in a thread; keeps the lines; finds patterns."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait(self, needle: str, timeout_s: float, start: int = 0) -> str:
        """The first line containing ``needle``; TimeoutError after ``timeout_s``."""
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            for line in self.lines[start:]:
                if needle in line:
                    return line
            time.sleep(0.02)
        tail = "\n".join(self.lines[-15:])
        raise TimeoutError(f"daemon: no {needle!r} within {timeout_s} s\n{tail}")


def subscribe(endpoint: str, keys: Path, stop: threading.Event, alerts: list) -> None:
    """The subscriber thread: print each verified alert with the per-target warning."""
    from eew.bus import CurveClient, Subscriber, Verifier
    from eew.model.clock import WallClock

    curve = CurveClient.from_files(keys / "demo.key_secret", keys / "publisher.key")
    with Subscriber(
        endpoint,
        verifier=Verifier.from_dir(keys / "trusted"),
        clock=WallClock(),
        curve=curve,
        kinds=("alert",),
    ) as sub:
        while not stop.is_set():
            msg = sub.receive(0.05)
            if msg is not None and msg.kind == "alert":
                alerts.append((time.time_ns(), msg.body))
                show(msg.body)


def show(alert) -> None:
    """Print one alert as ``eew subscribe --no-live`` does, countdowns at its sent time.

    The server plays at 10x, so the alert's own (data) clock, not the wall clock, says how
    long the S waves still need.
    """
    from eew.formats.screen import alert_block, choose_targets

    lines = alert_block(alert, alert.sent_time_ns, choose_targets(alert))
    print("\n" + "\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return 0 if an alert was shown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="local_m4.5", help="folder in waveforms_samples/")
    ap.add_argument("--no-bus", action="store_true", help="print alerts from the daemon's log")
    args = ap.parse_args(argv)
    scenario = ROOT / "waveforms_samples" / args.scenario
    truth = json.loads((scenario / "truth.json").read_text())
    source = truth["events"][0]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    eew = [sys.executable, "-m", "eew"]
    t_begin = time.monotonic()
    procs: list[subprocess.Popen] = []
    alerts: list = []
    stop = threading.Event()
    sub_thread = None
    with tempfile.TemporaryDirectory(prefix="eew-demo-") as tmp:
        tmpdir = Path(tmp)
        sl_port, bus_port = free_port(), free_port()
        if not args.no_bus:
            make_keys(tmpdir / "keys")
        cfg = tmpdir / "demo.toml"
        daemon_config(cfg, sl_port, bus_port, not args.no_bus)
        try:
            print(f"=== Live demo: {truth['description']}", flush=True)
            daemon = subprocess.Popen(
                [*eew, "run", "--config", str(cfg)], stderr=subprocess.PIPE, text=True, env=env
            )
            procs.append(daemon)
            log = LogWatcher(daemon.stderr)
            log.wait("daemon started", 60)
            print("--- daemon (role all) up; waiting for its SeedLink server", flush=True)
            if not args.no_bus:
                endpoint = f"tcp://127.0.0.1:{bus_port}"
                sub_thread = threading.Thread(
                    target=subscribe, args=(endpoint, tmpdir / "keys", stop, alerts), daemon=True
                )
                sub_thread.start()
                log.wait("new subscription", 10)
                print(f"--- subscriber on {endpoint} (CURVE, signatures verified)", flush=True)
            serve = subprocess.Popen(
                [*eew, "serve", str(scenario), "--listen", f"127.0.0.1:{sl_port}", *SERVE_ARGS],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            procs.append(serve)
            line = serve.stdout.readline()
            n_packets = int(line.split()[2])
            print(f"--- eew serve: {line.strip()} at {SPEED:.0f}x", flush=True)
            wait_processed(log, n_packets, 60.0 / SPEED * 1.0 + 40)
            if args.no_bus:
                print("(alert bus off: alerts as logged by the daemon's sink)")
                for ln in log.lines:
                    if "daemon.outputs: alert" in ln:
                        print("  " + ln)
        finally:
            stop.set()
            for p in reversed(procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            rcs = [p.wait(10) for p in reversed(procs)]
            if sub_thread is not None:
                sub_thread.join(5)
    summary(source, alerts, time.monotonic() - t_begin, rcs, args.no_bus)
    return 0 if alerts or args.no_bus else 1


def wait_processed(log: LogWatcher, n_packets: int, timeout_s: float) -> None:
    """Until a heartbeat shows every packet processed, or the packet count stops rising."""
    t_end = time.monotonic() + timeout_s
    last, same = -1, 0
    while time.monotonic() < t_end:
        beats = [ln for ln in log.lines if " daemon: heartbeat " in ln]
        if beats:
            m = re.search(r" packets=(\d+)", beats[-1])
            n = int(m.group(1)) if m else 0
            if n >= n_packets:
                return
            same = same + 1 if n == last and n > 0 else 0
            if same >= 6:
                return
            last = n
        time.sleep(0.5)


def summary(source: dict, alerts: list, wall_s: float, rcs: list[int], no_bus: bool) -> None:
    """What the demo showed."""
    print("\n=== Summary")
    print(
        f"  truth: M{source['magnitude']:.1f} at {source['latitude_deg']:.3f}N "
        f"{source['longitude_deg']:.3f}E, depth {source['depth_km']:.0f} km"
    )
    if not alerts:
        print("  no alert received on the bus" + (" (bus off)" if no_bus else ""))
    else:
        first = alerts[0][1]
        delay = (first.sent_time_ns - first.origin_time_ns) / 1e9
        print(
            f"  first alert: {first.message_type} M{first.magnitude:.1f} from "
            f"{len(first.stations)} stations, {delay:.1f} s after the origin (data time)"
        )
        print(f"  alerts received: {len(alerts)}; last magnitude M{alerts[-1][1].magnitude:.1f}")
        print("  warning times of the first alert (S arrival - alert time), nearest first:")
        for t in sorted(first.targets, key=lambda t: t.distance_km)[:5]:
            print(f"    {t.name:<24} MSK {t.intensity_msk:4.1f}  {t.warning_time_s:6.1f} s")
    print(f"  exit codes (daemon, server): {rcs}; demo wall time {wall_s:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
