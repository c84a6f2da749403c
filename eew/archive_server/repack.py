"""Re-pack an archive into short records, as dataloggers set up for early warning send them.

A 512-byte Steim2 record of a quiet 100 Hz channel holds 4 to 6 s of samples, and a
live client receives a sample only once its record is complete: the record length is
the first term of the latency budget (``docs/seedlink.md``). ``eew serve
--record-seconds S`` therefore cuts each channel's samples into records of at most ``S``
seconds, with boundaries on whole multiples of ``S`` in data time (as a datalogger
flushes on the clock), and encodes them as 512-byte miniSEED 2 records (Steim2 for
integers) with libmseed. The samples and their times are unchanged: a record starts
exactly at its first sample, continuous data stay continuous, and a gap in the archive
stays a gap. The calibration flag of the source records is kept.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable

import numpy as np

from eew.acquisition.archive import ArchiveIndex, index_archive, iter_packets
from eew.acquisition.mseed import parse_header
from eew.acquisition.seedlink.protocol import RECORD_LEN
from eew.archive_server.feed import ArchiveFeed, sort_order
from eew.archive_server.records import repack_512
from eew.errors import DataError
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S

_ACTIVITY_FLAGS = 36  # byte offset of the activity flags in a miniSEED 2 fixed header


def _segments(packets: list[Packet]) -> list[list[Packet]]:
    """Runs of packets of one channel that continue each other (within half a sample)."""
    packets = sorted(packets, key=lambda p: p.starttime_ns)
    runs: list[list[Packet]] = []
    for p in packets:
        if runs:
            prev = runs[-1][-1]
            tol = 0.5 * NS_PER_S / p.sampling_rate_hz
            if (
                p.sampling_rate_hz == prev.sampling_rate_hz
                and p.data.dtype == prev.data.dtype
                and p.calibration == prev.calibration
                and abs(p.starttime_ns - prev.endtime_ns) <= tol
            ):
                runs[-1].append(p)
                continue
        runs.append([p])
    return runs


def split_at_boundaries(
    start_ns: int, n_samples: int, rate_hz: float, record_ns: int
) -> list[tuple[int, int]]:
    """Sample index ranges ``[i0, i1)`` cut where data time crosses a multiple of ``record_ns``.

    Sample ``i`` is at ``start_ns + i / rate_hz``; a range starts with the first sample at
    or after a boundary.
    """
    period = NS_PER_S / rate_hz
    end_ns = start_ns + n_samples * period
    cuts = [0]
    b = (start_ns // record_ns + 1) * record_ns
    while b < end_ns:
        i = math.ceil((b - start_ns) / period - 1e-6)
        if cuts[-1] < i < n_samples:
            cuts.append(i)
        b += record_ns
    cuts.append(n_samples)
    return list(itertools.pairwise(cuts))


def short_records(packets: list[Packet], record_s: float) -> list[bytes]:
    """Re-encode one channel's packets as 512-byte records of at most ``record_s`` seconds.

    Raises
    ------
    DataError
        If libmseed cannot encode the samples.
    """
    record_ns = round(record_s * NS_PER_S)
    out: list[bytes] = []
    for run in _segments(packets):
        first = run[0]
        data = np.concatenate([p.data for p in run])
        fs = first.sampling_rate_hz
        for i0, i1 in split_at_boundaries(first.starttime_ns, len(data), fs, record_ns):
            start = first.starttime_ns + round(i0 * NS_PER_S / fs)
            recs = repack_512(Packet(first.channel_id, start, fs, data[i0:i1]))
            if first.calibration:
                recs = [_flag_calibration(r) for r in recs]
            out.extend(recs)
    return out


def _flag_calibration(record: bytes) -> bytes:
    rec = bytearray(record)
    rec[_ACTIVITY_FLAGS] |= 0x01
    return bytes(rec)


def feed_with_short_records(idx: ArchiveIndex, record_s: float) -> ArchiveFeed:
    """An :class:`ArchiveFeed` of the archive re-packed into records of ``record_s`` seconds.

    Raises
    ------
    ValueError
        If ``record_s`` is not positive.
    DataError
        If the archive holds no data record.
    """
    if not record_s > 0:
        raise ValueError("record length must be positive")
    by_channel: dict[str, list[Packet]] = {}
    for p in iter_packets(idx):
        by_channel.setdefault(p.channel_id, []).append(p)
    if not by_channel:
        raise DataError("no miniSEED data records to serve")
    ids = sorted(by_channel)
    recs: list[bytes] = []
    chans: list[int] = []
    for c, cid in enumerate(ids):
        new = short_records(by_channel[cid], record_s)
        recs.extend(new)
        chans.extend([c] * len(new))
    buf = b"".join(recs)
    hdrs = [parse_header(buf, k * RECORD_LEN) for k in range(len(recs))]
    channel = np.array(chans, np.int64)
    start = np.array([h.starttime_ns for h in hdrs], np.int64)
    end = np.array([h.endtime_ns for h in hdrs], np.int64)
    records = np.frombuffer(buf, np.uint8).reshape(-1, RECORD_LEN)
    o = sort_order(ids, channel, start, end)
    feed = ArchiveFeed(np.ascontiguousarray(records[o]), ids, channel[o], start[o], end[o])
    feed.counters["repacked_records"] = len(recs)
    return feed


def load_feed_short(paths: Iterable[str | os.PathLike[str]], record_s: float) -> ArchiveFeed:
    """Index files or folders and re-pack them into records of ``record_s`` seconds."""
    return feed_with_short_records(index_archive(paths), record_s)
