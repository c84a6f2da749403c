"""Screenshots of the verny_m7.0 scenario in the web console, for docs/ and the README.

Replays ``waveforms_samples/verny_m7.0`` at 2x with ``eew replay --console``, watches it in
headless Chromium (``apt-get install chromium chromium-driver``) and writes
``docs/console_verny_alert.png`` (2 s after the first network alert: wavefronts, countdowns)
and ``docs/console_verny_record.png`` (25 s after the origin: record section, alert log),
reduced to a 256-colour palette to keep them small.

Run: ``PYTHONPATH=. .venv/bin/python tools/console_screenshots.py``
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.console_browser import chromium, chromium_missing, replay_console, wait_for  # noqa: E402

SHOTS = {"console_verny_alert.png": 2.0, "console_verny_record.png": 25.0}


def _save(png: bytes, path: Path) -> None:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


def main() -> int:
    """Take the screenshots; 2 if Chromium is missing."""
    missing = chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    with chromium(1280, 1100) as drv, replay_console("verny_m7.0", 2.0, linger_s=20) as (url, _p):
        drv.get(url)
        wait_for(drv, "Object.values(window.eewConsole.latest).some(a => a.kind === 'source')", 120)
        origin = drv.execute_script(
            "return Object.values(window.eewConsole.latest).find(a => a.kind === 'source')"
            ".origin_ms"
        )
        sent = drv.execute_script("return window.eewConsole.shown[0].sent_ms")
        moments = {
            "console_verny_alert.png": sent + 2000.0,
            "console_verny_record.png": origin + SHOTS["console_verny_record.png"] * 1000,
        }
        for name, at_ms in moments.items():
            while drv.execute_script("return window.eewConsole.dataNow()") < at_ms:
                time.sleep(0.05)
            _save(drv.get_screenshot_as_png(), ROOT / "docs" / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
