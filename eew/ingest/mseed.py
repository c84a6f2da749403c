"""miniSEED records: fast header scanning and decoding into packets.

:func:`parse_header` reads one record header: miniSEED 2 fixed headers (with
blockettes 1000/1001) with :mod:`struct`, miniSEED 3 through libmseed
(:mod:`pymseed`). Archive indexing uses the numba scanner
:mod:`eew.ingest.scan` for miniSEED 2 and this parser for miniSEED 3.
:func:`decode_record` decodes samples: Steim1/2 with the numba kernel
:mod:`eew.ingest.steim`, everything else through libmseed, which decodes a
512-byte Steim2 record about 80 times faster than :func:`obspy.read`
(benchmarks/bench_decode.py).

References
----------
IRIS (2012). SEED Reference Manual, version 2.4, chapter 8 (fixed section of data header).
FDSN (2023). miniSEED 3 data format, version 3.0.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

import numpy as np
import pymseed

from eew.errors import DataError
from eew.ingest.packet import NS_PER_S, Packet
from eew.ingest.steim import STATUS_BAD_CODE, STATUS_CHECK, STATUS_OK, STATUS_SHORT, decode_steim

log = logging.getLogger("eew.ingest")

_V2_QUALITY = b"DRQM"
_MIN_RECLEN = 128
_RESYNC_STEP = 64
_DAYS_BEFORE_YEAR: dict[int, int] = {}


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


def _days_before_year(year: int) -> int:
    days = _DAYS_BEFORE_YEAR.get(year)
    if days is None:
        y = year - 1
        days = (
            365 * (year - 1970)
            + (y // 4 - 1969 // 4)
            - (y // 100 - 1969 // 100)
            + (y // 400 - 1969 // 400)
        )
        if len(_DAYS_BEFORE_YEAR) < 1000:
            _DAYS_BEFORE_YEAR[year] = days
    return days


def _v2_rate(factor: int, mult: int) -> float:
    if factor > 0:
        rate = float(factor)
    elif factor < 0:
        rate = -1.0 / factor
    else:
        return 0.0
    if mult > 0:
        rate *= mult
    elif mult < 0:
        rate /= -mult
    return rate


def parse_header(buf: bytes | memoryview, offset: int) -> RecordHeader:
    """Read the header of the record at ``offset``.

    Raises
    ------
    DataError
        If no valid miniSEED 2 or 3 record starts there, or it is truncated.
    """
    avail = len(buf) - offset
    if avail >= 3 and bytes(buf[offset : offset + 3]) == b"MS3":
        return _parse_v3(buf, offset)
    if avail < 48:
        raise DataError(f"truncated record ({avail} bytes)")
    head = bytes(buf[offset : offset + 48])
    if head[6:7] not in (b"D", b"R", b"Q", b"M") or not (
        head[:6].strip(b" 0123456789") == b"" and head[7:8] in (b" ", b"\x00")
    ):
        raise DataError("no miniSEED record header")
    for order in (">", "<"):
        year, doy, hh, mm, ss, _u, frac = struct.unpack_from(order + "HHBBBBH", head, 20)
        if 1900 <= year <= 2100 and 1 <= doy <= 366:
            break
    else:
        raise DataError("implausible record start time")
    (nsamp, factor, mult, act, _io, _dq, nblk, tcorr, _bod, fblk) = struct.unpack_from(
        order + "HhhBBBBiHH", head, 30
    )
    rate = _v2_rate(factor, mult)
    reclen = 0
    micro = 0
    encoding = -1
    word_order = 1
    pos = fblk
    for _ in range(nblk):
        if pos < 48 or pos + 4 > avail:
            break
        btype, nxt = struct.unpack_from(order + "HH", buf, offset + pos)
        if btype == 1000 and pos + 8 <= avail:
            encoding = buf[offset + pos + 4]
            word_order = buf[offset + pos + 5]
            reclen = 1 << buf[offset + pos + 6]
        elif btype == 1001 and pos + 8 <= avail:
            micro = struct.unpack_from("b", buf, offset + pos + 5)[0]
        if nxt == 0:
            break
        pos = nxt
    if reclen < _MIN_RECLEN:
        raise DataError("record without a usable blockette 1000")
    if reclen > avail:
        raise DataError(f"truncated record ({avail} of {reclen} bytes)")
    if hh > 23 or mm > 59 or ss > 60:
        raise DataError("implausible record start time")
    t_s = (_days_before_year(year) + doy - 1) * 86400 + hh * 3600 + mm * 60 + ss
    t_ns = t_s * NS_PER_S + frac * 100_000 + micro * 1000
    if not act & 0x02:  # time correction not yet applied
        t_ns += tcorr * 100_000
    sta = head[8:13].decode("ascii", "replace").strip()
    loc = head[13:15].decode("ascii", "replace").strip()
    cha = head[15:18].decode("ascii", "replace").strip()
    net = head[18:20].decode("ascii", "replace").strip()
    end = t_ns + (round(nsamp * NS_PER_S / rate) if rate > 0 else 0)
    return RecordHeader(
        f"{net}.{sta}.{loc}.{cha}",
        t_ns,
        end,
        rate,
        nsamp,
        offset,
        reclen,
        encoding,
        _bod,
        word_order == 1,
        bool(act & 0x01),
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


def decode_record(
    buf: bytes | memoryview, hdr: RecordHeader, buf_u8: np.ndarray | None = None
) -> Packet | None:
    """Decode the samples of one record into a :class:`Packet`.

    Steim1/Steim2 records of miniSEED 2 are decoded by the numba kernel
    :func:`eew.ingest.steim.decode_steim` (pass ``buf_u8``, the same bytes as a
    uint8 array, to use it); everything else by libmseed through pymseed.
    Returns ``None`` for records without numeric samples (text/log records).

    Raises
    ------
    DataError
        If the record cannot be decoded (corrupt compressed data, sample count
        or integrity check wrong).
    """
    if buf_u8 is not None and hdr.encoding in (10, 11) and hdr.data_offset >= 48:
        data, status = decode_steim(
            buf_u8,
            hdr.offset + hdr.data_offset,
            hdr.offset + hdr.reclen,
            hdr.n_samples,
            1 if hdr.encoding == 10 else 2,
            hdr.big_endian,
        )
        if status != STATUS_OK:
            raise DataError(
                f"{hdr.channel_id} at byte {hdr.offset}: Steim data corrupt "
                f"({_STEIM_ERRORS[status]})"
            )
        return Packet(
            hdr.channel_id,
            hdr.starttime_ns,
            hdr.sampling_rate_hz,
            data,
            calibration=hdr.calibration,
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
    )


_STEIM_ERRORS = {
    STATUS_BAD_CODE: "invalid difference code",
    STATUS_SHORT: "fewer samples than declared",
    STATUS_CHECK: "last sample differs from the reverse integration constant",
}
