"""One SUB socket and its monitor: what a :class:`~eew.bus.subscriber.Subscriber` re-creates.

libzmq reconnects a SUB socket by itself after an ordinary connection loss,
but not after a protocol error: a message over the receive size limit (or a
garbled frame) ends the session for good, silently. A half-open TCP
connection (the peer's host vanished) is never noticed without heartbeats, and
libzmq's own ZMTP heartbeats crash a subscriber that stalls and then resumes
reading (``Assertion failed: _input_stopped``, libzmq issue 3937), so none are
set here. Instead the subscriber watches this socket's monitor (disconnections,
failed handshakes) and the application heartbeats, and replaces the whole
:class:`Connection` when either says the link is gone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import recv_monitor_message

from eew.bus.config import SubscriberConfig
from eew.bus.keys import CurveKeyPair, load_curve_keypair, load_curve_public_key

logger = logging.getLogger(__name__)

#: the subscriber refuses (and libzmq disconnects on) messages above this [bytes]
MAX_MESSAGE_BYTES = 2 << 20
#: monitor events that mean the connection is gone or will not come up
LOST_EVENTS = (
    zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_WATCHED = LOST_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED


@dataclass(frozen=True, slots=True)
class CurveClient:
    """CURVE settings of a subscriber: its own key pair and the server's public key."""

    keypair: CurveKeyPair
    server_key: bytes

    @classmethod
    def from_files(
        cls, secret_file: str | os.PathLike[str], server_key_file: str | os.PathLike[str]
    ) -> CurveClient:
        """Load our ``NAME.key_secret`` and the publisher's public ``.key`` certificate."""
        return cls(load_curve_keypair(secret_file), load_curve_public_key(server_key_file))


class Connection:
    """A connected SUB socket with a monitor PAIR socket.

    Parameters
    ----------
    context : zmq.Context
        Context of both sockets.
    endpoint : str
        The publisher's endpoint.
    config : SubscriberConfig
        High-water mark and reconnection intervals.
    curve : CurveClient or None
        CURVE keys, or plain TCP.
    prefixes : sequence of bytes
        Topic prefixes to subscribe to.

    Raises
    ------
    zmq.ZMQError
        The socket could not be made or connected (both sockets are closed).
    """

    def __init__(
        self,
        context: zmq.SyncContext,
        endpoint: str,
        config: SubscriberConfig,
        curve: CurveClient | None,
        prefixes: tuple[bytes, ...],
    ) -> None:
        self.socket: zmq.SyncSocket = context.socket(zmq.SUB)
        self.monitor: zmq.SyncSocket | None = None
        try:
            s = self.socket
            s.linger = 0
            s.rcvhwm = config.rcvhwm_messages
            if config.rcvbuf_bytes > 0:
                s.rcvbuf = config.rcvbuf_bytes
            s.maxmsgsize = MAX_MESSAGE_BYTES
            s.reconnect_ivl = round(config.reconnect_interval_s * 1000)
            s.reconnect_ivl_max = round(config.reconnect_interval_max_s * 1000)
            if curve is not None:
                s.curve_secretkey = curve.keypair.secret_key
                s.curve_publickey = curve.keypair.public_key
                s.curve_serverkey = curve.server_key
            for prefix in prefixes:
                s.setsockopt(zmq.SUBSCRIBE, prefix)
            self.monitor = s.get_monitor_socket(_WATCHED)
            self.monitor.linger = 0
            s.connect(endpoint)
            self.poller = zmq.Poller()
            self.poller.register(s, zmq.POLLIN)
            self.poller.register(self.monitor, zmq.POLLIN)
        except zmq.ZMQError:
            self.close()
            raise

    def events(self) -> list[int]:
        """The monitor events that came since the last call (never blocks)."""
        out: list[int] = []
        while self.monitor is not None:
            try:
                out.append(int(recv_monitor_message(self.monitor, zmq.DONTWAIT)["event"]))
            except zmq.Again:
                break
        return out

    def recv(self) -> list[bytes] | None:
        """One message if one is ready, else None."""
        try:
            return self.socket.recv_multipart(zmq.DONTWAIT)
        except zmq.Again:
            return None

    def drain(self, limit: int) -> list[list[bytes]]:
        """Up to ``limit`` messages already received (before the socket is replaced)."""
        out: list[list[bytes]] = []
        while len(out) < limit and (frames := self.recv()) is not None:
            out.append(frames)
        return out

    def refresh(self, prefix: bytes) -> None:
        """Send ``prefix``'s subscription once more (the publisher resends its cache).

        A second SUBSCRIBE is forwarded to the publisher (XPUB_VERBOSE reports it);
        the UNSUBSCRIBE only lowers the local count, so nothing changes here.
        """
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix)
        self.socket.setsockopt(zmq.UNSUBSCRIBE, prefix)

    def request(self, prefix: bytes) -> None:
        """Subscribe to a resend request's prefix (:mod:`eew.bus.resend`).

        The publisher reads it as the request, and its answer comes on that prefix.
        """
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix)

    def release(self, prefix: bytes) -> None:
        """Drop a resend request's prefix (answered, or given up)."""
        self.socket.setsockopt(zmq.UNSUBSCRIBE, prefix)

    def close(self) -> None:
        """Close the monitor and the socket (linger 0)."""
        if self.monitor is not None:
            if not self.socket.closed:
                self.socket.disable_monitor()
            self.monitor.close(linger=0)
            self.monitor = None
        if not self.socket.closed:
            self.socket.close(linger=0)


def describe(event: int) -> str:
    """A short text for a monitor event."""
    texts: dict[int, str] = {
        zmq.EVENT_DISCONNECTED: "disconnected",
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake failed",
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake failed (protocol error)",
        zmq.EVENT_HANDSHAKE_FAILED_AUTH: (
            "handshake refused: our CURVE key is not allowed there, or the server key is wrong"
        ),
        zmq.EVENT_HANDSHAKE_SUCCEEDED: "connected",
    }
    return texts.get(event, f"event {event}")
