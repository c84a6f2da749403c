"""``eew run`` as a process: SIGTERM stops it with status 0 within 5 s, state persisted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _eew(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "eew", *args], env=env, text=True, **kw)


def _wait_line(stream, needle: str, timeout_s: float) -> list[str]:
    lines: list[str] = []
    t_end = time.monotonic() + timeout_s
    os.set_blocking(stream.fileno(), False)
    while time.monotonic() < t_end:
        line = stream.readline()
        if not line:
            time.sleep(0.02)
            continue
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} within {timeout_s} s:\n{''.join(lines[-20:])}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_on_signal_with_status_0(tmp_path, sig):
    serve = _eew(
        "serve",
        str(ROOT / "waveforms_samples" / "local_m4.5"),
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "5",
        "--now",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    run = None
    try:
        port = int(serve.stdout.readline().rsplit(":", 1)[1].split()[0])
        cfg = tmp_path / "station.toml"
        cfg.write_text(
            f"""
[daemon]
role = "all"
processing_clock = "data"
insecure_bus = true
heartbeat_interval_s = 0.3
[seedlink]
servers = ["127.0.0.1:{port}"]
streams = "AW_*"
state_file = "state.json"
future_s = inf
[bus]
endpoint = "tcp://127.0.0.1:*"
"""
        )
        run = _eew("run", "--config", str(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lines = _wait_line(run.stderr, "daemon started", 30)
        lines += _wait_line(run.stderr, "heartbeat", 10)
        lines += _wait_line(run.stderr, "heartbeat", 10)
        t0 = time.monotonic()
        run.send_signal(sig)
        rc = run.wait(10)
        stop_s = time.monotonic() - t0
        lines += run.stderr.readlines()
    finally:
        for p in (run, serve):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(10)
        for p in (run, serve):
            if p is not None:
                for s in (p.stdout, p.stderr):
                    if s is not None:
                        s.close()
    text = "".join(lines)
    assert rc == 0, text[-3000:]
    assert stop_s < 5.0
    assert "daemon stopped" in text
    beat = next(ln for ln in lines if " INFO daemon: heartbeat " in ln)
    assert "live_stations=" in beat and "queue_seedlink=" in beat and "dropped_bus_picks=" in beat
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["servers"][f"127.0.0.1:{port}"]
