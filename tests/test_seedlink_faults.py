"""Faults: server restart, stall, malformed/truncated packets, late/out-of-order/future data."""

from __future__ import annotations

import asyncio
import itertools
import random

import numpy as np

from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.acquisition.seedlink.protocol import format_data_frame, format_info_frames, split_lines
from eew.acquisition.seedlink.tracking import load_state, save_state
from eew.archive_server.feed import load_feed
from eew.archive_server.records import shift_start_time, synthetic_archive, text_records
from eew.archive_server.server import SeedLinkServer
from eew.model.clock import ManualClock, WallClock

T0 = 1_700_000_000_000_000_000
CID = "XX.S0000..HHZ"
FAST = dict(backoff_initial_s=0.05, backoff_max_s=0.2, connect_timeout_s=2.0, future_s=None)


def addr(server) -> str:
    host, port = server.address
    return f"{host}:{port}"


def arun(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def records(n_channels: int, n_seconds: int) -> list[bytes]:
    b = synthetic_archive(n_channels, n_seconds, T0)
    return [b[i : i + 512] for i in range(0, len(b), 512)]


class FakeServer:
    """Answers negotiation with OK, then runs ``script(writer, reader)``; counts connections."""

    def __init__(self, script):
        self.script = script
        self.connections = 0
        self.commands: list[bytes] = []
        self.server = None
        self.tasks: set[asyncio.Task] = set()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    @property
    def spec(self) -> ServerSpec:
        host, port = self.server.sockets[0].getsockname()[:2]
        return ServerSpec.parse(f"{host}:{port}", "XX_*")

    async def _handle(self, reader, writer):
        self.tasks.add(asyncio.current_task())
        self.connections += 1
        buf = bytearray()
        try:
            while True:
                chunk = await reader.read(1024)
                if not chunk:
                    return
                buf += chunk
                for line in split_lines(buf):
                    self.commands.append(line)
                    if line == b"HELLO":
                        writer.write(b"SeedLink v3.1 (fake)\r\nfake\r\n")
                    elif line == b"END":
                        await self.script(writer, reader)
                        return
                    elif not line.startswith(b"INFO"):
                        writer.write(b"OK\r\n")
        except asyncio.CancelledError:
            return  # shut down by __aexit__ (re-raising makes asyncio 3.11 log an error)
        finally:
            writer.close()


def test_server_restart_resumes_without_loss_or_duplicates(tmp_path):
    path = tmp_path / "a.mseed"
    path.write_bytes(synthetic_archive(30, 30, T0))  # 900 records, 30 s of data
    feed_a, feed_b = load_feed([path]), load_feed([path])

    async def main():
        srv = SeedLinkServer(feed_a, WallClock(), port=0, speed=15.0)
        await srv.start()
        host, port = srv.address
        opts = ClientOptions(begin_ns=0, **FAST)
        got = []
        async with SeedLinkClient(
            [ServerSpec.parse(f"{host}:{port}", "XX_*")], WallClock(), opts
        ) as c:
            while len(got) < 300:
                got.append(await c.get())
            await srv.close()  # killed mid-stream
            await asyncio.sleep(0.3)
            srv = SeedLinkServer(feed_b, WallClock(), host=host, port=port, speed=15.0)
            await srv.start()  # same archive: the playback starts over, same sequence numbers
            try:
                while len(got) < 900:
                    got.append(await c.get())
                await asyncio.sleep(0.2)
                return got, c.statistics()
            finally:
                await srv.close()

    got, stats = arun(main(), 30)
    assert [r.seq for r in got] == list(range(1, 901))
    starts = [(r.packet.channel_id, r.packet.starttime_ns) for r in got]
    assert len(set(starts)) == 900
    (s,) = stats.servers
    assert s.connects == 2 and s.disconnects == 1
    assert all(c.gaps == 0 and c.out_of_order == 0 for c in stats.channels)


def test_state_file_resume_across_client_restarts(tmp_path):
    path = tmp_path / "a.mseed"
    path.write_bytes(synthetic_archive(12, 10, T0))
    state = tmp_path / "state.json"

    async def main():
        async with SeedLinkServer(load_feed([path]), WallClock(), port=0, speed=None) as srv:
            spec = ServerSpec.parse(addr(srv), "XX_S0001,XX_*")
            first = []
            opts = ClientOptions(begin_ns=0, state_file=state, **FAST)
            async with SeedLinkClient([spec], WallClock(), opts) as c:
                first = [await c.get() for _ in range(50)]
            saved = load_state(state)
            async with SeedLinkClient([spec], WallClock(), opts) as c:
                second = []
                while len(first) + len(second) < 120:
                    second.append(await c.get())
                await asyncio.sleep(0.1)
                return first, second, saved, c.statistics()

    first, second, saved, stats = arun(main())
    assert [r.seq for r in first + second] == list(range(1, 121))
    (srv,) = saved.values()
    assert max(seq for seq, _ in srv.values()) == 50
    assert stats.queued == 0 and stats.servers[0].duplicates >= 0


def test_silent_stall_is_detected_by_keepalive():
    recs = records(3, 2)

    async def silent(writer, reader):
        k = 2 * (fake.connections - 1)  # each connection sends the next two packets
        writer.write(b"".join(format_data_frame(k + i + 1, recs[k + i]) for i in range(2)))
        while True:  # then nothing: keepalive requests are read but never answered
            fake.commands.append((await reader.readuntil(b"\r")).strip())

    fake = FakeServer(silent)

    async def main():
        async with fake:
            opts = ClientOptions(keepalive_s=0.2, timeout_s=0.6, **FAST)
            async with SeedLinkClient([fake.spec], WallClock(), opts, rng=random.Random(1)) as c:
                got = [await c.get() for _ in range(4)]  # 2 per connection
                return got, c.statistics()

    got, stats = arun(main())
    (s,) = stats.servers
    assert s.stalls >= 1 and s.keepalives >= 1 and fake.connections >= 2
    assert b"INFO ID" in fake.commands
    # the second connection resumes after the last sequence number received, with the
    # data time of the end of the last record (for a server whose ring no longer holds
    # that number: the oldest record that ends after it)
    assert [c for c in fake.commands if c.startswith(b"DATA 000003 ")] == [
        b"DATA 000003 2023,11,14,22,13,21"
    ], fake.commands
    assert [r.seq for r in got] == [1, 2, 3, 4]


def test_answered_keepalive_keeps_an_idle_link():
    async def idle(writer, reader):
        for _ in range(100):  # answer every keepalive request with an INFO ID document
            line = await reader.readuntil(b"\r")
            assert line.startswith(b"INFO")
            writer.write(b"".join(format_info_frames(text_records(b"<seedlink/>"))))

    async def main():
        async with FakeServer(idle) as fake:
            opts = ClientOptions(keepalive_s=0.1, timeout_s=0.5, **FAST)
            async with SeedLinkClient([fake.spec], WallClock(), opts) as c:
                await asyncio.sleep(1.0)
                return c.statistics()

    (s,) = arun(main()).servers
    assert s.keepalives >= 5 and s.stalls == 0 and s.connects == 1 and s.unexpected == 0


def test_malformed_truncated_and_unexpected_packets_are_counted_and_skipped():
    recs = records(3, 4)
    bad = bytearray(recs[3])
    bad[64:300] = b"\xff" * 236  # Steim frames destroyed
    other = bytearray(recs[4])
    other[18:20] = b"ZZ"  # a network nobody asked for

    async def script(writer, reader):
        f = [format_data_frame(i + 1, r) for i, r in enumerate(recs)]
        writer.write(
            f[0]
            + f[1][:200]
            + f[2]
            + b"\x00\x01garbage"
            + format_data_frame(4, bytes(bad))
            + format_data_frame(5, bytes(other))
            + b"ERROR\r\n"
            + format_info_frames(text_records(b"<x/>"))[0]
            + f[5]
            + b"END"
        )
        await writer.drain()

    async def main():
        async with FakeServer(script) as fake:
            opts = ClientOptions(**FAST)
            async with SeedLinkClient([fake.spec], WallClock(), opts) as c:
                return [r async for r in c.received()], c.statistics()

    got, stats = arun(main())
    assert [r.seq for r in got] == [1, 3, 6]
    (s,) = stats.servers
    assert (s.truncated, s.malformed, s.unexpected, s.error_answers) == (1, 2, 2, 1)
    assert s.ended and s.packets == 3


def test_late_out_of_order_future_and_duplicate_policy():
    clock = ManualClock(T0 + 3 * 10**9)
    recs = records(1, 6)  # XX.S0000..HHZ, seconds 0..5

    def at(k, shift_s=0):
        return shift_start_time(recs[k], shift_s * 10**9) if shift_s else recs[k]

    async def script(writer, reader):
        for seq, rec in [
            (1, at(0)),  # on time-ish
            (2, at(2)),  # a 1 s gap
            (3, at(1)),  # out of order (older than the previous one): delivered, counted
            (3, at(1)),  # same sequence number again: duplicate, dropped
            (4, at(3, 3600)),  # an hour in the future: dropped
            (5, at(3)),  # late: arrives 30 s after its last sample
        ]:
            if seq == 5:
                clock.set_ns(T0 + 34 * 10**9)
            writer.write(format_data_frame(seq, rec))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"END")

    async def main():
        async with FakeServer(script) as fake:
            opts = ClientOptions(late_s=10.0, **{**FAST, "future_s": 5.0})
            async with SeedLinkClient([fake.spec], clock, opts) as c:
                return [r async for r in c.received()], c.statistics()

    got, stats = arun(main())
    assert [r.seq for r in got] == [1, 2, 3, 5]
    (ch,) = stats.channels
    (s,) = stats.servers
    assert (ch.gaps, ch.out_of_order, ch.late, ch.future) == (1, 1, 1, 1)
    assert s.duplicates == 1 and s.future == 1
    assert ch.gap_s == 1.0
    assert np.isclose(ch.latency_max_s, 34 - 3.99)


def test_renumbered_ring_is_deduplicated_by_data_time(caplog):
    """The second connection's server renumbered its ring: records already delivered come
    back under higher sequence numbers, new records under numbers already seen. Every
    record is delivered once; one WARNING."""
    recs = records(3, 8)  # 24 records of one station, XX.S0000

    async def script(writer, reader):
        if fake.connections == 1:
            frames = [format_data_frame(i + 1, recs[i]) for i in range(12)]
        else:
            frames = [format_data_frame(100 + i, recs[i]) for i in range(6, 12)]
            frames += [format_data_frame(i - 9, recs[i]) for i in range(12, 24)]
        writer.write(b"".join(frames))
        await writer.drain()
        if fake.connections == 1:
            writer.close()  # the server goes away
        await reader.read()

    fake = FakeServer(script)

    async def main():
        async with fake:
            async with SeedLinkClient([fake.spec], WallClock(), ClientOptions(**FAST)) as c:
                got = [await c.get() for _ in range(24)]
                await asyncio.sleep(0.2)
                return got, c.statistics()

    caplog.set_level("WARNING", "eew.acquisition.seedlink.client")
    got, stats = arun(main())
    keys = [(r.packet.channel_id, r.packet.starttime_ns) for r in got]
    assert len(set(keys)) == 24 and stats.queued == 0
    (s,) = stats.servers
    assert s.duplicates == 6 and s.seq_resets >= 2
    warnings = [r for r in caplog.records if "ring was reset" in r.getMessage()]
    assert len(warnings) == 1


def _continuous(got) -> bool:
    """Every delivered packet starts where the previous one ended (one channel)."""
    pkts = [r.packet for r in got]
    return all(b.starttime_ns == a.endtime_ns for a, b in itertools.pairwise(pkts))


def test_restarted_server_packing_records_otherwise_loses_and_repeats_no_sample():
    """After a ring reset the server packs the channel into records half a second off
    those delivered: a record wholly delivered is dropped, one that straddles the end of
    what was delivered gives its second half, the next ones come whole; the samples are
    continuous (no overlap for the processing chain to reset on, no gap)."""
    recs = records(1, 10)  # XX.S0000..HHZ, seconds 0..9, 100 samples each
    half = -(10**9) // 2

    async def script(writer, reader):
        if fake.connections == 1:
            frames = [format_data_frame(i + 1, recs[i]) for i in range(6)]  # 0 .. 6 s
        else:  # fresh ring, records from 3.5 s on, starting half a second earlier
            frames = [
                format_data_frame(k + 1, shift_start_time(recs[4 + k], half)) for k in range(6)
            ]
        writer.write(b"".join(frames))
        await writer.drain()
        if fake.connections == 1:
            writer.close()
        await reader.read()

    fake = FakeServer(script)

    async def main():
        async with fake:
            async with SeedLinkClient([fake.spec], WallClock(), ClientOptions(**FAST)) as c:
                got = [await c.get() for _ in range(10)]
                await asyncio.sleep(0.2)
                return got, c.statistics()

    got, stats = arun(main())
    assert got[0].packet.starttime_ns == T0 and got[-1].packet.endtime_ns == T0 + 95 * 10**8
    assert _continuous(got)
    assert [r.packet.n_samples for r in got[5:]] == [100, 50, 100, 100, 100]
    (s,) = stats.servers
    assert s.duplicates == 2 and s.trimmed == 1 and stats.queued == 0


def test_resumed_client_takes_the_unprocessed_part_of_a_straddling_record(tmp_path):
    """A client restarted on its state file (6 s of the channel processed, sequence number
    6): the server's new ring packs the channel half a second off. The record that
    straddles 6 s gives its second half; nothing before 6 s comes again."""
    recs = records(1, 10)
    half = -(10**9) // 2
    state = tmp_path / "state.json"

    async def script(writer, reader):
        frames = [format_data_frame(k + 1, shift_start_time(recs[4 + k], half)) for k in range(6)]
        writer.write(b"".join(frames))
        await writer.drain()
        await reader.read()

    fake = FakeServer(script)

    async def main():
        async with fake:
            name = fake.spec.name
            save_state(
                state, {name: {"XX_S0000": (6, T0 + 5 * 10**9)}}, {name: {CID: T0 + 6 * 10**9}}
            )
            opts = ClientOptions(state_file=state, **FAST)
            async with SeedLinkClient([fake.spec], WallClock(), opts) as c:
                got = [await c.get() for _ in range(4)]
                await asyncio.sleep(0.2)
                return got, c.statistics()

    got, stats = arun(main())
    assert got[0].packet.starttime_ns == T0 + 6 * 10**9 and _continuous(got)
    assert [r.packet.n_samples for r in got] == [50, 100, 100, 100]
    (s,) = stats.servers
    assert s.duplicates == 2 and s.trimmed == 1 and stats.queued == 0
