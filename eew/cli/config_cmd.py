"""``eew config``: validate a configuration file and print the effective configuration."""

from __future__ import annotations

import argparse
import sys

from eew.config import dump_config, load_config


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew config``."""
    parser.add_argument("--config", metavar="FILE", help="TOML file (default: config/eew.toml)")
    parser.add_argument("--dump", action="store_true", help="print the effective configuration")


def run(args: argparse.Namespace) -> int:
    """Load (and so validate) the configuration; print it with ``--dump``."""
    cfg = load_config(args.config)
    if args.dump:
        sys.stdout.write(dump_config(cfg))
    else:
        print(f"{cfg.source}: OK (hash {cfg.hash()})")
    return 0
