"""obspy's SeedLink clients (an independent implementation) against our archive server.

obspy 1.5.1 pitfalls worked around here (shared/reference/seedlink.md §6): a
timeout is always passed (``timeout=None`` breaks connect), a selector is
always given, and the blocking clients run in a worker thread while our
server runs in the event loop.
"""

from __future__ import annotations

import asyncio

import numpy as np
import obspy
from obspy.clients.seedlink.basic_client import Client
from obspy.clients.seedlink.slclient import SLClient
from obspy.clients.seedlink.slpacket import SLPacket

from eew.archive_server.feed import load_feed
from eew.archive_server.records import synthetic_archive
from eew.archive_server.server import SeedLinkServer
from eew.model.clock import WallClock

T0 = 1_700_000_000_000_000_000


def arun(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def with_server(paths, work, **kw):
    """Run blocking ``work(host, port)`` in a thread against a running server."""
    kw.setdefault("speed", None)
    async with SeedLinkServer(load_feed(paths), WallClock(), port=0, **kw) as srv:
        result = await asyncio.to_thread(work, *srv.address)
        return result, srv.statistics()


def test_basic_client_get_waveforms_and_info(rjob_mseed):
    ref = obspy.read(str(rjob_mseed))
    t1, t2 = ref[0].stats.starttime, ref[0].stats.endtime

    def work(host, port):
        c = Client(host, port, timeout=5)
        info = c.get_info(level="channel")
        exact = c.get_waveforms("BW", "RJOB", "", "EHZ", t1, t2)
        wild = c.get_waveforms("BW", "RJOB", "", "EH?", t1 + 5, t1 + 10)
        star = c.get_waveforms("*", "*", "*", "*", t1, t2)
        return info, exact, wild, star

    (info, exact, wild, star), stats = arun(with_server([rjob_mseed], work))
    assert info == [("BW", "RJOB", "", c) for c in ("EHE", "EHN", "EHZ")]
    assert len(exact) == 1
    np.testing.assert_array_equal(exact[0].data, ref.select(channel="EHZ")[0].data)
    assert sorted(tr.stats.channel for tr in wild) == ["EHE", "EHN", "EHZ"]
    assert all(tr.stats.starttime >= t1 + 5 and tr.stats.endtime <= t1 + 10 for tr in wild)
    star.merge()
    for tr in star:
        np.testing.assert_array_equal(tr.data, ref.select(id=tr.id)[0].data)
    assert stats.command_errors == 0


def test_slclient_multiselect_window(tmp_path):
    path = tmp_path / "s.mseed"
    path.write_bytes(synthetic_archive(9, 10, T0))

    def work(host, port):
        cl = SLClient(timeout=10)
        cl.slconn.set_sl_address(f"{host}:{port}")
        cl.multiselect = "XX_S0000:HHZ HHN,XX_S0002:??E"
        cl.begin_time = obspy.UTCDateTime(ns=T0 + 2 * 10**9)
        cl.end_time = obspy.UTCDateTime(ns=T0 + 5 * 10**9)
        cl.initialize()
        got = []

        def handler(count, pkt):
            if pkt is None or pkt in (SLPacket.SLNOPACKET, SLPacket.SLERROR):
                return False
            if pkt.get_type() in (SLPacket.TYPE_SLINF, SLPacket.TYPE_SLINFT):
                return False
            got.append((pkt.get_sequence_number(), pkt.get_trace().id))
            return False

        cl.run(packet_handler=handler)  # returns by itself at the server's END
        return got

    got, _ = arun(with_server([path], work))
    ids = sorted({i for _, i in got})
    assert ids == ["XX.S0000..HHN", "XX.S0000..HHZ", "XX.S0002..HHE"]
    assert len(got) == 3 * 3  # records starting at 2, 3 and 4 s overlap [2 s, 5 s)
    assert [s for s, _ in got] == sorted(s for s, _ in got)


def test_slclient_realtime_stream(tmp_path):
    """Real-time streaming at 20x: obspy receives packets as the server releases them."""
    path = tmp_path / "s.mseed"
    path.write_bytes(synthetic_archive(3, 40, T0))

    def work(host, port):
        cl = SLClient(timeout=15)
        cl.slconn.set_sl_address(f"{host}:{port}")
        cl.multiselect = "XX_S0000:HH?"
        cl.slconn.netto = 5
        cl.initialize()
        seqs = []

        def handler(count, pkt):
            if pkt is None or pkt in (SLPacket.SLNOPACKET, SLPacket.SLERROR):
                return False
            if pkt.get_type() in (SLPacket.TYPE_SLINF, SLPacket.TYPE_SLINFT):
                return False
            seqs.append(pkt.get_sequence_number())
            return len(seqs) >= 30  # True ends run()

        cl.run(packet_handler=handler)
        return seqs

    seqs, stats = arun(with_server([path], work, speed=20.0))
    assert len(seqs) == 30
    assert seqs == list(range(seqs[0], seqs[0] + 30))  # plain DATA: new packets, none lost
    assert stats.packets_sent >= 30
