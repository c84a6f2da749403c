"""Daemon operations under faults (issue 12, item 7): warm-up before data, ports in use,
sections a role ignores, partner liveness and counts, events closed or resumed after a
restart."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eew.daemon.config import settings_from_dict
from eew.daemon.eventstate import EventJournal, journal_path
from eew.daemon.health import DaemonHealth, HealthCollector, partner_fields
from eew.daemon.startup import ignored_sections, warn_ignored_sections
from eew.model.alert import Alert
from eew.model.clock import ManualClock
from eew.model.timeutil import NS_PER_S

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_800_000_000_000_000_000


def _eew(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "eew", *args], env=e, text=True, **kw)


def _busy_port() -> socket.socket:
    """A listening socket on a free port (close it after the test)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


# ---- b. a port in use ---------------------------------------------------------------------
@pytest.mark.parametrize("where", ["bus", "export", "metrics", "console"])
def test_port_in_use_is_one_line_error_with_status_75(tmp_path, where):
    busy = _busy_port()
    port = busy.getsockname()[1]
    bus = f"tcp://127.0.0.1:{port}" if where == "bus" else "tcp://127.0.0.1:*"
    extra = {
        "export": f"""
            [partner]
            enabled = true
            import_picks = false
            import_alerts = false
            export_endpoint = "tcp://127.0.0.1:{port}"
            """,
        "metrics": "",
        "console": f"""
            [console]
            enabled = true
            host = "127.0.0.1"
            port = {port}
            """,
    }.get(where, "")
    metrics = f'metrics_listen = "127.0.0.1:{port}"' if where == "metrics" else ""
    cfg = tmp_path / "eew.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [daemon]
            role = "all"
            insecure_bus = true
            {metrics}
            [seedlink]
            servers = ["127.0.0.1:1"]
            state_file = ""
            [bus]
            endpoint = "{bus}"
            """
        )
        + textwrap.dedent(extra)
    )
    try:
        run = _eew("run", "--config", str(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = run.communicate(timeout=60)
    finally:
        busy.close()
    key = {
        "bus": "bus.endpoint",
        "export": "partner.export_endpoint",
        "metrics": "daemon.metrics_listen",
        "console": "console.port",
    }[where]
    assert run.returncode == 75, err[-3000:]
    assert "Traceback" not in err and "not started" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"eew run: error: {key} = ") and str(port) in last, last
    assert "address already in use" in last
    assert "warm-up" not in err  # the ports are taken before the kernels are warmed


def test_systemd_unit_retries_but_not_on_configuration_errors():
    unit = (ROOT / "config" / "eew.service").read_text()
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=2" in unit
    assert "NUMBA_CACHE_DIR=" in unit and "CacheDirectory=eew" in unit
    ops = (ROOT / "docs" / "operations.md").read_text()
    assert "75" in ops and "EX_TEMPFAIL" in ops


# ---- c. sections a role ignores -----------------------------------------------------------
def test_sections_a_role_ignores_are_warned(caplog):
    station = settings_from_dict(
        {
            "daemon": {"role": "station"},
            "partner": {"enabled": True, "import_picks": False, "import_alerts": False},
        }
    )
    assert ignored_sections(station) == [("partner", ["enabled", "import_alerts", "import_picks"])]
    central = settings_from_dict(
        {
            "daemon": {"role": "central"},
            "seedlink": {"servers": ["10.0.0.1:18000"], "state_file": "/var/lib/eew/c.state"},
            "upstream": {"endpoints": ["tcp://10.0.0.2:5571"]},
        }
    )
    # state_file is read by every role (it also names the event state)
    assert ignored_sections(central) == [("seedlink", ["servers"])]
    every = settings_from_dict({"upstream": {"endpoints": ["tcp://10.0.0.2:5571"]}})
    assert ignored_sections(every) == [("upstream", ["endpoints"])]
    assert ignored_sections(settings_from_dict({"daemon": {"role": "all"}})) == []
    with caplog.at_level(logging.WARNING, logger="eew.daemon"):
        assert warn_ignored_sections(station) == 1
    rec = next(r for r in caplog.records if r.getMessage() == "configuration section ignored")
    assert rec.kv["section"] == "[partner]" and rec.kv["role"] == "station"
    for name in ("station.toml", "centre.toml"):  # the shipped examples are clean
        from eew.daemon.config import load_settings

        assert ignored_sections(load_settings(ROOT / "config" / name)) == []


# ---- a. warm-up ---------------------------------------------------------------------------
_COMPLETE = """
import sys
from eew.acquisition.archive import index_archive, iter_packets
from eew.assembly import build_chain
from eew.daemon.config import load_settings
from eew.daemon.warmup import kernels, warm_up
from eew.model.clock import DataClock
s = load_settings("config/eew.toml")
out = []
chain = build_chain(s.config, s.hash(), out.append, DataClock())
report = warm_up(chain)
before = {repr(k): len(k.signatures) for k in kernels()}
for p in iter_packets(index_archive([sys.argv[1]]), 100):
    chain.feed(p)
chain.flush()
after = {repr(k): len(k.signatures) for k in kernels()}
new = sorted(k for k, v in after.items() if before.get(k) != v)
alerts = sum(type(o).__name__ == "Alert" for o in out)
print("RESULT", report.picks, report.located, len(report.channel_kinds), alerts, new)
"""


def test_warm_up_runs_every_kernel_the_chain_uses(tmp_path):
    """In a fresh process: after the warm-up, a replay with an event (records decoded,
    triggers, picks, locations, alerts) needs no kernel version the warm-up did not make."""
    script = tmp_path / "complete.py"
    script.write_text(_COMPLETE)
    scenario = str(ROOT / "waveforms_samples" / "local_m4.5")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, str(script), scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, p.stderr[-3000:]
    picks, located, kinds, alerts, new = line.split(" ", 5)[1:]
    assert int(picks) > 0 and int(located) == 2 and int(kinds) == 2
    assert int(alerts) > 0
    assert new == "[]", f"kernels compiled after the warm-up: {new}"


def _line(lines: list[str], needle: str) -> str:
    return next(ln for ln in lines if needle in ln)


def _field(line: str, key: str) -> str:
    m = re.search(rf"\b{key}=(\S+)", line)
    assert m, (key, line)
    return m.group(1)


@pytest.mark.slow
def test_first_packet_is_processed_promptly_even_with_a_cold_kernel_cache(tmp_path):
    """An empty numba cache (NUMBA_CACHE_DIR): every kernel is compiled at the start. The
    warm-up does it before the SeedLink client connects, so the first real packet waits
    well under a second from its arrival to the end of its processing (the daemon's own
    measurement); without the warm-up it waited seconds."""
    from tests.test_daemon_cli import _close, _config, _wait_line

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
        cfg = _config(tmp_path / "station.toml", port)
        run = _eew(
            "run",
            "--config",
            str(cfg),
            env={"NUMBA_CACHE_DIR": str(tmp_path / "numba")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        lines = _wait_line(run.stderr, "daemon started", 240)
        lines += _wait_line(run.stderr, re.compile(r" heartbeat .*first_packet_wait_s="), 60)
    finally:
        _close(run, serve)
    warm = _line(lines, " warm-up ")
    assert int(_field(warm, "compiled")) > 0  # the cache was cold: the warm-up compiled
    beat = _line(lines, "first_packet_wait_s=")
    assert float(_field(beat, "first_packet_wait_s")) < 1.0, beat
    text = "".join(lines)
    assert text.index(" warm-up ") < text.index("daemon started")


# ---- d. partner liveness and counts -------------------------------------------------------
def test_partner_fields_reach_the_heartbeat_line_and_the_metrics():
    from eew.bus import GateStatistics
    from eew.partner.exchange import PartnerStatistics
    from eew.partner.link import LinkStatistics
    from eew.partner.merge import MergeStatistics
    from eew.partner.relay import ExportStatistics

    stats = PartnerStatistics(
        picks_imported=7,
        picks_foreign_station=1,
        alerts_relayed=2,
        alerts=MergeStatistics(relayed=2, merged=3, closed=1, ignored=0),
        export=ExportStatistics(picks=11, alerts=4, loop_blocked=5),
        link=LinkStatistics(
            feeds=1,
            picks=8,
            alerts=5,
            heartbeats=9,
            queued=0,
            dropped=0,
            gate=GateStatistics(),
            alive=0,
            heartbeat_age_s=12.5,
            heartbeats_rejected=6,
        ),
    )
    fields = partner_fields(stats, "KG-MES", ["tcp://10.1.1.1:5581"])
    h = DaemonHealth(T0, "central", partner=fields)
    log = h.log_fields()
    assert log["partner_agency"] == "KG-MES" and log["partner_up"] == 0
    assert log["partner_heartbeat_age_s"] == 12.5 and log["partner_heartbeats_rejected"] == 6
    for key, value in {
        "picks_imported": 7,
        "alerts_merged": 3,
        "alerts_relayed": 2,
        "exported_picks": 11,
        "exported_alerts": 4,
        "loop_blocked": 5,
    }.items():
        assert log[f"partner_{key}"] == value
    from prometheus_client import CollectorRegistry, generate_latest

    collector = HealthCollector()
    collector.latest = h
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    text = generate_latest(reg).decode()
    assert 'eew_partner_feeds_up{agency="KG-MES",endpoints="tcp://10.1.1.1:5581"} 0.0' in text
    assert 'eew_partner_heartbeat_age_seconds{agency="KG-MES"} 12.5' in text
    assert 'eew_partner_total{agency="KG-MES",what="alerts_merged"} 3.0' in text
    assert 'eew_partner_total{agency="KG-MES",what="loop_blocked"} 5.0' in text


def test_watchdog_names_the_endpoint_and_agency_and_tells_forged_from_silent(caplog):
    from eew.bus.watchdog import HeartbeatWatchdog

    clock = ManualClock(T0)
    label = "tcp://10.1.1.1:5581 (KG-MES)"
    silent = HeartbeatWatchdog(clock, 1.0, 3, label=label)
    forged = HeartbeatWatchdog(clock, 1.0, 3, label=label)
    for _ in range(4):
        forged.reject("forged")
    clock.advance_s(3.5)
    a, b = silent.check(), forged.check()
    assert a is not None and "NO HEARTBEAT" in a.message and label in a.message
    assert b is not None and "REJECTED" in b.message and "forged 4" in b.message
    assert label in b.message and "NO HEARTBEAT" not in b.message


def test_forged_partner_heartbeats_are_reported_as_rejected_not_silent(tmp_path):
    """A rogue publisher (someone else's signing key) sends KG-MES heartbeats: the link
    counts them as rejected heartbeats and the watchdog says so."""
    import threading
    import time

    import nacl.signing

    from eew.bus import Publisher, Signer, Verifier
    from eew.bus.config import BusConfig
    from eew.model.clock import WallClock
    from eew.partner.config import PartnerConfig
    from eew.partner.link import PartnerLink

    real = nacl.signing.SigningKey.generate()
    rogue = Signer("KG-MES", nacl.signing.SigningKey.generate())
    pub = Publisher(
        BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.1),
        agency="KG-MES",
        clock=WallClock(),
        signer=rogue,
        curve=None,
    )
    endpoint = pub.start()
    cfg = PartnerConfig(
        enabled=True,
        endpoints=(endpoint,),
        trusted_key_file="x",
        inventory_file="x",
    )
    verifier = Verifier({"KG-MES": (real.verify_key,)})

    async def main():
        link = PartnerLink(cfg, verifier, WallClock())
        link.start()
        t_end = time.monotonic() + 15
        while time.monotonic() < t_end:
            st = link.statistics()
            if st.heartbeats_rejected >= 3 and st.alive == 0:
                break
            await asyncio.sleep(0.1)
        await link.close()
        return link.statistics()

    try:
        st = asyncio.run(main())
    finally:
        pub.close()
    assert threading.active_count() >= 1
    assert st.heartbeats_rejected >= 3 and st.heartbeats == 0 and st.alive == 0


# ---- e. events closed or resumed after a restart ------------------------------------------
def _alert(event_id: str, version: int, mtype: str, *, lat=43.2, ot_s=0.0, sent_s=1.0) -> Alert:
    return Alert(
        event_id=event_id,
        version=version,
        message_type=mtype,
        agency="KZ-AEWS",
        sent_time_ns=T0 + round(sent_s * NS_PER_S),
        origin_time_ns=T0 + round(ot_s * NS_PER_S),
        origin_time_sigma_s=0.5,
        latitude_deg=lat,
        longitude_deg=76.9,
        horizontal_sigma_km=3.0,
        depth_km=10.0,
        depth_sigma_km=5.0,
        magnitude=4.8,
        magnitude_sigma=0.3,
        magnitude_type="Mpd",
        magnitude_is_lower_bound=False,
        likelihood=0.9,
        kind="source",
        stations=("AW.ALMY", "AW.BOST", "AW.KAMN", "AW.TALG"),
    )


def test_event_state_is_written_atomically_and_forgets_ended_events(tmp_path):
    path = journal_path(tmp_path / "station.seedlink.state")
    assert path == tmp_path / "station.seedlink.events.json"
    j = EventJournal(path, "KZ-AEWS")
    j.record(_alert("KZ-AEWS-1", 0, "new"))
    j.record(_alert("KZ-AEWS-2", 0, "new", lat=42.0))
    j.record(_alert("KZ-AEWS-1", 1, "update"))
    doc = json.loads(path.read_text())
    assert [(e["event_id"], e["version"]) for e in doc["events"]] == [
        ("KZ-AEWS-1", 1),
        ("KZ-AEWS-2", 0),
    ]
    j.record(_alert("KZ-AEWS-2", 1, "delete", lat=42.0))
    j.record(_alert("KZ-AEWS-1", 2, "final"))
    assert json.loads(path.read_text())["events"] == []
    assert not list(tmp_path.glob("*.tmp"))
    assert journal_path(None) is None


def test_open_event_not_continued_is_closed_with_a_final(tmp_path):
    path = tmp_path / "s.events.json"
    before = EventJournal(path, "KZ-AEWS")
    before.record(_alert("KZ-AEWS-1", 0, "new"))  # killed here: v0 new, nothing after
    after = EventJournal(path, "KZ-AEWS", window_s=60)
    assert after.load() == 1
    now = T0 + 100 * NS_PER_S
    assert after.expired(0) == []  # a data clock before the first packet
    assert after.expired(now) == []  # the window starts
    (final,) = after.expired(now + 61 * NS_PER_S)
    assert (final.event_id, final.version, final.message_type) == ("KZ-AEWS-1", 1, "final")
    assert final.previous_sent_ns == (T0 + NS_PER_S,)
    after.record(final)
    assert json.loads(path.read_text())["events"] == []
    assert after.expired(now + 200 * NS_PER_S) == []


def test_open_event_continued_by_the_new_run_keeps_its_id(tmp_path):
    path = tmp_path / "s.events.json"
    before = EventJournal(path, "KZ-AEWS")
    before.record(_alert("KZ-AEWS-1", 0, "new"))
    v1 = _alert("KZ-AEWS-1", 1, "update", sent_s=2.0).with_(previous_sent_ns=(T0 + NS_PER_S,))
    before.record(v1)
    after = EventJournal(path, "KZ-AEWS", window_s=60)
    after.load()
    far = after.rewrite(_alert("KZ-AEWS-9", 0, "new", lat=45.0))  # another earthquake
    assert far.event_id == "KZ-AEWS-9"
    again = after.rewrite(_alert("KZ-AEWS-7", 0, "new", ot_s=0.8, lat=43.25, sent_s=30.0))
    assert (again.event_id, again.version, again.message_type) == ("KZ-AEWS-1", 2, "update")
    assert again.previous_sent_ns == (T0 + NS_PER_S, T0 + 2 * NS_PER_S)
    after.record(again)
    nxt = after.rewrite(_alert("KZ-AEWS-7", 1, "final", ot_s=0.8, sent_s=31.0))
    assert (nxt.event_id, nxt.version, nxt.message_type) == ("KZ-AEWS-1", 3, "final")
    assert after.expired(T0 + 1000 * NS_PER_S) == []  # continued: nothing to close
    after.record(nxt)
    assert after.counts["resumed"] == 1 and after.counts["closed"] == 0


def test_restarted_daemon_closes_or_resumes_its_open_event(tmp_path):
    """The all-role daemon is stopped right after its first alert (the event still open),
    then restarted on the same state: the old event id gets a final (or is continued),
    and never stays open."""
    from eew.daemon.publish import MemoryPublisher
    from eew.daemon.runner import Daemon
    from tests.test_daemon import T0 as DT0
    from tests.test_daemon import play, settings, start_server, wait_for

    async def one_run(pub: MemoryPublisher, until) -> Daemon:
        clock = ManualClock(DT0)
        srv = await start_server(clock)
        host, port = srv.address
        daemon = Daemon(settings(tmp_path, f"{host}:{port}"), publisher=pub)
        task = asyncio.create_task(daemon.run())
        try:
            await wait_for(lambda: daemon.warmup is not None, 60, "the warm-up")
            await play(clock, daemon, lambda: until(daemon), max_data_s=90.0)
            daemon.request_stop()
            await task
        finally:
            await srv.close()
        return daemon

    first, second = MemoryPublisher(), MemoryPublisher()
    asyncio.run(asyncio.wait_for(one_run(first, lambda d: len(first.alerts) >= 1), 120))
    opened = {a.event_id for a in first.alerts} - {
        a.event_id for a in first.alerts if a.message_type in ("final", "delete")
    }
    assert opened
    state = json.loads((tmp_path / "seedlink.events.json").read_text())
    assert {e["event_id"] for e in state["events"]} == opened

    def continued_or_closed(d: Daemon) -> bool:
        ended = {a.event_id for a in second.alerts if a.message_type in ("final", "delete")}
        seen = {a.event_id for a in second.alerts}
        return opened <= ended or (opened <= seen and len(second.alerts) >= 3)

    asyncio.run(asyncio.wait_for(one_run(second, continued_or_closed), 120))
    shown = [(a.event_id, a.version, a.message_type) for a in second.alerts]
    for eid in opened:
        mine = [a for a in second.alerts if a.event_id == eid]
        assert mine, shown
        last_before = max(a.version for a in first.alerts if a.event_id == eid)
        assert mine[0].version == last_before + 1, shown  # numbered on, not restarted
        assert all(a.message_type != "new" for a in mine), shown
    # one earthquake, one id: the new run published no other source event
    assert {a.event_id for a in second.alerts if a.kind == "source"} <= opened, shown
