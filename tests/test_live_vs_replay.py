"""Live and replay are one chain: ``eew serve`` -> ``eew run`` -> subscriber on verny_m7.0
gives the alerts ``eew replay`` gives for the same data, the onsite alert included.

The daemon runs on the data clock (``processing_clock = "data"``) and the archive is served
without ``--now``, so live and replay results carry the same data times and can be
compared directly. Ports are random loopback ports; every process and socket is closed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eew.archive_server.repack import load_feed_short
from eew.bus import Subscriber
from eew.model.clock import WallClock
from eew.model.timeutil import NS_PER_S, iso_to_ns, ns_to_iso

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "waveforms_samples" / "verny_m7.0"
SPEED = 20.0  # 60 s of data in 3 s: the daemon lags, TCP pushes back, nothing is lost


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _eew(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "eew", *args], env=env, text=True, **kw)


class _Lines:
    """A thread that keeps the lines of a process's stream."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait(self, pattern: str, timeout_s: float) -> re.Match[str]:
        rx = re.compile(pattern)
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            for line in list(self.lines):
                if m := rx.search(line):
                    return m
            time.sleep(0.02)
        tail = "\n".join(self.lines[-20:])
        raise AssertionError(f"no {pattern!r} within {timeout_s} s:\n{tail}")

    def count(self, needle: str) -> int:
        return sum(needle in line for line in list(self.lines))


class _Tap:
    """The subscriber: a thread with its own ZeroMQ socket, collecting alerts."""

    def __init__(self, endpoint: str) -> None:
        self.alerts: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(endpoint,), daemon=True)
        self._thread.start()

    def _run(self, endpoint: str) -> None:
        with Subscriber(endpoint, verifier=None, clock=WallClock(), kinds=("alert",)) as sub:
            while not self._stop.is_set():
                msg = sub.receive(0.05)
                if msg is not None and msg.kind == "alert":
                    self.alerts.append(msg.body)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


def _live(tmp_path: Path, *serve_args: str) -> tuple[list, int]:
    """Alerts received by a subscriber of ``eew run`` fed by ``eew serve``; packet count."""
    sl_port, bus_port = _free_port(), _free_port()
    cfg = tmp_path / "live.toml"
    cfg.write_text(
        f"""
[daemon]
role = "all"
processing_clock = "data"
insecure_bus = true
heartbeat_interval_s = 0.3
[seedlink]
servers = ["127.0.0.1:{sl_port}"]
streams = "*_*"
state_file = ""
future_s = inf
backoff_initial_s = 0.1
backoff_max_s = 0.3
[bus]
endpoint = "tcp://127.0.0.1:{bus_port}"
"""
    )
    run = serve = tap = None
    try:
        run = _eew("run", "--config", str(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log = _Lines(run.stderr)
        log.wait("daemon started", 60)
        tap = _Tap(f"tcp://127.0.0.1:{bus_port}")
        log.wait("new subscription", 10)
        serve = _eew(
            "serve",
            str(SCENARIO),
            "--listen",
            f"127.0.0.1:{sl_port}",
            "--speed",
            str(SPEED),
            *serve_args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        n_packets = int(_Lines(serve.stdout).wait(r"eew serve: (\d+) packets", 30).group(1))
        # every packet processed (heartbeat count), then every logged alert received
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            done = [
                int(m.group(1))
                for line in list(log.lines)
                if (m := re.search(r" heartbeat .* packets=(\d+)", line))
            ]
            if done and done[-1] >= n_packets:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"daemon did not process {n_packets} packets within 60 s")
        t_end = time.monotonic() + 10
        while len(tap.alerts) < log.count("daemon.outputs: alert") and time.monotonic() < t_end:
            time.sleep(0.05)
        assert len(tap.alerts) == log.count("daemon.outputs: alert")
        for p in (run, serve):
            p.send_signal(signal.SIGTERM)
        assert [p.wait(15) for p in (run, serve)] == [0, 0]
        return list(tap.alerts), n_packets
    finally:
        if tap is not None:
            tap.close()
        for p in (run, serve):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
            if p is not None:
                for s in (p.stdout, p.stderr):
                    if s is not None:
                        s.close()


def _replay(tmp_path: Path, archive: Path = SCENARIO) -> list[dict]:
    out = tmp_path / f"replay-{archive.stem}.jsonl"
    subprocess.run(
        # the live run's own configuration file: the same processing settings on both sides
        [sys.executable, "-m", "eew", "replay", str(archive), "--no-progress", "--out", str(out),
         "--config", str(tmp_path / "live.toml")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return [r for r in rows if r["type"] == "alert"]


@pytest.mark.slow
def test_verny_live_gives_the_alerts_of_replay_onsite_included(tmp_path):
    live, n_packets = _live(tmp_path)
    replay = _replay(tmp_path)
    assert n_packets > 3000
    assert {a["kind"] for a in replay} == {"source", "onsite"}
    assert {a.kind for a in live} == {a["kind"] for a in replay}
    # the same alerts, message for message: a stop is not the end of the data, so only
    # replay closes its events with a final message
    replay_open = [a for a in replay if a["message_type"] != "final"]
    live_alerts = [a.to_dict() for a in live]
    key = ("kind", "event_id", "version", "message_type", "sent_time", "magnitude")
    assert [tuple(a[k] for k in key) for a in live_alerts] == [
        tuple(a[k] for k in key) for a in replay_open
    ]


@pytest.mark.slow
def test_verny_live_with_1_s_records_alerts_as_replay_within_half_a_second(tmp_path):
    """``eew serve --record-seconds 1``, as dataloggers for early warning are set: the live
    first alert is within 0.5 s (data time) of the replay of the same 1-s records, onsite
    alert included. (The first alert is not always earlier than with the archive's own
    records: what counts is when the record holding the deciding sample ends, and a
    longer record can end sooner after that sample than the next whole second.)"""
    live, n_packets = _live(tmp_path, "--record-seconds", "1")
    repacked = tmp_path / "verny_1s.mseed"
    repacked.write_bytes(load_feed_short([SCENARIO], 1.0).records.tobytes())
    replay = _replay(tmp_path, repacked)
    replay_own = _replay(tmp_path)
    assert n_packets > 6000
    assert {a.kind for a in live} == {a["kind"] for a in replay} == {"source", "onsite"}
    first_live = min(iso_to_ns(a.to_dict()["sent_time"]) for a in live)
    first_replay = min(iso_to_ns(a["sent_time"]) for a in replay)
    first_own = min(iso_to_ns(a["sent_time"]) for a in replay_own)
    print(
        f"first alert (data time): live 1-s {ns_to_iso(first_live)}, replay 1-s "
        f"{ns_to_iso(first_replay)}, replay of the archive's own records {ns_to_iso(first_own)}"
    )
    assert abs(first_live - first_replay) <= NS_PER_S // 2
    key = ("kind", "event_id", "version", "message_type", "sent_time", "magnitude")
    assert [tuple(a.to_dict()[k] for k in key) for a in live] == [
        tuple(a[k] for k in key) for a in replay if a["message_type"] != "final"
    ]
