"""SeedLink 3.1 wire format: frames, commands, selectors, times, INFO, link parsing (no sockets)."""

from __future__ import annotations

import io

import numpy as np
import obspy
import pytest

from eew.acquisition.mseed import decode_record, parse_header
from eew.acquisition.seedlink import protocol as sp
from eew.acquisition.seedlink.link import Link
from eew.archive_server.records import shift_start_time, synthetic_archive, text_records

T0 = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def rjob_records(rjob_mseed) -> list[bytes]:
    b = rjob_mseed.read_bytes()
    return [b[i : i + 512] for i in range(0, len(b), 512)]


# ---- frames -------------------------------------------------------------------------------
def test_data_frame_roundtrip(rjob_records):
    frame = sp.format_data_frame(0x1A2B3C, rjob_records[0])
    assert frame[:8] == b"SL1A2B3C" and len(frame) == 520
    assert sp.parse_frame_header(frame) == sp.FrameHeader(False, 0x1A2B3C)
    # sequence numbers are sent modulo 2**24
    assert sp.format_data_frame(sp.SEQ_MODULUS + 5, rjob_records[0])[:8] == b"SL000005"
    with pytest.raises(sp.ProtocolError):
        sp.format_data_frame(1, rjob_records[0][:500])


def test_info_frames_continuation_flag():
    recs = text_records(b"x" * 1000)
    frames = sp.format_info_frames(recs)
    assert [f[:8] for f in frames] == [b"SLINFO *", b"SLINFO *", b"SLINFO  "]
    assert [sp.parse_frame_header(f).final for f in frames] == [False, False, True]
    assert sp.parse_frame_header(frames[0]).info


@pytest.mark.parametrize("head", [b"SX000001", b"SL00001G", b"XXXXXXXX", b"SL0"])
def test_bad_frame_headers(head):
    with pytest.raises(sp.ProtocolError):
        sp.parse_frame_header(head)


def test_find_frame_resyncs_after_garbage(rjob_records):
    frame = sp.format_data_frame(7, rjob_records[1])
    buf = b"garbage SL but not a frame" + frame
    assert sp.find_frame(buf, 0) == 26
    assert sp.find_frame(buf, 27) == -1
    assert sp.plausible_frame(buf, 26) and not sp.plausible_frame(buf, 8)


# ---- sequence numbers ---------------------------------------------------------------------
def test_sequence_numbers():
    assert sp.format_sequence(26) == "00001A"
    assert sp.parse_sequence("00001A") == 26
    assert sp.parse_sequence("0x1b") == 27  # what obspy sends on resume
    with pytest.raises(sp.ProtocolError):
        sp.parse_sequence("12G")
    assert sp.unwrap_sequence(5, 100) == 5
    assert sp.unwrap_sequence(5, sp.SEQ_MODULUS + 10) == sp.SEQ_MODULUS + 5
    assert sp.unwrap_sequence(20, sp.SEQ_MODULUS + 10) == 20
    assert sp.unwrap_sequence(200, 100) < 1
    assert sp.seq_after(2, 1) and not sp.seq_after(1, 2) and not sp.seq_after(3, 3)
    assert sp.seq_after(0, sp.SEQ_MODULUS - 1)  # wrap-around
    assert sp.seq_next(sp.SEQ_MODULUS - 1) == 0


# ---- commands and selectors (bytes as obspy 1.5.1 and slinktool send them) ---------------
@pytest.mark.parametrize(
    ("line", "verb", "args"),
    [
        (b"HELLO\r", "HELLO", ()),
        (b"STATION  RJOB BW\r", "STATION", ("RJOB", "BW")),
        (b"SELECT EH?\r", "SELECT", ("EH?",)),
        (
            b"TIME 2009,8,24,0,20,0 2009,8,24,0,20,20\r",
            "TIME",
            ("2009,8,24,0,20,0", "2009,8,24,0,20,20"),
        ),
        (b"DATA 0x1a\r", "DATA", ("0x1a",)),
        (b"fetch 00001A 2009,8,24,0,20,0\r\n", "FETCH", ("00001A", "2009,8,24,0,20,0")),
        (b"INFO STREAMS\r", "INFO", ("STREAMS",)),
        (b"END\r", "END", ()),
    ],
)
def test_parse_command(line, verb, args):
    assert sp.parse_command(line) == sp.Command(verb, args)


def test_command_errors_and_format():
    with pytest.raises(sp.ProtocolError):
        sp.parse_command(b"  \r")
    with pytest.raises(sp.ProtocolError):
        sp.parse_command(b"HELLO \xff\r")
    assert sp.format_command("STATION", "RJOB", "BW") == b"STATION RJOB BW\r"


def test_split_lines_keeps_partial_line():
    buf = bytearray(b"HELLO\rSTATION RJOB BW\r\n\rSELE")
    assert sp.split_lines(buf) == [b"HELLO", b"STATION RJOB BW"]
    assert buf == b"SELE"


@pytest.mark.parametrize(
    ("sel", "stream", "ok"),
    [
        ("00BHZ", ("00", "BHZ"), True),
        ("00BHZ", ("", "BHZ"), False),
        ("BHZ", ("10", "BHZ"), True),
        ("10BH?", ("10", "BHN"), True),
        ("??Z", ("", "EHZ"), True),
        ("??Z", ("", "EHE"), False),
        ("BHZ.D", ("00", "BHZ"), True),
        ("??BHZ", ("", "BHZ"), True),  # ? matches the blank location
        ("--BHZ", ("", "BHZ"), True),
    ],
)
def test_selector_matches(sel, stream, ok):
    assert sp.parse_selector(sel).matches(*stream) is ok


def test_selector_negation_and_errors():
    sels = [sp.parse_selector("EH?"), sp.parse_selector("!EHE")]
    assert sp.selection_matches(sels, "", "EHZ")
    assert not sp.selection_matches(sels, "", "EHE")
    assert not sp.selection_matches(sels, "", "BHZ")
    assert sp.selection_matches([sp.parse_selector("!EHE")], "", "BHZ")
    assert sp.selection_matches([], "", "ANY")
    for bad in ("EH", "EHZZ", "BHZ.DD", "!"):
        with pytest.raises(sp.ProtocolError):
            sp.parse_selector(bad)


def test_station_patterns_and_stream_list():
    assert sp.station_matches("BW", "R*", "BW", "RJOB")
    assert sp.station_matches("*", "RJO?", "BW", "RJOB")
    assert not sp.station_matches("GR", "*", "BW", "RJOB")
    assert sp.parse_stream_list("IU_ANMO:00BHZ BHN,BW_RJOB") == [
        ("IU", "ANMO", ("00BHZ", "BHN")),
        ("BW", "RJOB", ()),
    ]
    with pytest.raises(sp.ProtocolError):
        sp.parse_stream_list("RJOB")


# ---- times --------------------------------------------------------------------------------
def test_seedlink_times():
    t = obspy.UTCDateTime(2008, 10, 1, 12, 30, 35.45)
    assert sp.format_seedlink_time(t.ns) == t.format_seedlink() == "2008,10,1,12,30,35"
    assert (
        sp.parse_seedlink_time("2008,10,1,12,30,35")
        == obspy.UTCDateTime(2008, 10, 1, 12, 30, 35).ns
    )
    assert sp.parse_seedlink_time("2008,10,1,12,30,35.5") == t.ns + 50_000_000
    assert sp.format_info_time(t.ns) == "2008/10/01 12:30:35.4500"
    for bad in ("2008,10,1", "2008,13,1,0,0,0", "a,b,c,d,e,f"):
        with pytest.raises(sp.ProtocolError):
            sp.parse_seedlink_time(bad)


# ---- INFO ---------------------------------------------------------------------------------
def test_info_xml_and_text_records():
    streams = [
        sp.StreamInfo("BW", "RJOB", "", "EHZ", T0, T0 + 10**9, 1, 9),
        sp.StreamInfo("BW", "RJOB", "", "EHE", T0, T0 + 10**9, 2, 8),
        sp.StreamInfo("KZ", "ALM01", "00", "HHZ", T0, T0 + 10**9, 3, 3),
    ]
    xml = sp.info_xml("STREAMS", "SeedLink v3.1 (test)", "org", T0, streams)
    assert sp.parse_info_stations(xml) == [("BW", "RJOB"), ("KZ", "ALM01")]
    assert sorted(sp.parse_info_streams(xml)) == [
        ("BW", "RJOB", "", "EHE"),
        ("BW", "RJOB", "", "EHZ"),
        ("KZ", "ALM01", "00", "HHZ"),
    ]
    assert 'begin_seq="000001"' in xml and 'end_seq="000009"' in xml
    caps = sp.info_xml("CAPABILITIES", "s", "o", T0)
    assert 'name="dialup"' in caps and 'name="info:streams"' in caps
    # carried as ASCII miniSEED records that obspy (libmseed) reads back
    recs = text_records(xml.encode(), time_ns=T0)
    text = b"".join(obspy.read(io.BytesIO(r), format="MSEED")[0].data.tobytes() for r in recs)
    assert text.decode() == xml


def test_shift_start_time(rjob_records):
    rec = rjob_records[2]
    shifted = shift_start_time(rec, 3600 * 10**9 + 100_000)
    a, b = parse_header(rec, 0), parse_header(shifted, 0)
    assert b.starttime_ns - a.starttime_ns == 3600 * 10**9 + 100_000
    assert shifted[48:] == rec[48:]
    with pytest.raises(ValueError):
        shift_start_time(rec, 1)


def test_synthetic_archive_records():
    buf = synthetic_archive(6, 3, T0)
    assert len(buf) == 6 * 3 * 512
    u8 = np.frombuffer(buf, np.uint8)
    ids = []
    for k in range(18):
        h = parse_header(buf, 512 * k)
        p = decode_record(buf, h, u8)
        assert p.n_samples == 100 and p.sampling_rate_hz == 100.0
        assert h.starttime_ns == T0 + (k // 6) * 10**9
        ids.append(h.channel_id)
    assert ids[:4] == ["XX.S0000..HHZ", "XX.S0000..HHN", "XX.S0000..HHE", "XX.S0001..HHZ"]


# ---- the client's frame parser on crafted byte streams ------------------------------------
class _Owner:
    def __init__(self):
        self.data, self.info, self.events = [], [], []

    def on_data_frame(self, seq, record):
        try:
            h = parse_header(record, 0)
            decode_record(record, h, np.frombuffer(record, np.uint8))
        except Exception:  # noqa: BLE001 - the test owner only reports failure
            return False
        self.data.append(seq)
        return True

    def on_info_frame(self, record, final):
        self.info.append(final)

    def on_end(self):
        self.events.append("end")

    def on_error_line(self):
        self.events.append("error")

    def on_garbage(self, n, truncated):
        self.events.append("truncated" if truncated else "garbage")


def _parse_in_pieces(stream: bytes, piece: int) -> _Owner:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        owner = _Owner()
        link = Link(owner, loop)
        link.streaming = True
        for i in range(0, len(stream), piece):
            link.data_received(stream[i : i + piece])
        return owner
    finally:
        loop.close()


@pytest.mark.parametrize("piece", [1, 7, 520, 100_000])
def test_link_parser_handles_bad_frames(rjob_records, piece):
    f = [sp.format_data_frame(i + 1, r) for i, r in enumerate(rjob_records[:6])]
    corrupt = bytearray(f[3])
    corrupt[8 + 64 : 8 + 200] = b"\xff" * 136  # Steim frames destroyed, framing intact
    stream = (
        f[0]
        + f[1][:300]  # truncated: the next frame starts inside it
        + f[2]
        + b"\x00junk\x00" * 10  # garbage between frames
        + bytes(corrupt)
        + b"ERROR\r\n"
        + sp.format_info_frames(text_records(b"<x/>"))[0]
        + f[4]
        + b"END"
    )
    owner = _parse_in_pieces(stream, piece)
    assert owner.data == [1, 3, 5]
    assert owner.info == [True]
    assert owner.events.count("truncated") == 1
    assert owner.events.count("error") == 1 and owner.events[-1] == "end"
    assert "garbage" in owner.events
