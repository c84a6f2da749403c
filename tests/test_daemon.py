"""The daemon in-process: our archive server -> SeedLink -> pipeline -> event core -> bus."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from eew.archive_server.feed import load_feed
from eew.archive_server.server import SeedLinkServer
from eew.bus import Subscriber
from eew.bus.resend import load_tail
from eew.daemon.config import load_settings, settings_from_dict
from eew.daemon.health import HealthCollector
from eew.daemon.logfmt import KeyValueFormatter
from eew.daemon.publish import MemoryPublisher
from eew.daemon.runner import Daemon
from eew.errors import ConfigError
from eew.model.alert import Alert
from eew.model.clock import ManualClock, WallClock

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "waveforms_samples" / "local_m4.5"
T0 = 1_800_000_000_000_000_000


def arun(coro, timeout: float = 40.0):
    """Run a coroutine with a hard timeout so that nothing hangs."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def settings(tmp_path: Path, server: str, **daemon) -> object:
    raw = {
        "daemon": {
            "role": "all",
            "processing_clock": "data",
            "heartbeat_interval_s": 0.2,
            "event_tick_s": 0.2,
            **daemon,
        },
        "seedlink": {
            "servers": [server],
            "streams": "AW_*",
            "state_file": "seedlink.state",
            "future_s": float("inf"),
            "backoff_initial_s": 0.05,
        },
        "bus": {"endpoint": "tcp://127.0.0.1:*", "heartbeat_interval_s": 0.2},
    }
    return settings_from_dict(raw, "<test>", tmp_path)


async def start_server(clock: ManualClock) -> SeedLinkServer:
    srv = SeedLinkServer(load_feed([SCENARIO]), clock, port=0, speed=1.0)
    await srv.start()
    return srv


async def wait_for(cond, timeout_s: float, what: str) -> None:
    t_end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > t_end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def play(clock: ManualClock, daemon: Daemon, until, max_data_s: float = 60.0) -> None:
    """Advance the server's clock (about 50x real time) until ``until()`` or the data end."""
    await wait_for(
        lambda: (
            daemon.client is not None
            and all(s.connected for s in daemon.client.statistics().servers)
        ),
        10.0,
        "the SeedLink link",
    )
    await asyncio.sleep(0.05)  # END sent: the server streams from here
    played = 0.0
    while not until() and played < max_data_s:
        clock.advance_s(0.25)
        played += 0.25
        await asyncio.sleep(0.005)


class BusTap:
    """A subscriber thread collecting bus messages (the socket lives in that thread)."""

    def __init__(self, endpoint: str, kinds=("alert", "status")) -> None:
        self.messages: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(endpoint, kinds), daemon=True)
        self._thread.start()

    def _run(self, endpoint: str, kinds) -> None:
        with Subscriber(endpoint, verifier=None, clock=WallClock(), kinds=kinds) as sub:
            while not self._stop.is_set():
                m = sub.receive(0.05)
                if m is not None:
                    self.messages.append(m)

    def of(self, kind: str) -> list:
        return [m.body for m in list(self.messages) if m.kind == kind]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


def _newest_live(tap: BusTap) -> int:
    """Live stations in the newest heartbeat that reports any (0 if none yet)."""
    beats = [b for b in tap.of("heartbeat") if b.health.live_stations > 0]
    return beats[-1].health.live_stations if beats else 0


def test_settings_are_strict_and_examples_load(tmp_path):
    for name in ("station.toml", "centre.toml"):
        s = load_settings(ROOT / "config" / name)
        assert s.daemon.role in ("station", "central")
    with pytest.raises(ConfigError, match=r"daemon\.rol"):
        settings_from_dict({"daemon": {"rol": "all"}})
    with pytest.raises(ConfigError, match="role"):
        settings_from_dict({"daemon": {"role": "edge"}})
    with pytest.raises(ConfigError, match=r"seedlink\.servers"):
        settings_from_dict({"seedlink": {"servers": ["nohost"]}})
    with pytest.raises(ConfigError, match="trigger"):  # processing sections still checked
        settings_from_dict({"trigger": {"sta_s": -1.0}})
    s = settings_from_dict({"seedlink": {"future_s": float("inf")}}, base_dir=tmp_path)
    assert s.path(s.seedlink.state_file) == tmp_path / "seedlink.state"


def test_log_lines_are_one_line_key_value():
    rec = logging.LogRecord("eew.daemon", logging.INFO, "x", 1, "alert %s", ("new",), None)
    rec.kv = {"event_id": "E-1", "magnitude": 4.91234567, "target": "Almaty Centre"}
    line = KeyValueFormatter().format(rec)
    assert line.endswith(
        'INFO daemon: alert new event_id=E-1 magnitude=4.91235 target="Almaty Centre"'
    )
    assert "\n" not in line


def test_all_role_alerts_stops_cleanly_and_persists_state(tmp_path):
    """SeedLink -> pipeline -> event core -> bus; heartbeats carry health; SIGTERM path."""

    async def main():
        clock = ManualClock(T0)
        srv = await start_server(clock)
        host, port = srv.address
        s = settings(tmp_path, f"{host}:{port}", insecure_bus=True, metrics_listen="127.0.0.1:0")
        seen: list = []
        daemon = Daemon(s, observers=[seen.append])
        task = asyncio.create_task(daemon.run())
        await wait_for(
            lambda: daemon.publisher is not None and daemon.publisher.endpoint, 10, "bus"
        )
        tap = BusTap(daemon.publisher.endpoint, kinds=("alert",))
        try:
            await wait_for(
                lambda: daemon.publisher.statistics().subscriptions > 0, 10, "subscriber"
            )
            await play(clock, daemon, lambda: len(tap.of("alert")) >= 2)
            await wait_for(lambda: len(tap.of("heartbeat")) >= 2, 5, "heartbeats")
            # the intake may still be behind the server under load: wait (with a deadline)
            # until the newest heartbeat has caught up, instead of a fixed time
            await wait_for(lambda: _newest_live(tap) >= 20, 20, "a heartbeat with 20 live stations")
            beat = [b for b in tap.of("heartbeat") if b.health.live_stations > 0][-1]
            metrics = await asyncio.to_thread(
                lambda: urllib.request.urlopen(
                    f"http://127.0.0.1:{daemon.metrics.port}/metrics", timeout=5
                ).read()
            )
            t_stop = time.monotonic()
            daemon.request_stop()
            rc = await task
            stop_s = time.monotonic() - t_stop
        finally:
            tap.close()
            await srv.close()
        return daemon, seen, tap, metrics.decode(), rc, stop_s, beat

    daemon, seen, tap, metrics, rc, stop_s, beat = arun(main())
    assert rc == 0 and stop_s < 5.0
    alerts = tap.of("alert")
    assert alerts and alerts[0].message_type == "new" and 4.0 < alerts[0].magnitude < 5.5
    assert any(isinstance(v, Alert) for v in seen)
    assert daemon.outputs.counts["picks"] >= 4
    assert beat.health.live_stations >= 20
    assert beat.health.last_packet_time_ns is not None
    h = daemon.health
    assert set(h.queues) >= {"seedlink", "bus_alerts", "bus_picks"}
    assert "seedlink_duplicates" in h.drops and "bus_picks" in h.drops
    assert len(h.station_latency_s) >= 20
    assert "eew_live_stations" in metrics and 'eew_queue_depth{queue="seedlink"}' in metrics
    state = json.loads((tmp_path / "seedlink.state").read_text())
    stations = state["servers"][f"127.0.0.1:{daemon.settings.seedlink.servers[0].split(':')[1]}"]
    assert len(stations) >= 20
    assert daemon.publisher.statistics().running is False
    # the bus publisher's resend buffer, saved for the next session (eew.bus.resend)
    tail = load_tail(tmp_path / "seedlink.resend")
    assert tail is not None and tail[0] == daemon.publisher._session
    topic = f"alert.{alerts[0].agency}".encode()
    assert topic in {t for t, *_ in tail[2]} and topic in tail[1]


def test_restart_resumes_from_the_state_file(tmp_path):
    """A second daemon continues exactly after the first one's last processed packet."""

    async def main():
        clock = ManualClock(T0)
        srv = await start_server(clock)
        host, port = srv.address
        runs: list[dict[str, list[tuple[int, int]]]] = []
        try:
            for _ in range(2):
                s = settings(tmp_path, f"{host}:{port}", publish=False)
                daemon = Daemon(s, publisher=MemoryPublisher())
                seen: dict[str, list[tuple[int, int]]] = {}
                feed = daemon.pipeline.feed

                def spy(pkt, feed=feed, seen=seen):
                    seen.setdefault(pkt.channel_id, []).append((pkt.starttime_ns, pkt.endtime_ns))
                    feed(pkt)

                daemon.pipeline.feed = spy
                task = asyncio.create_task(daemon.run())
                await play(clock, daemon, lambda: False, max_data_s=6.0)
                await wait_for(lambda d=daemon: d.health.packets > 0, 5, "packets")
                daemon.request_stop()
                assert await task == 0
                runs.append(seen)
        finally:
            await srv.close()
        return runs

    first, second = arun(main())
    common = set(first) & set(second)
    assert len(common) >= 50
    for cid in common:
        assert second[cid][0][0] == first[cid][-1][1], cid  # contiguous: no loss, no repeat


def test_a_failing_publisher_ends_the_daemon_visibly(tmp_path):
    async def main():
        s = settings_from_dict(
            {
                "daemon": {"role": "central", "heartbeat_interval_s": 0.05},
                "upstream": {"endpoints": []},
            },
            "<test>",
            tmp_path,
        )
        pub = MemoryPublisher()
        daemon = Daemon(s, publisher=pub)
        task = asyncio.create_task(daemon.run())
        await asyncio.sleep(0.2)
        pub.error = RuntimeError("publisher thread died")
        with pytest.raises(RuntimeError, match="publisher thread died"):
            await task
        return pub

    pub = arun(main(), 20)
    assert pub.closed


def test_health_collector_without_snapshot_yields_nothing():
    assert list(HealthCollector().collect()) == []


def test_a_stop_with_a_backlog_loses_and_repeats_nothing(tmp_path):
    """Stopped while its SeedLink queue holds packets, then restarted: every record is
    processed exactly once over the two runs, and the runs' ``packets`` add up to it."""

    async def main():
        clock = ManualClock(T0)
        srv = await start_server(clock)
        host, port = srv.address
        fed: list[tuple[str, int]] = []
        counted = backlog = drained = left = 0
        try:
            for run in range(2):
                s = settings(tmp_path, f"{host}:{port}", publish=False, drain_s=0.4)
                daemon = Daemon(s, publisher=MemoryPublisher())
                feed = daemon.pipeline.feed

                def spy(pkt, feed=feed, slow=run == 0):
                    fed.append((pkt.channel_id, pkt.starttime_ns, pkt.endtime_ns))
                    if slow:
                        time.sleep(0.02)  # a consumer slower than the link: a backlog
                    feed(pkt)

                daemon.pipeline.feed = spy
                task = asyncio.create_task(daemon.run())
                if run == 0:
                    await play(clock, daemon, lambda d=daemon: d.client.pending > 30, 60.0)
                    backlog = daemon.client.pending
                else:
                    await play(clock, daemon, lambda: False, 60.0)
                    await wait_for(lambda d=daemon: d.client.pending == 0, 10, "the backlog")
                before = len(fed)
                daemon.request_stop()
                assert await task == 0
                counted += daemon.health.packets
                if run == 0:
                    drained, left = len(fed) - before, daemon.client.pending
        finally:
            await srv.close()
        return fed, counted, backlog, drained, left

    fed, counted, backlog, drained, left = arun(main(), 90)
    assert backlog > 30 and drained > 0 and left > 0  # processed in the drain, and left over
    assert len(set(fed)) == len(fed), "a record was processed twice"
    assert counted == len(fed), "packets processed in the drain are not counted"
    by_channel: dict[str, list[tuple[int, int]]] = {}
    for cid, t0, t1 in fed:
        by_channel.setdefault(cid, []).append((t0, t1))
    lost = 0
    for spans in by_channel.values():
        spans.sort()
        lost += sum(b[0] != a[1] for a, b in itertools.pairwise(spans))  # no gaps in it
    assert lost == 0, f"{lost} gap(s): record(s) lost"
