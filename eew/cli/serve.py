"""``eew serve``: play a miniSEED archive as a SeedLink 3.1 and 4.0 server (optionally TLS)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys

from eew.archive_server.feed import load_feed
from eew.archive_server.repack import load_feed_short
from eew.archive_server.server import SeedLinkServer
from eew.errors import CLIError
from eew.model.clock import WallClock
from eew.model.timeutil import iso_to_ns


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew serve``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="miniSEED files or folders")
    parser.add_argument(
        "--listen",
        default="127.0.0.1:18000",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:18000; port 0: any free port)",
    )
    parser.add_argument(
        "--speed",
        default="1",
        help="N times real time (default 1), or 'max' to put the whole archive in the ring at once",
    )
    parser.add_argument(
        "--now", action="store_true", help="shift record times so the archive starts now"
    )
    parser.add_argument(
        "--ring",
        type=int,
        default=None,
        metavar="N",
        help="packets kept for resuming clients (default: the whole archive)",
    )
    parser.add_argument(
        "--organization", default="EEW archive", help="second line of the HELLO answer"
    )
    parser.add_argument(
        "--record-seconds",
        type=float,
        default=None,
        metavar="S",
        help="re-pack the archive into records of at most S seconds (for example 1, as "
        "dataloggers for early warning are set; 512-byte Steim2 records, samples unchanged)",
    )
    parser.add_argument(
        "--begin",
        metavar="TIME",
        help="serve only the records that end after this data time (ISO 8601, UTC); "
        "they are numbered from 1, as in a fresh ring",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="close a connection that sends no command for S seconds before it streams "
        "(default 120; 0: never)",
    )
    parser.add_argument(
        "--protocol",
        choices=("4", "3"),
        default="4",
        help="highest SeedLink version offered (default 4: SeedLink 4.0 and 3.1; 3: 3.1 only)",
    )
    parser.add_argument(
        "--wait-clients",
        type=int,
        default=1,
        metavar="N",
        help="begin the paced playback when N connections stream (default 1: the first), "
        "so that N clients started together all receive the archive from its first record",
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve over TLS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A server TLS context from a PEM certificate (and key), or None without one.

    Raises
    ------
    CLIError
        If a key is given without a certificate, or the files cannot be loaded.
    """
    if cert is None:
        if key is not None:
            raise CLIError("--tls-key goes with --tls-cert")
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise CLIError(f"cannot load the TLS certificate {cert!r}: {exc}") from exc
    return ctx


def parse_listen(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT``.

    Raises
    ------
    CLIError
        If the port is not a number in 0..65535.
    """
    host, sep, port = text.rpartition(":")
    try:
        port_n = int(port)
    except ValueError:
        port_n = -1
    if not sep or not 0 <= port_n <= 65535:
        raise CLIError(f"--listen must be HOST:PORT, not {text!r}")
    return host or "127.0.0.1", port_n


def parse_speed(text: str) -> float | None:
    """``max`` -> None, else a positive number.

    Raises
    ------
    CLIError
        If the text is neither.
    """
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError as exc:
        raise CLIError(f"--speed must be 'max' or a positive number, not {text!r}") from exc
    if not speed > 0:
        raise CLIError(f"--speed must be positive, not {text!r}")
    return speed


async def _serve(server: SeedLinkServer) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        host, port = await server.start()
        print(f"eew serve: {len(server.feed)} packets, listening on {host}:{port}", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()
    stats = server.statistics()
    print(
        f"eew serve: stopped; {stats.connections} connections, "
        f"{stats.packets_sent} packets sent, {stats.slow_disconnects} slow clients dropped",
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return 0."""
    host, port = parse_listen(args.listen)
    speed = parse_speed(args.speed)
    if args.wait_clients < 1:
        raise CLIError(f"--wait-clients must be at least 1, not {args.wait_clients}")
    if args.record_seconds is None:
        feed = load_feed(args.paths)
    elif not args.record_seconds > 0:
        raise CLIError(f"--record-seconds must be positive, not {args.record_seconds}")
    else:
        feed = load_feed_short(args.paths, args.record_seconds)
    if args.begin:
        try:
            begin_ns = iso_to_ns(args.begin)
        except ValueError as exc:
            raise CLIError(f"--begin must be an ISO 8601 time, not {args.begin!r}") from exc
        feed = feed.since(begin_ns)
        if not len(feed):
            raise CLIError(f"no record ends after --begin {args.begin}")
    server = SeedLinkServer(
        feed,
        WallClock(),
        host=host,
        port=port,
        speed=speed,
        shift_to_now=args.now,
        ring_size=args.ring,
        organization=args.organization,
        idle_timeout_s=args.idle_timeout if args.idle_timeout > 0 else None,
        protocols=("4.0", "3.1") if args.protocol == "4" else ("3.1",),
        ssl_context=tls_context(args.tls_cert, args.tls_key),
        wait_clients=args.wait_clients,
    )
    asyncio.run(_serve(server))
    return 0
