"""Two daemons on loopback: a station daemon's picks become a central daemon's alert."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_daemon import T0, BusTap, arun, play, settings, start_server, wait_for

from eew.daemon.config import settings_from_dict
from eew.daemon.runner import Daemon
from eew.model.clock import ManualClock


def test_station_picks_become_central_alerts(tmp_path: Path):
    async def main():
        clock = ManualClock(T0)
        srv = await start_server(clock)
        host, port = srv.address
        station = Daemon(settings(tmp_path, f"{host}:{port}", role="station", insecure_bus=True))
        s_task = asyncio.create_task(station.run())
        central = None
        c_task = None
        tap = None
        try:
            await wait_for(
                lambda: station.publisher is not None and station.publisher.endpoint, 10, "bus"
            )
            raw = {
                "daemon": {
                    "role": "central",
                    "processing_clock": "data",
                    "insecure_bus": True,
                    "heartbeat_interval_s": 0.2,
                    "event_tick_s": 0.2,
                },
                "upstream": {"endpoints": [station.publisher.endpoint]},
                "bus": {"endpoint": "tcp://127.0.0.1:*", "heartbeat_interval_s": 0.2},
            }
            central = Daemon(settings_from_dict(raw, "<central>", tmp_path))
            c_task = asyncio.create_task(central.run())
            await wait_for(
                lambda: central.publisher is not None and central.publisher.endpoint, 10, "bus"
            )
            tap = BusTap(central.publisher.endpoint, kinds=("alert",))
            await wait_for(lambda: station.publisher.statistics().subscriptions > 0, 10, "central")
            await wait_for(lambda: central.publisher.statistics().subscriptions > 0, 10, "tap")
            await play(clock, station, lambda: len(tap.of("alert")) >= 1)
            await wait_for(lambda: len(tap.of("alert")) >= 1, 10, "an alert from the centre")
        finally:
            for d in (central, station):
                if d is not None:
                    d.request_stop()
            codes = [await t for t in (c_task, s_task) if t is not None]
            if tap is not None:
                tap.close()
            await srv.close()
        return station, central, tap, codes

    station, central, tap, codes = arun(main(), 60)
    assert codes == [0, 0]
    assert station.outputs.counts["picks"] >= 4 and station.outputs.counts.get("alerts", 0) == 0
    assert central.upstream.statistics().picks >= 4
    alert = tap.of("alert")[0]
    assert alert.message_type == "new" and 4.0 < alert.magnitude < 5.5
    assert central.health.queues["upstream_picks"] == 0
