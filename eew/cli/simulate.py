"""``eew simulate``: synthesise a scenario into miniSEED files and ``truth.json``."""

from __future__ import annotations

import argparse
from pathlib import Path


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` arguments."""
    parser.add_argument("scenario", type=Path, help="scenario file (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="travel-time cache (default $EEW_CACHE_DIR or ~/.cache/eew)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the simulation; print a one-line summary."""
    from eew.simulate.run import run_scenario_file

    truth = run_scenario_file(args.scenario, args.out, args.cache_dir)
    print(
        f"{truth['scenario']}: {len(truth['channels'])} channels, "
        f"{len(truth['events'])} event(s) -> {args.out}"
    )
    return 0
