"""The soak benchmark's short mode as a test: serve -> two exchanging daemons -> bus ->
subscribers, with two server restarts (one SIGKILL), a restart of each daemon mid-event
and a stalled subscriber; no record, no alert lost, nothing delivered twice.

About 1.5-2 min on a loaded 2-core machine (5 minutes of data at 20x, plus four daemon
start-ups; the archive is simulated once, about 1 min, and kept in the cache folder of
``eew simulate``); the full hour is ``python benchmarks/bench_soak.py`` (benchmarks/README.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_short_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    argv = [sys.executable, str(ROOT / "benchmarks" / "bench_soak.py")]
    cache = Path(os.environ.get("EEW_CACHE_DIR", Path.home() / ".cache" / "eew")) / "soak"
    argv += ["--minutes", "5", "--workdir", str(tmp_path), "--archive-dir", str(cache)]
    argv += ["--list-missing"]  # every record once: named, not only counted
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    report = p.stdout[p.stdout.find("soak:") :]
    print(report)
    assert p.returncode == 0 and "RESULT OK" in p.stdout, report + p.stderr[-3000:]
    assert "serve SIGTERM" in report and "serve SIGKILL" in report
    assert "KZ-AEWS restarted mid-event" in report and "KG-MES restarted mid-event" in report
    assert "subscriber stalled" in report


def _bench_soak():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_soak", ROOT / "benchmarks" / "bench_soak.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_soak"] = mod  # its dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules["bench_soak"]
    return mod


def test_alert_check_tells_superseded_updates_from_lost_alerts() -> None:
    """A version not delivered is superseded only when a newer one of its event arrived."""
    alert_losses = _bench_soak().alert_losses
    published = {
        ("KZ", "e1", 0),
        ("KZ", "e1", 1),
        ("KZ", "e1", 2),
        ("KZ", "e2", 0),
        ("KZ", "e3", 0),
        ("KZ", "e3", 1),
    }
    delivered = {("KZ", "e1", 2), ("KZ", "e2", 0), ("KZ", "e3", 0)}
    superseded, lost = alert_losses(published, delivered)
    assert superseded == {("KZ", "e1", 0), ("KZ", "e1", 1)}
    # e3's newest version never arrived: lost, although an older one did
    assert lost == {("KZ", "e3", 1)}
    assert alert_losses(published, set()) == (set(), published)
