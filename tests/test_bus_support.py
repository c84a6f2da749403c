"""Fixtures and helpers shared by the alert bus tests (imported by test_bus_*.py).

Every ZMQ context and socket a test makes goes through :class:`ZmqTracker`,
which closes the sockets with linger 0 and terminates the contexts with a
timeout, failing the test if one hangs (a socket left open). Publishers bind
random loopback ports (``tcp://127.0.0.1:*`` -> ``bind_to_random_port``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from eew.bus import (
    BusConfig,
    BusMessage,
    CurveClient,
    CurveServer,
    Publisher,
    Signer,
    Subscriber,
    SubscriberConfig,
    Verifier,
)
from eew.bus.errors import BusError
from eew.bus.keys import generate_keys
from eew.formats import native
from eew.model.alert import Alert
from eew.model.clock import ManualClock

DATA = Path(__file__).resolve().parent / "data" / "formats"
T0_NS = 1_705_946_940_000_000_000  # 2024-01-22T18:09:00Z
LOOPBACK = "tcp://127.0.0.1:*"


class ZmqTracker:
    """Creates and remembers contexts and sockets; :meth:`close_all` cleans up."""

    def __init__(self) -> None:
        self.contexts: list[zmq.Context] = []
        self.sockets: list[zmq.Socket] = []

    def context(self) -> zmq.Context:
        ctx = zmq.Context()
        self.contexts.append(ctx)
        return ctx

    def socket(self, ctx: zmq.Context, kind: int) -> zmq.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        self.sockets.append(sock)
        return sock

    def close_all(self, timeout_s: float = 5.0) -> None:
        for sock in self.sockets:
            if not sock.closed:
                sock.close(linger=0)
        for ctx in self.contexts:
            t = threading.Thread(target=ctx.term, daemon=True)
            t.start()
            t.join(timeout_s)
            if t.is_alive():
                raise RuntimeError("zmq context did not terminate: open sockets likely remain")


@pytest.fixture
def zmq_tracker() -> Iterator[ZmqTracker]:
    tracker = ZmqTracker()
    yield tracker
    tracker.close_all()


@dataclass(frozen=True)
class Keys:
    """Key files of a test deployment."""

    root: Path
    publisher_secret: Path  # CURVE .key_secret of the publisher
    publisher_public: Path
    allowed_dir: Path  # holds siren.key only
    siren_secret: Path  # an allowed subscriber
    intruder_secret: Path  # a subscriber whose key is not allowed
    signing_secret: Path  # KZ-AEWS Ed25519
    forger_secret: Path  # another key claiming KZ-AEWS
    partner_secret: Path  # KG-MES Ed25519 (trusted for its own agency only)
    trusted_dir: Path  # KZ-AEWS.ed25519 + KG-MES.ed25519

    def signer(self) -> Signer:
        return Signer.from_file(self.signing_secret)

    def verifier(self) -> Verifier:
        return Verifier.from_dir(self.trusted_dir)

    def curve_server(self) -> CurveServer:
        return CurveServer.from_files(self.publisher_secret, self.allowed_dir)

    def curve_client(self, secret: Path | None = None) -> CurveClient:
        return CurveClient.from_files(secret or self.siren_secret, self.publisher_public)


@pytest.fixture(scope="session")
def bus_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    root = tmp_path_factory.mktemp("bus_keys")
    pub = generate_keys(root / "publisher", "KZ-AEWS")
    siren = generate_keys(root / "siren", "siren", curve=True, signing=False)
    intruder = generate_keys(root / "intruder", "intruder", signing=False)
    forger = generate_keys(root / "forger", "KZ-AEWS", signing=True, curve=False)
    partner = generate_keys(root / "partner", "KG-MES", curve=False)
    allowed = root / "allowed"
    allowed.mkdir()
    (allowed / "siren.key").write_bytes(siren.curve_public.read_bytes())
    trusted = root / "trusted"
    trusted.mkdir()
    for made in (pub, partner):
        (trusted / made.sign_public.name).write_bytes(made.sign_public.read_bytes())
    return Keys(
        root=root,
        publisher_secret=pub.curve_secret,
        publisher_public=pub.curve_public,
        allowed_dir=allowed,
        siren_secret=siren.curve_secret,
        intruder_secret=intruder.curve_secret,
        signing_secret=pub.sign_secret,
        forger_secret=forger.sign_secret,
        partner_secret=partner.sign_secret,
        trusted_dir=trusted,
    )


def sample_alert(name: str = "alert_new", **changes: Any) -> Alert:
    """A sample alert from tests/data/formats, with some fields changed."""
    [alert] = native.loads((DATA / f"{name}.json").read_bytes())
    return alert.with_(**changes) if changes else alert


def wait_for(pred: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def wait_subscribed(pub: Publisher, n: int, *pump: Subscriber, timeout_s: float = 10.0) -> None:
    """Wait until the publisher has seen ``n`` subscriptions in total.

    libzmq handles a (re)connection of a socket only when its owner uses it, so
    the subscribers in ``pump`` keep receiving (and discarding) meanwhile.
    """

    def done() -> bool:
        for sub in pump:
            sub.receive(0.01)
        return pub.statistics().subscriptions >= n

    wait_for(done, timeout_s, f"{n} subscriptions")


def receive_until(
    sub: Subscriber, pred: Callable[[BusMessage], bool], timeout_s: float = 10.0
) -> list[BusMessage]:
    """Receive until a message satisfies ``pred``; return everything received."""
    got: list[BusMessage] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = sub.receive(0.05)
        if msg is not None:
            got.append(msg)
            if pred(msg):
                return got
    raise AssertionError(f"timed out; received {[m.kind for m in got]}")


def alerts(messages: list[BusMessage]) -> list[Alert]:
    return [m.body for m in messages if isinstance(m.body, Alert)]


class Bus:
    """Starts publishers and subscribers for one test; closes them at the end."""

    def __init__(self, tracker: ZmqTracker, keys: Keys) -> None:
        self.tracker = tracker
        self.keys = keys
        self.clock = ManualClock(T0_NS)
        self.publishers: list[Publisher] = []
        self.subscribers: list[Subscriber] = []

    def publisher(self, *, secure: bool = True, endpoint: str = LOOPBACK, **kw: Any) -> Publisher:
        """A started publisher (closed at the end of the test).

        A publisher restarted on the port a closed one of this process held may find it
        still in use for a moment: ZMQ closes a socket in its I/O thread after ``close``
        returns (a restarted daemon is a new process and finds it free). The bind is
        retried for up to 10 s then.
        """
        config = kw.pop("config", BusConfig(endpoint=endpoint, heartbeat_interval_s=1.0))
        clock = kw.pop("clock", self.clock)
        deadline = time.monotonic() + 10.0
        while True:
            pub = Publisher(
                config,
                agency="KZ-AEWS",
                clock=clock,
                signer=self.keys.signer() if secure else None,
                curve=self.keys.curve_server() if secure else None,
                context=self.tracker.context(),
                **kw,
            )
            self.publishers.append(pub)
            try:
                pub.start()
            except BusError as exc:
                if "in use" not in str(exc) or time.monotonic() > deadline:
                    raise
                self.publishers.remove(pub)
                pub.close()
                time.sleep(0.1)
                continue
            return pub

    def subscriber(self, endpoint: str, *, secure: bool = True, **kw: Any) -> Subscriber:
        curve = kw.pop("curve", self.keys.curve_client() if secure else None)
        sub = Subscriber(
            endpoint,
            verifier=kw.pop("verifier", self.keys.verifier() if secure else None),
            clock=kw.pop("clock", self.clock),
            config=kw.pop("config", SubscriberConfig(heartbeat_interval_s=1.0)),
            curve=curve,
            context=self.tracker.context(),
            **kw,
        )
        self.subscribers.append(sub)
        return sub

    def close(self) -> None:
        for sub in self.subscribers:
            sub.close()
        errors = []
        for pub in self.publishers:
            try:
                pub.close()
            except Exception as exc:  # noqa: BLE001 (re-raised below after cleanup)
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def bus(zmq_tracker: ZmqTracker, bus_keys: Keys) -> Iterator[Bus]:
    b = Bus(zmq_tracker, bus_keys)
    yield b
    b.close()
