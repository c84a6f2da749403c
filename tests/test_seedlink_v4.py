"""SeedLink 4.0: wire format, the server's v4 handshake, our client in v4, TLS, miniSEED 3."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import ssl
from pathlib import Path

import numpy as np
import pymseed
import pytest

from eew.acquisition.archive import index_archive, iter_packets
from eew.acquisition.seedlink import v4
from eew.acquisition.seedlink.client import ClientOptions, SeedLinkClient, ServerSpec
from eew.acquisition.seedlink.protocol import ProtocolError
from eew.archive_server.feed import load_feed
from eew.archive_server.records import synthetic_archive, to_mseed3
from eew.archive_server.server import SeedLinkServer
from eew.model.clock import WallClock

T0 = 1_700_000_000_000_000_000
ALL_TIME = ClientOptions(begin_ns=0, end_ns=4_000_000_000 * 10**9, future_s=None)


def arun(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def synth(tmp_path) -> Path:
    """12 channels (4 stations XX.S0000..S0003, HH[ZNE]) x 20 one-second records."""
    path = tmp_path / "synth.mseed"
    path.write_bytes(synthetic_archive(12, 20, T0))
    return path


# ---- wire format -------------------------------------------------------------------------
def test_packet_header_round_trip_and_resync():
    pkt = v4.format_packet("2", "D", 2**40 + 7, "XX_S0001", b"x" * 512)
    head = v4.parse_header(pkt)
    assert (head.format, head.subformat, head.length, head.seq) == ("2", "D", 512, 2**40 + 7)
    assert pkt[17 : 17 + head.station_id_length] == b"XX_S0001"
    assert head.total == len(pkt) == 17 + 8 + 512
    assert pkt[:2] == b"SE" and int.from_bytes(pkt[4:8], "little") == 512
    with pytest.raises(ProtocolError):
        v4.parse_header(b"SL000001" + bytes(20))
    with pytest.raises(ProtocolError):  # implausible payload length
        v4.parse_header(b"SE2D" + (2**31).to_bytes(4, "little") + bytes(9))
    garbage = b"SEzz" + bytes(30) + pkt
    assert v4.find_packet(garbage, 1) == 34


def test_ids_selectors_and_times():
    assert v4.stream_id("00", "HHZ") == "00_H_H_Z" and v4.stream_id("", "BHN") == "_B_H_N"
    sels = [v4.parse_stream_selector(t) for t in ("*_H_H_?", "!*_H_H_E", "00_B_*.2D:3")]
    assert v4.select(sels, "_H_H_Z", "2D") == ""
    assert v4.select(sels, "_H_H_E", "2D") is None  # excluded
    assert v4.select(sels, "00_B_H_Z", "2D") == "3"  # converted
    assert v4.select(sels, "00_B_H_Z", "3D") is None  # format pattern 2D
    assert v4.select([], "anything", "2D") == ""
    # libslink's location-less form (slinktool -s H_H_Z): any location
    hhz = v4.parse_stream_selector("H_H_Z:3")
    assert hhz.stream == "*_H_H_Z" and hhz.matches("00_H_H_Z", "2D") and hhz.matches("_H_H_Z", "2D")
    assert v4.parse_stream_selector("00_B_*").stream == "00_B_*"
    for bad in ("", "!*:3", "a b", "*:9", "*.2%"):
        with pytest.raises(ProtocolError):
            v4.parse_stream_selector(bad)
    assert v4.match("XX_S000?", "XX_S0003") and not v4.match("XX_S000?", "XX_S00031")
    assert v4.match("*F", "GE_WLF") and not v4.match("G*", "XGE_A")
    t = v4.parse_time("2023-11-14T22:13:20.123456789Z")
    assert t == T0 + 123_456_789
    assert v4.parse_time("2023-11-14T22:13:20Z") == T0
    assert v4.parse_time("2023,11,14,22,13,20") == T0
    assert v4.format_time(T0 + 500_000_000) == "2023-11-14T22:13:20.500000Z"
    with pytest.raises(ProtocolError):
        v4.parse_time("2023-11-14 22:13:20")


def test_info_json_follows_the_schema():
    from eew.acquisition.seedlink.protocol import StreamInfo

    streams = [StreamInfo("XX", "S1", "", "HHZ", T0, T0 + 10**9, 3, 9)]
    sub, doc = v4.info_json("STREAMS", "sw", "org", streams)
    d = json.loads(doc)
    assert sub == "I" and d["software"] == "sw" and d["organization"] == "org"
    (st,) = d["station"]
    assert {"id", "description", "begin_seq", "end_seq", "backfill"} <= st.keys()
    assert (st["id"], st["begin_seq"], st["end_seq"]) == ("XX_S1", 3, 10)
    (s,) = st["stream"]
    assert {"id", "format", "subformat", "origin", "begin_time", "end_time"} <= s.keys()
    assert s["id"] == "_H_H_Z" and s["format"] == "2" and s["origin"] == "native"
    _, doc = v4.info_json("STATIONS", "sw", "org", streams, station_pattern="YY_*")
    assert json.loads(doc)["station"] == []
    sub, doc = v4.info_json("GAPS", "sw", "org")
    assert sub == "E" and json.loads(doc)["error"]["code"] == "ARGUMENTS"


# ---- the server's v4 handshake over a raw socket ------------------------------------------
async def _read_packets(reader: asyncio.StreamReader) -> list[tuple[v4.PacketHeader, bytes]]:
    out = []
    while True:
        head = await reader.readexactly(3)
        if head == b"END":
            return out
        head += await reader.readexactly(v4.HEADER_LEN - 3)
        h = v4.parse_header(head)
        body = await reader.readexactly(h.station_id_length + h.length)
        out.append((h, body))


def test_server_v4_handshake_raw(synth):
    async def main():
        async with SeedLinkServer(load_feed([synth]), WallClock(), port=0, speed=None) as srv:
            reader, writer = await asyncio.open_connection(*srv.address)

            async def ask(line: bytes) -> bytes:
                writer.write(line + b"\r\n")
                return await reader.readline()

            writer.write(b"HELLO\r\n")
            hello = [await reader.readline(), await reader.readline()]
            answers = [await ask(b"SLPROTO 4.0"), await ask(b"USERAGENT test/1.0")]
            caps = await ask(b"GETCAPABILITIES")
            answers += [await ask(b"TIME 2023,11,14,22,13,20"), await ask(b"STATION XX_S000?")]
            answers += [await ask(b"SELECT"), await ask(b"SELECT *_H_H_Z !*_H_H_N *_H_H_E:3")]
            answers += [await ask(b"DATA 13 2023-11-14T22:13:25Z 2023-11-14T22:13:30Z")]
            answers += [await ask(b"STATION XX_S0001"), await ask(b"DATA ALL")]
            writer.write(b"INFO STREAMS XX_S0002\r\n")
            h = v4.parse_header(await reader.readexactly(v4.HEADER_LEN))
            info = json.loads(await reader.readexactly(h.length))
            writer.write(b"ENDFETCH\r\n")
            packets = await _read_packets(reader)
            writer.close()
            await writer.wait_closed()
            return hello, answers, caps, (h, info), packets

    hello, answers, caps, (h, info), packets = arun(main())
    assert hello[0].startswith(b"SeedLink v4.0 (EEW archive server")
    assert b"SLPROTO:4.0" in hello[0] and b"SLPROTO:3.1" in hello[0]
    assert caps.split() == [c.encode() for c in v4.CAPABILITIES]
    ok = b"OK\r\n"
    assert answers[:2] == [ok, ok]
    assert answers[2].startswith(b"ERROR UNSUPPORTED")  # TIME is SeedLink 3 only
    assert answers[3] == ok and answers[4].startswith(b"ERROR ARGUMENTS")
    assert answers[5:] == [ok, ok, ok, ok]
    assert (h.format, h.subformat) == ("J", "I")
    assert [s["id"] for s in info["station"]] == ["XX_S0002"]
    assert [s["id"] for s in info["station"][0]["stream"]] == ["_H_H_E", "_H_H_N", "_H_H_Z"]
    by_station: dict[str, list[tuple[int, str, str]]] = {}
    for head, body in packets:
        sid = body[: head.station_id_length].decode()
        rec = pymseed.MS3Record.parse(body[head.station_id_length :], unpack_data=False)
        by_station.setdefault(sid, []).append((head.seq, head.format, rec.sourceid))
    # XX_S0001 belongs to the first STATION pattern (XX_S000?): its window and selectors
    assert sorted(by_station) == ["XX_S0000", "XX_S0001", "XX_S0002", "XX_S0003"]
    for _sid, items in by_station.items():
        seqs = [s for s, _, _ in items]
        assert seqs == sorted(seqs) and min(seqs) >= 13
        assert {f for _, f, src in items if src.endswith("_Z")} == {"2"}
        assert {f for _, f, src in items if src.endswith("_E")} == {"3"}
        assert not [src for _, _, src in items if src.endswith("_N")]
        # window 25-30 s after T0: 1-s records ending after 25 s and starting before 30 s
        assert len(items) == 2 * 5


# ---- our client in SeedLink 4 -------------------------------------------------------------
async def _collect(spec: ServerSpec, opts: ClientOptions):
    async with SeedLinkClient([spec], WallClock(), opts) as client:
        items = [r async for r in client.received()]
        return items, client.statistics()


def test_client_v4_same_packets_as_v3_and_miniseed3(synth, rjob_mseed):
    paths = [rjob_mseed, synth]

    async def main():
        async with SeedLinkServer(load_feed(paths), WallClock(), port=0, speed=None) as srv:
            spec = ServerSpec(*srv.address)
            out = {}
            for name, opts in {
                "3": dataclasses.replace(ALL_TIME, protocol="3"),
                "4": dataclasses.replace(ALL_TIME, protocol="4"),
                "auto": ALL_TIME,
                "mseed3": dataclasses.replace(ALL_TIME, mseed3=True),
            }.items():
                out[name] = await _collect(spec, opts)
            return out, srv.statistics()

    out, stats = arun(main())
    ref = list(iter_packets(index_archive(paths)))
    v3_items, v3_stats = out["3"]
    assert v3_stats.servers[0].protocol == "3.1"
    for name in ("4", "auto", "mseed3"):
        items, st = out[name]
        assert st.servers[0].protocol == "4.0"
        assert st.servers[0].duplicates == st.servers[0].malformed == 0
        assert [r.seq for r in items] == [r.seq for r in v3_items]
        assert len(items) == len(ref)
        for got, want in zip(items, ref, strict=True):
            assert got.packet.channel_id == want.channel_id
            assert got.packet.starttime_ns == want.starttime_ns
            np.testing.assert_array_equal(got.packet.data, want.data)
    assert stats.command_errors == 0


def test_client_falls_back_to_31_and_insists_on_4_when_asked(synth):
    async def main():
        feed = load_feed([synth])
        async with SeedLinkServer(feed, WallClock(), port=0, speed=None, protocols=("3.1",)) as srv:
            spec = ServerSpec(*srv.address)
            auto = await _collect(spec, ALL_TIME)
            opts = dataclasses.replace(ALL_TIME, protocol="4", backoff_initial_s=0.05)
            client = SeedLinkClient([spec], WallClock(), opts)
            await client.start()
            await asyncio.sleep(0.5)
            strict = client.statistics()
            await client.close()
            return auto, strict

    (items, stats), strict = arun(main())
    assert len(items) == 240 and stats.servers[0].protocol == "3.1"
    assert strict.packets == 0 and strict.servers[0].connect_failures >= 1


def test_client_v4_resumes_across_a_server_restart(synth):
    """Sequence numbers are 64-bit in v4: the resume asks ``DATA seq time``."""

    async def main():
        feed = load_feed([synth])
        opts = ClientOptions(future_s=None, backoff_initial_s=0.05, backoff_max_s=0.1)
        got = []
        srv = SeedLinkServer(feed, WallClock(), port=0, speed=20.0)
        host, port = await srv.start()
        async with SeedLinkClient([ServerSpec(host, port)], WallClock(), opts) as client:
            it = client.received()
            while len(got) < 100:
                got.append(await anext(it))
            await srv.close()
            srv = SeedLinkServer(load_feed([synth]), WallClock(), host=host, port=port, speed=None)
            await srv.start()
            while len(got) < 240:
                got.append(await anext(it))
            await asyncio.sleep(0.3)
            stats = client.statistics()
        await srv.close()
        return got, stats

    got, stats = arun(main())
    assert [r.seq for r in got] == list(range(1, 241))
    assert stats.servers[0].protocol == "4.0" and stats.servers[0].connects == 2


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made now."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_files(tmp_path) -> tuple[Path, Path]:
    return _self_signed(tmp_path)


def test_tls_server_and_client(synth, tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def main():
        feed = load_feed([synth])
        async with SeedLinkServer(
            feed, WallClock(), port=0, speed=None, ssl_context=server_ctx
        ) as srv:
            host, port = srv.address
            spec = ServerSpec.parse(f"tls://{host}:{port}", "XX_S0001:HHZ")
            opts = dataclasses.replace(ALL_TIME, ssl_context=client_ctx)
            items, stats = await _collect(spec, opts)
            client = SeedLinkClient([spec], WallClock(), opts)
            info = json.loads(await client.info("STATIONS", v4=True))
            # a client that does not trust the certificate gets no data
            bad = dataclasses.replace(opts, ssl_context=ssl.create_default_context())
            untrusted = SeedLinkClient([spec], WallClock(), bad)
            await untrusted.start()
            await asyncio.sleep(0.3)
            refused = untrusted.statistics()
            await untrusted.close()
            return items, stats, info, refused

    items, stats, info, refused = arun(main())
    assert spec_ok(items) and stats.servers[0].protocol == "4.0"
    assert [s["id"] for s in info["station"]] == [f"XX_S000{i}" for i in range(4)]
    assert refused.packets == 0 and refused.servers[0].connect_failures >= 1


def spec_ok(items) -> bool:
    return len(items) == 20 and {r.packet.channel_id for r in items} == {"XX.S0001..HHZ"}


def test_to_mseed3_keeps_samples_and_replay_reads_miniseed3(rjob_mseed, tmp_path):
    """``eew replay`` (the archive reader) reads a miniSEED 3 archive as its miniSEED 2 twin."""
    raw = rjob_mseed.read_bytes()
    v3 = b"".join(to_mseed3(raw[i : i + 512]) for i in range(0, len(raw), 512))
    path = tmp_path / "rjob.mseed3"
    path.write_bytes(v3)
    ref = list(iter_packets(index_archive([rjob_mseed])))
    got = list(iter_packets(index_archive([path])))
    assert len(got) == len(ref) > 0
    for a, b in zip(got, ref, strict=True):
        assert (a.channel_id, a.starttime_ns, a.sampling_rate_hz) == (
            b.channel_id,
            b.starttime_ns,
            b.sampling_rate_hz,
        )
        np.testing.assert_array_equal(a.data, b.data)
    # and eew serve serves it (repacked into 512-byte miniSEED 2 records for SeedLink)
    feed = load_feed([path])
    assert len(feed) >= len(ref) and feed.counters["repacked_records"] == len(feed)


def test_config_protocol_and_ca_file(tmp_path, tls_files):
    from eew.daemon.schema import SeedLinkConfig
    from eew.daemon.startup import ca_context
    from eew.errors import ConfigError

    SeedLinkConfig(protocol="3").check()
    with pytest.raises(ValueError, match="protocol"):
        SeedLinkConfig(protocol="5").check()
    assert ca_context(None) is None
    assert isinstance(ca_context(tls_files[0]), ssl.SSLContext)
    with pytest.raises(ConfigError, match="tls_ca_file"):
        ca_context(tmp_path / "missing.pem")
    spec = ServerSpec.parse("tls://example.org:18500", "XX_S1:HHZ")
    assert (spec.host, spec.port, spec.tls) == ("example.org", 18500, True)
    assert not ServerSpec.parse("example.org:18000").tls


def test_v4_garbage_server_resync_and_printable_logs(caplog):
    """A v4 server sending corrupt SE headers, an undecodable payload, random bytes, a
    truncated packet, a JSON error and an ``ERROR`` line between good packets: the good
    ones are delivered, the rest counted, every log line printable."""
    import logging
    import random

    rng = random.Random(3)
    good = synthetic_archive(1, 4, T0)  # XX.S0000..HHZ, 4 one-second records
    recs = [good[i * 512 : (i + 1) * 512] for i in range(4)]

    def pkt(seq: int, rec: bytes) -> bytes:
        return v4.format_packet("2", "D", seq, "XX_S0000", rec)

    stream = b"".join(
        [
            pkt(1, recs[0]),
            b"SE2D" + (2**31).to_bytes(4, "little") + bytes(9),  # implausible length
            bytes(rng.randrange(256) for _ in range(300)).replace(b"SE", b"se"),
            pkt(2, b"\x1b[2J" + bytes(rng.randrange(256) for _ in range(508))),  # not mseed
            pkt(3, recs[1]),
            v4.format_packet("J", "E", 0, "", b'{"error": {"code": "X\\u001b"}}'),
            b"ERROR LIMIT too many \x1b\x00 stations\r\n",
            pkt(4, recs[2]),
            pkt(5, recs[3])[:200],  # truncated: the connection closes after it
        ]
    )

    async def handle(reader, writer):
        try:
            await reader.read(64)  # HELLO
            writer.write(b"SeedLink v4.0 (garbage) :: SLPROTO:4.0\r\norg\r\n")
            for _ in range(4):  # SLPROTO, USERAGENT, STATION, DATA (lines end with CR)
                await reader.readuntil(b"\r")
                writer.write(b"OK\r\n")
            await reader.readuntil(b"\r")  # END
            writer.write(stream)
            await writer.drain()
            await asyncio.sleep(0.3)
        except (asyncio.CancelledError, ConnectionError):
            return
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        opts = ClientOptions(future_s=None, backoff_initial_s=5.0)
        spec = ServerSpec.parse(f"127.0.0.1:{port}", "XX_S0000")
        async with SeedLinkClient([spec], WallClock(), opts) as c:
            got = []
            it = c.received()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.5):
                    while True:
                        got.append(await anext(it))
            stats = c.statistics()
        server.close()
        await server.wait_closed()
        return got, stats

    caplog.set_level(logging.DEBUG, "eew")
    got, stats = arun(main())
    (s,) = stats.servers
    assert [r.seq for r in got] == [1, 3, 4] and s.protocol == "4.0"
    assert s.malformed >= 2 and s.error_answers >= 1
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("eew")]
    bad = [m for m in messages if not all(32 <= ord(ch) < 127 for ch in m)]
    assert not bad, bad[:3]


def test_serve_cli_tls_context(tls_files, tmp_path):
    from eew.cli.serve import tls_context
    from eew.errors import CLIError

    cert, key = tls_files
    assert tls_context(None, None) is None
    assert isinstance(tls_context(str(cert), str(key)), ssl.SSLContext)
    with pytest.raises(CLIError, match="--tls-key goes with --tls-cert"):
        tls_context(None, str(key))
    with pytest.raises(CLIError, match="cannot load"):
        tls_context(str(tmp_path / "missing.pem"), None)
