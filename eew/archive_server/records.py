"""miniSEED 2 record surgery for the SeedLink server and its tests.

* :func:`text_records`: the 512-byte ASCII records that carry INFO answers;
* :func:`shift_start_time`: rewrite the start time in a fixed header (``--now``);
* :func:`repack_512`: re-encode a packet as 512-byte miniSEED 2 records (libmseed);
* :func:`to_mseed3`: one miniSEED 2 record as one miniSEED 3 record (SeedLink 4 ``:3``);
* :func:`synthetic_archive`: many channels of 1-second, 100 Hz Steim2 records, fast.

References
----------
IRIS (2012). SEED Reference Manual, version 2.4, chapter 8 (fixed section of data
header, BTIME) and blockette 1000.
"""

from __future__ import annotations

import datetime as _dt
import struct

import numpy as np
import pymseed

from eew.acquisition.seedlink.protocol import RECORD_LEN
from eew.errors import DataError
from eew.model.packet import Packet
from eew.model.timeutil import EPOCH, NS_PER_S

_TEXT_DATA_OFFSET = 56
#: bytes of text one INFO record carries
TEXT_PAYLOAD = RECORD_LEN - _TEXT_DATA_OFFSET
_TICK_NS = 100_000  # BTIME resolution: 0.1 ms


def _btime(t_ns: int) -> tuple[int, int, int, int, int, int]:
    """(year, day of year, hour, minute, second, 0.1 ms ticks) of ``t_ns``."""
    t = EPOCH + _dt.timedelta(microseconds=t_ns // 1000)
    ticks = (t_ns % NS_PER_S) // _TICK_NS
    return t.year, t.timetuple().tm_yday, t.hour, t.minute, t.second, ticks


def text_records(
    text: bytes,
    *,
    station: str = "INFO",
    network: str = "SL",
    channel: str = "INF",
    time_ns: int = 0,
) -> list[bytes]:
    """Cut ``text`` into 512-byte ASCII miniSEED 2 records (at least one).

    INFO answers use channel ``INF``; ``ERR`` marks an INFO error (unsupported level).
    """
    chunks = [text[i : i + TEXT_PAYLOAD] for i in range(0, len(text), TEXT_PAYLOAD)] or [b""]
    year, doy, hh, mm, ss, ticks = _btime(time_ns)
    out = []
    for i, chunk in enumerate(chunks):
        head = struct.pack(
            ">6scc5s2s3s2sHHBBBBHHhhBBBBiHH",
            b"%06d" % (i + 1),
            b"D",
            b" ",
            station.encode("ascii")[:5].ljust(5),
            b"  ",
            channel.encode("ascii")[:3].ljust(3),
            network.encode("ascii")[:2].ljust(2),
            year,
            doy,
            hh,
            mm,
            ss,
            0,
            ticks,
            len(chunk),
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            _TEXT_DATA_OFFSET,
            48,
        )
        b1000 = struct.pack(">HHBBBB", 1000, 0, 0, 1, 9, 0)
        rec = head + b1000 + chunk
        out.append(rec + b"\x00" * (RECORD_LEN - len(rec)))
    return out


def header_byte_order(record: bytes | bytearray | memoryview) -> str:
    """``">"`` or ``"<"``: the byte order of a miniSEED 2 fixed header.

    Raises
    ------
    DataError
        If the start time is implausible in both byte orders.
    """
    for order in (">", "<"):
        year, doy = struct.unpack_from(order + "HH", record, 20)
        if 1900 <= year <= 2100 and 1 <= doy <= 366:
            return order
    raise DataError("implausible record start time")


def shift_start_time(record: bytes | bytearray | memoryview, shift_ns: int) -> bytes:
    """Return a copy of ``record`` whose start time is ``shift_ns`` later.

    ``shift_ns`` must be a multiple of 0.1 ms (the BTIME resolution), so the
    microsecond offset of blockette 1001 stays valid.

    Raises
    ------
    ValueError
        If ``shift_ns`` is not a multiple of 100 000 ns.
    DataError
        If the header start time is implausible.
    """
    if shift_ns % _TICK_NS:
        raise ValueError("time shift must be a multiple of 0.1 ms")
    order = header_byte_order(record)
    year, doy, hh, mm, ss, _u, ticks = struct.unpack_from(order + "HHBBBBH", record, 20)
    day0 = _dt.datetime(year, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(days=doy - 1)
    secs = (day0 - EPOCH).days * 86400 + hh * 3600 + mm * 60 + min(ss, 59)
    t_ns = secs * NS_PER_S + ticks * _TICK_NS + shift_ns
    out = bytearray(record)
    struct.pack_into(order + "HHBBBBH", out, 20, *_btime(t_ns)[:5], 0, _btime(t_ns)[5])
    return bytes(out)


def repack_512(packet: Packet) -> list[bytes]:
    """Encode a packet as 512-byte miniSEED 2 records (Steim2 for integers).

    Raises
    ------
    DataError
        If libmseed cannot encode the samples.
    """
    net, sta, loc, cha = packet.channel_id.split(".")
    msr = pymseed.MS3Record()
    msr.sourceid = pymseed.nslc2sourceid(net, sta, loc, cha)
    msr.formatversion = 2
    msr.reclen = RECORD_LEN
    msr.starttime = packet.starttime_ns
    msr.samprate = packet.sampling_rate_hz
    if packet.data.dtype.kind in "iu":
        data, kind = np.ascontiguousarray(packet.data, np.int32), "i"
        msr.encoding = pymseed.DataEncoding.STEIM2
    else:
        data, kind = np.ascontiguousarray(packet.data, np.float64), "d"
        msr.encoding = pymseed.DataEncoding.FLOAT64
    try:
        return [bytes(r) for r in msr.generate(data, kind)]
    except pymseed.MiniSEEDError as exc:
        raise DataError(f"{packet.channel_id}: cannot repack: {exc}") from exc


def synthetic_archive(
    n_channels: int,
    n_seconds: int,
    start_ns: int,
    *,
    rate_hz: float = 100.0,
    network: str = "XX",
    seed: int = 0,
) -> bytes:
    """``n_channels`` channels of ``n_seconds`` one-second Steim2 records, 512 bytes each.

    Channels are ``XX.Snnnn..HH{Z,N,E}`` (three per station); records are in
    arrival order (second by second, channels in name order). All channels
    carry the same random-walk samples, encoded once and cloned by patching the
    station and channel codes, so millions of records take seconds.
    """
    n_per = round(rate_hz)
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.integers(-200, 201, n_seconds * n_per)).astype(np.int32)
    tmpl = np.zeros((n_seconds, RECORD_LEN), np.uint8)
    for s in range(n_seconds):
        pkt = Packet(
            f"{network}.TMPL..HHZ",
            start_ns + s * NS_PER_S,
            rate_hz,
            walk[s * n_per : (s + 1) * n_per],
        )
        recs = repack_512(pkt)
        if len(recs) != 1:
            raise DataError("one second of samples does not fit one 512-byte record")
        tmpl[s] = np.frombuffer(recs[0], np.uint8)
    codes = np.zeros((n_channels, 12), np.uint8)
    for c in range(n_channels):
        sta = f"S{c // 3:04d}"[:5].ljust(5)
        cha = "HH" + "ZNE"[c % 3]
        codes[c] = np.frombuffer(f"{sta}  {cha}{network:<2}".encode("ascii"), np.uint8)
    arr = np.broadcast_to(tmpl[:, None, :], (n_seconds, n_channels, RECORD_LEN)).copy()
    arr[:, :, 8:20] = codes[None, :, :]
    return arr.tobytes()


def to_mseed3(record: bytes) -> bytes:
    """Convert one miniSEED 2 record into one miniSEED 3 record (SeedLink 4 ``:3`` filter).

    Samples, start time, sample rate, encoding (Steim1/2 and integers stay so; other
    sample types become FLOAT64), quality flags and publication version are kept;
    the FDSN source identifier comes from the SEED codes.

    Raises
    ------
    DataError
        If libmseed cannot decode or encode the record.
    """
    try:
        src = pymseed.MS3Record.parse(record, unpack_data=True)
        msr = pymseed.MS3Record()
        msr.sourceid = src.sourceid
        msr.formatversion = 3
        msr.reclen = 1 << 16
        msr.starttime = src.starttime
        msr.samprate = src.samprate_raw
        msr.pubversion = src.pubversion
        msr.flags = src.flags
        data = np.asarray(src.np_datasamples)
        if src.sampletype == "i":
            msr.encoding = src.encoding if src.encoding in _INT_ENCODINGS else _STEIM2
            out = [bytes(r) for r in msr.generate(np.ascontiguousarray(data, np.int32), "i")]
        else:
            msr.encoding = pymseed.DataEncoding.FLOAT64
            out = [bytes(r) for r in msr.generate(np.ascontiguousarray(data, np.float64), "d")]
    except pymseed.MiniSEEDError as exc:
        raise DataError(f"cannot convert to miniSEED 3: {exc}") from exc
    if len(out) != 1:
        raise DataError(f"one record converted into {len(out)} miniSEED 3 records")
    return out[0]


_STEIM2 = int(pymseed.DataEncoding.STEIM2)
_INT_ENCODINGS = frozenset(
    int(e)
    for e in (pymseed.DataEncoding.STEIM1, pymseed.DataEncoding.STEIM2, pymseed.DataEncoding.INT32)
)
