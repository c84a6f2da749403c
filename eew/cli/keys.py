"""``eew keys``: generate CURVE and Ed25519 key pairs for the alert bus."""

from __future__ import annotations

import argparse
import sys


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew keys``."""
    parser.add_argument("directory", metavar="DIR", help="key directory (created with mode 0700)")
    parser.add_argument(
        "--name", default="KZ-AEWS", help="base name of the key files (default: %(default)s)"
    )
    parser.add_argument(
        "--agency",
        help="agency code bound to the signing key (default: the name)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--curve-only", action="store_true", help="only the CURVE pair (e.g. for a subscriber)"
    )
    which.add_argument("--sign-only", action="store_true", help="only the Ed25519 pair")
    parser.add_argument("--force", action="store_true", help="overwrite existing key files")


def run(args: argparse.Namespace) -> int:
    """Write the key files and say which file goes where."""
    from eew.bus.keys import generate_keys

    made = generate_keys(
        args.directory,
        args.name,
        agency=args.agency,
        curve=not args.sign_only,
        signing=not args.curve_only,
        overwrite=args.force,
    )
    out = sys.stdout
    if made.curve_public is not None:
        print(f"CURVE public certificate:  {made.curve_public}", file=out)
        print(
            f"CURVE secret certificate:  {made.curve_secret}  (mode 0600, keep private)", file=out
        )
    if made.sign_public is not None:
        print(f"Ed25519 public key:        {made.sign_public}", file=out)
        print(f"Ed25519 secret key:        {made.sign_secret}  (mode 0600, keep private)", file=out)
    print(
        "Publisher: curve_secret_key_file = the .key_secret, signing_key_file = the "
        ".ed25519_secret;\n"
        "  copy each subscriber's .key into curve_allowed_keys_dir.\n"
        "Subscriber: --curve-key its own .key_secret, --curve-server-key the publisher's .key,\n"
        "  --trusted-keys a directory with the publishing agencies' .ed25519 files.",
        file=out,
    )
    return 0
