"""Fast scanning of miniSEED 2 record headers in numba.

Indexing an archive reads the header of every record before replay sorts
them into arrival order; in Python that costs about 10 us per record, here a
fraction of a microsecond. The kernel walks a file buffer record by record and
stops at anything it does not handle itself (a miniSEED 3 record, a truncated
tail), so the caller can use the general parser there
(:func:`eew.acquisition.mseed.parse_header`). Bytes that are not a plausible
miniSEED 2 header are skipped in 64-byte steps and reported as corrupt spans.

References
----------
IRIS (2012). SEED Reference Manual, version 2.4, chapter 8 (fixed section of data
header) and blockettes 1000/1001.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from eew.model.timeutil import NS_PER_S

# columns of the int64 result table
(
    C_OFFSET,
    C_RECLEN,
    C_START_NS,
    C_NSAMP,
    C_ENCODING,
    C_DATA_OFFSET,
    C_BIG,
    C_CALIB,
    C_RATE_FACTOR,
    C_RATE_MULT,
) = range(10)
N_COLS = 10

STOP_END = 0
STOP_MS3 = 1
STOP_TRUNCATED = 2
STOP_FULL = 3

_RESYNC = 64

# An integer inside the kernels: numba types both as int64, NumPy's stubs tell them apart.
_Int = int | np.int64


@njit(cache=True, inline="always")
def _u16(b: np.ndarray, p: _Int, big: bool) -> np.int64:
    # np.int64 everywhere: mixing numba's unsigned and signed integers promotes to float64,
    # which cannot hold epoch times in ns exactly
    if big:
        return (np.int64(b[p]) << 8) | np.int64(b[p + 1])
    return (np.int64(b[p + 1]) << 8) | np.int64(b[p])


@njit(cache=True, inline="always")
def _i16(b: np.ndarray, p: _Int, big: bool) -> np.int64:
    v = _u16(b, p, big)
    return v - 65536 if v >= 32768 else v


@njit(cache=True, inline="always")
def _i32(b: np.ndarray, p: _Int, big: bool) -> np.int64:
    if big:
        v = (
            (np.int64(b[p]) << 24)
            | (np.int64(b[p + 1]) << 16)
            | (np.int64(b[p + 2]) << 8)
            | np.int64(b[p + 3])
        )
    else:
        v = (
            (np.int64(b[p + 3]) << 24)
            | (np.int64(b[p + 2]) << 16)
            | (np.int64(b[p + 1]) << 8)
            | np.int64(b[p])
        )
    return v - 4294967296 if v >= 2147483648 else v


@njit(cache=True)
def _days_before_year(year: np.int64) -> np.int64:
    y = np.int64(year) - 1
    return np.int64(
        365 * (year - 1970)
        + (y // 4 - 1969 // 4)
        - (y // 100 - 1969 // 100)
        + (y // 400 - 1969 // 400)
    )


@njit(cache=True)
def _plausible_v2(b: np.ndarray, p: int) -> bool:
    for i in range(6):
        c = b[p + i]
        if not (c == 32 or 48 <= c <= 57):
            return False
    q = b[p + 6]
    if not (q == 68 or q == 82 or q == 81 or q == 77):  # D R Q M
        return False
    ok: bool = b[p + 7] == 32 or b[p + 7] == 0
    return ok


@njit(cache=True)
def scan_v2(
    buf: np.ndarray, offset: int, out: np.ndarray, bad: np.ndarray
) -> tuple[int, int, int, int]:
    """Scan miniSEED 2 records from ``offset`` on.

    Parameters
    ----------
    buf : numpy.ndarray
        File bytes (uint8).
    offset : int
        Where to start.
    out : numpy.ndarray
        int64 table, shape ``(capacity, N_COLS)``, filled with one row per record.
    bad : numpy.ndarray
        int64 table, shape ``(capacity, 2)``: byte spans skipped as unreadable.

    Returns
    -------
    n_records, n_bad, stop_offset, stop_reason : int
        Rows written to ``out`` and ``bad``, where the scan stopped and why
        (``STOP_END``, ``STOP_MS3``, ``STOP_TRUNCATED`` or ``STOP_FULL``).
    """
    n = buf.shape[0]
    k = 0
    nb = 0
    bad_at = -1
    p = offset
    while p < n:
        if k >= out.shape[0] or nb >= bad.shape[0] - 1:
            return k, nb, p, STOP_FULL
        avail = n - p
        # miniSEED 3: "MS" and the format version as a binary byte, 3
        if avail >= 3 and buf[p] == 77 and buf[p + 1] == 83 and buf[p + 2] == 3:
            if bad_at >= 0:
                bad[nb, 0] = bad_at
                bad[nb, 1] = p
                nb += 1
            return k, nb, p, STOP_MS3
        ok = avail >= 48 and _plausible_v2(buf, p)
        big = True
        year = np.int64(0)
        doy = np.int64(0)
        if ok:
            year = _u16(buf, p + 20, True)
            doy = _u16(buf, p + 22, True)
            if not (1900 <= year <= 2100 and 1 <= doy <= 366):
                big = False
                year = _u16(buf, p + 20, False)
                doy = _u16(buf, p + 22, False)
                ok = 1900 <= year <= 2100 and 1 <= doy <= 366
        reclen: _Int = 0
        enc: _Int = -1
        word_big = True
        micro: _Int = 0
        if ok:
            hh = np.int64(buf[p + 24])
            mm = np.int64(buf[p + 25])
            ss = np.int64(buf[p + 26])
            ok = hh <= 23 and mm <= 59 and ss <= 60
        if ok:
            nblk = np.int64(buf[p + 39])
            pos = _u16(buf, p + 46, big)
            for _ in range(nblk):
                if pos < 48 or pos + 8 > avail:
                    break
                btype = _u16(buf, p + pos, big)
                nxt = _u16(buf, p + pos + 2, big)
                if btype == 1000:
                    enc = np.int64(buf[p + pos + 4])
                    word_big = buf[p + pos + 5] == 1
                    reclen = 1 << np.int64(buf[p + pos + 6])
                elif btype == 1001:
                    m = np.int64(buf[p + pos + 5])
                    micro = m - 256 if m >= 128 else m
                if nxt == 0:
                    break
                pos = nxt
            ok = reclen >= 128
        if not ok:
            if bad_at < 0:
                bad_at = p
            p += _RESYNC
            continue
        if reclen > avail:
            if bad_at >= 0:
                bad[nb, 0] = bad_at
                bad[nb, 1] = p
                nb += 1
            return k, nb, p, STOP_TRUNCATED
        if bad_at >= 0:
            bad[nb, 0] = bad_at
            bad[nb, 1] = p
            nb += 1
            bad_at = -1
        frac = _u16(buf, p + 28, big)
        act = np.int64(buf[p + 36])
        tcorr = _i32(buf, p + 40, big)
        t_s = (_days_before_year(year) + doy - 1) * 86400 + np.int64(buf[p + 24]) * 3600
        t_s += np.int64(buf[p + 25]) * 60 + np.int64(buf[p + 26])
        t_ns = t_s * NS_PER_S + frac * 100_000 + micro * 1000
        if not act & 0x02:
            t_ns += tcorr * 100_000
        out[k, C_OFFSET] = p
        out[k, C_RECLEN] = reclen
        out[k, C_START_NS] = t_ns
        out[k, C_NSAMP] = _u16(buf, p + 30, big)
        out[k, C_ENCODING] = enc
        out[k, C_DATA_OFFSET] = _u16(buf, p + 44, big)
        out[k, C_BIG] = 1 if word_big else 0
        out[k, C_CALIB] = act & 0x01
        out[k, C_RATE_FACTOR] = _i16(buf, p + 32, big)
        out[k, C_RATE_MULT] = _i16(buf, p + 34, big)
        k += 1
        p += int(reclen)  # numba: int64 either way; in Python, offsets stay int
    if bad_at >= 0:
        bad[nb, 0] = bad_at
        bad[nb, 1] = n
        nb += 1
    return k, nb, n, STOP_END


def sample_rates(factor: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """Sample rates [Hz] from miniSEED 2 rate factors and multipliers (0 where undefined)."""
    f = np.asarray(factor).astype(np.float64)
    m = np.asarray(mult).astype(np.float64)
    with np.errstate(divide="ignore"):
        rate = np.where(f > 0, f, np.where(f < 0, -1.0 / np.where(f < 0, f, -1.0), 0.0))
        rate = np.where(m > 0, rate * m, np.where(m < 0, rate / np.where(m < 0, -m, 1.0), rate))
    return rate
