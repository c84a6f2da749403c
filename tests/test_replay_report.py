"""What ``eew replay`` shows a person: the alerts, a short summary, a quiet log (issue 14).

stdout stays JSON Lines only when no ``--out`` is given; the per-channel warnings go to the
log only with ``-v`` and are counted in the summary.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from test_bus_support import sample_alert

from eew.cli import main
from eew.cli.replay_report import print_alerts, quiet_channel_log

SCENARIO = Path(__file__).resolve().parents[1] / "waveforms_samples" / "local_m4.5"


def _detect_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("eew.detect") and r.levelno == logging.WARNING
    ]


def test_replay_prints_the_alert_and_holds_back_channel_warnings(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert main(["replay", str(SCENARIO), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]  # stdout: JSON Lines only
    assert {r["type"] for r in rows} == {"pick", "event", "alert"}
    n_alerts = sum(r["type"] == "alert" for r in rows)
    assert f"=== {n_alerts} alert message(s) for event" in err
    assert "*** TEST: This is not a real warning. ***" in err  # a replay is a test
    block = err[err.index("EARTHQUAKE WARNING") : err.index("versions:")]
    assert block.count("(MSK-64)  in ") == 5  # the nearest five, with their warning time
    assert "  > Drop" in block  # the instruction for the level
    assert err.index("versions:") < err.index("replay summary")
    assert not _detect_warnings(caplog)
    held = [line for line in err.splitlines() if "per-channel warnings:" in line]
    assert len(held) == 1 and int(held[0].split()[2]) >= 30
    assert "clip_episodes" in err and "low_snr" in err  # their kinds, counted


def test_verbose_replay_logs_each_channel_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["-v", "replay", str(SCENARIO), "--no-progress", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    warnings = _detect_warnings(caplog)
    assert any("clipped at" in w for w in warnings)
    assert any("rejected: low_snr" in w for w in warnings)


def test_quiet_log_counts_and_restores(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("eew.detect.router")
    with quiet_channel_log(0) as counter:
        log.warning("held back")
        log.error("still shown")
    assert counter is not None and counter.count == 1
    log.warning("after")
    assert [r.getMessage() for r in caplog.records] == ["still shown", "after"]
    with quiet_channel_log(1) as nothing:
        assert nothing is None


def test_long_version_histories_are_shortened() -> None:
    alerts = [sample_alert(version=v, message_type="update" if v else "new") for v in range(12)]
    stream = io.StringIO()
    print_alerts(alerts, stream)
    text = stream.getvalue()
    assert "=== 12 alert message(s) for event kz2024bcxj" in text
    assert "... 5 more" in text and "v11 update" in text and "v5 " not in text
