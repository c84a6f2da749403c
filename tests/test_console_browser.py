"""The console in a real browser: headless Chromium driven by selenium (issue 14).

A replay of ``verny_m7.0`` at 2x real time is watched in the console. Without Chromium
these tests are skipped with the install command (``.ci/run`` installs it); they never
pass without it.
"""

from __future__ import annotations

import time

import pytest

from tests.console_browser import chromium, chromium_missing, replay_console, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]

SPEED = 2.0


def test_verny_replay_in_the_console() -> None:
    with chromium() as drv, replay_console("verny_m7.0", SPEED) as (url, _proc):
        # the page loads, from our server only, and draws the network
        drv.get(url)
        assert drv.title == "Almaty EEW console"
        wait_for(drv, "window.eewConsole && window.eewConsole.mode === 'replay'", 60)
        n_stations = drv.execute_script("return document.querySelectorAll('.station').length")
        assert n_stations >= 30
        assert drv.execute_script("return document.getElementById('mode').textContent") == (
            "REPLAY · DRILL"
        )
        changes0 = drv.execute_script("return window.eewConsole.stateChanges")

        # station states change as the data and the P waves come in
        wait_for(drv, "document.querySelectorAll('.station.ok, .station.slow').length > 10", 90)
        wait_for(
            drv,
            "document.querySelectorAll('.station.triggered, .station.clipped').length > 0",
            60,
        )

        # the first alert appears within 1 s of its data time (sent time)
        shown = wait_for(drv, "window.eewConsole.shown.length && window.eewConsole.shown", 60)
        first = shown[0]
        lag_ms = first["shown_data_ms"] - first["sent_ms"]
        assert abs(lag_ms) <= 1000, f"alert shown {lag_ms:.0f} ms (data time) after it was sent"
        flag = "document.getElementById('drill-flag') && document.getElementById('drill-flag')"
        assert wait_for(drv, flag + ".textContent", 5) == "DRILL / TEST"
        assert drv.execute_script("return document.querySelectorAll('#alert-log tbody tr').length")

        # the countdown to the S waves ticks (a far target still waits for them)
        script = (
            "Array.from(document.querySelectorAll('#targets td.count'))"
            ".filter(c => c.textContent.startsWith('in ')).map(c => [c.id, c.textContent])"
        )
        ticking = wait_for(drv, script, 20)
        cell, before = ticking[-1]
        time.sleep(0.6)
        # read through the page: the table is rebuilt on every alert version
        after = drv.execute_script(f"return document.getElementById('{cell}').textContent")
        assert after != before
        assert float(after.split()[1]) < float(before.split()[1])

        # the wavefronts grow, the epicentre and its uncertainty are drawn
        radius = "document.getElementById('sfront').getAttribute('data-km')"
        r0 = float(wait_for(drv, radius, 5))
        time.sleep(0.5)
        r1 = float(wait_for(drv, radius, 5))
        assert r1 > r0
        assert wait_for(drv, "document.getElementById('epicentre') !== null", 5)
        # MSK in Roman numerals; both clocks shown
        romans = drv.execute_script(
            "return Array.from(document.querySelectorAll('#targets td.msk'))"
            ".map(c => c.textContent)"
        )
        assert romans and all(set(r) <= set("IVX") for r in romans)
        assert drv.find_element("id", "clock-local").text != "--:--:--"
        # the record section gets the triggered stations
        wait_for(drv, "window.eewConsole.traces && window.eewConsole.traces.traces.length > 0", 10)
        assert wait_for(drv, "window.eewConsole.stateChanges", 1) > changes0
