"""Archive replay: file discovery, arrival order, record lengths, packet-size independence."""

from __future__ import annotations

import itertools

import numpy as np
import obspy
import pytest
from obspy.io.mseed.util import get_record_information

from eew.acquisition.archive import find_files, index_archive, iter_packets, split_packet
from eew.model.packet import Packet

CID_Z = "BW.RJOB..EHZ"
CID_N = "BW.RJOB..EHN"
NS = 1_000_000_000


@pytest.fixture
def event_counts(onset_trace) -> np.ndarray:
    x, _ = onset_trace(seed=6)
    return x.astype(np.int32)


@pytest.fixture
def horizontal_counts(noise) -> np.ndarray:
    return np.round(noise(6000, 150.0, seed=9, offset=-800.0)).astype(np.int32)


@pytest.fixture
def archive(tmp_path, mseed_writer, event_counts, horizontal_counts, t0_ns):
    """60 s of two channels cut into three 20 s files per channel, in nested folders."""
    files = []
    for k in range(3):
        sl = slice(2000 * k, 2000 * (k + 1))
        start = t0_ns + 20 * k * NS
        for cid, data in ((CID_Z, event_counts), (CID_N, horizontal_counts)):
            cha = cid.split(".")[-1]
            path = tmp_path / "arch" / cha / f"part{2 - k}" / f"{cha}.{k}.mseed"
            files.append(mseed_writer(path, [(cid, start, data[sl])]))
    return tmp_path / "arch", files


def test_find_files_searches_folders_recursively(archive, tmp_path):
    root, files = archive
    (root / "README.txt").write_text("not data", encoding="utf-8")
    (root / "EHZ" / ".hidden.mseed").write_bytes(b"junk")
    found = find_files([root])
    assert sorted(found) == sorted(files)
    assert found == sorted(found)
    # a file named explicitly is used whatever its suffix
    odd = tmp_path / "data.bin"
    odd.write_bytes(files[0].read_bytes())
    assert find_files([odd]) == [odd]


def test_packets_come_out_in_arrival_order(archive, event_counts, horizontal_counts):
    _, files = archive
    idx = index_archive(list(reversed(files)))  # out of order on purpose
    assert idx.counters["files"] == 6
    pkts = list(iter_packets(idx))
    ends = [p.endtime_ns for p in pkts]
    assert ends == sorted(ends)
    assert {p.channel_id for p in pkts} == {CID_Z, CID_N}
    # the channels are interleaved, not one after the other
    first_n = next(i for i, p in enumerate(pkts) if p.channel_id == CID_N)
    last_z = max(i for i, p in enumerate(pkts) if p.channel_id == CID_Z)
    assert first_n < last_z
    # per channel: contiguous and complete
    for cid, data in ((CID_Z, event_counts), (CID_N, horizontal_counts)):
        mine = [p for p in pkts if p.channel_id == cid]
        assert all(a.endtime_ns == b.starttime_ns for a, b in itertools.pairwise(mine))
        np.testing.assert_array_equal(np.concatenate([p.data for p in mine]), data)
    assert idx.span_s() == pytest.approx(60.0)


@pytest.mark.parametrize("reclen", [256, 512])
def test_record_start_times_are_exact_to_the_ns(
    reclen, tmp_path, mseed_writer, event_counts, t0_ns
):
    """Every record of a 100 Hz trace starts on a multiple of 10 ms after the first one.

    Times are int64 ns around 1.6e18; any float64 step in between loses up to 256 ns.
    """
    path = mseed_writer(tmp_path / "t.mseed", [(CID_Z, t0_ns, event_counts)], reclen=reclen)
    pkts = list(iter_packets(index_archive([path])))
    n_before = np.cumsum([0] + [p.n_samples for p in pkts[:-1]])
    assert [p.starttime_ns - t0_ns for p in pkts] == [int(n) * 10_000_000 for n in n_before]
    ref = [
        get_record_information(str(path), offset)["starttime"].ns
        for offset in range(0, path.stat().st_size, reclen)
    ]
    assert [p.starttime_ns for p in pkts] == ref


def test_file_order_and_splitting_do_not_change_results(
    archive,
    tmp_path,
    mseed_writer,
    event_counts,
    horizontal_counts,
    t0_ns,
    syn_inventory,
    run_pipeline,
    comparable,
):
    root, files = archive
    single = mseed_writer(
        tmp_path / "one.mseed", [(CID_Z, t0_ns, event_counts), (CID_N, t0_ns, horizontal_counts)]
    )
    ref = run_pipeline(iter_packets(index_archive([single])), syn_inventory)
    assert len(ref.final_picks()) == 1
    for paths in ([root], list(reversed(files)), files[::2] + files[1::2]):
        run = run_pipeline(iter_packets(index_archive(paths)), syn_inventory)
        assert [comparable(r) for r in run.results] == [comparable(r) for r in ref.results]


@pytest.mark.parametrize("reclen", [256, 4096])
def test_any_record_length_gives_the_same_results(
    reclen, tmp_path, mseed_writer, event_counts, t0_ns, syn_inventory, run_pipeline, comparable
):
    ref_file = mseed_writer(tmp_path / "r512.mseed", [(CID_Z, t0_ns, event_counts)])
    other = mseed_writer(
        tmp_path / f"r{reclen}.mseed", [(CID_Z, t0_ns, event_counts)], reclen=reclen
    )
    idx = index_archive([other])
    pkts = list(iter_packets(idx))
    np.testing.assert_array_equal(np.concatenate([p.data for p in pkts]), event_counts)
    ref = run_pipeline(iter_packets(index_archive([ref_file])), syn_inventory)
    run = run_pipeline(pkts, syn_inventory)
    assert ref.picks
    assert [comparable(r) for r in run.results] == [comparable(r) for r in ref.results]


def test_mixed_record_lengths_and_encodings_in_one_archive(
    tmp_path, mseed_writer, event_counts, horizontal_counts, t0_ns, syn_inventory, run_pipeline
):
    a = mseed_writer(tmp_path / "z.mseed", [(CID_Z, t0_ns, event_counts)], reclen=4096)
    b = mseed_writer(
        tmp_path / "n.mseed", [(CID_N, t0_ns, horizontal_counts)], reclen=256, encoding="STEIM1"
    )
    c = mseed_writer(
        tmp_path / "n2.mseed", [(CID_N, t0_ns + 60 * NS, horizontal_counts)], encoding="INT32"
    )
    idx = index_archive([c, a, b])
    pkts = list(iter_packets(idx))
    assert [p.endtime_ns for p in pkts] == sorted(p.endtime_ns for p in pkts)
    assert sum(p.n_samples for p in pkts) == 18_000
    run = run_pipeline(pkts, syn_inventory)
    assert len(run.final_picks()) == 1
    assert run.pipeline.statistics().data_problems == {}


@pytest.mark.parametrize("n_max", [1, 7, 100])
def test_max_packet_samples_does_not_change_results(
    n_max, rjob_mseed, rjob_inventory, run_pipeline, comparable
):
    idx = index_archive([rjob_mseed])
    ref = run_pipeline(iter_packets(idx), rjob_inventory)
    pkts = list(iter_packets(idx, max_packet_samples=n_max))
    assert max(p.n_samples for p in pkts) <= n_max
    run = run_pipeline(pkts, rjob_inventory)
    assert len(ref.final_picks()) == 1
    assert [comparable(r) for r in run.results] == [comparable(r) for r in ref.results]


def test_real_replay_sent_time_is_a_record_end(rjob_mseed, rjob_inventory, run_pipeline):
    idx = index_archive([rjob_mseed])
    pkts = list(iter_packets(idx))
    run = run_pipeline(pkts, rjob_inventory)
    z_ends = sorted(p.endtime_ns for p in pkts if p.channel_id == CID_Z)
    for p in run.picks:
        window_end = p.time_ns + round(p.window_s * NS)
        # stamped with the end of the first EHZ record that holds the whole window
        assert p.sent_time_ns == min(e for e in z_ends if e >= window_end)


def test_split_packet_keeps_samples_times_and_flags(t0_ns):
    data = np.arange(1001, dtype=np.int32)
    pkt = Packet(CID_Z, t0_ns, 100.0, data, calibration=True)
    for n_max in (1, 10, 333, 1001, 5000):
        parts = list(split_packet(pkt, n_max))
        assert all(p.n_samples <= n_max for p in parts)
        assert all(p.calibration for p in parts)
        np.testing.assert_array_equal(np.concatenate([p.data for p in parts]), data)
        assert parts[0].starttime_ns == pkt.starttime_ns
        assert parts[-1].endtime_ns == pkt.endtime_ns
        assert all(a.endtime_ns == b.starttime_ns for a, b in itertools.pairwise(parts))


def test_split_packet_at_40_hz(t0_ns):
    pkt = Packet(CID_Z, t0_ns, 40.0, np.arange(400, dtype=np.int32))
    parts = list(split_packet(pkt, 3))
    assert all(a.endtime_ns == b.starttime_ns for a, b in itertools.pairwise(parts))
    assert parts[-1].endtime_ns == pkt.endtime_ns == t0_ns + 10 * NS


def mixed_amplitudes(n_per: int = 400) -> np.ndarray:
    """Segments whose sample differences need 4, 8, 16 and 32 bits (every Steim code)."""
    rng = np.random.default_rng(12)
    parts = [np.round(rng.standard_normal(n_per) * a) for a in (2.0, 40.0, 3000.0, 5e6, 3.0)]
    return np.concatenate(parts).astype(np.int32)


@pytest.mark.parametrize("byteorder", [">", "<"], ids=["big", "little"])
@pytest.mark.parametrize(
    ("encoding", "dtype"),
    [
        ("STEIM1", np.int32),
        ("STEIM2", np.int32),
        ("INT32", np.int32),
        ("INT16", np.int16),
        ("FLOAT32", np.float32),
        ("FLOAT64", np.float64),
    ],
)
def test_decoded_samples_match_obspy(encoding, dtype, byteorder, tmp_path, t0_ns):
    data = mixed_amplitudes()
    if dtype is np.int16:
        data = np.clip(data, -30_000, 30_000)
    tr = obspy.Trace(
        data.astype(dtype),
        header={
            "network": "BW",
            "station": "RJOB",
            "channel": "EHZ",
            "sampling_rate": 100.0,
            "starttime": obspy.UTCDateTime(ns=t0_ns),
        },
    )
    path = tmp_path / f"{encoding}.mseed"
    obspy.Stream([tr]).write(
        str(path), format="MSEED", encoding=encoding, byteorder=byteorder, reclen=512
    )
    ref = obspy.read(str(path))[0].data
    idx = index_archive([path])
    pkts = list(iter_packets(idx))
    assert idx.counters.get("corrupt_records", 0) == 0
    got = np.concatenate([p.data for p in pkts])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got, data.astype(dtype))
