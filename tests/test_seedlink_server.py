"""Our SeedLink client against our archive server, over loopback on random ports."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eew.acquisition.archive import index_archive, iter_packets
from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.acquisition.seedlink.protocol import (
    parse_frame_header,
    parse_info_stations,
    parse_info_streams,
)
from eew.archive_server.feed import load_feed
from eew.archive_server.records import synthetic_archive
from eew.archive_server.server import SeedLinkServer
from eew.model.clock import ManualClock, WallClock

T0 = 1_700_000_000_000_000_000
ALL_TIME = ClientOptions(begin_ns=0, end_ns=4_000_000_000 * 10**9, future_s=None)


def addr(server) -> str:
    host, port = server.address
    return f"{host}:{port}"


def arun(coro, timeout: float = 20.0):
    """Run a coroutine with a hard timeout so that a failure never hangs."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def synth(tmp_path) -> Path:
    """12 channels (4 stations) x 20 one-second records."""
    path = tmp_path / "synth.mseed"
    path.write_bytes(synthetic_archive(12, 20, T0))
    return path


async def collect(spec: ServerSpec, opts: ClientOptions = ALL_TIME, clock=None):
    async with SeedLinkClient([spec], clock or WallClock(), opts) as client:
        items = [r async for r in client.received()]
        return items, client.statistics()


def test_client_matches_replay(rjob_mseed, synth):
    paths = [rjob_mseed, synth]

    async def main():
        async with SeedLinkServer(load_feed(paths), WallClock(), port=0, speed=None) as srv:
            spec = ServerSpec.parse(addr(srv), "BW_RJOB,XX_*")
            return await collect(spec)

    items, stats = arun(main())
    expected = list(iter_packets(index_archive(paths)))
    assert [r.seq for r in items] == list(range(1, len(expected) + 1))
    assert len(items) == len(expected) == 21 + 240
    assert all(r.packet.arrival_ns == r.arrival_ns is not None for r in items)  # stamped
    for r, e in zip(items, expected, strict=True):
        p = r.packet
        assert (p.channel_id, p.sampling_rate_hz, p.calibration) == (
            e.channel_id,
            e.sampling_rate_hz,
            e.calibration,
        )
        assert p.starttime_ns == e.starttime_ns
        assert p.data.dtype == e.data.dtype and np.array_equal(p.data, e.data)
    (srv_stats,) = stats.servers
    assert srv_stats.ended and srv_stats.packets == len(expected)
    assert srv_stats.malformed == srv_stats.duplicates == srv_stats.unexpected == 0
    assert {c.channel_id for c in stats.channels} == {e.channel_id for e in expected}
    assert all(c.gaps == 0 and c.out_of_order == 0 for c in stats.channels)


def test_selection_wildcards_negation_and_several_servers(synth, rjob_mseed):
    async def main():
        a = SeedLinkServer(load_feed([synth]), WallClock(), port=0, speed=None)
        b = SeedLinkServer(load_feed([rjob_mseed]), WallClock(), port=0, speed=None)
        async with a, b:
            specs = [
                ServerSpec.parse(addr(a), "XX_S000?:HH? !HHE,XX_S0003:HHE"),
                ServerSpec.parse(addr(b), "BW_RJOB:EHZ"),
            ]
            out = []
            for proto in ("3", "4"):
                opts = dataclasses.replace(ALL_TIME, protocol=proto)
                async with SeedLinkClient(specs, WallClock(), opts) as client:
                    out.append([r async for r in client.received()])
            return out

    items, items4 = arun(main())
    ids = {r.packet.channel_id for r in items}
    want = {f"XX.S000{s}..HH{c}" for s in range(4) for c in "ZN"} | {"XX.S0003..HHE"}
    # SeedLink 3: the STATION requests select the union of their channels
    assert ids == want | {"BW.RJOB..EHZ"}
    assert len(items) == 9 * 20 + 7
    # SeedLink 4: a station belongs to the first STATION that matches it; the client
    # sends the exact XX_S0003 first, so its selector wins over the pattern's
    ids4 = {r.packet.channel_id for r in items4}
    assert ids4 == (want - {"XX.S0003..HHZ", "XX.S0003..HHN"}) | {"BW.RJOB..EHZ"}
    assert len({r.server for r in items}) == 2


def test_info_levels(synth):
    async def main():
        async with SeedLinkServer(load_feed([synth]), WallClock(), port=0, speed=None) as srv:
            client = SeedLinkClient([ServerSpec.parse(addr(srv))], WallClock())
            out = {lvl: await client.info(lvl) for lvl in ("ID", "CAPABILITIES", "STATIONS")}
            out["STREAMS"] = await client.info("STREAMS")
            out["GAPS"] = await client.info("GAPS")
            return out, srv.statistics()

    out, stats = arun(main())
    assert "SeedLink v4.0" in out["ID"]
    assert 'name="multistation"' in out["CAPABILITIES"]
    assert parse_info_stations(out["STATIONS"]) == [("XX", f"S000{i}") for i in range(4)]
    assert len(parse_info_streams(out["STREAMS"])) == 12
    assert "<station" not in out["GAPS"]  # unsupported level: the ID document
    assert stats.info_requests == 5


def test_batch_mode_and_dialup_over_a_raw_socket(synth):
    async def main():
        async with SeedLinkServer(load_feed([synth]), WallClock(), port=0, speed=None) as srv:
            reader, writer = await asyncio.open_connection(*srv.address)
            writer.write(b"HELLO\r")
            hello = [await reader.readline(), await reader.readline()]
            writer.write(b"BATCH\r")
            ok = await reader.readline()
            # batch mode: no answers to these; FETCH from seq 0x0D ends at the buffer end
            writer.write(b"STATION S0001 XX\rSELECT HHZ\rFETCH 00000D\rEND\r")
            data = await reader.read()  # until the server closes
            writer.close()
            await writer.wait_closed()
            return hello, ok, data

    hello, ok, data = arun(main())
    assert hello[0].startswith(b"SeedLink v4.0") and b"SLPROTO:3.1" in hello[0] and ok == b"OK\r\n"
    assert data.endswith(b"END") and (len(data) - 3) % 520 == 0
    seqs = [parse_frame_header(data[i : i + 8]).seq for i in range(0, len(data) - 3, 520)]
    # arrival order breaks ties by channel id: S0001..HHZ is 6th of 12 in every second
    assert seqs == [6 + 12 * k for k in range(1, 20)]


def test_realtime_pacing_and_shift_to_now(synth):
    clock = ManualClock(T0 + 10**12)  # "now": 1000 s after the archive start

    async def main():
        srv = SeedLinkServer(load_feed([synth]), clock, port=0, speed=1.0, shift_to_now=True)
        async with srv:
            spec = ServerSpec.parse(addr(srv), "XX_S0000:HHZ")
            opts = ClientOptions(begin_ns=0, future_s=1.0, keepalive_s=60)
            async with SeedLinkClient([spec], clock, opts) as client:
                got = [await client.get()]  # the first record is released at once
                assert srv.statistics().newest_seq == 12
                clock.advance_s(3.0)  # three more seconds of data become due
                got += [await client.get() for _ in range(3)]
                return got, client.statistics()

    got, stats = arun(main())
    starts = [r.packet.starttime_ns for r in got]
    shift = T0 + 10**12 - (T0 + 10**9)  # the first record ends "now"
    assert starts == [T0 + shift + k * 10**9 for k in range(4)]
    (ch,) = stats.channels
    assert ch.future == 0 and ch.packets == 4
    assert 0.0 <= ch.latency_max_s <= 3.1  # arrival (manual clock) - last sample


@pytest.mark.parametrize("wait_clients", [1, 2])
def test_playback_waits_for_clients(synth, wait_clients):
    """Two clients without a resume point (``DATA``: new packets only), the second one
    5 s of data after the first: with ``wait_clients=2`` the playback waits for it and
    both receive the archive from its first record; with 1 the second misses 5 s."""
    clock = ManualClock(T0 + 10**12)
    feed = load_feed([synth])

    async def main():
        srv = SeedLinkServer(
            feed, clock, port=0, speed=1.0, shift_to_now=True, wait_clients=wait_clients
        )
        async with srv:
            spec = ServerSpec.parse(addr(srv), "XX_S0000:HHZ")
            opts = ClientOptions(future_s=None, keepalive_s=60)
            async with SeedLinkClient([spec], clock, opts) as first:
                while srv.streaming_connections < 1:
                    await asyncio.sleep(0.01)
                newest_alone = srv.statistics().newest_seq
                clock.advance_s(5.0)
                await asyncio.sleep(0.2)  # the pacer (if any) releases what is due
                async with SeedLinkClient([spec], clock, opts) as second:
                    while srv.streaming_connections < 2:
                        await asyncio.sleep(0.01)
                    clock.advance_s(1.0)
                    a, b = await first.get(), await second.get()
        return newest_alone, a.packet.starttime_ns, b.packet.starttime_ns

    newest_alone, a, b = arun(main())
    assert a - feed.shift_ns == T0  # the first client: from the first record either way
    if wait_clients == 2:
        assert newest_alone == 0  # nothing played while the first client was alone
        assert b - feed.shift_ns == T0
    else:
        assert b - feed.shift_ns >= T0 + 5 * 10**9


def test_slow_client_does_not_stall_others(tmp_path):
    path = tmp_path / "big.mseed"
    path.write_bytes(synthetic_archive(300, 40, T0))  # 12 000 records, 6 MB

    async def main():
        srv = SeedLinkServer(
            load_feed([path]),
            WallClock(),
            port=0,
            speed=None,
            write_timeout_s=0.5,
            max_buffer_bytes=64 * 1024,
        )
        async with srv:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, srv.address)
            try:
                sock.send(b"HELLO\rDATA 000001\r")  # uni-station: streams at once; never read
                spec = ServerSpec.parse(addr(srv), "XX_*")
                items, _ = await collect(spec)
                for _ in range(50):
                    if srv.statistics().slow_disconnects:
                        break
                    await asyncio.sleep(0.1)
                return len(items), srv.statistics()
            finally:
                sock.close()

    n, stats = arun(main(), 30)
    assert n == 12_000
    assert stats.slow_disconnects == 1


def test_serve_cli_subprocess_and_sigint(synth):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eew",
            "serve",
            str(synth),
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "max",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1].split()[0])
        items, _ = arun(collect(ServerSpec("127.0.0.1", port)))
        assert len(items) == 240
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
