"""``eew config``: validate a configuration file and print the effective configuration."""

from __future__ import annotations

import argparse
import sys

from eew.daemon.config import dump_settings, load_settings

HELP = "check a configuration file; --dump prints the effective configuration as TOML"


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew config``."""
    parser.add_argument("--config", metavar="FILE", help="TOML file (default: config/eew.toml)")
    parser.add_argument("--dump", action="store_true", help="print the effective configuration")


def run(args: argparse.Namespace) -> int:
    """Load (and so validate) the configuration; print it with ``--dump``."""
    settings = load_settings(args.config)
    if args.dump:
        sys.stdout.write(dump_settings(settings))
    else:
        print(f"{settings.source}: OK (hash {settings.hash()})")
    return 0
