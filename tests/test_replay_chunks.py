"""``eew replay --jobs N --split time``: time chunks with a warm-up give the single run's output.

The whole-output comparisons run on a simulated half hour with three events, one of which
straddles a chunk edge; the parts (the plan, the event renumbering, the edge check) are
tested on their own.
"""

from __future__ import annotations

import itertools
import logging
import pickle
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eew.acquisition.windowed import (
    B_END_MAX,
    B_END_MIN,
    B_FIRST_NS,
    B_RECORDS,
    N_BLOCK_COLS,
    StreamingIndex,
    scan_archive,
)
from eew.assembly import Stages
from eew.cli import main
from eew.detect.router import PipelineStatistics
from eew.parallel.chunks import (
    ChunkOutput,
    ChunkSpec,
    merge_chunks,
    renumber,
    state_difference,
)
from eew.parallel.plan import plan_chunks, use_time_chunks

#: half an hour of noise on the AW stations: an M4.8 early, an M4.6 where the edge of two
#: chunks falls with a 600-s warm-up, an M4.5 late, a telemetry gap and a spike
SCENARIO = """
[scenario]
name = "long_chunks"
description = "Thirty minutes of noise with events before and on a time-chunk edge"
seed = 4343
start_time = 2024-05-08T10:00:00Z
length_s = 1800.0

[stations]
include = ["AW.*"]
channels = ["HHZ", "HN?"]

[[source]]
id = "early"
origin_time = 2024-05-08T10:01:00Z
latitude_deg = 43.35
longitude_deg = 76.60
depth_km = 12.0
magnitude = 4.8

[[source]]
id = "edge"
origin_time = 2024-05-08T10:19:55Z
latitude_deg = 43.15
longitude_deg = 77.10
depth_km = 10.0
magnitude = 4.6

[[source]]
id = "late"
origin_time = 2024-05-08T10:25:00Z
latitude_deg = 43.25
longitude_deg = 76.90
depth_km = 8.0
magnitude = 4.5

[[disturbance]]
kind = "gap"
target = "AW.ALMY"
time_s = 900.0
duration_s = 20.0

[[disturbance]]
kind = "spike"
target = "AW.KAST..HHZ"
time_s = 1210.0
amplitude_counts = 2000000.0
"""

WARMUP = "600"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eew.simulate.run import run_scenario_file

    base = tmp_path_factory.mktemp("chunks")
    scenario = base / "long.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    run_scenario_file(scenario, base / "archive", None)
    return base / "archive"


def _replay(archive: Path, out: Path, *extra: str) -> str:
    args = ["replay", str(archive), "--out", str(out), "--no-progress", *extra]
    assert main(args) == 0
    return out.read_text(encoding="utf-8")


def _summary(err: str) -> list[str]:
    lines = err[err.index("replay summary") :].splitlines()
    return [ln for ln in lines if "wall time" not in ln and "per-channel warnings" not in ln]


@pytest.mark.slow
def test_time_chunks_give_the_single_run_with_an_event_across_an_edge(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _replay(archive, tmp_path / "j1.jsonl", "--with-rejections")
    err1 = capsys.readouterr().err
    assert one.count('"type":"event"') > 100 and one.count('"type":"alert"') >= 3
    chunked = ("--split", "time", "--chunk-warmup", WARMUP, "--with-rejections")
    two = _replay(archive, tmp_path / "j2.jsonl", "--jobs", "2", *chunked)
    err2 = capsys.readouterr().err
    assert two == one
    assert _summary(err2) == _summary(err1)
    assert "chunk_edges_differing" not in err2
    assert _replay(archive, tmp_path / "j3.jsonl", "--jobs", "3", *chunked) == one
    picks = _replay(archive, tmp_path / "p1.jsonl", "--picks-only")
    assert _replay(archive, tmp_path / "p2.jsonl", "--jobs", "2", *chunked[:4], "--picks-only") == (
        picks
    )

    # the edge of the two chunks falls inside the second event, whose messages the two
    # chunks therefore share (its id renumbered in the later one)
    plan = plan_chunks(scan_archive([archive]), 2, int(float(WARMUP) * 1e9))
    edge = plan[1][1]
    sent = [
        np.datetime64(line.split('"sent_time":"')[1][:23], "ns").astype(np.int64)
        for line in one.splitlines()
        if '"type":"event"' in line and "10:19:54" in line
    ]
    assert min(sent) < edge < max(sent)


@pytest.mark.slow
def test_a_warm_up_too_short_is_found_and_replayed_again(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _replay(archive, tmp_path / "j1.jsonl", "--with-rejections")
    capsys.readouterr()
    # 120 s: the LTA still holds the clipped M4.8 of the first minutes, the baseline its start
    short = ("--split", "time", "--chunk-warmup", "120", "--with-rejections", "--jobs", "3")
    assert _replay(archive, tmp_path / "j3.jsonl", *short) == one
    assert "chunk_warmups_extended" in capsys.readouterr().err
    # no warm-up at all: every channel is new to the later chunk, which is replayed again
    none = ("--split", "time", "--chunk-warmup", "0", "--with-rejections", "--jobs", "2")
    assert _replay(archive, tmp_path / "w0.jsonl", *none) == one


def test_state_difference_names_the_channel_and_what_differs() -> None:
    edge = 10**18
    fed = float(edge - 10**9)  # data up to a second before the edge
    a = {"AW.X..HHZ": np.array([5.0, 1.0, 2.0, 0.0, 0.0, 0.0, fed])}
    assert state_difference(a, {"AW.X..HHZ": a["AW.X..HHZ"] * (1 + 1e-12)}, edge) == ""
    b = {"AW.X..HHZ": np.array([5.0, 1.0, 2.0 * (1 + 1e-6), 0.0, 0.0, 0.0, fed])}
    assert "AW.X..HHZ: LTA differs by 1.0e-06" in state_difference(a, b, edge)
    c = {"AW.X..HHZ": np.array([5.0, 1.0, 2.0, 1.0, 0.0, 0.0, fed])}
    assert "trigger" in state_difference(a, c, edge)
    # fed up to the edge, so the later chunk must know it (a warm-up of 0 s does not)
    assert "not yet seen" in state_difference(a, {}, edge)
    # silent for minutes before the edge: both runs start it afresh at its next data
    old = {"AW.X..HHZ": np.array([5.0, 1.0, 2.0, 0.0, 0.0, 0.0, float(edge - 300 * 10**9)])}
    assert state_difference(old, {}, edge) == ""
    # a channel only the later chunk knows started inside its warm-up
    assert state_difference({}, a, edge) == ""


def _blocks(ends: list[tuple[int, int, int]]) -> StreamingIndex:
    b = np.zeros((len(ends), N_BLOCK_COLS), np.int64)
    for i, (lo, hi, n) in enumerate(ends):
        b[i, B_END_MIN], b[i, B_END_MAX], b[i, B_RECORDS] = lo, hi, n
    return StreamingIndex(blocks=b, n_records=int(b[:, B_RECORDS].sum()))


@pytest.mark.parametrize("jobs", [2, 3, 4])
def test_plan_gives_every_chunk_the_same_work(jobs: int) -> None:
    s = 1_000_000_000
    # 20 channels, blocks of 64 records of 3 s over 3 hours
    ends = [(t, t + 192 * s, 64) for _c in range(20) for t in range(0, 10_800 * s, 192 * s)]
    sidx = _blocks(ends)
    warm = 1200 * s
    plan = plan_chunks(sidx, jobs, warm)
    assert len(plan) == jobs
    assert plan[0][0] == plan[0][1]  # the first chunk starts with the data: no warm-up
    assert plan[-1][2] is None  # the last runs to the end
    for (_start, own, stop), nxt in itertools.pairwise(plan):
        assert stop == nxt[1] and nxt[0] == nxt[1] - warm
        assert stop is not None and own < stop
    # records processed per chunk (warm-up included) about equal: uniform data, so time
    end = int(sidx.blocks[:, B_END_MAX].max())
    spans = [((stop if stop is not None else end) - max(start, 0)) / s for start, _o, stop in plan]
    assert max(spans) - min(spans) < 60.0


def test_plan_of_a_short_archive_has_fewer_chunks() -> None:
    s = 1_000_000_000
    plan = plan_chunks(_blocks([(0, 600 * s, 200)]), 4, 1200 * s)
    assert len(plan) == 1 and plan[0][2] is None


def test_auto_split_takes_time_chunks_for_long_archives() -> None:
    s = 1_000_000_000
    short, long = _blocks([(0, 3600 * s, 64)]), _blocks([(0, 6 * 3600 * s, 64)])
    short.blocks[:, B_FIRST_NS] = long.blocks[:, B_FIRST_NS] = 0
    assert not use_time_chunks("auto", short, 2, 1200.0)
    assert use_time_chunks("auto", long, 2, 1200.0)
    assert use_time_chunks("time", short, 2, 1200.0)
    assert not use_time_chunks("channels", long, 2, 1200.0)
    with pytest.raises(ValueError, match="split"):
        use_time_chunks("days", long, 2, 1200.0)


@dataclass(frozen=True)
class _Msg:
    event_id: str
    text: str = ""
    incident_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "text": self.text, "incident_id": self.incident_id}


def test_renumber_raises_event_numbers_and_leaves_onsite_ids() -> None:
    m = _Msg("KZ-AEWS-2024-05-08T10:19:54.2Z-1", incident_id="KZ-AEWS-2024-05-08T10:19:54.2Z-1")
    r = renumber(m, 4)
    assert isinstance(r, _Msg)
    assert r.event_id == r.incident_id == "KZ-AEWS-2024-05-08T10:19:54.2Z-5"
    onsite = _Msg("KZ-AEWS-onsite-2024-05-08T10:10:41.8Z")
    assert renumber(onsite, 4) == onsite
    assert renumber(m, 0) is m


def _out(
    folder: Path,
    name: str,
    owned: list[tuple[int, object]],
    tail: list[tuple[int, object]],
    c0: int,
    c1: int,
) -> ChunkOutput:
    spool = folder / name
    with open(spool, "wb") as f:
        for item in owned:
            pickle.dump(item, f)
    stats = PipelineStatistics(0, 0, 0, 0, 0, {}, {}, 0, 0.0, {})
    return ChunkOutput(str(spool), tail, c0, c1, stats, None)


def _spec(start: int, own: int, stop: int | None) -> ChunkSpec:
    return ChunkSpec(StreamingIndex(), start, own, stop, own - 25, Stages(), "")


def test_merge_renumbers_and_checks_the_edge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = _Msg("X-T-1", "first")
    b1, b2 = _Msg("X-T-2", "v0"), _Msg("X-T-2", "v1")
    # chunk 2 had created one event (number 1, the run's 2) when its own stretch began
    first = _out(tmp_path, "1", [(10, a), (90, b1)], [], 0, 2)
    second = _out(tmp_path, "2", [(110, _Msg("X-T-1", "v1"))], [(90, _Msg("X-T-1", "v0"))], 1, 1)
    specs = [_spec(0, 0, 100), _spec(0, 100, None)]
    got: list[object] = []
    ingest: Counter[str] = Counter()
    merge_chunks([first, second], specs, got.append, ingest)
    assert got == [a, b1, b2]
    assert not ingest["chunk_edges_differing"]

    # a warm-up that did not rebuild the event is caught and counted
    wrong = _out(tmp_path, "3", [(110, _Msg("X-T-1", "v1"))], [(90, _Msg("X-T-1", "other"))], 1, 1)
    with caplog.at_level(logging.WARNING, logger="eew.parallel"):
        merge_chunks([first, wrong], specs, [].append, ingest)
    assert ingest["chunk_edges_differing"] == 1
    assert "--chunk-warmup" in caplog.text


def test_chunk_warmup_must_be_a_duration(capsys: pytest.CaptureFixture[str]) -> None:
    noise = Path(__file__).resolve().parents[1] / "waveforms_samples" / "noise_30min"
    assert main(["replay", str(noise), "--jobs", "2", "--chunk-warmup", "-5"]) == 2
    assert "--chunk-warmup" in capsys.readouterr().err


@pytest.mark.slow
def test_time_chunks_report_progress(archive: Path) -> None:
    from eew.daemon.config import load_settings
    from eew.inventory import load_inventory
    from eew.parallel import replay_archive

    settings = load_settings(None)
    paths = [*map(str, settings.config.stationxml_paths())]
    idx = scan_archive([archive])
    seen: list[int] = []
    replay_archive(
        idx,
        settings.config,
        settings.hash(),
        load_inventory(paths),
        paths,
        lambda value: None,
        jobs=2,
        on_progress=seen.append,
        split="time",
        warmup_s=float(WARMUP),
    )
    assert seen and seen[-1] == len(idx)
    assert seen == sorted(seen)
