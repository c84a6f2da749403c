"""``eew run``: the live daemon (station, central or all-in-one)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from eew.errors import CLIError


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew run``."""
    parser.add_argument(
        "--config", metavar="FILE", required=True, help="TOML file (see config/station.toml)"
    )
    parser.add_argument(
        "--role",
        choices=("station", "central", "all"),
        help="override [daemon] role: station (edge), central (centre) or all (one process)",
    )
    parser.add_argument(
        "--dump-config", action="store_true", help="print the daemon sections in effect and exit"
    )


async def _main(daemon: object) -> int:
    from eew.daemon.runner import Daemon

    assert isinstance(daemon, Daemon)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, daemon.request_stop)
    try:
        return await daemon.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    """Configure logging, build the daemon, run it until SIGTERM/SIGINT; return 0."""
    from eew.daemon.config import dump_settings, load_settings
    from eew.daemon.logfmt import configure_logging
    from eew.daemon.runner import Daemon

    settings = load_settings(args.config)
    if args.role:
        settings = settings.with_role(args.role)
    if args.dump_config:
        sys.stdout.write(dump_settings(settings))
        return 0
    level = settings.daemon.log_level
    if args.verbose:
        level = "DEBUG" if args.verbose > 1 else "INFO"
    configure_logging(level, sys.stderr)
    if settings.daemon.role == "central" and not settings.upstream.endpoints:
        raise CLIError("role central needs [upstream] endpoints")
    daemon = Daemon(settings)
    return asyncio.run(_main(daemon))
