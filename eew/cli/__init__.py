"""The ``eew`` command line: one module per subcommand.

Each subcommand module exposes ``setup(parser)`` to add its arguments and
``run(args) -> int`` to do the work; its one-line help lives in :data:`SUBCOMMANDS`.
:func:`main` imports only the module of the chosen subcommand, so ``eew --help``,
``eew --version`` and the light subcommands (``convert``, ``subscribe``, ``keys``)
start without numba or scipy. Nothing runs at import time.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from eew import __version__
from eew.errors import EXIT_TEMPFAIL, EEWError, EndpointInUseError

#: subcommand name -> (module, one-line help); modules are imported only when chosen
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "replay": (
        "eew.cli.replay",
        "replay miniSEED files or folders through the pipeline; write picks as JSON Lines",
    ),
    "config": (
        "eew.cli.config_cmd",
        "check a configuration file; --dump prints the effective configuration as TOML",
    ),
    "simulate": (
        "eew.cli.simulate",
        "simulate an earthquake scenario (TOML) into miniSEED + truth.json",
    ),
    "plot": (
        "eew.cli.plot",
        "plot a simulated scenario: record section with true/picked arrivals, and a map",
    ),
    "serve": (
        "eew.cli.serve",
        "serve miniSEED files or folders over SeedLink 3.1/4.0 (real time or N times faster)",
    ),
    "convert": (
        "eew.cli.convert",
        "convert an alert/pick message between JSON, ShakeAlert, QuakeML, CAP and ANSS formats",
    ),
    "keys": (
        "eew.cli.keys",
        "generate CURVE (encryption) and Ed25519 (signing) key pairs for the alert bus",
    ),
    "subscribe": (
        "eew.cli.subscribe",
        "subscribe to an alert bus: print verified alerts, optionally run a hook per alert",
    ),
    "bridge": (
        "eew.cli.bridge",
        "forward the alert bus to ActiveMQ (STOMP), an MQTT broker or a CAP feed over HTTP",
    ),
    "run": (
        "eew.cli.run",
        "run the live daemon: SeedLink in, picks and alerts out on the alert bus",
    ),
    "evaluate": (
        "eew.cli.evaluate",
        "replay scenarios that have a truth.json and print a scorecard (detection, timing, errors)",
    ),
}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option.

    The top-level options (``-h``, ``--version``, ``-v``) take no value, so the first
    other word is the subcommand; ``None`` when there is none (or it is unknown, which
    the parser then reports).
    """
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser; only ``command``'s module is imported and set up.

    Parameters
    ----------
    command : str, optional
        The subcommand whose arguments are added; the others are listed with their help
        only. ``None`` sets up none of them (enough for ``--help`` and ``--version``).
    """
    parser = argparse.ArgumentParser(
        prog="eew",
        description="Almaty earthquake early-warning pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"eew {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (modname, summary) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if name == command:
            mod = importlib.import_module(modname)
            mod.setup(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``eew`` command line; return the process exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_command(words))
    args = parser.parse_args(words)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return int(args._run(args))
    except EndpointInUseError as exc:  # temporary: a supervisor may retry (not status 2)
        print(f"eew {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    except EEWError as exc:
        print(f"eew {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (``eew replay ... | head``): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
