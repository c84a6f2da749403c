"""``eew replay --jobs N`` gives the single run's JSON Lines, byte for byte (eew.parallel).

The archive is shared out by channel; the event core runs once on the merged picks. The
tests compare whole output files: picks, rejected triggers, events and alerts, in order.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from eew.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOISE = ROOT / "waveforms_samples" / "noise_30min"

#: a long archive with a local event in its middle (where a time chunk would end) and one
#: late in it, a telemetry gap and a spike
LONG_SCENARIO = """
[scenario]
name = "long_edge"
description = "Six minutes of noise, a local event in the middle and one late"
seed = 4242
start_time = 2024-05-08T10:00:00Z
length_s = 360.0

[stations]
include = ["AW.*"]
channels = ["HHZ", "HN?"]

[[source]]
id = "middle"
origin_time = 2024-05-08T10:02:58Z
latitude_deg = 43.15
longitude_deg = 77.10
depth_km = 10.0
magnitude = 5.2

[[source]]
id = "late"
origin_time = 2024-05-08T10:05:20Z
latitude_deg = 43.35
longitude_deg = 76.60
depth_km = 12.0
magnitude = 4.8

[[disturbance]]
kind = "gap"
target = "AW.ALMY"
time_s = 100.0
duration_s = 20.0

[[disturbance]]
kind = "spike"
target = "AW.KAST..HHZ"
time_s = 179.0
amplitude_counts = 2000000.0
"""


def _replay(paths: list[Path], out: Path, jobs: int, *extra: str) -> str:
    args = ["replay", *map(str, paths), "--out", str(out), "--jobs", str(jobs), "--no-progress"]
    assert main([*args, *extra]) == 0
    return out.read_text(encoding="utf-8")


def _summary_lines(err: str) -> list[str]:
    """The summary without its wall-time line and the note on held-back log lines.

    One process counts the per-channel warnings it held back; worker processes hold
    theirs back uncounted (the kinds are counted in the summary either way).
    """
    lines = err[err.index("replay summary") :].splitlines()
    return [ln for ln in lines if "wall time" not in ln and "per-channel warnings" not in ln]


def test_noise_30min_two_jobs_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = _replay([NOISE], tmp_path / "j1.jsonl", 1, "--with-rejections")
    err1 = capsys.readouterr().err
    two = _replay([NOISE], tmp_path / "j2.jsonl", 2, "--with-rejections")
    err2 = capsys.readouterr().err
    assert one.count("\n") > 20  # rejected triggers of the disturbances
    assert one == two
    assert _summary_lines(err1) == _summary_lines(err2)


@pytest.mark.slow
def test_long_archive_with_events_identical_for_1_2_3_jobs(tmp_path: Path) -> None:
    from eew.simulate.run import run_scenario_file

    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG_SCENARIO, encoding="utf-8")
    archive = tmp_path / "archive"
    run_scenario_file(scenario, archive, None)
    one = _replay([archive], tmp_path / "j1.jsonl", 1, "--with-rejections")
    assert '"type":"event"' in one and '"type":"alert"' in one
    assert _replay([archive], tmp_path / "j2.jsonl", 2, "--with-rejections") == one
    assert _replay([archive], tmp_path / "j3.jsonl", 3, "--with-rejections") == one
    picks = _replay([archive], tmp_path / "p1.jsonl", 1, "--picks-only")
    assert _replay([archive], tmp_path / "p2.jsonl", 2, "--picks-only") == picks


def test_corrupt_record_same_with_two_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "noise"
    shutil.copytree(NOISE, archive)
    target = archive / "AW.ALMY..HHZ.mseed"
    buf = bytearray(target.read_bytes())
    junk = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    buf[7 * 512 + 100 : 7 * 512 + 400] = junk  # the data of the 8th record
    target.write_bytes(bytes(buf))
    one = _replay([archive], tmp_path / "j1.jsonl", 1, "--with-rejections")
    err1 = capsys.readouterr().err
    two = _replay([archive], tmp_path / "j2.jsonl", 2, "--with-rejections")
    err2 = capsys.readouterr().err
    assert "corrupt_records 1" in err1
    assert one == two
    assert _summary_lines(err1) == _summary_lines(err2)


def test_jobs_must_be_positive_and_unpaced(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(NOISE), "--jobs", "0"]) == 2
    assert main(["replay", str(NOISE), "--jobs", "2", "--speed", "10"]) == 2
    err = capsys.readouterr().err
    assert "--jobs must be at least 1" in err and "pace one process" in err


@pytest.mark.slow
def test_events_across_window_edges_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows of 400 records (about 5 s of this archive): both events, their picks and
    alerts straddle many window edges; one job and two give the single run's output."""
    from eew.acquisition import windowed
    from eew.simulate.run import run_scenario_file

    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG_SCENARIO, encoding="utf-8")
    archive = tmp_path / "archive"
    run_scenario_file(scenario, archive, None)
    one = _replay([archive], tmp_path / "j1.jsonl", 1, "--with-rejections")
    assert '"type":"event"' in one and '"type":"alert"' in one
    monkeypatch.setattr(windowed, "WINDOW_RECORDS", 400)
    assert _replay([archive], tmp_path / "w1.jsonl", 1, "--with-rejections") == one
    assert _replay([archive], tmp_path / "w2.jsonl", 2, "--with-rejections") == one
