r"""Ed25519 signatures of bus messages (the third frame).

The signature frame is a small binary block, big-endian::

    offset  size  field
    0       1     block format version (1)
    1       8     bus sent time [ns since the epoch, signed]
    9       8     sequence number per topic (starts at 0 when the publisher starts)
    17      1     length L of the signer's agency code (1..32)
    18      L     signer's agency code (ASCII)
    18+L    64    Ed25519 signature (absent in an unsigned message)

The signature covers ``b"eew-bus/1\0" + topic + b"\0" + block[:18+L] +
payload``: the domain string keeps these signatures from being valid for any
other protocol, the NUL keeps topic and header apart (topics contain no NUL),
and the sent time and sequence number are signed, so a captured message cannot
be made to look fresh.
"""

from __future__ import annotations

import os
import struct
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.signing

from eew.bus.errors import KeyFileError, RejectedMessage
from eew.bus.keys import check_agency, load_signing_key, load_trusted_keys

DOMAIN = b"eew-bus/1\x00"
BLOCK_VERSION = 1
SIGNATURE_SIZE = 64
_HEAD = struct.Struct(">BqQB")
#: optional file in a trusted-keys directory: which agency may relay whose alerts
RELAYS_FILE = "relays.toml"


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the signature frame says about a message.

    Attributes
    ----------
    sent_time_ns : int
        When the publisher sent it (its clock) [ns].
    seq : int
        Sequence number within its topic.
    signer : str
        Agency code of the signer (or of the unsigned sender).
    signed : bool
        Whether a signature was present (and, after verification, valid).
    """

    sent_time_ns: int
    seq: int
    signer: str
    signed: bool


def _head(sent_time_ns: int, seq: int, agency: str) -> bytes:
    code = agency.encode("ascii")
    return _HEAD.pack(BLOCK_VERSION, sent_time_ns, seq, len(code)) + code


def _message(topic: bytes, head: bytes, payload: bytes) -> bytes:
    return b"".join((DOMAIN, topic, b"\x00", head, payload))


def unsigned_block(
    topic: bytes, payload: bytes, *, sent_time_ns: int, seq: int, agency: str
) -> bytes:
    """Signature frame without a signature (plain mode for tests and benchmarks)."""
    del topic, payload
    return _head(sent_time_ns, seq, agency)


def parse_block(frame: bytes) -> tuple[Envelope, bytes, bytes | None]:
    """Split a signature frame into (envelope, signed header bytes, signature or None).

    Raises
    ------
    RejectedMessage
        ``malformed`` if the frame is not a version-1 block.
    """
    if len(frame) < _HEAD.size:
        raise RejectedMessage("malformed", f"signature frame of {len(frame)} bytes")
    version, sent_ns, seq, n = _HEAD.unpack_from(frame)
    if version != BLOCK_VERSION or not 1 <= n <= 32:
        raise RejectedMessage("malformed", f"signature block version {version}, signer length {n}")
    end = _HEAD.size + n
    rest = len(frame) - end
    if rest not in (0, SIGNATURE_SIZE):
        raise RejectedMessage("malformed", f"signature of {rest} bytes (expected 64)")
    try:
        signer = check_agency(frame[_HEAD.size : end].decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RejectedMessage("malformed", f"signer code: {exc}") from exc
    signature = frame[end:] if rest else None
    return Envelope(sent_ns, seq, signer, signature is not None), frame[:end], signature


class Signer:
    """Signs bus messages with an agency's Ed25519 key.

    Parameters
    ----------
    agency : str
        Agency code the key belongs to.
    key : nacl.signing.SigningKey
        The secret key.
    """

    def __init__(self, agency: str, key: nacl.signing.SigningKey) -> None:
        self._agency = check_agency(agency)
        self._key = key

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Signer:
        """Load a ``NAME.ed25519_secret`` file written by ``eew keys``."""
        return cls(*load_signing_key(path))

    @property
    def agency(self) -> str:
        """The agency whose key this is."""
        return self._agency

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte verify key."""
        return self._key.verify_key.encode()

    def sign(self, topic: bytes, payload: bytes, *, sent_time_ns: int, seq: int) -> bytes:
        """Return the signature frame for ``topic`` and ``payload``."""
        head = _head(sent_time_ns, seq, self._agency)
        return head + self._key.sign(_message(topic, head, payload)).signature


class Verifier:
    """Checks signature frames against the trusted agency keys.

    Parameters
    ----------
    trusted : mapping
        Agency code -> its verify keys (several during a key rotation).
    relays : mapping, optional
        Trusted agency code -> the agencies whose *alerts* it may relay (publish on its
        own ``alert.<agency>`` topic, signed with its own key, with the partner's code in
        the payload's ``agency``). Empty by default: an agency speaks only for itself.
    """

    def __init__(
        self,
        trusted: Mapping[str, Sequence[nacl.signing.VerifyKey]],
        relays: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._trusted = {check_agency(a): tuple(keys) for a, keys in trusted.items()}
        if not self._trusted:
            raise ValueError("a Verifier needs at least one trusted key")
        self._relays: dict[str, frozenset[str]] = {}
        for relayer, agencies in (relays or {}).items():
            if check_agency(relayer) not in self._trusted:
                raise ValueError(f"relays: {relayer} is not a trusted agency")
            codes = frozenset(check_agency(a) for a in agencies)
            if relayer in codes:
                raise ValueError(f"relays: {relayer} cannot relay for itself")
            self._relays[relayer] = codes

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str]) -> Verifier:
        """Trust every ``*.ed25519`` public key in ``directory``.

        An optional ``relays.toml`` there grants relay permissions, one key per relaying
        agency: ``KZ-AEWS = ["KG-MES"]`` (KZ-AEWS may relay KG-MES alerts).

        Raises
        ------
        KeyFileError
            No key, a malformed key file or a malformed ``relays.toml``.
        """
        return cls(load_trusted_keys(directory), load_relays(Path(directory) / RELAYS_FILE))

    @property
    def agencies(self) -> tuple[str, ...]:
        """The trusted agency codes."""
        return tuple(sorted(self._trusted))

    def relayed_by(self, agency: str) -> frozenset[str]:
        """The agencies whose alerts ``agency`` may relay (empty if none)."""
        return self._relays.get(agency, frozenset())

    def verify(self, topic: bytes, payload: bytes, frame: bytes, agency: str) -> Envelope:
        """Verify a message published under ``agency``'s topic; return its envelope.

        Raises
        ------
        RejectedMessage
            ``malformed`` (bad block), ``unsigned`` (no signature), ``forged``
            (signer is not the topic's agency, is not trusted, or the
            signature does not verify).
        """
        envelope, head, signature = parse_block(frame)
        if signature is None:
            raise RejectedMessage("unsigned", f"{topic!r} carries no signature")
        if envelope.signer != agency:
            raise RejectedMessage("forged", f"{topic!r} signed by {envelope.signer}")
        keys = self._trusted.get(agency)
        if not keys:
            raise RejectedMessage("forged", f"{topic!r}: agency {agency} is not trusted")
        message = _message(topic, head, payload)
        for key in keys:
            try:
                key.verify(message, signature)
            except nacl.exceptions.BadSignatureError:
                continue
            return envelope
        raise RejectedMessage("forged", f"{topic!r}: bad signature for {agency}")


def load_relays(path: str | os.PathLike[str]) -> dict[str, tuple[str, ...]]:
    """Read a ``relays.toml`` file (relaying agency -> list of agency codes).

    A missing file means no relay permission (empty mapping).

    Raises
    ------
    KeyFileError
        Unreadable TOML, or a value that is not a list of agency codes.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
        relays: dict[str, tuple[str, ...]] = {}
        for relayer, agencies in raw.items():
            if not isinstance(agencies, list) or not all(isinstance(a, str) for a in agencies):
                raise ValueError(f"{relayer}: expected a list of agency codes")
            relays[check_agency(relayer)] = tuple(check_agency(a) for a in agencies)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise KeyFileError(f"{path}: {exc}") from exc
    return relays
