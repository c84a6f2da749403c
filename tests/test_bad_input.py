"""Bad input: each case gives one clear log line and a counter; the run goes on.

miniSEED is written with obspy, damaged on purpose and replayed through
:func:`eew.acquisition.archive.index_archive` / :func:`~eew.acquisition.archive.iter_packets`
and a :class:`~eew.detect.router.Pipeline` (the CLI path is covered in test_cli.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import obspy
import pytest

from eew.acquisition.archive import index_archive, iter_packets
from eew.inventory import Inventory

CID = "BW.RJOB..EHZ"
NS = 1_000_000_000
RECLEN = 512


class Replay:
    """Index + pipeline run + the warnings they logged."""

    def __init__(self, paths, inventory, run_pipeline, caplog) -> None:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="eew"):
            self.index = index_archive(paths)
            self.run = run_pipeline(iter_packets(self.index), inventory)
        self.logs = [r for r in caplog.records if r.name.startswith("eew")]
        self.stats = self.run.pipeline.statistics()

    @property
    def counters(self) -> dict[str, int]:
        return dict(self.index.counters)

    def warnings(self, text: str) -> list[str]:
        return [
            r.getMessage()
            for r in self.logs
            if r.levelno >= logging.WARNING and text in r.getMessage()
        ]


@pytest.fixture
def replay(syn_inventory, run_pipeline, caplog):
    def _replay(paths, inventory: Inventory | None = None) -> Replay:
        return Replay(paths, inventory or syn_inventory, run_pipeline, caplog)

    return _replay


@pytest.fixture
def noise_counts(noise) -> np.ndarray:
    """60 s of noise with a DC offset [int counts]."""
    return np.round(noise(6000, 200.0, seed=1, offset=1500.0)).astype(np.int32)


@pytest.fixture
def event_counts(onset_trace) -> np.ndarray:
    """60 s of noise with a synthetic P onset at 30 s [int counts]."""
    x, _ = onset_trace(seed=3)
    return x.astype(np.int32)


@pytest.fixture
def noise_file(tmp_path, mseed_writer, noise_counts, t0_ns) -> Path:
    return mseed_writer(tmp_path / "noise.mseed", [(CID, t0_ns, noise_counts)])


@pytest.fixture
def event_file(tmp_path, mseed_writer, event_counts, t0_ns) -> Path:
    return mseed_writer(tmp_path / "event.mseed", [(CID, t0_ns, event_counts)])


def damaged(path: Path, name: str, edit) -> Path:
    buf = bytearray(path.read_bytes())
    edit(buf)
    out = path.with_name(name)
    out.write_bytes(bytes(buf))
    return out


def no_trigger(r: Replay) -> None:
    assert r.run.picks == []
    assert r.run.rejected == []
    assert all(c.triggers == 0 for c in r.stats.per_channel.values())


def test_clean_files_replay_without_problems(
    replay, noise_file, event_file, comparable, run_pipeline
):
    r = replay([noise_file])
    assert r.counters["files"] == 1
    assert r.counters["records"] == len(noise_file.read_bytes()) // RECLEN
    assert r.stats.samples == 6000
    assert r.stats.data_problems == {}
    assert r.warnings("") == []
    no_trigger(r)
    ev = replay([event_file])
    assert len(ev.run.final_picks()) == 1


def test_corrupt_header_in_the_middle(replay, noise_file):
    def edit(buf: bytearray) -> None:
        buf[5 * RECLEN : 5 * RECLEN + 48] = b"\xa5" * 48

    bad = damaged(noise_file, "bad_header.mseed", edit)
    clean = replay([noise_file])
    r = replay([bad])
    assert r.counters["corrupt_records"] == 1
    assert r.counters["records"] == clean.counters["records"] - 1
    lines = r.warnings(str(bad))
    assert len(lines) == 1
    assert str(5 * RECLEN) in lines[0]  # says where
    # the records after the damage are still used; the hole is a gap, not a trigger
    assert clean.stats.samples > r.stats.samples > clean.stats.samples - 600
    assert r.stats.data_problems == {"gaps": 1}
    no_trigger(r)


def test_corrupt_data_in_the_middle(replay, noise_file):
    def edit(buf: bytearray) -> None:
        junk = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
        buf[7 * RECLEN + 100 : 7 * RECLEN + 400] = junk

    bad = damaged(noise_file, "bad_data.mseed", edit)
    clean = replay([noise_file])
    r = replay([bad])
    assert r.counters["corrupt_records"] == 1
    assert len(r.warnings(str(bad))) == 1
    assert r.stats.samples < clean.stats.samples
    assert r.stats.data_problems == {"gaps": 1}
    no_trigger(r)


def test_corrupt_record_does_not_stop_picking_later(replay, event_file):
    def edit(buf: bytearray) -> None:
        buf[2 * RECLEN : 2 * RECLEN + 48] = b"\x00" * 48  # well before the event at 30 s

    r = replay([damaged(event_file, "event_bad.mseed", edit)])
    assert r.counters["corrupt_records"] == 1
    assert len(r.run.final_picks()) == 1


def test_truncated_last_record(replay, noise_file):
    def edit(buf: bytearray) -> None:
        del buf[-100:]

    bad = damaged(noise_file, "truncated.mseed", edit)
    clean = replay([noise_file])
    r = replay([bad])
    assert r.counters["truncated_records"] == 1
    assert r.counters.get("corrupt_records", 0) == 0
    assert r.counters["records"] == clean.counters["records"] - 1
    lines = r.warnings(str(bad))
    assert len(lines) == 1 and "truncated" in lines[0]
    assert r.stats.data_problems == {}
    no_trigger(r)


@pytest.mark.parametrize("cut", [20, 47, 300])
def test_file_cut_inside_the_first_record(replay, noise_file, tmp_path, cut):
    bad = tmp_path / "stub.mseed"
    bad.write_bytes(noise_file.read_bytes()[:cut])
    r = replay([bad, noise_file])  # the other file still replays
    assert r.stats.samples == 6000
    assert r.counters.get("truncated_records", 0) + r.counters.get("corrupt_records", 0) >= 1
    assert r.warnings(str(bad))


def test_channel_missing_from_inventory(
    replay, tmp_path, mseed_writer, noise_counts, event_counts, t0_ns
):
    path = mseed_writer(
        tmp_path / "two.mseed", [(CID, t0_ns, event_counts), ("XX.NOPE..HHZ", t0_ns, noise_counts)]
    )
    r = replay([path])
    lines = r.warnings("XX.NOPE..HHZ")
    assert len(lines) == 1 and "inventory" in lines[0]  # once, not once per record
    assert r.stats.unknown_channels == 1
    assert r.stats.channels == 1
    assert len(r.run.final_picks()) == 1  # the known channel is processed


def test_sample_rate_change(replay, tmp_path, noise, t0_ns):
    first = np.round(noise(3000, 200.0, seed=2, offset=1500.0)).astype(np.int32)
    second = np.round(noise(1500, 200.0, seed=3, offset=1500.0)).astype(np.int32)
    st = obspy.Stream()
    for data, fs, start in ((first, 100.0, t0_ns), (second, 50.0, t0_ns + 30 * NS)):
        st += obspy.Trace(
            data,
            header={
                "network": "BW",
                "station": "RJOB",
                "channel": "EHZ",
                "sampling_rate": fs,
                "starttime": obspy.UTCDateTime(ns=start),
            },
        )
    path = tmp_path / "rate.mseed"
    st.write(str(path), format="MSEED", reclen=RECLEN, encoding="STEIM2")
    r = replay([path])
    # the inventory says 100 Hz: the 50 Hz records are processed at 50 Hz (a restart)
    assert r.stats.metadata.rate_changes == 1
    assert r.stats.metadata.rate_mismatch == 0  # the channel was first seen at 100 Hz
    assert r.stats.data_problems.get("rate_mismatch", 0) >= 1  # the 50 Hz records
    lines = r.warnings("Hz")
    assert len(lines) == 1 and CID in lines[0] and "restarts" in lines[0]
    assert r.stats.samples == 4500  # both parts are processed, each at its own rate
    no_trigger(r)


def test_overlap(replay, tmp_path, mseed_writer, noise, t0_ns):
    a = np.round(noise(3000, 200.0, seed=4, offset=1500.0)).astype(np.int32)
    b = np.round(noise(3000, 200.0, seed=5, offset=1500.0)).astype(np.int32)
    path = tmp_path / "overlap.mseed"
    mseed_writer(path.with_name("a.mseed"), [(CID, t0_ns, a)])
    mseed_writer(path.with_name("b.mseed"), [(CID, t0_ns + 27_500_000_000, b)])
    r = replay([path.with_name("a.mseed"), path.with_name("b.mseed")])
    assert r.stats.data_problems.get("overlaps", 0) == 1
    assert len(r.warnings("overlap")) == 1
    no_trigger(r)


def test_duplicate_record(replay, event_file, comparable):
    def edit(buf: bytearray) -> None:
        buf[4 * RECLEN : 4 * RECLEN] = bytes(buf[3 * RECLEN : 4 * RECLEN])

    bad = damaged(event_file, "dup.mseed", edit)
    clean = replay([event_file])
    r = replay([bad])
    assert r.stats.data_problems == {"duplicates": 1}
    assert len(r.warnings("duplicate")) == 1
    assert r.stats.samples == clean.stats.samples
    assert [comparable(x) for x in r.run.results] == [comparable(x) for x in clean.run.results]


@pytest.mark.parametrize("offset_after", [1500.0, 90_000.0])
def test_gap_in_noise_gives_no_phantom_trigger(
    replay, tmp_path, mseed_writer, noise, t0_ns, offset_after
):
    a = np.round(noise(4000, 200.0, seed=6, offset=1500.0)).astype(np.int32)
    b = np.round(noise(4000, 200.0, seed=7, offset=offset_after)).astype(np.int32)
    path = mseed_writer(
        tmp_path / "gap.mseed",
        [(CID, t0_ns, a), (CID, t0_ns + 70 * NS, b)],  # 30 s gap
    )
    r = replay([path])
    assert r.stats.data_problems == {"gaps": 1}
    lines = r.warnings("gap")
    assert len(lines) == 1 and "30.000 s" in lines[0]
    assert r.stats.samples == 8000
    no_trigger(r)


def test_gap_just_after_a_pick_finishes_it(replay, tmp_path, mseed_writer, event_counts, t0_ns):
    head = event_counts[:3200]  # the onset at 30 s and 2 s of it
    tail = event_counts[3200:]
    path = mseed_writer(tmp_path / "cut.mseed", [(CID, t0_ns, head), (CID, t0_ns + 52 * NS, tail)])
    r = replay([path])
    finals = r.run.final_picks()
    assert len(finals) == 1
    assert finals[0].window_s < 4.0  # ended by the gap
    assert r.stats.data_problems == {"gaps": 1}


def test_empty_file(replay, tmp_path, noise_file):
    empty = tmp_path / "empty.mseed"
    empty.write_bytes(b"")
    r = replay([empty, noise_file])
    assert r.counters["empty_files"] == 1
    lines = r.warnings(str(empty))
    assert len(lines) == 1 and "empty" in lines[0]
    assert r.stats.samples == 6000


def test_not_a_miniseed_file(replay, tmp_path, noise_file):
    text = tmp_path / "notes.mseed"
    text.write_text("station notes, not waveform data\n" * 40, encoding="utf-8")
    r = replay([text, noise_file])
    assert r.counters["files_without_data"] == 1
    assert len(r.warnings(str(text))) == 1
    assert r.stats.samples == 6000
    no_trigger(r)


def test_only_bad_files_give_an_empty_run(replay, tmp_path):
    empty = tmp_path / "empty.mseed"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mseed"
    junk.write_bytes(bytes(range(256)) * 8)
    r = replay([empty, junk])
    assert len(r.index) == 0
    assert r.run.results == []
    assert r.stats.packets == 0


def test_text_records_are_skipped(replay, tmp_path, noise_file, t0_ns):
    log_tr = obspy.Trace(
        np.frombuffer(b"calibration started by the operator " * 8, dtype="|S1"),
        header={
            "network": "BW",
            "station": "RJOB",
            "channel": "LOG",
            "starttime": obspy.UTCDateTime(ns=t0_ns + 5 * NS),
        },
    )
    log_file = tmp_path / "log.mseed"
    obspy.Stream([log_tr]).write(str(log_file), format="MSEED", encoding="ASCII", reclen=RECLEN)
    data = noise_file.read_bytes()
    mixed = tmp_path / "mixed.mseed"
    mixed.write_bytes(data[: 3 * RECLEN] + log_file.read_bytes() + data[3 * RECLEN :])
    r = replay([mixed])
    assert r.counters["non_data_records"] == 1
    assert r.counters.get("corrupt_records", 0) == 0
    assert r.stats.samples == 6000
    assert r.stats.unknown_channels == 0
    # one line (INFO or above) says that the file held a record without samples
    assert (
        len(
            [
                rec
                for rec in r.logs
                if rec.levelno >= logging.INFO and str(mixed) in rec.getMessage()
            ]
        )
        == 1
    )
    no_trigger(r)


def test_missing_path_is_an_error(tmp_path):
    from eew.errors import DataError

    with pytest.raises(DataError, match="nothing_here"):
        index_archive([tmp_path / "nothing_here"])


@pytest.mark.parametrize("reclen", [256, 512])
def test_flat_channel_is_reported_dead_once(replay, tmp_path, mseed_writer, noise, t0_ns, reclen):
    x = np.round(noise(6000, 200.0, seed=8, offset=1500.0))
    x[2000:4000] = 1500.0  # 20 s of a dead channel in the middle
    path = mseed_writer(tmp_path / "flat.mseed", [(CID, t0_ns, x.astype(np.int32))], reclen=reclen)
    r = replay([path])
    assert r.stats.data_problems.get("dead") == 1
    assert len(r.warnings("dead channel")) == 1
    no_trigger(r)
