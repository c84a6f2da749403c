"""miniSEED records: fast header scanning and decoding into packets.

:func:`parse_header` reads one record header: miniSEED 2 fixed headers (with
blockettes 1000/1001) with :mod:`struct`, miniSEED 3 through libmseed
(:mod:`pymseed`). Archive indexing uses the numba scanner
:mod:`eew.acquisition.scan` for miniSEED 2 and this parser for miniSEED 3.
:func:`decode_record` decodes samples: Steim1/2 with the numba kernel
:mod:`eew.acquisition.steim`, everything else through libmseed, which decodes a
512-byte Steim2 record about 80 times faster than :func:`obspy.read`
(benchmarks/bench_decode.py).

References
----------
IRIS (2012). SEED Reference Manual, version 2.4, chapter 8 (fixed section of data header).
FDSN (2023). miniSEED 3 data format, version 3.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymseed

from eew.acquisition import scan
from eew.acquisition.steim import STATUS_OK, decode_steim
from eew.errors import DataError
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """Where a record is and what it holds (no samples decoded)."""

    channel_id: str
    starttime_ns: int
    endtime_ns: int
    sampling_rate_hz: float
    n_samples: int
    offset: int
    reclen: int
    encoding: int = -1
    data_offset: int = 0
    big_endian: bool = True
    calibration: bool = False


def parse_header(buf: bytes | memoryview, offset: int) -> RecordHeader:
    """Read the header of the record at ``offset``.

    miniSEED 2 goes through the numba scanner that indexes archives
    (:func:`eew.acquisition.scan.scan_v2`, one parser for both uses), miniSEED 3 through
    libmseed.

    Raises
    ------
    DataError
        If no valid miniSEED 2 or 3 record starts there, or it is truncated.
    """
    avail = len(buf) - offset
    if avail >= 3 and bytes(buf[offset : offset + 3]) == b"MS\x03":  # miniSEED 3
        return _parse_v3(buf, offset)
    arr = np.frombuffer(buf, dtype=np.uint8)
    row = np.zeros((1, scan.N_COLS), np.int64)
    bad = np.zeros((2, 2), np.int64)
    k, _nb, stop, reason = scan.scan_v2(arr, offset, row, bad)
    if k == 0 or row[0, scan.C_OFFSET] != offset:
        if reason == scan.STOP_TRUNCATED and stop == offset:
            raise DataError(f"truncated record at byte {offset} ({avail} bytes left)")
        raise DataError(f"no miniSEED record header at byte {offset}")
    r = row[0]
    rate = float(scan.sample_rates(r[scan.C_RATE_FACTOR], r[scan.C_RATE_MULT]))
    nsamp = int(r[scan.C_NSAMP])
    start = int(r[scan.C_START_NS])
    head = bytes(buf[offset + 8 : offset + 20]).decode("ascii", "replace")
    sta, loc, cha, net = head[0:5], head[5:7], head[7:10], head[10:12]
    end = start + (round(nsamp * NS_PER_S / rate) if rate > 0 else 0)
    return RecordHeader(
        f"{net.strip()}.{sta.strip()}.{loc.strip()}.{cha.strip()}",
        start,
        end,
        rate,
        nsamp,
        offset,
        int(r[scan.C_RECLEN]),
        int(r[scan.C_ENCODING]),
        int(r[scan.C_DATA_OFFSET]),
        bool(r[scan.C_BIG]),
        bool(r[scan.C_CALIB]),
    )


def _parse_v3(buf: bytes | memoryview, offset: int) -> RecordHeader:
    try:
        rec = pymseed.MS3Record.parse(memoryview(buf)[offset:], unpack_data=False)
    except pymseed.MiniSEEDError as exc:
        raise DataError(str(exc)) from exc
    net, sta, loc, cha = pymseed.sourceid2nslc(rec.sourceid)
    rate = float(rec.samprate)
    start = int(rec.starttime)
    end = start + (round(rec.samplecnt * NS_PER_S / rate) if rate > 0 else 0)
    return RecordHeader(
        f"{net}.{sta}.{loc}.{cha}", start, end, rate, int(rec.samplecnt), offset, int(rec.reclen)
    )


def decode_steim_fast(
    buf_u8: np.ndarray,
    offset: int,
    reclen: int,
    data_offset: int,
    n_samples: int,
    encoding: int,
    big_endian: bool,
) -> np.ndarray | None:
    """Samples of a Steim1/2 record by the numba kernel, or ``None`` to ask libmseed.

    Only big-endian (SEED's standard word order) Steim1 (10) and Steim2 (11) records with
    a data offset are handled; ``None`` for anything else and for any record the kernel
    cannot vouch for (:func:`eew.acquisition.steim.decode_steim`), so that libmseed, which also
    knows byte-swapped and unusual Steim data, decides.
    """
    if encoding not in (10, 11) or data_offset < 48 or not big_endian:
        return None
    data, status = decode_steim(
        buf_u8,
        offset + data_offset,
        offset + reclen,
        n_samples,
        1 if encoding == 10 else 2,
        True,
    )
    return data if status == STATUS_OK else None


def decode_record(
    buf: bytes | memoryview,
    hdr: RecordHeader,
    buf_u8: np.ndarray | None = None,
    arrival_ns: int | None = None,
) -> Packet | None:
    """Decode the samples of one record into a :class:`Packet`.

    Pass ``buf_u8`` (the same bytes as a uint8 array) to let :func:`decode_steim_fast`
    decode standard Steim records; everything else, and whatever it declines, goes to
    libmseed through pymseed. Returns ``None`` for records without numeric samples
    (text/log records). ``arrival_ns`` (live records: when the record arrived) is
    stamped on the packet.

    Raises
    ------
    DataError
        If libmseed cannot decode the record (corrupt compressed data) or the sample
        count is wrong.
    """
    if buf_u8 is not None:
        data = decode_steim_fast(
            buf_u8,
            hdr.offset,
            hdr.reclen,
            hdr.data_offset,
            hdr.n_samples,
            hdr.encoding,
            hdr.big_endian,
        )
        if data is not None:
            return Packet(
                hdr.channel_id,
                hdr.starttime_ns,
                hdr.sampling_rate_hz,
                data,
                hdr.calibration,
                arrival_ns,
            )
    view = memoryview(buf)[hdr.offset : hdr.offset + hdr.reclen]
    try:
        rec = pymseed.MS3Record.parse(view, unpack_data=True)
        if rec.sampletype not in ("i", "f", "d"):
            return None
        data = rec.np_datasamples
        flags = int(rec.flags)
    except pymseed.MiniSEEDError as exc:
        raise DataError(f"{hdr.channel_id} at byte {hdr.offset}: {exc}") from exc
    if data.shape[0] != hdr.n_samples:
        raise DataError(
            f"{hdr.channel_id}: record declares {hdr.n_samples} samples, decoded {data.shape[0]}"
        )
    return Packet(
        hdr.channel_id,
        hdr.starttime_ns,
        hdr.sampling_rate_hz,
        np.asarray(data),
        calibration=bool(flags & 0x01),
        arrival_ns=arrival_ns,
    )
