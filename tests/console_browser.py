"""Headless Chromium for the console tests and the screenshot tool (not a test module).

Selenium drives the Debian ``chromium`` with ``chromium-driver``; :func:`chromium_missing`
says what is missing and how to install it, so that the browser tests are skipped with the
install command where the browser is absent (and never pass without it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "apt-get install -y chromium chromium-driver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def binaries() -> tuple[str | None, str | None]:
    """The Chromium and chromedriver executables (None where absent)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    return browser, shutil.which("chromedriver")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run (with the install command), or None."""
    browser, driver = binaries()
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    if browser is None or driver is None:
        return f"headless Chromium is not installed: {INSTALL}"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 860) -> Iterator[Any]:
    """A headless Chromium WebDriver with a fresh profile, closed at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = binaries()
    assert browser is not None and driver is not None
    with tempfile.TemporaryDirectory(prefix="eew-chromium-") as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = browser
        for flag in FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={profile}")
        opts.add_argument(f"--window-size={width},{height}")
        drv = webdriver.Chrome(service=Service(driver), options=opts)
        try:
            yield drv
        finally:
            drv.quit()


@contextmanager
def replay_console(
    scenario: str, speed: float, linger_s: float = 30.0, wait_s: float = 120.0
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run ``eew replay SCENARIO --console`` on a free port; yield (url, process).

    The replay waits for the first browser (``--console-wait``), so a test sees it whole.
    """
    cmd = [
        sys.executable, "-m", "eew", "replay", str(ROOT / "waveforms_samples" / scenario),
        "--console", "--console-port", "0", "--speed", str(speed), "--no-progress",
        "--console-wait", str(wait_s), "--console-linger", str(linger_s),
        "--out", "/dev/null",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"console at (http://\S+)", line)
            if m:
                url = m.group(1)
        assert url is not None, "the console did not start"
        # keep reading stderr in the background so the replay never blocks on a full pipe
        stderr = proc.stderr
        drain = threading.Thread(target=lambda: stderr.read(), daemon=True)
        drain.start()
        yield url, proc
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def wait_for(drv: Any, script: str, timeout_s: float, poll_s: float = 0.05) -> Any:
    """Poll ``return <script>`` in the page until it is truthy; return its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = drv.execute_script("return " + script)
        if value:
            return value
        time.sleep(poll_s)
    raise TimeoutError(f"page never satisfied: {script}")
