r"""Ed25519 signatures of bus messages (the third frame).

The signature frame is a small binary block, big-endian::

    offset  size  field
    0       1     block format version (2)
    1       8     bus sent time [ns since the epoch, signed]
    9       8     sequence number per topic (starts at 0 when the publisher starts)
    17      8     publisher session: a random number drawn at each publisher start
    25      1     length L of the signer's agency code (1..32)
    26      L     signer's agency code (ASCII)
    26+L    64    Ed25519 signature (absent in an unsigned message)

The signature covers ``b"eew-bus/1\0" + topic + b"\0" + block[:26+L] +
payload``: the domain string keeps these signatures from being valid for any
other protocol, the NUL keeps topic and header apart (topics contain no NUL),
and the sent time, session and sequence number are signed, so a captured
message cannot be made to look fresh or to belong to another session.

Version 1 blocks (no session field: ``>BqQB`` then the signer) from older
publishers are still read; their session is 0.
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
BLOCK_VERSION = 2
SIGNATURE_SIZE = 64
_HEAD = struct.Struct(">BqQQB")
_HEAD_V1 = struct.Struct(">BqQB")
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
    session : int
        The publisher's session (drawn at each start; 0 from a version-1 block): a new
        session with sequence numbers from 0 is a publisher restart, not a loss.
    signer : str
        Agency code of the signer (or of the unsigned sender).
    signed : bool
        Whether a signature was present (and, after verification, valid).
    """

    sent_time_ns: int
    seq: int
    signer: str
    signed: bool
    session: int = 0


def _head(sent_time_ns: int, seq: int, session: int, agency: str) -> bytes:
    code = agency.encode("ascii")
    return _HEAD.pack(BLOCK_VERSION, sent_time_ns, seq, session, len(code)) + code


def _message(topic: bytes, head: bytes, payload: bytes) -> bytes:
    return b"".join((DOMAIN, topic, b"\x00", head, payload))


def unsigned_block(
    topic: bytes, payload: bytes, *, sent_time_ns: int, seq: int, agency: str, session: int = 0
) -> bytes:
    """Signature frame without a signature (plain mode for tests and benchmarks)."""
    del topic, payload
    return _head(sent_time_ns, seq, session, agency)


def parse_block(frame: bytes) -> tuple[Envelope, bytes, bytes | None]:
    """Split a signature frame into (envelope, signed header bytes, signature or None).

    Raises
    ------
    RejectedMessage
        ``malformed`` if the frame is not a version-1 or version-2 block.
    """
    version = frame[0] if frame else 0
    head = _HEAD if version == BLOCK_VERSION else _HEAD_V1
    if len(frame) < head.size:
        raise RejectedMessage("malformed", f"signature frame of {len(frame)} bytes")
    if version == BLOCK_VERSION:
        _, sent_ns, seq, session, n = _HEAD.unpack_from(frame)
    else:
        version, sent_ns, seq, n = _HEAD_V1.unpack_from(frame)
        session = 0
    if version not in (1, BLOCK_VERSION) or not 1 <= n <= 32:
        raise RejectedMessage("malformed", f"signature block version {version}, signer length {n}")
    end = head.size + n
    rest = len(frame) - end
    if rest not in (0, SIGNATURE_SIZE):
        raise RejectedMessage("malformed", f"signature of {rest} bytes (expected 64)")
    try:
        signer = check_agency(frame[head.size : end].decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RejectedMessage("malformed", f"signer code: {exc}") from exc
    signature = frame[end:] if rest else None
    envelope = Envelope(sent_ns, seq, signer, signature is not None, session)
    return envelope, frame[:end], signature


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

    def sign(
        self, topic: bytes, payload: bytes, *, sent_time_ns: int, seq: int, session: int = 0
    ) -> bytes:
        """Return the signature frame for ``topic`` and ``payload``."""
        head = _head(sent_time_ns, seq, session, self._agency)
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
