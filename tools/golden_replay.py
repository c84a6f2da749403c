"""Fingerprint what ``eew replay`` and ``eew evaluate`` produce on ``waveforms_samples/``.

A refactoring that claims "behaviour unchanged" is checked with this script: it replays
every sample folder (``--with-rejections``, so rejected triggers count too), hashes each
JSON Lines output byte for byte, hashes the ``eew evaluate --json`` scorecard, and compares
the hashes with those committed in ``tools/golden_replay.json``.

Usage::

    python tools/golden_replay.py --check     # exit 1 and list the folders that differ
    python tools/golden_replay.py --write     # after an intended change of behaviour

Each intended change of behaviour rewrites the file in the same commit, so ``git log`` of
``tools/golden_replay.json`` lists every commit that changed what the pipeline outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "waveforms_samples"
GOLDEN = Path(__file__).resolve().with_suffix(".json")


def _eew(*args: str, out: Path | None = None) -> bytes:
    cmd = [sys.executable, "-m", "eew", *args]
    proc = subprocess.run(cmd, capture_output=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return out.read_bytes() if out is not None else proc.stdout


def fingerprint() -> dict[str, str]:
    """Replay each sample folder and evaluate all; return name -> sha256."""
    result: dict[str, str] = {}
    folders = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        for folder in folders:
            out = Path(tmp) / f"{folder.name}.jsonl"
            extra = []
            if (folder / "stationxml.xml").exists():
                extra = ["--inventory", str(folder / "stationxml.xml")]
            data = _eew(
                "replay", str(folder), *extra, "--with-rejections", "--no-progress",
                "--out", str(out), out=out,
            )
            result[f"replay/{folder.name}"] = hashlib.sha256(data).hexdigest()
            print(f"replay {folder.name}: {len(data.splitlines())} lines", file=sys.stderr)
        with_truth = [str(p) for p in folders if (p / "truth.json").exists()]
        card = _eew("evaluate", *with_truth, "--json")
        result["evaluate/scorecard"] = hashlib.sha256(card).hexdigest()
    return result


def main(argv: list[str] | None = None) -> int:
    """Check against or rewrite ``tools/golden_replay.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare with the committed hashes")
    mode.add_argument("--write", action="store_true", help="rewrite the committed hashes")
    args = parser.parse_args(argv)
    now = fingerprint()
    if args.write:
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN.relative_to(ROOT)} ({len(now)} fingerprints)")
        return 0
    before = json.loads(GOLDEN.read_text())
    differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    for key in differ:
        print(f"DIFFERS: {key}")
    print(f"{len(now) - len(differ)} of {len(now)} fingerprints identical")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
