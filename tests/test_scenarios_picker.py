"""The foundation's picker on the bundled scenarios (issue 3, 'done when')."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eew.acquisition.archive import index_archive, iter_packets
from eew.daemon.config import load_settings
from eew.detect.router import Pipeline
from eew.inventory import load_inventory
from eew.model.pick import Pick, RejectedTrigger
from eew.model.timeutil import iso_to_ns

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "waveforms_samples"


def _replay(folder: Path) -> tuple[list[object], Pipeline]:
    cfg = load_settings().config
    inventory = load_inventory(cfg.stationxml_paths())
    out: list[object] = []
    pipe = Pipeline(cfg, inventory, out.append)
    for pkt in iter_packets(index_archive([folder])):
        pipe.feed(pkt)
    pipe.flush()
    return out, pipe


def test_local_m45_p_picked_on_every_station_within_0p1_s() -> None:
    folder = SAMPLES / "local_m4.5"
    truth = json.loads((folder / "truth.json").read_text())
    (event,) = truth["events"]
    p_true = {a["station_id"]: iso_to_ns(a["p_time"]) for a in event["arrivals"]}
    out, _ = _replay(folder)
    first: dict[str, int] = {}
    for v in out:
        if isinstance(v, Pick) and v.update == 0:
            sta = v.channel_id.rsplit(".", 2)[0]
            if sta not in first or v.time_ns < first[sta]:
                first[sta] = v.time_ns
    assert set(first) == set(p_true), "every station must be picked"
    errors = np.array([(first[s] - p_true[s]) / 1e9 for s in p_true])
    assert np.all(np.abs(errors) < 0.1), errors
    # and the onsets are sharp: the median error is a few samples
    assert np.median(np.abs(errors)) < 0.03


def test_local_m45_early_p_amplitudes_follow_distance() -> None:
    """Pd falls with distance as the Wu & Zhao (2006) scaling the simulator follows."""
    folder = SAMPLES / "local_m4.5"
    truth = json.loads((folder / "truth.json").read_text())
    (event,) = truth["events"]
    dist = {a["station_id"]: a["hypocentral_distance_km"] for a in event["arrivals"]}
    out, _ = _replay(folder)
    pd: dict[str, float] = {}
    for v in out:
        if isinstance(v, Pick) and v.final and v.channel_id.endswith("HNZ"):
            sta = v.channel_id.rsplit(".", 2)[0]
            pd.setdefault(sta, v.pd_cm)
    stations = sorted(pd)
    log_r = np.log10([dist[s] for s in stations])
    log_pd = np.log10([pd[s] for s in stations])
    slope = np.polyfit(log_r, log_pd, 1)[0]
    assert -2.2 < slope < -0.8  # published -1.374


def test_noise_scenario_gives_no_pick_and_rejects_the_disturbances() -> None:
    out, pipe = _replay(SAMPLES / "noise_30min")
    assert not [v for v in out if isinstance(v, Pick)]
    reasons = {v.reason for v in out if isinstance(v, RejectedTrigger)}
    assert {"spike", "step", "calibration"} <= reasons
    problems = pipe.statistics().data_problems
    assert problems.get("gaps", 0) >= 1
    assert problems.get("dead", 0) >= 1
