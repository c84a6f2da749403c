"""``eew run``: the live daemon (station, central or all-in-one)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
import time
from types import FrameType

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

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # a Python signal handler runs between two bytecodes of the main thread, even
        # while the loop works through a batch of packets: the arrival time is exact
        # and the stop itself is handed to the loop
        daemon.signal_stop()
        loop.call_soon_threadsafe(daemon.request_stop, time.monotonic())

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return await daemon.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
    rc = asyncio.run(_main(daemon))
    # Everything is closed and the state file is written. The interpreter's final
    # garbage collection over the chain's objects took 0.3-1.5 s between the "daemon
    # stopped" line and the process exit (measured); no object needs that collection,
    # so it is skipped and the process exits within a few tens of milliseconds.
    gc.freeze()
    return rc
