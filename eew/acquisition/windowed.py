"""Archive replay in windows of time: memory flat in the length of the archive.

:func:`eew.acquisition.archive.index_archive` holds every file's bytes and one index row per
record, so its memory grows with the archive (about 150 MiB per hour of 198 channels at
100 Hz). For days or months of data, :func:`scan_archive` reads the archive twice instead:

1. **Scan.** Every file is read once, one at a time, and its records' headers are scanned
   (the same scanner, counters and log lines as ``index_archive``). Only a summary is kept
   per *block* of up to :data:`BLOCK_RECORDS` consecutive records of one file: its byte
   range, the earliest and latest end time of its records, its earliest start, its channel
   (where all its records are of one). That is about one byte per record (72 bytes per
   block), plus the channel names.
2. **Windows.** The records are then delivered window by window of end time, each window
   holding about :data:`WINDOW_RECORDS` records and :data:`WINDOW_BYTES` bytes at most: the
   blocks whose end-time range meets the window are read again (one read per file and
   window), their headers scanned again (the names of the records of one-channel blocks
   are not looked up again), and the records ending inside the window sorted and decoded
   as :func:`~eew.acquisition.archive.iter_records` does.

The arrival order sorts by end time first (ties by channel name, start time, then position
in the archive: file order, byte offset), so the windows' orders, concatenated, are the
whole archive's order: the packets are those of ``iter_packets(index_archive(paths))``, in
the same order (``tests/test_windowed_archive.py``). Gaps, channels that start late, files
out of order or records out of order within a file only change which blocks a window reads:
a block whose records end in several windows is read once per window (a file written out of
time order costs more reads, never a different order).

Memory: one window's bytes and rows (about 40 MiB at the default size) plus the block
table, which grows by one 72-byte row per :data:`BLOCK_RECORDS` records (about 0.2 MiB per
hour of 198 channels).
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eew.acquisition import scan
from eew.acquisition.archive import (
    C_CHANNEL,
    C_FILE,
    N_INDEX_COLS,
    ArchiveIndex,
    _index_files,
    _Indexer,
    find_files,
    iter_records,
    read_file,
    split_packet,
)
from eew.acquisition.mseed import parse_header
from eew.errors import DataError
from eew.model.packet import Packet

# columns of the block table
B_FILE, B_START, B_STOP, B_V3, B_END_MIN, B_END_MAX, B_FIRST_NS, B_RECORDS, B_CHANNEL = range(9)
N_BLOCK_COLS = 9
#: consecutive records of one file summarised in one block
BLOCK_RECORDS = 64
#: records delivered per window (about 40 MiB of bytes and rows for 512-byte records)
WINDOW_RECORDS = 65536
#: record bytes per window at most (archives of 4096-byte records get more windows)
WINDOW_BYTES = 64 * 2**20


@dataclass
class StreamingIndex:
    """An archive scanned for replay by windows of time (see the module docstring).

    Attributes
    ----------
    sources : list of str
        The files with data, in archive order (block column ``B_FILE`` indexes it).
    channel_ids : list of str
        Every channel, numbered as in the block rescans (``C_CHANNEL``).
    blocks : numpy.ndarray
        int64, one row per block (columns ``B_*``).
    counters : Counter
        Ingest counters, as :func:`~eew.acquisition.archive.index_archive` counts them;
        records that fail to decode during the replay are added here.
    n_records : int
        Data records in the archive.
    max_duration_ns : int
        Longest record [ns] (the watermark of :func:`iter_stream_packets`).
    window_records : int
        Records per window aimed at.
    channel_samples : numpy.ndarray
        Samples per channel (by channel number): the load of a channel.
    """

    sources: list[str] = field(default_factory=list)
    channel_ids: list[str] = field(default_factory=list)
    blocks: np.ndarray = field(default_factory=lambda: np.zeros((0, N_BLOCK_COLS), np.int64))
    counters: Counter[str] = field(default_factory=Counter)
    n_records: int = 0
    max_duration_ns: int = 0
    window_records: int = WINDOW_RECORDS
    channel_samples: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _indexer: _Indexer | None = None

    def __len__(self) -> int:
        return self.n_records

    def span_s(self) -> float:
        """Seconds between the first sample and the end of the last record."""
        if not self.n_records:
            return 0.0
        b = self.blocks
        return (int(b[:, B_END_MAX].max()) - int(b[:, B_FIRST_NS].min())) / 1e9

    def window_edges(self) -> Iterator[tuple[int, int]]:
        """The end-time windows ``[t0, t1)`` [ns] that hold records, in order."""
        b = self.blocks
        if not self.n_records:
            return
        lo, hi = int(b[:, B_END_MIN].min()), int(b[:, B_END_MAX].max())
        size = int((b[:, B_STOP] - b[:, B_START]).sum())
        n_win = max(1, -(-self.n_records // max(1, self.window_records)), -(-size // WINDOW_BYTES))
        width = max(1, -(-(hi - lo + 1) // n_win))
        t0 = lo
        while t0 <= hi:
            t1 = t0 + width
            yield t0, t1
            later = b[b[:, B_END_MAX] >= t1, B_END_MIN]
            if not later.shape[0]:
                return
            t0 = max(t1, int(later.min()))  # skip stretches without any record

    def windows(self) -> Iterator[ArchiveIndex]:
        """The archive as consecutive indexes, each in arrival order (see the docstring)."""
        for t0, t1 in self.window_edges():
            win = self.window(t0, t1)
            if len(win):
                yield win

    def window(self, t0: int, t1: int) -> ArchiveIndex:
        """Index the records that end in ``[t0, t1)`` [ns], in arrival order."""
        b = self.blocks
        sel = np.flatnonzero((b[:, B_END_MIN] < t1) & (b[:, B_END_MAX] >= t0))
        win = ArchiveIndex(counters=self.counters, channel_ids=self.channel_ids)
        assert self._indexer is not None
        ixr = _Indexer(win, quiet=True)
        ixr.channel_code = self._indexer.channel_code
        ixr._key_cache = self._indexer._key_cache
        files = b[sel, B_FILE]
        # blocks are in archive order, so the blocks of one file are consecutive in ``sel``
        cut = np.flatnonzero(np.diff(files)) + 1
        for part in np.split(sel, cut):
            if not part.shape[0]:
                continue
            fi = int(b[part[0], B_FILE])
            lo, hi = int(b[part, B_START].min()), int(b[part, B_STOP].max())
            path = self.sources[fi]
            buf = read_file(path, lo, hi - lo)
            arr = np.frombuffer(buf, dtype=np.uint8)
            li = len(win.buffers)
            win.buffers.append(buf)
            win.arrays.append(arr)
            win.sources.append(path)
            win.offsets.append(lo)
            if _one_channel_v2(b[part]):
                # the first pass knows each block's channel: no per-record name look-up, the
                # rates of the whole window in one call (below)
                rows = [
                    _scan_run(arr, start - lo, stop - lo, n)
                    for _v3, start, stop, n in _runs(b[part])
                ]
                ext = np.zeros((int(b[part, B_RECORDS].sum()), N_INDEX_COLS), np.int64)
                ext[:, : scan.N_COLS] = np.concatenate(rows)
                ext[:, C_FILE] = li
                ext[:, C_CHANNEL] = np.repeat(b[part, B_CHANNEL], b[part, B_RECORDS])
                ixr.rows.append(ext)
                ixr.rates.append(np.full(ext.shape[0], np.nan))
                continue
            for v3, start, stop, n in _runs(b[part]):
                start, stop = start - lo, stop - lo
                if v3:
                    offset = start
                    while offset < stop:
                        hdr = parse_header(buf, offset)
                        ixr._take_v3(li, hdr)
                        offset += hdr.reclen
                    continue
                out = np.zeros((n, scan.N_COLS), np.int64)
                bad = np.zeros((2, 2), np.int64)
                k = scan.scan_v2(arr[:stop], start, out, bad)[0]
                ixr._take(li, buf, out[:k], Path(path))
        _finish(win, ixr, self._rank)
        keep = (win.end_ns >= t0) & (win.end_ns < t1)
        order = win.order[keep[win.order]]
        win.order = order
        return win

    @property
    def _rank(self) -> np.ndarray:
        names = self.channel_ids
        rank = np.empty(len(names), np.int64)
        rank[np.argsort(np.array(names, dtype=object))] = np.arange(len(names))
        return rank


def _runs(blocks: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Blocks of one file joined where one ends where the next starts: (v3, start, stop, n).

    A run holds only records of the blocks (blocks hold only data records, back to back), so
    one scan per run gives the blocks' records; a file in time order is one run per window.
    """
    runs: list[list[int]] = []
    for v3, start, stop, n in blocks[:, [B_V3, B_START, B_STOP, B_RECORDS]].tolist():
        if runs and runs[-1][0] == v3 and runs[-1][2] == start:
            runs[-1][2] = stop
            runs[-1][3] += n
        else:
            runs.append([v3, start, stop, n])
    return [(r[0], r[1], r[2], r[3]) for r in runs]


def _one_channel_v2(blocks: np.ndarray) -> bool:
    """Whether every block is of miniSEED 2 records of one channel (known from pass 1)."""
    return bool((blocks[:, B_CHANNEL] >= 0).all() and not blocks[:, B_V3].any())


def _scan_run(arr: np.ndarray, start: int, stop: int, n: int) -> np.ndarray:
    """The ``n`` miniSEED 2 headers of a run of blocks, as pass 1 scanned them.

    Raises
    ------
    DataError
        If the bytes no longer hold those records (the file changed since pass 1).
    """
    out = np.zeros((n, scan.N_COLS), np.int64)
    bad = np.zeros((2, 2), np.int64)
    k, nb = scan.scan_v2(arr[:stop], start, out, bad)[:2]
    if k != n or nb:
        raise DataError(f"the archive changed during the replay: {n} records expected, {k} read")
    return out


def _finish(win: ArchiveIndex, ixr: _Indexer, rank: np.ndarray) -> None:
    """Table, end times and arrival order of a window (as ``index_archive`` computes them).

    Rates left NaN (blocks of one channel, :meth:`StreamingIndex.window`) are computed here,
    for the whole window at once.
    """
    if ixr.rows:
        win.table = np.concatenate(ixr.rows)
        win.rate_hz = np.concatenate(ixr.rates)
        todo = np.isnan(win.rate_hz)
        if todo.any():
            t = win.table[todo]
            win.rate_hz[todo] = scan.sample_rates(t[:, scan.C_RATE_FACTOR], t[:, scan.C_RATE_MULT])
    t = win.table
    dur = np.rint(t[:, scan.C_NSAMP] * 1e9 / np.where(win.rate_hz > 0, win.rate_hz, 1.0))
    win.end_ns = t[:, scan.C_START_NS] + dur.astype(np.int64)
    ch_rank = rank[t[:, C_CHANNEL]] if rank.shape[0] else np.zeros(0, np.int64)
    win.order = np.lexsort((t[:, scan.C_START_NS], ch_rank, win.end_ns))


@dataclass
class ScanShare:
    """The first pass over a share of the archive's files (consecutive, in archive order).

    :func:`combine_scans` joins the shares of consecutive runs of files into the
    :class:`StreamingIndex` that one pass over all of them gives (the parallel replay's
    workers scan a share each: :meth:`eew.parallel.worker.WorkerPool.scan`).

    Attributes
    ----------
    sources : list of str
        The files with data, in archive order (``B_FILE`` of ``blocks`` indexes it).
    channel_ids : list of str
        The channels in the order they first occur in these files.
    blocks : numpy.ndarray
        int64 block table of these files (columns ``B_*``).
    channel_samples : numpy.ndarray
        Samples per channel (by position in ``channel_ids``).
    counters : Counter
        Ingest counters of these files, in the order they were first counted.
    n_records : int
        Data records in these files.
    max_duration_ns : int
        Longest record [ns].
    """

    sources: list[str] = field(default_factory=list)
    channel_ids: list[str] = field(default_factory=list)
    blocks: np.ndarray = field(default_factory=lambda: np.zeros((0, N_BLOCK_COLS), np.int64))
    channel_samples: np.ndarray = field(default_factory=lambda: np.zeros(0))
    counters: Counter[str] = field(default_factory=Counter)
    n_records: int = 0
    max_duration_ns: int = 0


def scan_share(paths: Iterable[str | os.PathLike[str]]) -> ScanShare:
    """Scan files/folders into block summaries (pass 1 of :func:`scan_archive`).

    Counts and logs bad input exactly as :func:`~eew.acquisition.archive.index_archive`.
    """
    share = ScanShare()
    holder = ArchiveIndex(counters=share.counters)
    ixr = _Indexer(holder)
    blocks: list[np.ndarray] = []
    samples = np.zeros(0)
    for fi, _path in _index_files(paths, holder, ixr, keep_bytes=False):
        if not ixr.rows:
            continue
        t = np.concatenate(ixr.rows)
        rates = np.concatenate(ixr.rates)
        ixr.rows.clear()
        ixr.rates.clear()
        t[:, C_FILE] = fi
        dur = np.rint(t[:, scan.C_NSAMP] * 1e9 / np.where(rates > 0, rates, 1.0)).astype(np.int64)
        end = t[:, scan.C_START_NS] + dur
        blocks.append(_blocks(t, end))
        load = np.bincount(t[:, C_CHANNEL], weights=t[:, scan.C_NSAMP].astype(float))
        if load.shape[0] > samples.shape[0]:
            samples = np.concatenate([samples, np.zeros(load.shape[0] - samples.shape[0])])
        samples[: load.shape[0]] += load
        share.n_records += t.shape[0]
        share.max_duration_ns = max(share.max_duration_ns, int(dur.max()))
    share.sources = holder.sources
    if blocks:
        share.blocks = np.concatenate(blocks)
    share.channel_ids = sorted(ixr.channel_code, key=ixr.channel_code.__getitem__)
    share.channel_samples = np.concatenate(
        [samples, np.zeros(len(share.channel_ids) - samples.shape[0])]
    )
    return share


def combine_scans(parts: Sequence[ScanShare], window_records: int | None = None) -> StreamingIndex:
    """The index of the files of ``parts`` (consecutive shares, in archive order).

    The channels are numbered in the order they first occur in the files, file numbers run
    on from one share to the next and the counters are added in order: the index is the one
    that :func:`scan_share` of all the files at once gives.
    """
    sidx = StreamingIndex(
        window_records=window_records if window_records is not None else WINDOW_RECORDS
    )
    holder = ArchiveIndex(counters=sidx.counters)
    ixr = _Indexer(holder)
    blocks: list[np.ndarray] = []
    loads: list[tuple[np.ndarray, np.ndarray]] = []
    for part in parts:
        for key, count in part.counters.items():
            sidx.counters[key] += count
        codes = np.array([ixr.code(cid) for cid in part.channel_ids], np.int64)
        loads.append((codes, part.channel_samples))
        b = part.blocks.copy()
        b[:, B_FILE] += len(sidx.sources)
        one = b[:, B_CHANNEL] >= 0
        b[one, B_CHANNEL] = codes[b[one, B_CHANNEL]]
        blocks.append(b)
        sidx.sources.extend(part.sources)
        sidx.n_records += part.n_records
        sidx.max_duration_ns = max(sidx.max_duration_ns, part.max_duration_ns)
    if blocks:
        sidx.blocks = np.concatenate(blocks)
    sidx.channel_ids = sorted(ixr.channel_code, key=ixr.channel_code.__getitem__)
    samples = np.zeros(len(sidx.channel_ids))
    for codes, load in loads:
        np.add.at(samples, codes, load)
    sidx.channel_samples = samples
    sidx._indexer = ixr
    sidx.counters["records"] = sidx.n_records
    return sidx


def scan_archive(
    paths: Iterable[str | os.PathLike[str]],
    window_records: int | None = None,
    *,
    scanner: Callable[[list[Path]], Sequence[ScanShare]] | None = None,
) -> StreamingIndex:
    """Scan files/folders into block summaries for a windowed replay (pass 1).

    Counts and logs bad input exactly as :func:`~eew.acquisition.archive.index_archive`.
    ``window_records`` defaults to :data:`WINDOW_RECORDS` (read at the call). ``scanner``
    scans the list of files in consecutive shares elsewhere (the parallel replay's
    workers: :meth:`eew.parallel.worker.WorkerPool.scan`); by default they are scanned here.
    """
    if scanner is None:
        return combine_scans([scan_share(paths)], window_records)
    return combine_scans(scanner(find_files(paths)), window_records)


def _blocks(t: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Summarise one file's index rows (in byte order) into blocks."""
    n = t.shape[0]
    off, reclen = t[:, scan.C_OFFSET], t[:, scan.C_RECLEN]
    v3 = t[:, scan.C_ENCODING] == -1
    brk = np.ones(n, bool)
    brk[1:] = (off[1:] != off[:-1] + reclen[:-1]) | (v3[1:] != v3[:-1])
    seg_first = np.flatnonzero(brk)
    seg = np.cumsum(brk) - 1
    within = np.arange(n) - seg_first[seg]
    first = np.flatnonzero(brk | (within % BLOCK_RECORDS == 0))
    last = np.append(first[1:], n) - 1
    out = np.empty((first.shape[0], N_BLOCK_COLS), np.int64)
    out[:, B_FILE] = t[first, C_FILE]
    out[:, B_START] = off[first]
    out[:, B_STOP] = off[last] + reclen[last]
    out[:, B_V3] = v3[first]
    out[:, B_END_MIN] = np.minimum.reduceat(end, first)
    out[:, B_END_MAX] = np.maximum.reduceat(end, first)
    out[:, B_FIRST_NS] = np.minimum.reduceat(t[:, scan.C_START_NS], first)
    out[:, B_RECORDS] = last - first + 1
    chan = t[:, C_CHANNEL]
    lo, hi = np.minimum.reduceat(chan, first), np.maximum.reduceat(chan, first)
    out[:, B_CHANNEL] = np.where(lo == hi, lo, -1)  # -1: records of several channels
    return out


def iter_stream_records(sidx: StreamingIndex) -> Iterator[tuple[int, Packet]]:
    """Decode the records in arrival order, window by window: (position, packet).

    As :func:`~eew.acquisition.archive.iter_records` on the whole archive's index.
    """
    base = 0
    for win in sidx.windows():
        for k, pkt in iter_records(win):
            yield base + k, pkt
        base += len(win)


def iter_stream_packets(sidx: StreamingIndex, max_packet_samples: int = 0) -> Iterator[Packet]:
    """The packets of :func:`~eew.acquisition.archive.iter_packets`, window by window.

    Records cut into packets (``max_packet_samples > 0``) are merged by end time with a
    heap; a packet leaves it once no record still to come can hold an earlier one (every
    record to come ends no earlier than the current one, so its packets end after the
    current end minus the longest record).
    """
    if max_packet_samples <= 0:
        for _k, rec in iter_stream_records(sidx):
            yield rec
        return
    max_dur = sidx.max_duration_ns
    heap: list[tuple[int, str, int, int, Packet]] = []
    seq = 0
    for _k, rec in iter_stream_records(sidx):
        parts = (
            split_packet(rec, max_packet_samples) if rec.n_samples > max_packet_samples else (rec,)
        )
        for p in parts:
            heapq.heappush(heap, (p.endtime_ns, p.channel_id, p.starttime_ns, seq, p))
            seq += 1
        mark = rec.starttime_ns + rec_duration(rec) - max_dur
        while heap and heap[0][0] <= mark:
            yield heapq.heappop(heap)[-1]
    while heap:
        yield heapq.heappop(heap)[-1]


def rec_duration(rec: Packet) -> int:
    """A record's duration [ns] as the index computes it (its end minus its start)."""
    return int(np.rint(rec.n_samples * 1e9 / rec.sampling_rate_hz))


__all__ = [
    "BLOCK_RECORDS",
    "N_INDEX_COLS",
    "WINDOW_RECORDS",
    "ScanShare",
    "StreamingIndex",
    "combine_scans",
    "iter_stream_packets",
    "iter_stream_records",
    "scan_archive",
    "scan_share",
]
