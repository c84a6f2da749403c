"""``eew config``: validate a configuration file and print the effective configuration."""

from __future__ import annotations

import argparse
import sys

from eew.configfile import SEARCH_HELP, find_config
from eew.daemon.config import Settings, dump_settings, load_settings


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew config``."""
    parser.add_argument("--config", metavar="FILE", help=SEARCH_HELP)
    parser.add_argument("--dump", action="store_true", help="print the effective configuration")


def run(args: argparse.Namespace) -> int:
    """Load (and so validate) the configuration; print it with ``--dump``.

    Which file was used, and how it was found, goes to stderr, so that the dump on stdout
    stays a configuration file equal to ``config/eew.toml`` for the defaults.
    """
    found = find_config(args.config)
    if found is None:
        settings, where = Settings(), "built-in defaults (no packaged eew/data/config/eew.toml)"
    else:
        settings, where = load_settings(found.path), f"{found.path} ({found.origin})"
    print(f"eew config: using {where}", file=sys.stderr)
    if args.dump:
        sys.stdout.write(dump_settings(settings))
    else:
        print(f"{settings.source}: OK (hash {settings.hash()})")
    return 0
