"""``eew serve`` as libslink and SeisComP clients expect it, and hostile peers on both sides.

Uni-station mode answers nothing to DATA/FETCH/TIME (the data follow at once), an idle
connection is closed, INFO CONNECTIONS lists the streaming clients, and bytes from the
network are escaped in every log line, whether a garbage server talks to our client or a
garbage client talks to our server.
"""

from __future__ import annotations

import asyncio
import logging
import random

from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.acquisition.seedlink.protocol import escape_bytes, format_data_frame
from eew.archive_server.feed import load_feed
from eew.archive_server.records import synthetic_archive
from eew.archive_server.server import SeedLinkServer
from eew.model.clock import WallClock

T0 = 1_700_000_000_000_000_000
FAST = dict(backoff_initial_s=0.05, backoff_max_s=0.1, connect_timeout_s=1.0, future_s=None)
ALL_TIME = ClientOptions(begin_ns=0, end_ns=4_000_000_000 * 10**9, future_s=None)


def arun(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _addr(srv: SeedLinkServer) -> str:
    host, port = srv.address
    return f"{host}:{port}"


def _printable(text: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F for c in text)


def _feed(tmp_path, n_channels: int = 6, n_seconds: int = 5):
    path = tmp_path / "a.mseed"
    path.write_bytes(synthetic_archive(n_channels, n_seconds, T0))
    return load_feed([path])


async def _read_until(reader: asyncio.StreamReader, n: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), 5)


def test_escape_bytes():
    assert escape_bytes(b"OK\r\n\x00\xff") == "OK\\x0d\\x0a\\x00\\xff"
    assert escape_bytes("A\x1b[31m") == "A\\x1b[31m"
    assert escape_bytes(repr("\x07")) == "'\\x07'"  # escaped text passes unchanged
    assert escape_bytes(b"x" * 100, limit=4) == "xxxx...(100 bytes)"


def test_uni_station_mode_sends_no_answer_to_data_fetch_time(tmp_path):
    """libslink (``slinktool -s HHZ``) reads a frame right after DATA: no ``OK`` first."""
    feed = _feed(tmp_path)

    async def one(command: bytes) -> bytes:
        async with SeedLinkServer(feed, WallClock(), port=0, speed=None) as srv:
            reader, writer = await asyncio.open_connection(*srv.address)
            writer.write(b"HELLO\r")
            await reader.readline()
            await reader.readline()
            writer.write(b"SELECT HHZ\r")
            assert await reader.readline() == b"OK\r\n"  # SELECT is answered in both modes
            writer.write(command)
            head = await _read_until(reader, 8)
            writer.close()
            return head

    for command in (b"DATA 000001\r", b"FETCH 000001\r", b"TIME 2023,11,14,22,13,00\r"):
        head = arun(one(command))
        assert head.startswith(b"SL") and head[2:8].isalnum(), (command, head)


def test_idle_connection_is_closed_but_a_streaming_one_is_not(tmp_path):
    feed = _feed(tmp_path)

    async def main():
        srv = SeedLinkServer(feed, WallClock(), port=0, speed=1.0, idle_timeout_s=0.3)
        async with srv:
            idle_r, idle_w = await asyncio.open_connection(*srv.address)
            idle_w.write(b"HELLO\r")
            await idle_r.readline()
            await idle_r.readline()
            streaming = SeedLinkClient(
                [ServerSpec.parse(_addr(srv), "XX_*")],
                WallClock(),
                ClientOptions(keepalive_s=60, timeout_s=60, **FAST),
            )
            async with streaming:
                rest = await asyncio.wait_for(idle_r.read(), 3)  # EOF: closed by the server
                got = [await streaming.get() for _ in range(12)]  # 2 s of data, no command
                stats = srv.statistics()
                s = streaming.statistics().servers[0]
            idle_w.close()
            return rest, got, stats, s

    rest, got, stats, s = arun(main())
    assert rest == b"" and stats.idle_disconnects == 1
    assert len(got) == 12 and s.disconnects == 0


def test_info_connections_lists_the_streaming_clients(tmp_path):
    feed = _feed(tmp_path)

    async def main():
        async with SeedLinkServer(feed, WallClock(), port=0, speed=1.0) as srv:
            spec = ServerSpec.parse(_addr(srv), "XX_S0001")
            async with SeedLinkClient([spec], WallClock(), ClientOptions(**FAST)) as c:
                await c.get()
                caps = await c.info("CAPABILITIES")
                conns = await c.info("CONNECTIONS")
                return caps, conns

    caps, conns = arun(main())
    assert 'name="info:connections"' in caps
    assert '<station name="S0001" network="XX"' in conns
    assert '<connection host="127.0.0.1"' in conns and 'realtime="yes"' in conns
    assert "S0000" not in conns  # not asked for by this client


def _garbage(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def test_garbage_server_logs_only_escaped_text(caplog):
    """A server answering with bad signatures, binary lines, non-hex sequence numbers,
    corrupt and truncated records: the client keeps retrying; every log line printable."""
    rng = random.Random(7)
    good = synthetic_archive(3, 2, T0)
    hello = b"SeedLink v3.1 (x)\r\norg\r\n"
    scripts = [
        b"\x00\x1b[2J\xffHELLO?\r\n\x07\r\n",  # a HELLO answer that is not SeedLink
        hello,  # then answers with binary, see below
        hello,  # then frames, see below
    ]
    state = {"n": 0}

    async def handle(reader, writer):
        k = state["n"] % len(scripts)
        state["n"] += 1
        try:
            await reader.read(64)
            writer.write(scripts[k])
            if k == 1:
                await reader.read(256)  # STATION, DATA
                writer.write(b"OK SL000000000001D ALMY \x00\x01\x02\xfe\r\n" * 2)
            if k == 2:
                await reader.read(256)
                writer.write(b"OK\r\nOK\r\n")  # STATION, DATA
                await reader.read(64)  # END
                frames = [
                    b"SLZZZZZZ" + _garbage(rng, 512),  # non-hex sequence number
                    format_data_frame(1, good[:512])[:300],  # truncated
                    b"SL000002" + good[512:520] + _garbage(rng, 504),  # corrupt record
                    _garbage(rng, 700),  # random bytes
                    b"SL00000" + b"\x1b\x00" + b"ERROR\r\n",
                ]
                writer.write(b"".join(frames))
            await writer.drain()
            await asyncio.sleep(0.05)
        except (asyncio.CancelledError, ConnectionError):
            return  # shut down with the client (re-raising makes asyncio 3.11 log an error)
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        spec = ServerSpec.parse(f"127.0.0.1:{port}", "XX_*")
        async with SeedLinkClient([spec], WallClock(), ClientOptions(**FAST)) as c:
            await asyncio.sleep(1.5)
            stats = c.statistics()
        server.close()
        await server.wait_closed()
        return stats

    caplog.set_level(logging.DEBUG, "eew")
    stats = arun(main())
    (s,) = stats.servers
    assert s.connect_failures + s.error_answers >= 2 and s.malformed + s.truncated >= 1
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("eew")]
    assert any("\\x00\\x01\\x02\\xfe" in m for m in messages)
    bad = [m for m in messages if not _printable(m)]
    assert not bad, bad[:3]


def test_garbage_client_logs_only_escaped_text_and_the_server_serves_on(tmp_path, caplog):
    rng = random.Random(11)
    feed = _feed(tmp_path)
    junk = [
        b"\x00\x01\x02\r",
        b"STATION \x1b[31mEVIL\x07 XX\r",
        b"STATION \xffX XX\r",
        b"SELECT \x1b]0;pwned\x07\r",
        b"SELECT !!!\x00\r",
        b"DATA zz\x07 2023,\x00\r",
        b"TIME 2023,\x1b,1\r",
        b"INFO \x00\x01\r",
        b"\xff\xfe\xfd\r\n",
        _garbage(rng, 300) + b"\r",
        b"A" * 5000,
    ]

    async def main():
        async with SeedLinkServer(feed, WallClock(), port=0, speed=None) as srv:
            for line in junk:
                _reader, writer = await asyncio.open_connection(*srv.address)
                writer.write(b"HELLO\r" + line)
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.close()
            spec = ServerSpec.parse(_addr(srv), "XX_*")
            async with SeedLinkClient([spec], WallClock(), ALL_TIME) as c:
                items = [r async for r in c.received()]
            return items, srv.statistics()

    caplog.set_level(logging.DEBUG, "eew")
    items, stats = arun(main())
    assert len(items) == 30 and stats.command_errors >= 3
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("eew")]
    assert any("\\x1b[31mEVIL\\x07" in m for m in messages)
    bad = [m for m in messages if not _printable(m)]
    assert not bad, bad[:3]
