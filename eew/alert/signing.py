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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from eew.alert.errors import RejectedMessage
from eew.alert.keys import check_agency, load_signing_key, load_trusted_keys

DOMAIN = b"eew-bus/1\x00"
BLOCK_VERSION = 1
SIGNATURE_SIZE = 64
_HEAD = struct.Struct(">BqQB")


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
    """

    def __init__(self, trusted: Mapping[str, Sequence[nacl.signing.VerifyKey]]) -> None:
        self._trusted = {check_agency(a): tuple(keys) for a, keys in trusted.items()}
        if not self._trusted:
            raise ValueError("a Verifier needs at least one trusted key")

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str]) -> Verifier:
        """Trust every ``*.ed25519`` public key in ``directory``."""
        return cls(load_trusted_keys(directory))

    @property
    def agencies(self) -> tuple[str, ...]:
        """The trusted agency codes."""
        return tuple(sorted(self._trusted))

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
