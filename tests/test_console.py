"""The web console without a browser: configuration, tap, state, server (issue 14)."""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from eew.console.assemble import build_console, read_token
from eew.console.config import ConsoleConfig, is_loopback
from eew.console.server import ConsoleError, ConsoleServer
from eew.console.state import ConsoleState, StationInfo, TargetInfo
from eew.console.tap import ConsoleTap
from eew.daemon.config import Settings, settings_from_dict
from eew.errors import ConfigError
from eew.model.alert import Alert, TargetForecast
from eew.model.intensity import almaty_time, roman_intensity
from eew.model.packet import Packet
from eew.model.pick import Pick, RejectedTrigger

T0 = 1_714_710_900 * 10**9  # 2024-05-03T04:35:00Z
S = 10**9


def _pick(sta: str, t_ns: int, clipped: bool = False) -> Pick:
    return Pick(
        f"{sta}-1", f"AW.{sta}..HHZ", t_ns, t_ns, t_ns + S // 2, 0, False, 0.5,
        1e-3, 1e-2, 1.0, 0.5, 0.5, 20.0, "velocity", 43.2, 76.9, 800.0, clipped,
    )  # fmt: skip


def _alert(version: int = 0, kind: str = "source") -> Alert:
    target = TargetForecast(
        "Almaty-Almaly", 43.255, 76.925, 300.0, 0.3, 6.6, 7.0, 0.5, 4.0, T0 + 9 * S, 1.1
    )
    return Alert(
        "ev1", version, "new" if version == 0 else "update", "KZ-AEWS", T0 + 8 * S, T0 + 5 * S,
        0.3, 43.22, 76.93, 1.3, 15.0, 3.0, 6.5, 0.3, "Mpd", True, 1.0, kind,
        ("AW.ALMY", "AW.MEDE"), (target,),
    )  # fmt: skip


def _packet(sta: str, start_ns: int, n: int = 100, arrival_ns: int | None = None) -> Packet:
    data = (np.sin(np.arange(n) / 5.0) * 1000).astype(np.int32)
    return Packet(f"AW.{sta}..HHZ", start_ns, 100.0, data, arrival_ns=arrival_ns)


def _state(mode: str = "live") -> ConsoleState:
    stations = [StationInfo("AW.ALMY", 43.25, 76.92), StationInfo("KN.BSH", 42.9, 74.6, True)]
    return ConsoleState(
        stations, [TargetInfo("Almaty-Almaly", 43.255, 76.925)], ConsoleConfig(), mode
    )


# ---- people's units -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "roman"), [(0.2, "I"), (1.4, "I"), (4.5, "IV"), (6.6, "VII"), (13.0, "XII")]
)
def test_roman_intensity(value: float, roman: str) -> None:
    assert roman_intensity(value) == roman
    assert roman_intensity(math.nan) == "?"


def test_almaty_time_is_utc_plus_5() -> None:
    assert almaty_time(T0) == "09:35:00"
    assert almaty_time(T0 + S // 4, 1) == "09:35:00.2"


# ---- configuration ----------------------------------------------------------------------------
def test_console_section_defaults_to_loopback() -> None:
    s = Settings()
    assert s.console.host == "127.0.0.1" and not s.console.enabled
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_console_elsewhere_without_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"console\.token_file: required"):
        settings_from_dict({"console": {"host": "0.0.0.0"}})
    s = settings_from_dict({"console": {"host": "0.0.0.0", "token_file": "console.token"}})
    assert s.console.token_file == "console.token"
    with pytest.raises(ConfigError, match="unknown"):
        settings_from_dict({"console": {"colour": "red"}})


def test_console_settings_do_not_change_the_config_hash() -> None:
    a = Settings()
    b = settings_from_dict({"console": {"enabled": True, "port": 9999}})
    assert a.hash() == b.hash()


def test_token_file(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("s3cret\n")
    assert read_token(tmp_path / "t") == "s3cret"
    (tmp_path / "e").write_text("\n")
    with pytest.raises(ConsoleError, match="empty"):
        read_token(tmp_path / "e")
    with pytest.raises(ConsoleError):
        read_token(tmp_path / "missing")


# ---- the tap: bounded, drop-oldest, never blocking --------------------------------------------
def test_tap_drops_the_oldest_and_counts() -> None:
    tap = ConsoleTap(queue_size=3, packet_queue_size=2, alert_queue_size=2)
    for i in range(5):
        tap.observe(_pick("ALMY", T0 + i * S))
        tap.observe_packet(_packet("ALMY", T0 + i * S))
    tap.observe(object())  # not shown: ignored
    for v in range(3):
        tap.observe(_alert(v))
    st = tap.statistics()
    assert (st.results, st.dropped_results) == (5, 2)
    assert (st.packets, st.dropped_packets) == (5, 3)
    assert (st.alerts, st.dropped_alerts) == (3, 1)
    alerts, results, packets = tap.drain()
    assert [a.version for a in alerts] == [1, 2]
    assert [p.time_ns for p in results] == [T0 + 2 * S, T0 + 3 * S, T0 + 4 * S]
    assert [p.starttime_ns for p in packets] == [T0 + 3 * S, T0 + 4 * S]
    assert tap.drain() == ([], [], [])


# ---- the state ----------------------------------------------------------------------------------
def test_station_states() -> None:
    st = _state()
    states = {s["id"]: s for s in st.station_states(T0)}
    assert states["AW.ALMY"]["state"] == "nodata" and states["KN.BSH"]["state"] == "nodata"
    st.apply_packets([_packet("ALMY", T0, arrival_ns=T0 + S + S // 2)])
    s = {s["id"]: s for s in st.station_states(T0 + 2 * S)}["AW.ALMY"]
    assert s["state"] == "ok" and s["latency_s"] == 0.5 and s["age_s"] == 1.0
    st.apply_results([RejectedTrigger("AW.ALMY..HHZ", T0, T0 + S, "low_snr", "SNR 1 < 3")])
    s = {s["id"]: s for s in st.station_states(T0 + 2 * S)}["AW.ALMY"]
    assert (s["state"], s["reason"]) == ("set_aside", "low_snr")
    st.apply_results([_pick("ALMY", T0 + S)])
    assert st.station_states(T0 + 2 * S)[0]["state"] == "triggered"
    st.apply_results([_pick("ALMY", T0 + S, clipped=True)])
    assert st.station_states(T0 + 2 * S)[0]["state"] == "clipped"
    assert st.station_states(T0 + 100 * S)[0]["state"] == "dead"


def test_alert_message_and_drill_flag() -> None:
    live = _state("live").apply_alert(_alert(), T0 + 8 * S)
    assert not live["drill"] and live["max_roman"] == "VII"
    assert live["targets"][0]["roman"] == "VII" and live["targets"][0]["s_arrival_ms"] == (
        (T0 + 9 * S) / 1e6
    )
    replay = _state("replay")
    msg = replay.apply_alert(_alert(), T0 + 8 * S)
    assert msg["drill"] and replay.alert_log[0]["drill"]
    json.dumps(msg, allow_nan=False)


def test_record_section_of_triggered_stations() -> None:
    st = _state()
    for i in range(20):
        st.apply_packets([_packet("ALMY", T0 + i * S)])
    assert st.traces(T0 + 20 * S)["traces"] == []  # nothing triggered
    st.apply_results([_pick("ALMY", T0 + 10 * S)])
    tr = st.traces(T0 + 20 * S)
    (trace,) = tr["traces"]
    assert trace["id"] == "AW.ALMY" and len(trace["min"]) == len(trace["max"]) == 300
    values = [v for v in trace["max"] + trace["min"] if v is not None]
    assert max(map(abs, values)) == 100  # normalised per trace
    assert sum(v is not None for v in trace["max"]) >= 95  # 20 s of 60 s, 0.2 s columns
    json.dumps(tr, allow_nan=False)


# ---- the server ---------------------------------------------------------------------------------
def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_server_token_snapshot_and_push(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    cfg = ConsoleConfig(port=0, token_file="token", update_interval_s=0.05)
    now = [T0]
    server = build_console(
        cfg,
        {"AW.ALMY": (43.25, 76.92, 800.0)},
        [TargetInfo("Almaty-Almaly", 43.255, 76.925)],
        lambda: now[0],
        base_dir=tmp_path,
    )
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert _get(base + "/")[0] == 401
        assert _get(base + "/state")[0] == 401
        assert _get(base + "/ws")[0] == 401
        status, page = _get(base + "/?token=abc")
        assert status == 200 and b"Almaty EEW console" in page
        assert _get(base + "/static/console.js")[0] == 200  # nothing secret
        assert b"//" not in _get(base + "/static/outlines.json")[1]  # no remote address
        messages = asyncio.run(_watch(server, base + "/ws?token=abc", now))
    finally:
        server.close()
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "snapshot" and "alert" in kinds and "stations" in kinds
    alert = next(m for m in messages if m["type"] == "alert")
    assert alert["event_id"] == "ev1" and alert["targets"][0]["roman"] == "VII"


async def _watch(server: ConsoleServer, url: str, now: list[int]) -> list[dict[str, object]]:
    import aiohttp

    out: list[dict[str, object]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        out.append(json.loads((await ws.receive()).data))
        server.tap.observe_packet(_packet("ALMY", T0))
        server.tap.observe(_alert())
        now[0] = T0 + 8 * S
        while not any(m["type"] == "alert" for m in out) or not any(
            m["type"] == "stations" for m in out
        ):
            out.append(json.loads((await asyncio.wait_for(ws.receive(), 5)).data))
    return out


def test_server_refuses_a_busy_port() -> None:
    first = ConsoleServer(ConsoleTap(), _state(), lambda: T0, port=0)
    first.start()
    try:
        second = ConsoleServer(ConsoleTap(), _state(), lambda: T0, port=first.port)
        with pytest.raises(ConsoleError):
            second.start()
    finally:
        first.close()
