"""An independent client against ``eew serve``: EarthScope's ``seedlink-client`` (PyPI).

``seedlink-client`` 0.2.0 speaks SeedLink 3 and 4 (it promotes to 4.0 whenever HELLO
offers it, as libslink does) and decodes miniSEED through pymseed. The blocking client
runs in a worker thread while our server runs in the event loop, on a random loopback
port; every connection is closed by the end of each test. obspy's 3.1 client is tested
in ``test_seedlink_obspy.py``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import numpy as np
import pymseed
import pytest

from eew.archive_server.feed import ArchiveFeed, load_feed
from eew.archive_server.records import synthetic_archive
from eew.archive_server.server import SeedLinkServer
from eew.model.clock import WallClock

slc = pytest.importorskip("seedlink_client")

T0 = 1_700_000_000_000_000_000
WINDOW = ("2023-11-14T22:13:20Z", "2023-11-14T22:13:40Z")  # the whole synthetic archive
V3, V4 = slc.Protocol.V3, slc.Protocol.V4


def arun(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def synth(tmp_path) -> Path:
    """12 channels (4 stations XX.S0000..S0003, HH[ZNE]) x 20 one-second records."""
    path = tmp_path / "synth.mseed"
    path.write_bytes(synthetic_archive(12, 20, T0))
    return path


async def with_server(paths, work, **kw):
    """Run blocking ``work(host, port, feed)`` in a thread against a running server."""
    kw.setdefault("speed", None)
    feed = load_feed(paths)
    async with SeedLinkServer(feed, WallClock(), port=0, **kw) as srv:
        result = await asyncio.to_thread(work, *srv.address, feed)
        return result, srv.statistics()


def packets(sl) -> list[tuple[str, int, str, bytes]]:
    return [(p.station_id, p.seqnum, p.payload_format, p.payload) for p in sl.collect()]


def matching(feed: ArchiveFeed, stations: set[str], channels: set[str]) -> list[int]:
    """Sequence numbers of the feed's records of these stations and channels."""
    out = []
    for seq in range(1, len(feed) + 1):
        net, sta, _loc, cha = feed.codes[feed.channel[seq - 1]]
        if f"{net}_{sta}" in stations and cha in channels:
            out.append(seq)
    return out


@pytest.mark.parametrize("protocol", [V3, V4])
def test_multistation_window_identical_records(synth, protocol):
    def work(host, port, feed):
        with slc.SeedLink(host, port, protocol=protocol, timeout=10) as sl:
            sl.set_timewindow(*WINDOW)
            sl.add_stream("XX_S0001", "HHZ HHN")
            sl.add_stream("XX_S0002", "HH?")
            got = packets(sl)
            return got, sl.protocol

    (got, proto), stats = arun(with_server([synth], work))
    assert proto is protocol
    feed = load_feed([synth])
    want = sorted(
        matching(feed, {"XX_S0001"}, {"HHZ", "HHN"})
        + matching(feed, {"XX_S0002"}, {"HHZ", "HHN", "HHE"})
    )
    assert sorted(s for _, s, _, _ in got) == want and len(got) == 5 * 20
    for sid, seq, fmt, payload in got:
        assert fmt == "2" and payload == feed.record(seq)
        net, sta = feed.codes[feed.channel[seq - 1]][:2]
        assert sid == f"{net}_{sta}"
    assert stats.command_errors == 0


def test_v3_unistation_mode(synth):
    """No STATION: SELECT is answered, TIME is not, and the data follow at once."""

    def work(host, port, feed):
        with slc.SeedLink(host, port, protocol=V3, timeout=10) as sl:
            sl.set_timewindow(*WINDOW)
            sl.set_all_stations("HHZ")
            return packets(sl)

    got, stats = arun(with_server([synth], work))
    feed = load_feed([synth])
    stations = {f"XX_S000{i}" for i in range(4)}
    assert [s for _, s, _, _ in got] == matching(feed, stations, {"HHZ"})
    assert stats.command_errors == 0


def test_v4_all_stations_wildcards_and_miniseed3(synth):
    def work(host, port, feed):
        out = []
        with slc.SeedLink(host, port, protocol=V4, timeout=10) as sl:
            sl.set_timewindow(*WINDOW)
            sl.set_all_stations(["*_H_H_Z:3", "*_H_H_E"])
            for p in sl.collect():
                assert p.record().sourceid.startswith("FDSN:XX_S000")
                rec = pymseed.MS3Record.parse(p.payload, unpack_data=True)
                out.append((p.station_id, p.seqnum, p.payload_format, rec.np_datasamples.copy()))
        with slc.SeedLink(host, port, protocol=V4, timeout=10) as sl:
            sl.set_timewindow(*WINDOW)
            sl.add_stream("XX_S000?", "!*_H_H_Z")
            wild = [(p.station_id, p.seqnum) for p in sl.collect()]
        return out, wild

    (got, wild), stats = arun(with_server([synth], work))
    feed = load_feed([synth])
    stations = {f"XX_S000{i}" for i in range(4)}
    assert [s for _, s, _, _ in got] == matching(feed, stations, {"HHZ", "HHE"})
    for _sid, seq, fmt, samples in got:
        cha = feed.codes[feed.channel[seq - 1]][3]
        assert fmt == ("3" if cha == "HHZ" else "2")
        ref = pymseed.MS3Record.parse(feed.record(seq), unpack_data=True).np_datasamples
        np.testing.assert_array_equal(samples, ref)
    assert [s for _, s in wild] == matching(feed, stations, {"HHN", "HHE"})
    assert stats.command_errors == 0


@pytest.mark.parametrize("protocol", [V3, V4])
def test_resume_by_sequence_number_and_dialup(synth, protocol):
    """Real-time stream from the ring start, stop, resume from the last sequence number."""

    def work(host, port, feed):
        first = []
        with slc.SeedLink(host, port, protocol=protocol, timeout=10, keepalive=1) as sl:
            sl.add_stream("XX_S0003", "HHZ", seqnum=0)
            for p in sl.collect():
                first.append(p.seqnum)
                if len(first) == 7:
                    break
        with slc.SeedLink(host, port, protocol=protocol, timeout=10, dialup=True) as sl:
            sl.add_stream("XX_S0003", "HHZ", seqnum=first[-1])
            rest = [p.seqnum for p in sl.collect()]  # FETCH: ends at the buffer end
        return first, rest

    (first, rest), stats = arun(with_server([synth], work))
    want = matching(load_feed([synth]), {"XX_S0003"}, {"HHZ"})
    assert first + rest == want  # nothing lost, nothing twice
    assert stats.command_errors == 0


def test_info_levels_v3_and_v4(synth):
    def work(host, port, feed):
        out = {}
        with slc.SeedLink(host, port, protocol=V4, timeout=10) as sl:
            for level in ("ID", "FORMATS", "CAPABILITIES", "STATIONS", "STREAMS", "CONNECTIONS"):
                out[("4", level)] = sl.info_dict(level)
            out[("4", "GAPS")] = json.loads(sl.info("GAPS"))
        with slc.SeedLink(host, port, protocol=V3, timeout=10) as sl:
            for level in ("ID", "CAPABILITIES", "STATIONS", "STREAMS", "CONNECTIONS"):
                out[("3", level)] = sl.info_dict(level)
        return out

    out, stats = arun(with_server([synth], work))
    assert out[("4", "ID")]["software"].startswith("SeedLink v4.0 (EEW archive server")
    assert {"2", "3", "J"} <= out[("4", "FORMATS")]["format"].keys()
    assert "SLPROTO:4.0" in out[("4", "CAPABILITIES")]["capability"]
    assert [s["id"] for s in out[("4", "STATIONS")]["station"]] == [f"XX_S000{i}" for i in range(4)]
    streams = out[("4", "STREAMS")]["station"][0]["stream"]
    assert [s["id"] for s in streams] == ["_H_H_E", "_H_H_N", "_H_H_Z"]
    # XX_S0000's channels come first of 12 in each second: its last packet is 229..231
    st = out[("4", "STREAMS")]["station"][0]
    assert (st["begin_seq"], st["end_seq"]) == (1, 232)  # end_seq: the next to come
    assert out[("4", "CONNECTIONS")]["connections"]["client"][0]["type"] == "SeedLink"
    assert out[("4", "GAPS")]["error"]["code"] == "ARGUMENTS"
    v3 = out[("3", "STATIONS")]["seedlink"]
    assert [s["name"] for s in v3["station"]] == [f"S000{i}" for i in range(4)]
    caps = {c["name"] for c in out[("3", "CAPABILITIES")]["seedlink"]["capability"]}
    assert {"dialup", "multistation", "window-extraction", "info:streams"} <= caps
    assert len(out[("3", "STREAMS")]["seedlink"]["station"][0]["stream"]) == 3
    assert stats.info_requests == 12


def test_tls_v4(synth, tmp_path):
    from tests.test_seedlink_v4 import _self_signed

    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    def work(host, port, feed):
        with slc.SeedLink(host, port, tls=True, tls_noverify=True, timeout=10) as sl:
            sl.set_timewindow(*WINDOW)
            sl.add_stream("XX_S0000", "HHZ")
            return packets(sl), sl.protocol

    (got, proto), _ = arun(with_server([synth], work, ssl_context=ctx))
    assert proto is V4 and len(got) == 20
