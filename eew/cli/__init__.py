"""The ``eew`` command line: one module per subcommand.

Each subcommand module exposes ``HELP`` (one line), ``setup(parser)`` to add
its arguments and ``run(args) -> int`` to do the work. :func:`main` wires them
together; nothing runs at import time.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from eew import __version__
from eew.errors import EEWError

#: subcommand name -> module (imported lazily so ``eew --help`` stays fast)
SUBCOMMANDS: dict[str, str] = {
    "replay": "eew.cli.replay",
    "config": "eew.cli.config_cmd",
    "simulate": "eew.cli.simulate",
    "plot": "eew.cli.plot",
    "serve": "eew.cli.serve",
    "convert": "eew.cli.convert",
    "keys": "eew.cli.keys",
    "subscribe": "eew.cli.subscribe",
    "run": "eew.cli.run",
    "evaluate": "eew.cli.evaluate",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="eew",
        description="Almaty earthquake early-warning pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"eew {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, modname in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:  # subcommand not built yet
                continue
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.setup(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``eew`` command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return int(args._run(args))
    except EEWError as exc:
        print(f"eew {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (``eew replay ... | head``): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
