"""An archive as a paced ring of SeedLink packets with global sequence numbers.

The records of an archive, in the arrival order of :mod:`eew.acquisition.archive`,
get sequence numbers 1, 2, ... (the same every time the same archive is
served, so a client resumes exactly across server restarts). Record ``seq`` is
*released* when the playback time reaches its end time (the moment a live
digitiser would have finished it); the playback time starts at the end of the
first record and runs ``speed`` times faster than the injected clock
(``speed=None``: everything is released at once). Released records with
``seq > newest - ring_size`` form the ring that clients can ask for.

SeedLink 3 frames carry 512-byte miniSEED 2 records. Records of another length
and miniSEED 3 records are decoded and repacked into 512-byte miniSEED 2
records (Steim2 for integers) by libmseed at load time, with a log line per
file; records that cannot be decoded are skipped and counted.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable

import numpy as np

from eew.acquisition import scan
from eew.acquisition.archive import C_CHANNEL, C_FILE, ArchiveIndex, index_archive
from eew.acquisition.mseed import decode_record, parse_header
from eew.acquisition.seedlink.protocol import RECORD_LEN
from eew.archive_server.records import repack_512, shift_start_time, to_mseed3
from eew.errors import DataError

log = logging.getLogger("eew.seedlink")


class ArchiveFeed:
    """Records in arrival order, released on a schedule.

    Parameters
    ----------
    records : numpy.ndarray
        uint8, shape ``(n, 512)``: the miniSEED 2 records, in arrival order.
    channel_ids : list of str
        ``NET.STA.LOC.CHA`` of every channel number.
    channel : numpy.ndarray
        int64 channel number of every record.
    start_ns, end_ns : numpy.ndarray
        int64 first-sample time and end time (start + n/fs) of every record [ns].
    """

    def __init__(
        self,
        records: np.ndarray,
        channel_ids: list[str],
        channel: np.ndarray,
        start_ns: np.ndarray,
        end_ns: np.ndarray,
    ) -> None:
        self.records = records
        self.channel_ids = channel_ids
        self.codes = [tuple(c.split(".")) for c in channel_ids]
        stations = sorted({(c[0], c[1]) for c in self.codes})
        self.stations: list[tuple[str, str]] = stations
        st_index = {s: i for i, s in enumerate(stations)}
        self.channel_station = np.array(
            [st_index[(c[0], c[1])] for c in self.codes], np.int64
        ).reshape(-1)
        self.channel = channel
        self.station = self.channel_station[channel] if len(channel) else channel
        self.raw_start_ns = start_ns
        self.raw_end_ns = end_ns
        #: record start and end times as served (shifted with ``--now``) [ns]
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.counters: Counter[str] = Counter()
        self.speed: float | None = None
        self.shift_ns = 0
        self.ring_size = len(self)
        self.newest = 0
        self._v3: dict[int, bytes] = {}
        self._t0_wall_ns = 0
        self._t0_data_ns = int(end_ns[0]) if len(end_ns) else 0

    def __len__(self) -> int:
        return int(self.records.shape[0])

    def since(self, begin_ns: int) -> ArchiveFeed:
        """The records that end after ``begin_ns``, numbered again from 1 (a fresh ring)."""
        keep = self.raw_end_ns > begin_ns
        feed = ArchiveFeed(
            np.ascontiguousarray(self.records[keep]),
            self.channel_ids,
            self.channel[keep],
            self.raw_start_ns[keep],
            self.raw_end_ns[keep],
        )
        feed.counters.update(self.counters)
        return feed

    @property
    def oldest(self) -> int:
        """Sequence number of the oldest packet still in the ring (``newest + 1`` if empty)."""
        return max(1, self.newest - self.ring_size + 1)

    @property
    def exhausted(self) -> bool:
        """True once every record has been released."""
        return self.newest >= len(self)

    # ---- schedule -------------------------------------------------------------------------
    def start(
        self,
        now_ns: int,
        *,
        speed: float | None = 1.0,
        shift_to_now: bool = False,
        ring_size: int | None = None,
        release: bool = True,
    ) -> None:
        """Start playback at clock time ``now_ns``.

        Parameters
        ----------
        now_ns : int
            Current time of the server clock [ns].
        speed : float or None
            Playback speed (1 = real time); None releases everything at once.
        shift_to_now : bool
            Shift record times so the first record ends at ``now_ns`` (rounded to 0.1 ms).
        ring_size : int or None
            Packets kept for resuming clients (None: the whole archive).
        release : bool
            Release the records due at ``now_ns`` at once; False leaves that to the first
            :meth:`advance` (so that a client can ask for them from sequence number 1).
        """
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.ring_size = len(self) if ring_size is None else max(1, int(ring_size))
        self._t0_wall_ns = int(now_ns)
        shift = round((now_ns - self._t0_data_ns) / 100_000) * 100_000 if shift_to_now else 0
        self.shift_ns = shift
        self.start_ns = self.raw_start_ns + shift
        self.end_ns = self.raw_end_ns + shift
        self.newest = 0
        self._v3.clear()
        if release:
            self.advance(now_ns)

    def advance(self, now_ns: int) -> bool:
        """Release the records due at clock time ``now_ns``; True if any were released."""
        if self.speed is None:
            newest = len(self)
        else:
            play = self._t0_data_ns + (now_ns - self._t0_wall_ns) * self.speed
            newest = int(np.searchsorted(self.raw_end_ns, play, side="right"))
        if newest > self.newest:
            self.newest = newest
            return True
        return False

    def next_release_ns(self) -> int | None:
        """Clock time at which the next record is due [ns]; None when exhausted."""
        if self.exhausted or self.speed is None:
            return None
        due = int(self.raw_end_ns[self.newest]) - self._t0_data_ns
        return self._t0_wall_ns + int(np.ceil(due / self.speed))

    def record(self, seq: int) -> bytes:
        """The 512-byte record with sequence number ``seq`` (time-shifted if asked)."""
        raw = self.records[seq - 1].tobytes()
        return shift_start_time(raw, self.shift_ns) if self.shift_ns else raw

    def record_v3(self, seq: int) -> bytes:
        """Record ``seq`` as miniSEED 3 (converted once, then cached; SeedLink 4 ``:3``).

        Raises
        ------
        DataError
            If the record cannot be converted.
        """
        rec = self._v3.get(seq)
        if rec is None:
            rec = self._v3[seq] = to_mseed3(self.record(seq))
        return rec


def sort_order(
    channel_ids: list[str], channel: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Replay's arrival order: by end time, then channel id, then start time."""
    rank = np.empty(len(channel_ids), np.int64)
    rank[np.argsort(np.array(channel_ids, dtype=object))] = np.arange(len(channel_ids))
    ch_rank = rank[channel] if len(channel) else channel
    return np.lexsort((start, ch_rank, end))


def feed_from_index(idx: ArchiveIndex) -> ArchiveFeed:
    """Build a feed from an archive index, repacking records that are not 512-byte v2.

    Raises
    ------
    DataError
        If the archive holds no data record.
    """
    t = idx.table
    order = idx.order
    native = (t[order, scan.C_RECLEN] == RECORD_LEN) & (t[order, scan.C_ENCODING] >= 0)
    keep = order[native]
    recs: list[np.ndarray] = []
    if len(keep):
        rows = t[keep][:, [C_FILE, scan.C_OFFSET]].tolist()
        recs.append(np.stack([idx.arrays[f][o : o + RECORD_LEN] for f, o in rows]))
    ids = list(idx.channel_ids)
    code = {c: i for i, c in enumerate(ids)}
    chans = [t[keep, C_CHANNEL]]
    starts = [t[keep, scan.C_START_NS]]
    ends = [idx.end_ns[keep]]
    counters: Counter[str] = Counter()
    repacked_files: Counter[str] = Counter()
    extra: list[bytes] = []
    for i in order[~native].tolist():
        fi, off = int(t[i, C_FILE]), int(t[i, scan.C_OFFSET])
        try:
            pkt = decode_record(idx.buffers[fi], parse_header(idx.buffers[fi], off))
            new = repack_512(pkt) if pkt is not None else []
        except DataError as exc:
            counters["unrepackable_records"] += 1
            log.warning("%s: record at byte %d not served: %s", idx.sources[fi], off, exc)
            continue
        repacked_files[idx.sources[fi]] += 1
        extra.extend(new)
    for src, n in repacked_files.items():
        log.warning("%s: %d records are not 512-byte miniSEED 2; repacked for SeedLink 3", src, n)
    if extra:
        buf = b"".join(extra)
        hdrs = [parse_header(buf, k * RECORD_LEN) for k in range(len(extra))]
        for h in hdrs:
            if h.channel_id not in code:
                code[h.channel_id] = len(ids)
                ids.append(h.channel_id)
        recs.append(np.frombuffer(buf, np.uint8).reshape(-1, RECORD_LEN))
        chans.append(np.array([code[h.channel_id] for h in hdrs], np.int64))
        starts.append(np.array([h.starttime_ns for h in hdrs], np.int64))
        ends.append(np.array([h.endtime_ns for h in hdrs], np.int64))
        counters["repacked_records"] += len(extra)
    if not recs:
        raise DataError("no miniSEED data records to serve")
    records = np.concatenate(recs)
    channel, start, end = (np.concatenate(a) for a in (chans, starts, ends))
    if extra:
        o = sort_order(ids, channel, start, end)
        records, channel, start, end = records[o], channel[o], start[o], end[o]
    feed = ArchiveFeed(np.ascontiguousarray(records), ids, channel, start, end)
    feed.counters.update(counters)
    return feed


def load_feed(paths: Iterable[str | os.PathLike[str]]) -> ArchiveFeed:
    """Index files/folders with :func:`eew.acquisition.archive.index_archive` and build a feed."""
    return feed_from_index(index_archive(paths))
