"""The ``eew simulate`` round trip: files, determinism and every disturbance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from obspy import UTCDateTime, read

from eew.cli import main
from eew.simulate.testing import write_stationxml

SCENARIO = """
[scenario]
name = "cli_test"
description = "M4.5 plus every disturbance"
seed = {seed}
start_time = 2024-05-01T12:00:00Z
length_s = 40.0

[stations]
inventory = ["net.xml"]
channels = ["HH?", "HNZ"]

[[source]]
origin_time = 2024-05-01T12:00:05Z
latitude_deg = 43.0
longitude_deg = 76.5
depth_km = 8.0
magnitude = 4.5

[[disturbance]]
kind = "spike"
target = "XT.B..HHN"
time_s = 3.0
amplitude_counts = 400000.0

[[disturbance]]
kind = "step"
target = "XT.B..HHE"
time_s = 4.0
amplitude_counts = 50000.0

[[disturbance]]
kind = "calibration"
target = "XT.C..HHZ"
time_s = 30.0
duration_s = 5.0
frequency_hz = 1.0
amplitude_counts = 200000.0

[[disturbance]]
kind = "gap"
target = "XT.C"
time_s = 10.0
duration_s = 2.5

[[disturbance]]
kind = "dead"
target = "XT.A..HNZ"

[[disturbance]]
kind = "clip"
target = "XT.B..HHZ"
time_s = 25.0
duration_s = 2.0
frequency_hz = 2.0

[[disturbance]]
kind = "clock_offset"
target = "XT.A"
offset_s = 0.75
"""


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_stationxml(root / "net.xml", [("A", 43.05, 76.55), ("B", 43.2, 76.8), ("C", 42.9, 76.2)])
    for seed in (7, 8):
        (root / f"s{seed}.toml").write_text(SCENARIO.format(seed=seed))
    return root


def _run(root: Path, seed: int, out: str) -> Path:
    rc = main(["simulate", str(root / f"s{seed}.toml"), "--out", str(root / out),
               "--cache-dir", str(root / "cache")])
    assert rc == 0
    return root / out


def test_round_trip_and_determinism(scenario_dir: Path) -> None:
    a = _run(scenario_dir, 7, "a")
    b = _run(scenario_dir, 7, "b")
    c = _run(scenario_dir, 8, "c")
    files = sorted(p.name for p in a.iterdir())
    assert "truth.json" in files and "scenario.toml" in files
    mseed = [f for f in files if f.endswith(".mseed")]
    assert len(mseed) == 3 * 4
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "XT.B..HHZ.mseed").read_bytes() != (c / "XT.B..HHZ.mseed").read_bytes()
    truth = json.loads((a / "truth.json").read_text())
    assert truth["events"][0]["magnitude"] == 4.5
    arr = truth["events"][0]["arrivals"][0]
    assert arr["p_time"].endswith("Z") and len(arr["p_time"]) == 24
    assert UTCDateTime(arr["s_time"]) > UTCDateTime(arr["p_time"])
    for key in ("pga_cm_s2", "pgv_cm_s", "pgd_cm", "epicentral_distance_km"):
        assert arr[key] > 0
    tr = read(str(a / "XT.B..HHZ.mseed"))[0]
    assert tr.stats.mseed.record_length == 512 and tr.stats.mseed.encoding == "STEIM2"
    assert tr.stats.sampling_rate == 100.0 and tr.data.dtype == np.int32


def test_every_disturbance_is_present(scenario_dir: Path) -> None:
    out = scenario_dir / "a"
    if not out.exists():
        out = _run(scenario_dir, 7, "a")
    truth = json.loads((out / "truth.json").read_text())
    chan = {c["channel_id"]: c for c in truth["channels"]}
    # spike: one sample far off its neighbours
    d = read(str(out / "XT.B..HHN.mseed"))[0].data.astype(float)
    jump = np.abs(d[300] - 0.5 * (d[299] + d[301]))
    assert jump > 3.0e5
    # step: DC offset after 4 s
    d = read(str(out / "XT.B..HHE.mseed"))[0].data.astype(float)
    assert np.median(d[410:490]) - np.median(d[310:390]) == pytest.approx(5.0e4, rel=0.05)
    # calibration: sine present and activity flag bit 0 set on exactly those records
    raw = (out / "XT.C..HHZ.mseed").read_bytes()
    flags = [raw[i + 36] & 1 for i in range(0, len(raw), 512)]
    assert 0 < sum(flags) < len(flags)
    assert chan["XT.C..HHZ"]["calibration"]
    # gap: two segments on every channel of C
    for cid in ("XT.C..HHZ", "XT.C..HHN", "XT.C..HNZ"):
        st = read(str(out / f"{cid}.mseed"))
        assert len(st) == 2
        assert st[1].stats.starttime - st[0].stats.endtime == pytest.approx(2.51, abs=0.02)
    # dead: flat channel
    d = read(str(out / "XT.A..HNZ.mseed"))[0].data
    assert np.ptp(d) == 0
    # clipping at 2^23 counts
    d = read(str(out / "XT.B..HHZ.mseed"))[0].data
    assert np.max(np.abs(d)) == 2**23
    assert chan["XT.B..HHZ"]["clipped_samples"] > 0
    # clock offset: all channels of A start 0.75 s late
    st = read(str(out / "XT.A..HHZ.mseed"))
    assert st[0].stats.starttime == UTCDateTime(2024, 5, 1, 12, 0, 0.75)
    stations = {s["station_id"]: s for s in truth["stations"]}
    assert stations["XT.A"]["clock_offset_s"] == 0.75


def test_cli_errors_are_reported(scenario_dir: Path, capsys: pytest.CaptureFixture) -> None:
    bad = scenario_dir / "bad.toml"
    bad.write_text(SCENARIO.format(seed=1).replace("depth_km = 8.0", "depth = 8.0"))
    assert main(["simulate", str(bad), "--out", str(scenario_dir / "x")]) == 2
    err = capsys.readouterr().err
    assert "depth" in err and "bad.toml" in err
