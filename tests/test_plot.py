"""``eew plot``: PNG record section and map of a simulated scenario."""

from __future__ import annotations

import json
from pathlib import Path

from eew.cli import main
from eew.simulate.testing import write_stationxml

SCENARIO = """
[scenario]
name = "plot_test"
seed = 3
start_time = 2024-05-01T12:00:00Z
length_s = 30.0

[stations]
inventory = ["net.xml"]
channels = ["HHZ"]

[[source]]
origin_time = 2024-05-01T12:00:05Z
latitude_deg = 43.0
longitude_deg = 76.5
depth_km = 8.0
magnitude = 4.0
"""


def test_plot_writes_pngs(tmp_path: Path) -> None:
    write_stationxml(tmp_path / "net.xml", [("A", 43.05, 76.55), ("B", 43.2, 76.8)])
    (tmp_path / "s.toml").write_text(SCENARIO)
    out = tmp_path / "out"
    assert main(["simulate", str(tmp_path / "s.toml"), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    truth = json.loads((out / "truth.json").read_text())
    p_time = truth["events"][0]["arrivals"][0]["p_time"]
    picks = tmp_path / "picks.jsonl"
    picks.write_text(json.dumps({"type": "pick", "channel_id": "XT.A..HHZ", "time": p_time})
                     + "\n" + json.dumps({"type": "status"}) + "\n")
    assert main(["plot", str(out), "--picks", str(picks), "--out", str(tmp_path / "png")]) == 0
    for name in ("record_section.png", "map.png"):
        data = (tmp_path / "png" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
