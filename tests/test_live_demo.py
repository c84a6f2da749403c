"""``tools/live_demo.py`` end to end: server, daemon, bus subscriber; ends by itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_live_demo_shows_an_alert_and_cleans_up():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "live_demo.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    text = out.stdout
    assert "[v0 new, KZ-AEWS" in text and "=== Summary" in text  # the subscriber's block
    assert "first alert: new M" in text
    assert "exit codes (daemon, server): [0, 0]" in text
    assert "Almaty-Bostandyk" in text
