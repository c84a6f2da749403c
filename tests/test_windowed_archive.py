"""The windowed archive index (eew.acquisition.windowed) delivers the whole index's packets.

``scan_archive`` keeps block summaries only and decodes the archive window by window of end
time; the packets, their order and the ingest counters must be those of
``iter_packets(index_archive(paths))`` whatever the window size: gaps, channels that start
late, files given out of order, records out of order inside a file, windows smaller than a
block and edges that fall between two records of the same end time. ``eew replay`` (which
uses it) must give the same JSON Lines with one job and two, with windows of any size.
"""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from eew.acquisition import windowed
from eew.acquisition.archive import find_files, index_archive, iter_packets
from eew.acquisition.windowed import (
    B_RECORDS,
    BLOCK_RECORDS,
    combine_scans,
    iter_stream_packets,
    scan_archive,
    scan_share,
)
from eew.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOISE = ROOT / "waveforms_samples" / "noise_30min"
RECLEN = 512


def _key(pkts: list) -> list[tuple[object, ...]]:
    return [
        (p.channel_id, p.starttime_ns, p.sampling_rate_hz, p.calibration, p.data.tobytes())
        for p in pkts
    ]


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """noise_30min with a gap, a channel that starts late, records out of order in a file,
    a corrupt record and a text file, spread over nested folders."""
    root = tmp_path_factory.mktemp("messy")
    arch = root / "arch"
    shutil.copytree(NOISE, arch)
    files = sorted(arch.glob("*.mseed"))
    # a gap: 40 records missing in the middle of one channel
    buf = files[0].read_bytes()
    files[0].write_bytes(buf[: 100 * RECLEN] + buf[140 * RECLEN :])
    # a channel that starts 20 minutes late, in a folder of its own
    buf = files[1].read_bytes()
    late = arch / "late" / files[1].name
    late.parent.mkdir()
    late.write_bytes(buf[len(buf) * 2 // 3 // RECLEN * RECLEN :])
    files[1].unlink()
    # records in reverse time order inside one file
    buf = files[2].read_bytes()
    recs = [buf[i : i + RECLEN] for i in range(0, len(buf), RECLEN)]
    files[2].write_bytes(b"".join(reversed(recs)))
    # one corrupt record (garbage over its data) in another
    buf = bytearray(files[3].read_bytes())
    junk = np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes()
    buf[9 * RECLEN + 100 : 9 * RECLEN + 400] = junk
    files[3].write_bytes(bytes(buf))
    (arch / "notes.ms").write_bytes(b"not miniSEED at all " * 40)
    return arch


@pytest.mark.parametrize("window_records", [1, 7, 200, 1_000_000])
def test_windows_give_the_whole_index_packets(messy: Path, window_records: int) -> None:
    ref_idx = index_archive([messy])
    ref = list(iter_packets(ref_idx))
    sidx = scan_archive([messy], window_records)
    got = list(iter_stream_packets(sidx))
    assert len(ref) > 3000
    assert _key(got) == _key(ref)
    assert sidx.counters == ref_idx.counters
    assert len(sidx) == len(ref_idx)
    assert sidx.span_s() == pytest.approx(ref_idx.span_s())
    if window_records == 7:
        assert len(list(sidx.windows())) > 400  # many windows, not one


@pytest.mark.parametrize("window_records", [5, 300])
def test_windows_with_files_given_out_of_order_and_split_packets(
    messy: Path, window_records: int
) -> None:
    paths = sorted(messy.rglob("*.mseed"), reverse=True)
    ref = list(iter_packets(index_archive(paths), 100))
    got = list(iter_stream_packets(scan_archive(paths, window_records), 100))
    assert len(ref) > len(list(iter_packets(index_archive(paths))))
    assert _key(got) == _key(ref)


@pytest.mark.parametrize("reverse", [False, True])
def test_first_pass_in_shares_gives_the_same_index(messy: Path, reverse: bool) -> None:
    """The parallel replay's workers scan consecutive runs of files (empty ones too); the
    shares combined are the index of one pass: files, channels, blocks, counters (their
    order included), loads, and so the packets."""
    files = find_files([messy])[:: -1 if reverse else 1]
    ref = scan_archive(files, 300)
    ref_counts = list(ref.counters.items())  # before the replay counts undecodable records
    ref_packets = _key(list(iter_stream_packets(ref)))
    n = len(files)
    for cuts in ([0, n], [3, n], [0, 1, n // 2, n], [2, 2, n - 1, n, n]):
        edges = [0, *cuts]
        parts = [scan_share(files[a:b]) for a, b in pairwise(edges)]
        got = combine_scans(parts, 300)
        assert got.sources == ref.sources
        assert got.channel_ids == ref.channel_ids
        assert np.array_equal(got.blocks, ref.blocks)
        assert list(got.counters.items()) == ref_counts
        assert np.array_equal(got.channel_samples, ref.channel_samples)
        assert (len(got), got.max_duration_ns) == (len(ref), ref.max_duration_ns)
        assert _key(list(iter_stream_packets(got))) == ref_packets
    assert ref.counters["files_without_data"] == 1


@pytest.mark.parametrize("window_records", [7, 300])
def test_files_of_several_channels(tmp_path: Path, window_records: int) -> None:
    """Blocks of one channel are rescanned without looking up their records' names; a file
    that holds two channels, back to back or interleaved, gives blocks of several (-1)."""
    files = sorted(NOISE.glob("*.mseed"))
    a, b, c = (f.read_bytes() for f in files[:3])
    ra = [a[i : i + RECLEN] for i in range(0, len(a), RECLEN)]
    rb = [b[i : i + RECLEN] for i in range(0, len(b), RECLEN)]
    (tmp_path / "mixed.mseed").write_bytes(b"".join(x + y for x, y in zip(ra, rb, strict=False)))
    (tmp_path / "two.mseed").write_bytes(c + files[3].read_bytes())
    for f in files[4:6]:
        shutil.copy(f, tmp_path / f.name)
    ref = list(iter_packets(index_archive([tmp_path])))
    sidx = scan_archive([tmp_path], window_records)
    chans = sidx.blocks[:, windowed.B_CHANNEL]
    assert (chans == -1).any() and (chans >= 0).sum() > 10
    assert _key(list(iter_stream_packets(sidx))) == _key(ref)


def test_block_table_is_small(messy: Path) -> None:
    sidx = scan_archive([messy])
    assert sidx.blocks[:, B_RECORDS].sum() == len(sidx)
    assert sidx.blocks[:, B_RECORDS].max() <= BLOCK_RECORDS
    # one block per 64 records, plus the breaks (file ends, the corrupt record, reversal)
    assert sidx.blocks.shape[0] < len(sidx) / BLOCK_RECORDS + 40


def test_window_edges_skip_empty_stretches(tmp_path: Path) -> None:
    """Two files a year apart: the windows jump over the year instead of walking it."""
    arch = tmp_path / "arch"
    arch.mkdir()
    src = sorted(NOISE.glob("*.mseed"))
    shutil.copy(src[0], arch / "a.mseed")
    import obspy

    st = obspy.read(str(src[1]))
    for tr in st:
        tr.stats.starttime += 365 * 86400
    st.write(str(arch / "b.mseed"), format="MSEED", reclen=RECLEN, encoding="STEIM2")
    sidx = scan_archive([arch], 50)
    edges = list(sidx.window_edges())
    assert len(edges) < 30
    assert _key(list(iter_stream_packets(sidx))) == _key(list(iter_packets(index_archive([arch]))))


@pytest.mark.parametrize("jobs", [1, 2])
def test_replay_with_small_windows_is_identical(
    messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    def replay(out: Path, n_jobs: int) -> str:
        args = ["replay", str(messy), "--out", str(out), "--jobs", str(n_jobs), "--no-progress"]
        assert main([*args, "--with-rejections"]) == 0
        return out.read_text(encoding="utf-8")

    # one job, one window (the default size exceeds the archive): the single run
    whole = replay(tmp_path / "whole.jsonl", 1)
    monkeypatch.setattr(windowed, "WINDOW_RECORDS", 150)
    small = replay(tmp_path / "small.jsonl", jobs)
    assert whole.count("\n") > 20
    assert small == whole


def test_window_bytes_bound_the_window_size(messy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large records: the byte bound gives more windows than the record count alone."""
    ref = _key(list(iter_packets(index_archive([messy]))))
    one = scan_archive([messy])
    assert len(list(one.window_edges())) == 1
    monkeypatch.setattr(windowed, "WINDOW_BYTES", 100 * RECLEN)
    sidx = scan_archive([messy])
    assert len(list(sidx.windows())) > 20
    assert _key(list(iter_stream_packets(sidx))) == ref
