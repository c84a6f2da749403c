"""``eew subscribe``: receive, verify and show alerts from an alert bus publisher.

For people, each alert is one compact block (:mod:`eew.cli.terminal`): the chosen targets
(the nearest five to the epicentre, or ``--target``) with their Roman intensity, the
instruction for the level, the drill flag, and a countdown to the S waves that ticks on a
terminal (plain lines with ``--no-live`` or when stdout is not a terminal). ``--json``
prints the machine form instead. The ``--exec`` hook's output is shown with a prefix.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from eew.errors import CLIError

if TYPE_CHECKING:
    from eew.bus.subscriber import CurveClient
    from eew.bus.watchdog import WatchdogEvent
    from eew.cli.terminal import AlertScreen

LANGUAGES = ("kk", "ru", "en", "ky")


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew subscribe``."""
    parser.add_argument("endpoint", metavar="ENDPOINT", help="publisher, e.g. tcp://host:5571")
    parser.add_argument("--json", action="store_true", help="print JSON Lines (eew.alert/1)")
    parser.add_argument(
        "--min-intensity",
        type=float,
        metavar="X",
        help="only events with predicted MSK-64 intensity >= X at a (selected) target",
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="NAME",
        help="only these targets, shown in this order (repeatable; default: show the "
        "nearest five to the epicentre)",
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default="en",
        help="language of the alert texts (default: %(default)s)",
    )
    parser.add_argument(
        "--no-live",
        action="store_true",
        help="plain lines: no redrawn countdown (the default when stdout is not a terminal)",
    )
    parser.add_argument(
        "--exec",
        dest="exec_cmd",
        metavar="CMD",
        help="run CMD per alert, message on stdin; its output is shown prefixed with [hook]",
    )
    parser.add_argument(
        "--exec-timeout-s",
        type=float,
        default=10.0,
        metavar="S",
        help="kill a hook run after S seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--curve-server-key", metavar="FILE", help="publisher's public CURVE certificate (.key)"
    )
    parser.add_argument(
        "--curve-key", metavar="FILE", help="our CURVE certificate with secret key (.key_secret)"
    )
    parser.add_argument(
        "--trusted-keys", metavar="DIR", help="directory of trusted agencies' .ed25519 keys"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="accept unsigned messages without verification (testing only)",
    )
    parser.add_argument("--picks", action="store_true", help="also show picks")
    parser.add_argument(
        "--max-clock-skew-s",
        type=float,
        default=30.0,
        help="drop messages sent further than this from our clock [s] (inf: no check)",
    )
    parser.add_argument(
        "--heartbeat-missed",
        type=float,
        default=3.0,
        metavar="N",
        help="warn when no heartbeat came for N intervals (default: %(default)s)",
    )
    parser.add_argument("--max-alerts", type=int, metavar="N", help="exit after N alerts")
    parser.add_argument("--duration-s", type=float, metavar="S", help="exit after S seconds")


def _curve(args: argparse.Namespace) -> CurveClient | None:
    from eew.bus.subscriber import CurveClient

    if bool(args.curve_server_key) != bool(args.curve_key):
        raise CLIError("--curve-server-key and --curve-key go together")
    if not args.curve_key:
        return None
    return CurveClient.from_files(args.curve_key, args.curve_server_key)


def _hook_command(cmd: str) -> list[str]:
    """``--exec CMD`` split into words; its program must exist and be executable."""
    try:
        words = shlex.split(cmd)
    except ValueError as exc:
        raise CLIError(f"--exec: {exc}") from exc
    if not words:
        raise CLIError("--exec: empty command")
    if shutil.which(words[0]) is None:
        raise CLIError(f"--exec: {words[0]!r} is not an executable file (or not on PATH)")
    return words


@contextlib.contextmanager
def _log_through(screen: AlertScreen) -> Iterator[None]:
    """While live on a terminal, log lines (on the same terminal) go above the live block."""
    from eew.cli.terminal import ScreenStream

    moved = []
    if sys.stderr.isatty():
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                moved.append((handler, handler.setStream(ScreenStream(screen))))
    try:
        yield
    finally:
        for handler, old in moved:
            handler.setStream(old)


def run(args: argparse.Namespace) -> int:
    """Receive until interrupted (or ``--max-alerts`` / ``--duration-s``)."""
    from eew.bus.config import SubscriberConfig
    from eew.bus.hooks import HookRunner
    from eew.bus.render import AlertFilter, json_line, max_intensity
    from eew.bus.signing import Verifier
    from eew.bus.subscriber import Subscriber
    from eew.cli.terminal import AlertScreen
    from eew.formats import native
    from eew.model.alert import Alert
    from eew.model.clock import WallClock
    from eew.model.pick import Pick

    if args.trusted_keys is None and not args.insecure:
        raise CLIError("--trusted-keys DIR is required (or --insecure for unsigned test feeds)")
    if not (args.exec_timeout_s > 0 and math.isfinite(args.exec_timeout_s)):
        raise CLIError(f"--exec-timeout-s must be a positive number, not {args.exec_timeout_s}")
    command = _hook_command(args.exec_cmd) if args.exec_cmd else None
    verifier = Verifier.from_dir(args.trusted_keys) if args.trusted_keys else None
    config = SubscriberConfig(
        max_clock_skew_s=args.max_clock_skew_s, heartbeat_missed_intervals=args.heartbeat_missed
    )
    try:
        config.check()
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    clock = WallClock()
    flt = AlertFilter(args.min_intensity, args.target)
    live = not (args.json or args.no_live) and sys.stdout.isatty()
    screen = AlertScreen(sys.stdout, clock.now_ns, live=live, lang=args.lang, targets=args.target)

    def notice(text: str) -> None:
        """A line for people: above the live block, else on stderr (stdout stays data)."""
        if live:
            screen.line(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def hook_output(line: str, stream: str) -> None:
        tag = "[hook]" if stream == "stdout" else "[hook stderr]"
        if args.json:
            notice(f"{tag} {line}")
        else:
            screen.line(f"{tag} {line}")

    hook = None
    if command is not None:
        hook = HookRunner(command, timeout_s=args.exec_timeout_s, on_output=hook_output)

    def on_watchdog(event: WatchdogEvent) -> None:
        banner = "*** EEW FEED DOWN ***" if event.state == "lost" else "*** EEW feed back ***"
        notice(f"eew subscribe: {banner} {event.message}")

    kinds = ("alert", "status", "pick") if args.picks else ("alert", "status")
    end = math.inf if args.duration_s is None else time.monotonic() + args.duration_s
    n_alerts = 0
    try:
        with (
            _log_through(screen) if live else contextlib.nullcontext(),
            Subscriber(
                args.endpoint,
                verifier=verifier,
                clock=clock,
                config=config,
                curve=_curve(args),
                kinds=kinds,
                on_watchdog=on_watchdog,
            ) as sub,
        ):
            while args.max_alerts is None or n_alerts < args.max_alerts:
                left_s = end - time.monotonic()
                if left_s <= 0:
                    break
                msg = sub.receive(min(left_s, 0.2 if screen.ticking else 1.0))
                screen.tick()
                if hook is not None:
                    hook.check()
                if msg is None:
                    continue
                body = msg.body
                if isinstance(body, Pick):
                    if args.json:
                        print(native.dumps(body), flush=True)
                    else:
                        screen.line(f"[PICK] {msg.agency} {body.pick_id}")
                elif isinstance(body, Alert) and flt.passes(body):
                    n_alerts += 1
                    text = json_line(body)
                    if args.json:
                        print(text, flush=True)
                    else:
                        screen.alert(body)
                    if hook is not None:
                        hook.submit(
                            (text + "\n").encode("utf-8"),
                            {
                                "EEW_AGENCY": body.agency,
                                "EEW_EVENT_ID": body.event_id,
                                "EEW_VERSION": str(body.version),
                                "EEW_MESSAGE_TYPE": body.message_type,
                                "EEW_STATUS": body.status,
                                "EEW_MAGNITUDE": f"{body.magnitude:.2f}",
                                "EEW_MAX_INTENSITY": f"{max_intensity(body, flt.targets):.2f}",
                            },
                        )
            stats = sub.statistics().messages
    except KeyboardInterrupt:
        return 130
    finally:
        if hook is not None:
            hook.close(timeout_s=args.exec_timeout_s + 5)
    if stats.dropped:
        print(
            f"eew subscribe: dropped {stats.dropped} message(s): {stats.dropped_forged} forged, "
            f"{stats.dropped_unsigned} unsigned, {stats.dropped_replayed} replayed, "
            f"{stats.dropped_stale} stale, {stats.dropped_malformed} malformed",
            file=sys.stderr,
        )
    return 0
