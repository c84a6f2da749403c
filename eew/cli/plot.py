"""``eew plot``: record section and map (PNG) of a simulated scenario folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the ``plot`` arguments."""
    parser.add_argument("scenario_dir", type=Path, help="folder with truth.json and *.mseed")
    parser.add_argument(
        "--picks",
        type=Path,
        default=None,
        help="picks (JSON Lines, lines with type 'pick', channel_id, time)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the scenario folder)"
    )


def run(args: argparse.Namespace) -> int:
    """Write the two PNG files and print their paths."""
    from eew.simulate.plot import plot_scenario

    for path in plot_scenario(args.scenario_dir, args.picks, args.out):
        print(path)
    return 0
