"""Archive replay: miniSEED files -> packets in the order a SeedLink server would deliver them.

Files (or folders, searched recursively) are indexed record by record; every
data record becomes one packet, as on SeedLink. Packets are delivered in
*arrival order* across channels: sorted by the time their last sample was
recorded (the earliest moment a live system could have them), ties broken by
channel and start time. Out-of-order files, interleaved channels and mixed
record lengths are therefore handled naturally. Bad input (unreadable or empty
files, corrupt or truncated records, text records) is logged and counted; the
replay goes on.

miniSEED 2 headers are indexed by the numba scanner :func:`eew.acquisition.scan.scan_v2`;
miniSEED 3 records by :func:`eew.acquisition.mseed.parse_header` (libmseed).
"""

from __future__ import annotations

import heapq
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from eew.acquisition import scan
from eew.acquisition.mseed import RecordHeader, decode_record, parse_header
from eew.acquisition.steim import STATUS_OK, decode_steim, decode_steim_into
from eew.errors import DataError
from eew.model.packet import Packet

log = logging.getLogger("eew.ingest")

MSEED_SUFFIXES = {".mseed", ".miniseed", ".ms", ".msd", ".seed", ".mseed3", ".ms3", ""}

# extra columns appended to the scanner's table
C_FILE = scan.N_COLS
C_CHANNEL = scan.N_COLS + 1
N_INDEX_COLS = scan.N_COLS + 2
#: index rows converted to Python lists at a time by :func:`iter_records`
ROWS_PER_CHUNK = 65536


@dataclass
class ArchiveIndex:
    """All data records of an archive, in arrival order.

    ``table`` has one int64 row per record (columns ``eew.acquisition.scan.C_*`` plus
    file and channel numbers), ``rate_hz`` and ``end_ns`` the sample rate and end
    time per row, ``order`` the arrival order.
    """

    buffers: list[bytes] = field(default_factory=list)
    arrays: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    channel_ids: list[str] = field(default_factory=list)
    table: np.ndarray = field(default_factory=lambda: np.zeros((0, N_INDEX_COLS), np.int64))
    rate_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    end_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    counters: Counter[str] = field(default_factory=Counter)
    #: byte offset in its file of each buffer (a window's part of a file); empty: whole files
    offsets: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.order.shape[0])

    def span_s(self) -> float:
        """Seconds between the first sample and the end of the last record."""
        if not len(self):
            return 0.0
        first = int(self.table[self.order, scan.C_START_NS].min())
        return (int(self.end_ns[self.order].max()) - first) / 1e9


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of candidate files.

    Raises
    ------
    DataError
        If a named path does not exist.
    """
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if (
                    f.is_file()
                    and f.suffix.lower() in MSEED_SUFFIXES
                    and not f.name.startswith(".")
                ):
                    out.append(f)
        elif path.is_file():
            out.append(path)
        else:
            raise DataError(f"{path}: no such file or directory")
    return out


class _Indexer:
    """Turns scanned headers into index rows; ``quiet``: a rescan (no counts, no log)."""

    def __init__(self, idx: ArchiveIndex, *, quiet: bool = False) -> None:
        self.idx = idx
        self.quiet = quiet
        self.rows: list[np.ndarray] = []
        self.rates: list[np.ndarray] = []
        self.channel_code: dict[str, int] = {}
        self._key_cache: dict[bytes, str] = {}

    def code(self, channel_id: str) -> int:
        c = self.channel_code.get(channel_id)
        if c is None:
            c = self.channel_code[channel_id] = len(self.channel_code)
        return c

    def add_file(self, fi: int, path: Path, buf: bytes, arr: np.ndarray) -> int:
        counters = self.idx.counters
        cap = max(16, len(buf) // 128 + 1)
        out = np.zeros((cap, scan.N_COLS), np.int64)
        bad = np.zeros((cap + 1, 2), np.int64)
        offset = 0
        n_data = 0
        spans: list[tuple[int, int]] = []
        while offset < len(buf):
            k, nb, stop, reason = scan.scan_v2(arr, offset, out, bad)
            spans.extend((int(a), int(b)) for a, b in bad[:nb])
            n_data += self._take(fi, buf, out[:k], path)
            offset = stop
            if reason == scan.STOP_END:
                break
            if reason == scan.STOP_TRUNCATED:
                counters["truncated_records"] += 1
                log.warning("%s: truncated record at byte %d dropped", path, stop)
                break
            if reason == scan.STOP_MS3:
                try:
                    hdr = parse_header(buf, stop)
                except DataError as exc:
                    counters["corrupt_records"] += 1
                    log.warning("%s: unreadable record at byte %d skipped (%s)", path, stop, exc)
                    offset = stop + 64
                    continue
                n_data += self._take_v3(fi, hdr)
                offset = stop + hdr.reclen
        if n_data:  # a file with no record at all is reported once, by the caller
            for a, b in spans:
                counters["corrupt_records"] += 1
                log.warning("%s: unreadable bytes %d-%d skipped", path, a, b)
        return n_data

    def _take(self, fi: int, buf: bytes, rows: np.ndarray, path: Path) -> int:
        if rows.shape[0] == 0:
            return 0
        rates = scan.sample_rates(rows[:, scan.C_RATE_FACTOR], rows[:, scan.C_RATE_MULT])
        keep = (rows[:, scan.C_NSAMP] > 0) & (rates > 0)
        n_skip = int(np.count_nonzero(~keep))
        if n_skip and not self.quiet:
            self.idx.counters["non_data_records"] += n_skip
            log.warning("%s: %d records without samples (text/log) skipped", path, n_skip)
        rows, rates = rows[keep], rates[keep]
        ext = np.zeros((rows.shape[0], N_INDEX_COLS), np.int64)
        ext[:, : scan.N_COLS] = rows
        ext[:, C_FILE] = fi
        # the 12 bytes station/location/channel/network of every record, looked up once per
        # distinct value (a file holds one channel or a few), in the order they first occur
        arr = np.frombuffer(buf, dtype=np.uint8)
        keys = np.ascontiguousarray(arr[rows[:, scan.C_OFFSET, None] + np.arange(8, 20)])
        if (keys == keys[0]).all():  # one channel, as most files hold: no sort
            distinct = keys[:1].view(np.dtype((np.void, 12))).ravel()
            first = np.zeros(1, np.int64)
            inverse = np.zeros(keys.shape[0], np.int64)
        else:
            distinct, first, inverse = np.unique(
                keys.view(np.dtype((np.void, 12))).ravel(), return_index=True, return_inverse=True
            )
        codes = np.empty(distinct.shape[0], np.int64)
        cache = self._key_cache
        for u in np.argsort(first, kind="stable").tolist():
            key = distinct[u].tobytes()
            cid = cache.get(key)
            if cid is None:
                txt = key.decode("ascii", "replace")
                sta, loc, cha, net = txt[0:5], txt[5:7], txt[7:10], txt[10:12]
                cid = f"{net.strip()}.{sta.strip()}.{loc.strip()}.{cha.strip()}"
                cache[key] = cid
            codes[u] = self.code(cid)
        ext[:, C_CHANNEL] = codes[inverse.ravel()]
        self.rows.append(ext)
        self.rates.append(rates)
        return int(rows.shape[0])

    def _take_v3(self, fi: int, hdr: RecordHeader) -> int:
        if hdr.n_samples == 0 or hdr.sampling_rate_hz <= 0:
            if not self.quiet:
                self.idx.counters["non_data_records"] += 1
            return 0
        row = np.zeros((1, N_INDEX_COLS), np.int64)
        row[0, scan.C_OFFSET] = hdr.offset
        row[0, scan.C_RECLEN] = hdr.reclen
        row[0, scan.C_START_NS] = hdr.starttime_ns
        row[0, scan.C_NSAMP] = hdr.n_samples
        row[0, scan.C_ENCODING] = -1  # decoded by libmseed
        row[0, C_FILE] = fi
        row[0, C_CHANNEL] = self.code(hdr.channel_id)
        self.rows.append(row)
        self.rates.append(np.array([hdr.sampling_rate_hz]))
        return 1


def read_file(path: str | os.PathLike[str], offset: int = 0, size: int = -1) -> bytes:
    """Read ``size`` bytes of a file from ``offset`` (all of it by default).

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    with open(path, "rb") as f:
        if offset:
            f.seek(offset)
        return f.read(size)


def _index_files(
    paths: Iterable[str | os.PathLike[str]],
    idx: ArchiveIndex,
    ixr: _Indexer,
    *,
    keep_bytes: bool = True,
) -> Iterator[tuple[int, Path]]:
    """Read and scan the files one by one into ``ixr``; yield (file number, path) of each.

    Bad files are counted in ``idx.counters`` and logged. ``keep_bytes`` keeps every file's
    bytes in ``idx.buffers`` and ``idx.arrays`` (the whole archive in memory).
    """
    for path in find_files(paths):
        try:
            buf = path.read_bytes()
        except OSError as exc:
            idx.counters["unreadable_files"] += 1
            log.warning("%s: cannot read (%s); skipped", path, exc.strerror)
            continue
        idx.counters["files"] += 1
        if not buf:
            idx.counters["empty_files"] += 1
            log.warning("%s: empty file; skipped", path)
            continue
        fi = len(idx.sources)
        arr = np.frombuffer(buf, dtype=np.uint8)
        if keep_bytes:
            idx.buffers.append(buf)
            idx.arrays.append(arr)
        idx.sources.append(str(path))
        if ixr.add_file(fi, path, buf, arr) == 0:
            if (
                len(buf) < 512
                and buf[6:7] in (b"D", b"R", b"Q", b"M")
                and buf[:6].strip(b" 0123456789") == b""
            ):
                idx.counters["truncated_records"] += 1
                log.warning(
                    "%s: file ends inside its first record (%d bytes); skipped", path, len(buf)
                )
            else:
                idx.counters["files_without_data"] += 1
                log.warning("%s: no miniSEED data records found; skipped", path)
        yield fi, path


def index_archive(paths: Iterable[str | os.PathLike[str]]) -> ArchiveIndex:
    """Read and index every record of the given files/folders (all of it in memory).

    For long archives, :func:`eew.acquisition.windowed.scan_archive` keeps the memory flat.
    """
    idx = ArchiveIndex()
    ixr = _Indexer(idx)
    for _ in _index_files(paths, idx, ixr):
        pass
    if ixr.rows:
        idx.table = np.concatenate(ixr.rows)
        idx.rate_hz = np.concatenate(ixr.rates)
    names = sorted(ixr.channel_code, key=ixr.channel_code.__getitem__)
    idx.channel_ids = names
    # rank channels by name so ties in time break by channel id
    rank = np.empty(len(names), np.int64)
    rank[np.argsort(np.array(names, dtype=object))] = np.arange(len(names))
    t = idx.table
    dur = np.rint(t[:, scan.C_NSAMP] * 1e9 / np.where(idx.rate_hz > 0, idx.rate_hz, 1.0))
    idx.end_ns = t[:, scan.C_START_NS] + dur.astype(np.int64)
    ch_rank = rank[t[:, C_CHANNEL]] if len(names) else np.zeros(0, np.int64)
    idx.order = np.lexsort((t[:, scan.C_START_NS], ch_rank, idx.end_ns))
    idx.counters["records"] = len(idx)
    return idx


def iter_packets(idx: ArchiveIndex, max_packet_samples: int = 0) -> Iterator[Packet]:
    """Decode the indexed records in arrival order, optionally cut into shorter packets.

    Parameters
    ----------
    idx : ArchiveIndex
        From :func:`index_archive`.
    max_packet_samples : int
        If > 0, records are cut into packets of at most this many samples and the packets
        are merged by end time across channels, as a live feed of short packets would
        deliver them (a record may start seconds before an earlier-ending one). 0 keeps
        one record per packet.
    """
    if max_packet_samples <= 0:
        for _k, rec in iter_records(idx):
            yield rec
        return
    if not len(idx):
        return
    t = idx.table
    max_dur = int((idx.end_ns - t[:, scan.C_START_NS]).max())
    ends = idx.end_ns[idx.order]
    heap: list[tuple[int, str, int, int, Packet]] = []
    seq = 0
    for j, rec in iter_records(idx):
        parts = (
            split_packet(rec, max_packet_samples) if rec.n_samples > max_packet_samples else (rec,)
        )
        for p in parts:
            heapq.heappush(heap, (p.endtime_ns, p.channel_id, p.starttime_ns, seq, p))
            seq += 1
        # no record still to come can hold a packet ending before this watermark
        nxt = int(ends[j + 1]) if j + 1 < ends.shape[0] else None
        while heap and (nxt is None or heap[0][0] <= nxt - max_dur):
            yield heapq.heappop(heap)[-1]
    while heap:
        yield heapq.heappop(heap)[-1]


def iter_records(idx: ArchiveIndex) -> Iterator[tuple[int, Packet]]:
    """Decode the indexed records in arrival order; yield (position in the order, packet).

    A record that cannot be decoded is logged, counted in ``idx.counters`` and skipped: its
    position is missing from the sequence.
    """
    ids = idx.channel_ids
    order = idx.order
    arrays = idx.arrays
    # Python lists in arrival order, converted chunk by chunk: one conversion per chunk
    # instead of one per record, and not the whole archive at once (~400 bytes per record)
    for c0 in range(0, order.shape[0], ROWS_PER_CHUNK):
        sel = order[c0 : c0 + ROWS_PER_CHUNK]
        rows = idx.table[sel].tolist()
        rates = idx.rate_hz[sel].tolist()
        for j, (row, rate) in enumerate(zip(rows, rates, strict=True)):
            k = c0 + j
            (off, reclen, start, nsamp, enc, bod, big, calib, _f, _m, fi, ch) = row
            pkt: Packet | None = None
            if (enc == 11 or enc == 10) and bod >= 48 and big == 1:
                # decode_steim_fast, inlined (one Python call less per record)
                data, status = decode_steim(
                    arrays[fi], off + bod, off + reclen, nsamp, 2 if enc == 11 else 1, True
                )
                if status == STATUS_OK:
                    pkt = Packet(ids[ch], start, rate, data, calib == 1)
            if pkt is None:
                pkt = record_packet(idx, k)
                if pkt is None:
                    continue
            yield k, pkt


def record_packet(idx: ArchiveIndex, k: int) -> Packet | None:
    """Decode the record at position ``k`` of the arrival order through libmseed.

    The general path of :func:`iter_records` (and of :func:`decode_rows` for the records
    its kernel declines): None, logged and counted, for a record that cannot be decoded or
    has no numeric samples.
    """
    i = int(idx.order[k])
    (off, reclen, start, nsamp, _e, _b, _g, calib, _f, _m, fi, ch) = idx.table[i].tolist()
    ids = idx.channel_ids
    rate = float(idx.rate_hz[i])
    hdr = RecordHeader(ids[ch], start, int(idx.end_ns[i]), rate, nsamp, off, reclen)
    try:
        pkt = decode_record(idx.buffers[fi], hdr)
    except DataError as exc:
        idx.counters["corrupt_records"] += 1
        log.warning("%s: record of %s skipped: %s", idx.sources[fi], ids[ch], exc)
        return None
    if pkt is None:
        idx.counters["non_data_records"] += 1
        log.warning(
            "%s: record of %s without numeric samples (text/log) skipped",
            idx.sources[fi],
            ids[ch],
        )
        return None
    if calib == 1 and not pkt.calibration:
        pkt = Packet(pkt.channel_id, pkt.starttime_ns, pkt.sampling_rate_hz, pkt.data, True)
    return pkt


@dataclass
class DecodedRows:
    """Records ``[k0, k1)`` of the arrival order, decoded in one call (:func:`decode_rows`).

    Per record, by position from ``k0``: channel number, start and end [ns], rate [Hz],
    calibration flag and, where ``ok``, its samples ``data[off[j]:off[j + 1]]`` (int32,
    as :func:`iter_records` decodes them). A record that is not ``ok`` goes through
    :func:`record_packet`.
    """

    k0: int
    chan: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rate: np.ndarray
    calib: np.ndarray
    ok: np.ndarray
    data: np.ndarray
    off: np.ndarray

    def packet(self, idx: ArchiveIndex, j: int) -> Packet | None:
        """The packet of record ``j`` (from ``k0``), as :func:`iter_records` makes it."""
        if self.ok[j]:
            return Packet(
                idx.channel_ids[int(self.chan[j])],
                int(self.start[j]),
                float(self.rate[j]),
                self.data[self.off[j] : self.off[j + 1]].copy(),
                bool(self.calib[j]),
            )
        return record_packet(idx, self.k0 + j)


def decode_rows(idx: ArchiveIndex, k0: int, k1: int, arrays: object) -> DecodedRows:
    """Decode the records at positions ``[k0, k1)`` of the arrival order in one numba call.

    ``arrays`` is ``idx.arrays`` as a ``numba.typed.List`` (built once per index). The
    Steim records the kernel decodes are those :func:`iter_records` decodes itself; the
    others are marked not ``ok``.
    """
    sel = idx.order[k0:k1]
    t = idx.table[sel]
    data, off, ok = _decode_rows(
        arrays,
        np.ascontiguousarray(t[:, C_FILE]),
        np.ascontiguousarray(t[:, scan.C_OFFSET]),
        np.ascontiguousarray(t[:, scan.C_RECLEN]),
        np.ascontiguousarray(t[:, scan.C_NSAMP]),
        np.ascontiguousarray(t[:, scan.C_ENCODING]),
        np.ascontiguousarray(t[:, scan.C_DATA_OFFSET]),
        np.ascontiguousarray(t[:, scan.C_BIG]),
    )
    return DecodedRows(
        k0,
        np.ascontiguousarray(t[:, C_CHANNEL]),
        np.ascontiguousarray(t[:, scan.C_START_NS]),
        idx.end_ns[sel],
        idx.rate_hz[sel],
        t[:, scan.C_CALIB] == 1,
        ok,
        data,
        off,
    )


@njit(cache=True)
def _decode_rows(
    arrays: object,
    fi: np.ndarray,
    off: np.ndarray,
    reclen: np.ndarray,
    nsamp: np.ndarray,
    enc: np.ndarray,
    bod: np.ndarray,
    big: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steim1/2 records into one int32 array: (samples, offsets, decoded) per record."""
    m = fi.shape[0]
    ok = np.zeros(m, np.bool_)
    starts = np.zeros(m + 1, np.int64)
    for j in range(m):
        if (enc[j] == 11 or enc[j] == 10) and bod[j] >= 48 and big[j] == 1:
            ok[j] = True
            starts[j + 1] = starts[j] + nsamp[j]
        else:
            starts[j + 1] = starts[j]
    data = np.empty(starts[m], np.int32)
    for j in range(m):
        if ok[j]:
            status = decode_steim_into(
                arrays[fi[j]],  # type: ignore[index]
                off[j] + bod[j],
                off[j] + reclen[j],
                nsamp[j],
                2 if enc[j] == 11 else 1,
                True,
                data[starts[j] : starts[j + 1]],
            )
            if status != STATUS_OK:
                ok[j] = False
    return data, starts, ok


def split_packet(pkt: Packet, n_max: int) -> Iterator[Packet]:
    """Cut a packet into consecutive packets of at most ``n_max`` samples."""
    for i in range(0, pkt.n_samples, n_max):
        start = pkt.starttime_ns + round(i * 1e9 / pkt.sampling_rate_hz)
        yield Packet(
            pkt.channel_id,
            start,
            pkt.sampling_rate_hz,
            np.ascontiguousarray(pkt.data[i : i + n_max]),
            pkt.calibration,
        )
