"""Key files of the alert bus: CURVE certificates and Ed25519 signing keys.

``eew keys DIR --name NAME`` writes, into ``DIR`` (mode 0700):

- ``NAME.key`` / ``NAME.key_secret``: a ZMQ CURVE certificate pair in the
  ZPL format of :func:`zmq.auth.create_certificates` (the public file is what
  goes into a publisher's allowed-keys directory, or to subscribers as the
  server key);
- ``NAME.ed25519`` / ``NAME.ed25519_secret``: an Ed25519 key pair (PyNaCl)
  as a small TOML file binding the key to an agency code.

Secret files are 0600, public files 0644. Files are created in a private
temporary directory inside ``DIR`` and renamed into place, so a secret is
never readable by others, not even for an instant. Loading a secret file
that group or others can read is refused, as ``ssh`` does.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import zmq
import zmq.auth

from eew.bus.errors import KeyFileError

#: agency codes (and key names): they appear in ZMQ topics, so no dots or spaces
AGENCY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700
CURVE_PUBLIC_SUFFIX = ".key"
CURVE_SECRET_SUFFIX = ".key_secret"
SIGN_PUBLIC_SUFFIX = ".ed25519"
SIGN_SECRET_SUFFIX = ".ed25519_secret"


@dataclass(frozen=True, slots=True)
class CurveKeyPair:
    """A CURVE key pair (Z85-encoded, 40 bytes each, as ZMQ socket options want them)."""

    public_key: bytes
    secret_key: bytes


@dataclass(frozen=True, slots=True)
class GeneratedKeys:
    """Paths written by :func:`generate_keys` (``None`` where not requested)."""

    curve_public: Path | None
    curve_secret: Path | None
    sign_public: Path | None
    sign_secret: Path | None


def check_agency(agency: str) -> str:
    """Return ``agency`` if it is a valid agency code, else raise :class:`ValueError`."""
    if not AGENCY_RE.match(agency):
        raise ValueError(f"invalid agency code {agency!r}: use letters, digits, '-' and '_'")
    return agency


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        os.chmod(directory, DIR_MODE)


def _sign_file_text(agency: str, key: nacl.signing.SigningKey, secret: bool) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kind = "SECRET signing key: keep private" if secret else "public verify key"
    lines = [
        f"# Ed25519 {kind} of agency {agency} for the EEW alert bus",
        f"# created by eew keys, {now}",
        f'agency = "{agency}"',
        f'public_key = "{key.verify_key.encode().hex()}"',
    ]
    if secret:
        lines.append(f'secret_key = "{bytes(key).hex()}"')
    return "\n".join(lines) + "\n"


def generate_keys(
    directory: str | os.PathLike[str],
    name: str,
    *,
    agency: str | None = None,
    curve: bool = True,
    signing: bool = True,
    overwrite: bool = False,
) -> GeneratedKeys:
    """Create a CURVE certificate pair and/or an Ed25519 key pair.

    Parameters
    ----------
    directory : path
        Target directory; created with mode 0700 (tightened if it exists).
    name : str
        Base name of the files.
    agency : str, optional
        Agency code bound to the Ed25519 key (default: ``name``).
    curve, signing : bool
        Which pairs to create.
    overwrite : bool
        Replace existing files instead of refusing.

    Raises
    ------
    KeyFileError
        A file exists (and ``overwrite`` is false) or cannot be written.
    """
    try:
        check_agency(name)
        agency = check_agency(agency or name)
    except ValueError as exc:
        raise KeyFileError(str(exc)) from exc
    directory = Path(directory)
    suffixes = [(CURVE_PUBLIC_SUFFIX, CURVE_SECRET_SUFFIX)] if curve else []
    suffixes += [(SIGN_PUBLIC_SUFFIX, SIGN_SECRET_SUFFIX)] if signing else []
    targets = [directory / f"{name}{s}" for pair in suffixes for s in pair]
    if not overwrite and (existing := [str(p) for p in targets if p.exists()]):
        raise KeyFileError(f"refusing to overwrite {', '.join(existing)} (use --force)")
    try:
        _ensure_private_dir(directory)
        tmp = Path(tempfile.mkdtemp(prefix=".eew-keys-", dir=directory))  # mode 0700
        try:
            if curve:
                zmq.auth.create_certificates(tmp, name, metadata={"agency": agency})
            if signing:
                key = nacl.signing.SigningKey.generate()
                (tmp / f"{name}{SIGN_SECRET_SUFFIX}").write_text(_sign_file_text(agency, key, True))
                (tmp / f"{name}{SIGN_PUBLIC_SUFFIX}").write_text(
                    _sign_file_text(agency, key, False)
                )
            for target in targets:
                src = tmp / target.name
                os.chmod(src, SECRET_MODE if target.name.endswith("_secret") else PUBLIC_MODE)
                os.replace(src, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise KeyFileError(f"cannot write keys into {directory}: {exc}") from exc

    def pick(suffix: str) -> Path | None:
        path = directory / f"{name}{suffix}"
        return path if path in targets else None

    return GeneratedKeys(
        pick(CURVE_PUBLIC_SUFFIX),
        pick(CURVE_SECRET_SUFFIX),
        pick(SIGN_PUBLIC_SUFFIX),
        pick(SIGN_SECRET_SUFFIX),
    )


def check_secret_permissions(path: str | os.PathLike[str]) -> None:
    """Raise :class:`KeyFileError` if a secret file is readable by group or others."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        raise KeyFileError(f"cannot read secret key file {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise KeyFileError(
            f"secret key file {path} has mode {mode:04o}; it must not be accessible by "
            f"group or others (chmod 600 {path})"
        )


def load_curve_keypair(path: str | os.PathLike[str]) -> CurveKeyPair:
    """Load a CURVE certificate with its secret key (``NAME.key_secret``)."""
    check_secret_permissions(path)
    public, secret = _load_certificate(path)
    if secret is None:
        raise KeyFileError(f"{path} holds no CURVE secret key (use the .key_secret file)")
    return CurveKeyPair(public, secret)


def load_curve_public_key(path: str | os.PathLike[str]) -> bytes:
    """Load the public key of a CURVE certificate (either file of the pair)."""
    return _load_certificate(path)[0]


def _load_certificate(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot load CURVE certificate {path}: {exc}") from exc
    for key in (public, secret):
        if key is not None and len(key) != 40:
            raise KeyFileError(f"{path}: CURVE keys must be 40 Z85 characters")
    return public, secret


def load_allowed_curve_keys(directory: str | os.PathLike[str]) -> int:
    """Count the public certificates (``*.key``) in an allowed-keys directory.

    Raises
    ------
    KeyFileError
        The directory is missing or holds no certificate (every subscriber
        would be refused: almost certainly a configuration mistake).
    """
    try:
        n = len(zmq.auth.load_certificates(directory))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot load allowed CURVE keys from {directory}: {exc}") from exc
    if n == 0:
        raise KeyFileError(f"no public CURVE certificate (*.key) in {directory}")
    return n


def _read_sign_file(path: Path) -> dict[str, str]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{path}: not an Ed25519 key file: {exc}") from exc
    if not all(isinstance(raw.get(k), str) for k in ("agency", "public_key")):
        raise KeyFileError(f"{path}: 'agency' and 'public_key' are required strings")
    try:
        check_agency(raw["agency"])
    except ValueError as exc:
        raise KeyFileError(f"{path}: {exc}") from exc
    return raw


def _hex32(path: Path, raw: dict[str, str], key: str) -> bytes:
    try:
        value = bytes.fromhex(raw[key])
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: '{key}' must be 64 hex digits") from exc
    if len(value) != 32:
        raise KeyFileError(f"{path}: '{key}' must be 64 hex digits")
    return value


def load_signing_key(path: str | os.PathLike[str]) -> tuple[str, nacl.signing.SigningKey]:
    """Load an Ed25519 secret key file; return ``(agency, key)``."""
    path = Path(path)
    check_secret_permissions(path)
    raw = _read_sign_file(path)
    key = nacl.signing.SigningKey(_hex32(path, raw, "secret_key"))
    if key.verify_key.encode() != _hex32(path, raw, "public_key"):
        raise KeyFileError(f"{path}: public_key does not match secret_key")
    return raw["agency"], key


def load_verify_key(path: str | os.PathLike[str]) -> tuple[str, nacl.signing.VerifyKey]:
    """Load an Ed25519 public key file; return ``(agency, key)``."""
    path = Path(path)
    raw = _read_sign_file(path)
    return raw["agency"], nacl.signing.VerifyKey(_hex32(path, raw, "public_key"))


def load_trusted_keys(
    directory: str | os.PathLike[str],
) -> dict[str, tuple[nacl.signing.VerifyKey, ...]]:
    """Load every ``*.ed25519`` public key in ``directory``: agency -> its keys.

    An agency may have several keys (rotation: trust the new key before the
    publisher switches to it, then remove the old one).

    Raises
    ------
    KeyFileError
        Missing directory, no key in it, or a malformed file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise KeyFileError(f"trusted keys directory {directory} does not exist")
    keys: dict[str, tuple[nacl.signing.VerifyKey, ...]] = {}
    for path in sorted(directory.glob(f"*{SIGN_PUBLIC_SUFFIX}")):
        agency, key = load_verify_key(path)
        if key not in keys.get(agency, ()):
            keys[agency] = (*keys.get(agency, ()), key)
    if not keys:
        raise KeyFileError(f"no trusted Ed25519 key (*{SIGN_PUBLIC_SUFFIX}) in {directory}")
    return keys
