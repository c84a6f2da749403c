"""The daemon serves the console (``[console] enabled``): alerts and station states reach a
WebSocket client while the chain runs, and the console is closed with the daemon."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from eew.daemon.config import settings_from_dict
from eew.daemon.publish import MemoryPublisher
from eew.daemon.runner import Daemon
from eew.model.clock import ManualClock
from tests.test_daemon import T0, arun, play, start_server, wait_for


def test_daemon_serves_the_console(tmp_path):
    async def main():
        clock = ManualClock(T0)
        srv = await start_server(clock)
        host, port = srv.address
        raw = {
            "daemon": {"role": "all", "processing_clock": "data", "publish": False,
                       "heartbeat_interval_s": 0.2, "event_tick_s": 0.2},
            "seedlink": {"servers": [f"{host}:{port}"], "streams": "AW_*", "state_file": "",
                         "future_s": float("inf"), "backoff_initial_s": 0.05},
            "console": {"enabled": True, "port": 0, "update_interval_s": 0.05},
        }  # fmt: skip
        daemon = Daemon(settings_from_dict(raw, "<test>", tmp_path), publisher=MemoryPublisher())
        task = asyncio.create_task(daemon.run())
        messages: list[dict] = []
        try:
            await wait_for(lambda: daemon.console is not None and daemon.console.port, 10, "up")
            url = f"http://127.0.0.1:{daemon.console.port}/ws"
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:

                async def read() -> None:
                    async for msg in ws:
                        messages.append(json.loads(msg.data))

                reader = asyncio.create_task(read())
                await play(clock, daemon, lambda: any(m["type"] == "alert" for m in messages))
                # under load the daemon may be well behind the server's clock
                await wait_for(lambda: any(m["type"] == "alert" for m in messages), 60, "alert")
                # station states go out every update interval: wait for one with states
                await wait_for(
                    lambda: any(m["type"] == "stations" and m["states"] for m in messages),
                    30,
                    "station states",
                )
                reader.cancel()
            daemon.request_stop()
            assert await task == 0
        finally:
            await srv.close()
        return daemon, messages

    daemon, messages = arun(main(), 150)
    assert messages[0]["type"] == "snapshot" and messages[0]["mode"] == "live"
    alert = next(m for m in messages if m["type"] == "alert")
    assert not alert["drill"] and alert["targets"][0]["roman"]
    states = [s["state"] for m in messages if m["type"] == "stations" for s in m["states"]]
    assert "ok" in states or "triggered" in states
    health = next(m for m in messages if m["type"] == "health")["health"]
    assert health["role"] == "all" and "queue_seedlink" in health
    assert daemon.console.tap.statistics().packets > 100
    assert not daemon.console._thread.is_alive()
