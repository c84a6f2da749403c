"""``eew evaluate --continuous``: triggers per channel-hour, events and alerts per day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eew.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOISE = ROOT / "waveforms_samples" / "noise_30min"
EVENTS = ROOT / "waveforms_samples" / "double_m5"


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["evaluate", *args, "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_noise_counts_triggers_and_no_alert(capsys: pytest.CaptureFixture[str]) -> None:
    r = _report(capsys, "--continuous", str(NOISE))
    # 12 channels x 30 min, less the 30 s gap of the 4 ALMY channels
    assert r["channels"] == 12
    assert r["channel_hours"] == pytest.approx(12 * 1800 / 3600 - 4 * 30 / 3600, abs=0.01)
    assert r["triggers"] == 36 and r["picks"] == 0 and r["rejected_triggers"] == 36
    assert r["triggers_per_channel_hour"] == pytest.approx(36 / r["channel_hours"], rel=1e-3)
    assert r["events"] == 0 and r["alert_messages"] == 0 and r["alerts_per_day"] == 0
    assert r["per_day"] == {
        "2024-05-07": {
            "triggers": 36,
            "picks": 0,
            "events": 0,
            "alerts": 0,
            "alerted_events": 0,
        }
    }
    per_channel = r["per_channel"]
    assert isinstance(per_channel, dict)
    assert sum(c["triggers"] for c in per_channel.values()) == 36


def test_events_and_alerts_per_day_same_with_two_jobs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = _report(capsys, "--continuous", str(EVENTS), "--continuous", str(NOISE))
    two = _report(capsys, "--continuous", str(EVENTS), "--continuous", str(NOISE), "--jobs", "2")
    events = one["events"]
    assert isinstance(events, int) and events >= 2 and one["alert_messages"] > 0
    assert one["events_per_day"] == pytest.approx(events / one["days"], rel=1e-3)
    assert one.pop("jobs") == 1 and two.pop("jobs") == 2
    assert one == two


def test_table_and_argument_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--continuous", str(NOISE)]) == 0
    out = capsys.readouterr().out
    assert "per channel-hour" in out and "2024-05-07" in out
    assert main(["evaluate"]) == 2
    assert main(["evaluate", str(EVENTS), "--continuous", str(NOISE)]) == 2
