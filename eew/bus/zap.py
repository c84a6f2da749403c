"""CURVE client authentication (ZAP, ZeroMQ RFC 27) that logs who was refused.

A CURVE server socket asks the ZAP handler of its context, over
``inproc://zeromq.zap.01``, whether a client's public key may connect.
:class:`ZapHandler` answers from the allowed-keys directory (``*.key``
certificates, read once) and logs every refused key with the client's address
(WARNING; a key that keeps trying is logged again at most once a minute, with
its count). It owns a REP socket but no thread: the publisher thread polls
:attr:`ZapHandler.socket` with its own sockets and calls :meth:`handle`.

The handler must be bound before the CURVE socket binds: without a ZAP handler
libzmq lets every CURVE key in.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85

from eew.bus.errors import KeyFileError
from eew.model.clock import Clock

logger = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
_VERSION = b"1.0"
_RELOG_NS = 60_000_000_000  # a refused key is logged again at most this often [ns]
_REMEMBERED_KEYS = 1024  # refused keys whose log state is kept


class ZapHandler:
    """Answer ZAP requests of one context from an allowed-keys directory.

    Parameters
    ----------
    context : zmq.Context
        The context of the CURVE server socket (one handler per context).
    allowed_keys_dir : Path
        Directory of the allowed clients' public certificates (``*.key``).
    clock : Clock
        For rate-limiting the log lines.
    """

    def __init__(self, context: zmq.SyncContext, allowed_keys_dir: Path, clock: Clock) -> None:
        try:
            certs = zmq.auth.load_certificates(allowed_keys_dir)
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"cannot load allowed CURVE keys: {exc}") from exc
        self._allowed = frozenset(bytes(k) for k in certs)
        self._dir = allowed_keys_dir
        self._clock = clock
        self._refused: OrderedDict[bytes, tuple[int, int]] = OrderedDict()  # key -> (n, logged)
        self.refused = 0
        self.socket: zmq.SyncSocket = context.socket(zmq.REP)
        self.socket.linger = 0
        try:
            self.socket.bind(ZAP_ENDPOINT)
        except zmq.ZMQError:
            self.socket.close(linger=0)
            raise

    def handle(self) -> None:
        """Answer every pending request (never blocks)."""
        while True:
            try:
                request = self.socket.recv_multipart(zmq.DONTWAIT)
            except zmq.Again:
                return
            self.socket.send_multipart(self._answer(request))

    def _answer(self, request: list[bytes]) -> list[bytes]:
        if len(request) < 6 or request[0] != _VERSION:
            logger.error("malformed ZAP request of %d frame(s)", len(request))
            request_id = request[1] if len(request) > 1 else b""
            return [_VERSION, request_id, b"400", b"Malformed request", b"", b""]
        request_id, address, mechanism = request[1], request[3], request[5]
        credentials = request[6:]
        if mechanism == b"CURVE" and len(credentials) == 1 and len(credentials[0]) == 32:
            key = z85.encode(credentials[0])
            if key in self._allowed:
                return [_VERSION, request_id, b"200", b"OK", key, b""]
            self._log_refusal(key, address.decode("ascii", "replace"))
            return [_VERSION, request_id, b"400", b"Unknown key", b"", b""]
        logger.warning(
            "refused a %r client from %s: only CURVE clients are allowed",
            mechanism[:16],
            address.decode("ascii", "replace"),
        )
        self.refused += 1
        return [_VERSION, request_id, b"400", b"CURVE required", b"", b""]

    def _log_refusal(self, key: bytes, address: str) -> None:
        self.refused += 1
        now = self._clock.now_ns()
        count, logged = self._refused.pop(key, (0, 0))
        count += 1
        if count == 1 or now - logged >= _RELOG_NS:
            logger.warning(
                "refused CURVE client key %s from %s: not among the allowed keys in %s "
                "(%d attempt(s))",
                key.decode("ascii"),
                address,
                self._dir,
                count,
            )
            logged = now
        self._refused[key] = (count, logged)
        while len(self._refused) > _REMEMBERED_KEYS:
            self._refused.popitem(last=False)

    def close(self) -> None:
        """Close the REP socket (unbinds the ZAP endpoint)."""
        self.socket.close(linger=0)
