"""``eew serve --record-seconds``: short records, valid miniSEED 2, samples unchanged."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import numpy as np
import pytest

from eew.acquisition.mseed import decode_record, parse_header
from eew.archive_server.feed import load_feed
from eew.archive_server.repack import load_feed_short, split_at_boundaries
from eew.model.packet import Packet

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "waveforms_samples" / "local_m4.5").glob("AW.ALAR.*.mseed"))
NS = 1_000_000_000


def _packets(feed) -> dict[str, list[Packet]]:
    out: dict[str, list[Packet]] = {}
    for k in range(len(feed)):
        rec = feed.records[k].tobytes()
        pkt = decode_record(rec, parse_header(rec, 0))
        out.setdefault(pkt.channel_id, []).append(pkt)
    return out


def test_split_at_boundaries_cuts_on_multiples_of_the_record_length():
    # 100 Hz from 0.005 s: the sample at or after each whole second starts a record
    assert split_at_boundaries(5_000_000, 250, 100.0, NS) == [(0, 100), (100, 200), (200, 250)]
    assert split_at_boundaries(0, 250, 100.0, NS) == [(0, 100), (100, 200), (200, 250)]
    assert split_at_boundaries(NS // 2, 100, 100.0, NS) == [(0, 50), (50, 100)]
    assert split_at_boundaries(0, 40, 20.0, NS // 2) == [(0, 10), (10, 20), (20, 30), (30, 40)]


@pytest.mark.parametrize("record_s", [1.0, 0.5])
def test_short_records_are_valid_steim2_and_sample_exact(record_s):
    original = _packets(load_feed(FILES))
    feed = load_feed_short(FILES, record_s)
    short = _packets(feed)
    assert short.keys() == original.keys()
    assert np.all(np.diff(feed.end_ns) >= 0)  # arrival order, as replay reads it
    for cid, pkts in short.items():
        src = original[cid]
        fs = pkts[0].sampling_rate_hz
        assert np.array_equal(
            np.concatenate([p.data for p in pkts]), np.concatenate([p.data for p in src])
        )
        assert pkts[0].starttime_ns == src[0].starttime_ns
        assert pkts[-1].endtime_ns == src[-1].endtime_ns
        for a, b in itertools.pairwise(pkts):
            assert b.starttime_ns == a.endtime_ns  # continuous, sample-exact
        for p in pkts:
            assert p.endtime_ns - p.starttime_ns <= record_s * NS + NS / fs / 2
            # every record but the first starts at a multiple of the record length
        for p in pkts[1:]:
            assert (p.starttime_ns % round(record_s * NS)) < NS / fs
    for k in range(len(feed)):
        rec = feed.records[k].tobytes()
        assert len(rec) == 512 and rec[6:7] == b"D"
        (encoding,) = struct.unpack_from(">B", rec, 52)  # blockette 1000 at byte 48
        assert struct.unpack_from(">H", rec, 48)[0] == 1000 and encoding == 11  # Steim2
