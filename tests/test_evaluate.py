"""The evaluation machinery (``eew.evaluate``, ``eew evaluate``) on the small local M4.5."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from eew.acquisition.archive import index_archive, iter_packets
from eew.cli import main
from eew.evaluate.report import format_scenario, format_totals, totals
from eew.evaluate.run import live_packets
from eew.evaluate.scenario import Evaluator, scorecard
from eew.evaluate.score import assign_alerts
from eew.evaluate.truth import load_truth, travel_time_s
from eew.event.traveltime import load_stack

SCENARIO = Path(__file__).resolve().parents[1] / "waveforms_samples" / "local_m4.5"


@pytest.fixture(scope="module")
def result():
    """local_m4.5 replayed with 1-s packets and scored."""
    return Evaluator.default(1.0).evaluate(SCENARIO)


def test_live_packets_are_short_complete_and_in_arrival_order():
    idx = index_archive([SCENARIO])
    records = list(iter_packets(idx))
    pkts = list(live_packets(idx, 1.0))
    assert max(p.n_samples / p.sampling_rate_hz for p in pkts) <= 1.0
    assert sum(p.n_samples for p in pkts) == sum(r.n_samples for r in records)
    ends = [p.endtime_ns for p in pkts]
    assert ends == sorted(ends)
    # records hold several seconds: 1-s packets are delivered much earlier on average
    assert len(pkts) > 2 * len(records)
    same = list(live_packets(idx, 0.0))
    assert [(p.channel_id, p.starttime_ns) for p in same] == [
        (r.channel_id, r.starttime_ns) for r in records
    ]


def test_truth_geometry_and_travel_times():
    truth = load_truth(SCENARIO)
    ev = truth.events[0]
    assert truth.inside_network(ev.latitude_deg, ev.longitude_deg)
    assert truth.near_network(ev)
    assert not truth.inside_network(50.0, 60.0)
    assert truth.nearest_station_km(ev.latitude_deg, ev.longitude_deg) < 10.0
    assert ev.p_nth_ns(1) <= ev.p_nth_ns(4) < ev.p_nth_ns(5)
    assert ev.p_nth_ns(999) is None
    stack = load_stack()
    d = np.array([a.epicentral_km for a in ev.arrivals])
    for phase, key in (("P", "p_ns"), ("S", "s_ns")):
        obs = np.array([(getattr(a, key) - ev.origin_ns) / 1e9 for a in ev.arrivals])
        # the simulator adds station delays (sigma 0.07 s for P, x1.73 for S)
        assert np.abs(obs - travel_time_s(stack, phase, ev.depth_km, d)).max() < 0.35


def test_local_event_scorecard(result):
    s = result.score
    assert s.scenario == "local_m4.5"
    (ev,) = s.events
    assert ev.alertable and ev.detected and len(ev.alert_ids) == 1
    assert s.false_alerts == [] and s.events_found == 1
    assert 0 < ev.first_alert_after_origin_s < 10
    assert ev.first_alert_after_p4_s == pytest.approx(
        ev.first_alert_after_origin_s - ev.p4_after_origin_s
    )
    assert ev.first_alert_epicentral_error_km < 10
    assert math.isfinite(ev.max_magnitude_error_after_p4_3s)
    assert len(ev.targets) == len(result.run.targets)
    for t in ev.targets:
        # predicted S arrival within a second of the truth for a well-located event
        assert abs(t.s_arrival_error_s) < 1.0
        assert t.true_warning_s == pytest.approx(t.predicted_warning_s, abs=1.0)
    assert ev.series and all(row[0] > 0 for row in ev.series)


def test_alert_far_from_every_event_is_false(result):
    truth = result.truth
    first = next(a for a in result.run.alerts if a.kind == "source")
    moved = dataclasses.replace(first, event_id="X-1", latitude_deg=first.latitude_deg + 1.0)
    late = dataclasses.replace(
        first, event_id="X-2", origin_time_ns=first.origin_time_ns + 60 * 10**9
    )
    got = assign_alerts([first, moved, late], truth.events)
    assert got == {first.event_id: 0, "X-1": None, "X-2": None}


def test_scorecard_json_and_tables(result):
    card = scorecard([result])
    text = json.dumps(card, allow_nan=False)
    back = json.loads(text)
    assert back["total"]["alertable_detected"] == 1
    assert back["scenarios"][0]["events"][0]["detected"] is True
    table = format_scenario(result.score)
    assert "local_m4.5" in table and "yes" in table
    assert "1/1 alertable events alerted" in format_totals(totals([result.score]))


def test_cli_writes_scorecard_and_plots(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", str(SCENARIO), "--out", str(out), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["scenarios"][0]["scenario"] == "local_m4.5"
    assert json.loads((out / "scorecard.json").read_text()) == card
    for name in ("errors.png", "map.png"):
        data = (out / "local_m4.5" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_cli_rejects_folders_without_truth(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no truth.json" in capsys.readouterr().err
    assert main(["evaluate", str(SCENARIO), "--packet-s", "-1"]) == 2
