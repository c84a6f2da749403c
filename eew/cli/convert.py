"""``eew convert``: convert an alert or pick message file between wire formats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from eew.errors import CLIError

if TYPE_CHECKING:
    from eew.formats.shakealert import ShakingFn


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew convert``."""
    from eew.formats.registry import FORMATS

    parser.add_argument("input", metavar="INPUT", help="message file ('-' for stdin)")
    parser.add_argument("--to", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    parser.add_argument(
        "--agency",
        default="KZ-AEWS",
        help="agency code written for picks, which carry none (default: %(default)s)",
    )
    parser.add_argument(
        "--previous",
        metavar="FILE",
        action="append",
        default=[],
        help="earlier message(s) of the same event, any format: CAP references for "
        "Update/Cancel (repeatable; default: the chain the alert carries, or for CAP input "
        "its own references)",
    )
    parser.add_argument(
        "--status",
        choices=("actual", "exercise", "test"),
        help="override the alert status (default: keep it; it becomes CAP status, "
        "ShakeAlert category and a QuakeML comment)",
    )
    parser.add_argument(
        "--orig-sys", metavar="NAME", help="ShakeAlert orig_sys (default: the agency)"
    )
    parser.add_argument(
        "--no-shakemap",
        action="store_true",
        help="ShakeAlert without the gm_info contours and grid",
    )


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from exc


def _shaking(args: argparse.Namespace) -> ShakingFn | None:
    """The forecast's ground-motion model for ShakeAlert contours and grid (NumPy), else None."""
    if args.no_shakemap or args.to != "shakealert":
        return None
    from eew.event.shakemap import shaking_model

    return shaking_model()


def run(args: argparse.Namespace) -> int:
    """Read INPUT, detect its format, write it in the ``--to`` format."""
    from eew.formats import cap
    from eew.formats.registry import detect_format, read_messages, write_messages
    from eew.model.alert import Alert

    data = _read(args.input)
    fmt_in = detect_format(data)
    messages = read_messages(data, fmt_in)
    references: list[cap.CapReference] = []
    for prev_path in args.previous:
        prev = read_messages(_read(prev_path))
        references.extend(cap.cap_reference(m) for m in prev if isinstance(m, Alert))
    if not args.previous and fmt_in == "cap":
        references.extend(cap.cap_references(data))
    out = write_messages(
        messages,
        args.to,
        agency=args.agency,
        references=references,
        status=args.status,
        orig_sys=args.orig_sys,
        shaking=_shaking(args),
    )
    if args.out:
        try:
            Path(args.out).write_bytes(out)
        except OSError as exc:
            raise CLIError(f"cannot write {args.out}: {exc.strerror}") from exc
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    return 0
