"""``eew subscribe`` for people: blocks, nearest targets, the ticking countdown, the hook.

The end-to-end tests subscribe to a real publisher on a random loopback port; the live
screen runs ``eew subscribe`` in a child process whose stdout is a pseudo-terminal.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_bus_cli import CliRun, secure_args
from test_bus_support import Bus, sample_alert, wait_subscribed

from eew.cli import main
from eew.cli.terminal import AlertScreen
from eew.formats.cap_text import wording
from eew.formats.screen import alert_block, choose_targets
from eew.model.alert import Alert
from eew.model.clock import WallClock

pytest_plugins = ["test_bus_support"]
ROOT = Path(__file__).resolve().parents[1]
S = 1_000_000_000
#: target name -> epicentral distance [km], in no particular order
DISTANCES = {"T-far": 90.0, "T-3": 30.0, "T-1": 10.0, "T-6": 60.0, "T-2": 20.0}
DISTANCES |= {"T-4": 40.0, "T-7": 70.0, "T-5": 50.0}


def many_targets(now_ns: int, **changes: object) -> Alert:
    """The sample alert with eight targets; S waves at now + distance/10 s."""
    base = sample_alert().targets[0]
    targets = tuple(
        dataclasses.replace(
            base,
            name=name,
            distance_km=km,
            s_arrival_time_ns=now_ns + int(km / 10 * S),
            intensity_msk=9.0 - km / 20,
            intensity_sigma=0.0,
        )
        for name, km in DISTANCES.items()
    )
    return sample_alert(targets=targets, **changes)


def shown_names(text: str) -> list[str]:
    return re.findall(r"^ {4}(T-\w+)", text, flags=re.MULTILINE)


# ---- the block ------------------------------------------------------------------------------
def test_nearest_five_by_default_and_the_chosen_ones_in_their_order() -> None:
    alert = many_targets(0)
    assert [t.name for t in choose_targets(alert)] == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    chosen = choose_targets(alert, ["T-7", "nowhere", "T-1"])
    assert [t.name for t in chosen] == ["T-7", "T-1"]


def test_block_roman_lower_bound_instruction_and_drill_flag() -> None:
    alert = sample_alert(status="exercise")
    first = alert.targets[0]
    bound = dataclasses.replace(first, intensity_msk=5.4, intensity_is_lower_bound=True)
    alert = alert.with_(targets=(bound, *alert.targets[1:]))
    lines = alert_block(alert, alert.sent_time_ns, choose_targets(alert, [first.name]), "ru")
    assert lines[0] == "*** УЧЕНИЯ: Это не настоящее предупреждение. ***"
    [row] = [ln for ln in lines if "(MSK-64)" in ln]
    assert "≥ V " in row  # a lower bound: "at least" V
    moderate = next(e for e in wording()["instruction"] if e["key"] == "moderate")
    assert lines[-1] == "  > " + moderate["ru"]


def test_block_fits_the_width() -> None:
    alert = many_targets(0)
    lines = alert_block(alert, 0, choose_targets(alert), "kk", width=50)
    assert max(len(ln) for ln in lines) <= 49


def test_plain_screen_prints_each_block_once() -> None:
    now = [10 * S]
    out: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    screen = AlertScreen(Sink(), lambda: now[0], live=False)  # type: ignore[arg-type]
    screen.alert(many_targets(now[0]))
    now[0] += 3 * S
    screen.tick()
    assert len(out) == 1 and "\x1b[" not in out[0]
    assert re.search(r"^ {4}T-1 .*  in 1 s$", out[0], flags=re.MULTILINE)  # as at arrival


# ---- against a real publisher ---------------------------------------------------------------
def test_subscribe_shows_nearest_five_and_passes_hook_output_on(
    bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    pub = bus.publisher(clock=WallClock())
    hook = f"{sys.executable} -c \"import sys; print('siren', len(sys.stdin.read()) > 0)\""
    argv = ["subscribe", pub.endpoint, "--max-alerts", "1", "--duration-s", "20"]
    run = CliRun([*argv, "--exec", hook, *secure_args(bus.keys)])
    wait_subscribed(pub, 3)
    pub.publish_alert(many_targets(time.time_ns() + 30 * S, status="test"))
    assert run.join() == 0
    text = capsys.readouterr().out
    assert shown_names(text) == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    assert "*** TEST: This is not a real warning. ***" in text
    assert "[hook] siren True" in text.splitlines()
    assert "\x1b[" not in text  # not a terminal: plain lines


def test_target_option_chooses_and_orders(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    pub = bus.publisher(clock=WallClock())
    argv = ["subscribe", pub.endpoint, "--target", "T-6", "--target", "T-2", "--no-live"]
    run = CliRun([*argv, "--max-alerts", "1", "--duration-s", "20", *secure_args(bus.keys)])
    wait_subscribed(pub, 3)
    pub.publish_alert(many_targets(time.time_ns()))
    assert run.join() == 0
    assert shown_names(capsys.readouterr().out) == ["T-6", "T-2"]


def test_hook_timeout_is_configurable_and_output_before_the_kill_is_shown(
    bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    pub = bus.publisher(clock=WallClock())
    script = "import time; print('ringing', flush=True); time.sleep(30)"
    hook = f"{sys.executable} -c {json.dumps(script)}"
    argv = ["subscribe", pub.endpoint, "--max-alerts", "1", "--duration-s", "20"]
    run = CliRun([*argv, *secure_args(bus.keys), "--exec", hook, "--exec-timeout-s", "0.5"])
    wait_subscribed(pub, 3)
    t0 = time.monotonic()
    pub.publish_alert(many_targets(time.time_ns()))
    assert run.join() == 0
    assert time.monotonic() - t0 < 10  # killed after 0.5 s, not 30 s
    assert "[hook] ringing" in capsys.readouterr().out


@pytest.mark.parametrize(
    "hook", ["/nonexistent/siren", "no-such-program-eew", "README.md", "'unclosed"]
)
def test_missing_or_unusable_hook_is_an_error_at_start(
    hook: str, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.monotonic()
    argv = ["subscribe", "tcp://127.0.0.1:9", "--insecure", "--exec", hook]
    assert main([*argv, "--duration-s", "30"]) == 2
    assert time.monotonic() - t0 < 5
    assert "--exec" in capsys.readouterr().err


def test_bad_hook_timeout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["subscribe", "tcp://127.0.0.1:9", "--insecure", "--exec-timeout-s", "0"]
    assert main(argv) == 2
    assert "--exec-timeout-s" in capsys.readouterr().err


# ---- the live screen on a pseudo-terminal -----------------------------------------------------
def _read_all(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return
        if not data:
            return
        chunks.append(data)


def test_live_countdown_ticks_on_a_terminal(bus: Bus) -> None:
    pub = bus.publisher(clock=WallClock())
    master, slave = pty.openpty()
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    argv = [sys.executable, "-m", "eew", "subscribe", pub.endpoint, "--duration-s", "8"]
    proc = subprocess.Popen(
        [*argv, *secure_args(bus.keys)],
        stdout=slave,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=path),
    )
    os.close(slave)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(master, chunks), daemon=True)
    reader.start()
    try:
        wait_subscribed(pub, 3, timeout_s=30)
        pub.publish_alert(many_targets(time.time_ns() + 4 * S))
        _, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    os.close(master)
    assert proc.returncode == 0, err.decode()[-2000:]
    screen = b"".join(chunks).decode("utf-8", "replace")
    frames = screen.split("\x1b[J")
    assert len(frames) >= 4, screen  # redrawn in place
    nearest = []
    for frame in frames:
        m = re.search(r"^ {4}T-1 .*\((MSK-64)\)  (in (\d+) s|now)", frame, flags=re.MULTILINE)
        if m:
            nearest.append(-1 if m.group(3) is None else int(m.group(3)))
    values = list(dict.fromkeys(nearest))  # each value once, in the order shown
    assert len(values) >= 3 and values == sorted(values, reverse=True), nearest
    assert values[-1] == -1  # ... down to "now"
    assert re.search(r"\x1b\[\d+F", screen)
