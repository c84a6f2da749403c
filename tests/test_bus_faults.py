"""The alert bus under faults: oversized messages, lost and silent links, stalls, bursts.

Every test binds random loopback ports and closes what it made (the ``bus``
fixture). Nothing waits a fixed time for a socket: each wait is for a condition,
with a generous deadline, so a loaded 2-core machine only makes them slower.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time

import pytest
from test_bus_support import Bus, alerts, receive_until, sample_alert, wait_for, wait_subscribed

import eew.bus.publisher as publisher_module
from eew.bus import BusConfig, BusMessage, SubscriberConfig
from eew.bus.keys import load_curve_keypair
from eew.model.alert import Alert
from eew.model.clock import WallClock

pytest_plugins = ["test_bus_support"]

BIG = 1_500_000  # bytes: over the 1 MiB payload limit


def _has_event(sub, event_id: str, version: int | None = None):
    def pred(m) -> bool:
        body = m.body
        return (
            isinstance(body, Alert)
            and body.event_id == event_id
            and (version is None or body.version == version)
        )

    return pred


def _pump(*subs) -> bool:
    """Let the subscribers receive (and discard) for a moment; always True."""
    for sub in subs:
        sub.receive(0.01)
    return True


# ---- size limit -----------------------------------------------------------------------------
def test_oversized_messages_are_refused_and_logged(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    pub.publish_alert(sample_alert(event_id="evBig", software_version="x" * BIG))
    pub.publish_status("noise", "y" * BIG)
    pub.publish_alert(sample_alert(event_id="evReal"))  # the genuine alert right after
    got = receive_until(sub, _has_event(sub, "evReal"))
    assert "evBig" not in {a.event_id for a in alerts(got)}
    # the publisher's thread counts after it sends: wait for its counters, not only the message
    wait_for(
        lambda: (pub.statistics().refused_oversize, pub.statistics().cached_alerts) == (2, 1),
        what="both refused, the genuine alert cached",
    )
    stats = pub.statistics()
    assert stats.refused_oversize == 2 and stats.cached_alerts == 1  # the big one not cached
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert sum("NOT SENT" in line and "over the 1048576-byte limit" in line for line in errors) == 2
    assert sub.statistics().reconnects == 0


def test_subscriber_recovers_from_an_oversized_message(
    bus: Bus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A publisher without the limit (an old or foreign one) cannot cut a subscriber off."""
    monkeypatch.setattr(publisher_module, "MAX_PAYLOAD_BYTES", 64 << 20)
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    sent_before = pub.statistics().status_sent
    pub.publish_status("noise", "y" * (3 << 20))  # over the subscriber's 2 MiB: libzmq hangs up
    # the publisher thread sends alerts before status messages: let the big one go out first,
    # so that the genuine alert really follows the cut
    wait_for(lambda: pub.statistics().status_sent > sent_before, what="the big message sent")
    t0 = time.monotonic()
    pub.publish_alert(sample_alert(event_id="evAfter"))  # lost in the cut, then from the cache
    receive_until(sub, _has_event(sub, "evAfter"), timeout_s=20)
    recovery_s = time.monotonic() - t0
    assert sub.statistics().reconnects >= 1
    assert any("bus link" in r.getMessage() and "lost" in r.getMessage() for r in caplog.records)
    assert recovery_s < 10, recovery_s
    logging.getLogger(__name__).info("recovered from an oversized message in %.2f s", recovery_s)


# ---- lost and silent links ------------------------------------------------------------------
class FreezableProxy:
    """TCP relay whose current connections can be frozen: open, but silent (half-open)."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._freeze = threading.Event()
        self._frozen = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def freeze(self) -> None:
        """Stop relaying on every connection open now (new ones are relayed)."""
        self._freeze.set()
        if not self._frozen.wait(10):
            raise AssertionError("the proxy did not freeze")

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._freeze.is_set():
                self._freeze.clear()
                for key in list(self._sel.get_map().values()):
                    if key.data is not None:
                        self._sel.unregister(key.fileobj)
                self._frozen.set()
            for key, _ in self._sel.select(0.05):
                if key.data is None:
                    self._accept()
                    continue
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                if data:
                    key.data.sendall(data)
                else:
                    self._sel.unregister(key.fileobj)

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        upstream = socket.create_connection(self._target)
        self._socks += [client, upstream]
        self._sel.register(client, selectors.EVENT_READ, upstream)
        self._sel.register(upstream, selectors.EVENT_READ, client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in [*self._socks, self._listener]:
            s.close()
        self._sel.close()


def test_half_open_link_is_noticed_and_recreated(bus: Bus) -> None:
    clock = WallClock()
    config = BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.5)
    pub = bus.publisher(config=config, clock=clock)
    proxy = FreezableProxy(int(pub.endpoint.rsplit(":", 1)[1]))
    try:
        sub = bus.subscriber(
            f"tcp://127.0.0.1:{proxy.port}",
            clock=clock,
            config=SubscriberConfig(heartbeat_interval_s=0.5),
        )
        receive_until(sub, lambda m: m.kind == "heartbeat")
        proxy.freeze()  # the peer's host vanished: no FIN, no RST, just silence
        t0 = time.monotonic()
        pub.publish_alert(sample_alert(event_id="evFrozen"))
        receive_until(sub, _has_event(sub, "evFrozen"), timeout_s=20)
        recovery_s = time.monotonic() - t0
        assert sub.statistics().reconnects >= 1
        assert recovery_s < 6, recovery_s  # 2 heartbeat intervals of silence + reconnection
        logging.getLogger(__name__).info("half-open link recovered in %.2f s", recovery_s)
    finally:
        proxy.close()


def test_stalled_subscriber_resumes_and_drains_its_backlog(bus: Bus) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    bus.clock.advance_s(1.0)
    receive_until(sub, lambda m: m.kind == "heartbeat")
    assert sub._conn is not None and sub._conn.socket.heartbeat_ivl == 0  # no ZMTP heartbeats
    for n in range(50):  # the application stops reading; alerts and heartbeats go on
        pub.publish_alert(sample_alert(event_id=f"evStall{n}"))
        if n % 5 == 0:
            bus.clock.advance_s(1.0)
    wait_for(lambda: pub.statistics().alerts_sent == 50, what="alerts sent")
    bus.clock.advance_s(60.0)  # a minute later it reads again: everything is 60-70 s old
    got: set[str] = set()

    def drained() -> bool:
        msg = sub.receive(0.05)
        if msg is not None and isinstance(msg.body, Alert):
            got.add(msg.body.event_id)
        return len(got) == 50

    wait_for(drained, 20, "the backlog")
    stats = sub.statistics()
    assert stats.messages.dropped_stale == 0 and stats.messages.backlog >= 50
    assert stats.messages.missed == 0 and stats.reconnects == 0


# ---- bursts ---------------------------------------------------------------------------------
def test_burst_of_thousands_of_events_never_raises(bus: Bus) -> None:
    n = 1000  # four times the old queue limit of 256; any number in test_bus_gate
    config = BusConfig(
        endpoint="tcp://127.0.0.1:*",
        heartbeat_interval_s=1.0,
        alert_queue_size=16,
        sndhwm_messages=4 * n,  # the burst fits; beyond it, gaps ask for the cache again
    )
    pub = bus.publisher(config=config)
    sub = bus.subscriber(pub.endpoint, config=SubscriberConfig(heartbeat_interval_s=1.0))
    wait_subscribed(pub, 3)
    base = sample_alert()
    t0 = time.monotonic()
    for i in range(n):  # all at once, far beyond the queue size: never raises
        pub.publish_alert(base.with_(event_id=f"evBurst{i}"))
        pub.publish_alert(base.with_(event_id=f"evBurst{i}", version=1, message_type="update"))
    got: dict[str, int] = {}

    def all_newest(msg: BusMessage) -> bool:
        if isinstance(msg.body, Alert):
            got[msg.body.event_id] = max(got.get(msg.body.event_id, -1), msg.body.version)
        return len(got) == n and min(got.values()) == 1

    receive_until(sub, all_newest, timeout_s=60)
    elapsed = time.monotonic() - t0
    stats = pub.statistics()
    assert stats.alerts_sent + stats.alerts_superseded == 2 * n
    assert stats.active_alerts == n
    logging.getLogger(__name__).info(
        "burst of %d events (%d alerts) delivered in %.2f s, queue peak %d",
        n,
        2 * n,
        elapsed,
        stats.alerts_peak,
    )


# ---- last-value cache -----------------------------------------------------------------------
def test_returning_subscriber_receives_cancellations_and_finals(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    pub = bus.publisher()
    for alert in (
        sample_alert(event_id="evGone", version=0, message_type="new"),
        sample_alert("alert_delete", event_id="evGone", version=1),
        sample_alert(event_id="evDone", version=0, message_type="new"),
        sample_alert("alert_final", event_id="evDone", version=2),
    ):
        pub.publish_alert(alert)
    wait_for(lambda: pub.statistics().alerts_sent == 4, what="sent")
    assert pub.statistics().cached_alerts == 2
    assert pub.statistics().active_alerts == 0  # both ended, both still cached
    sub = bus.subscriber(pub.endpoint)  # was away while it happened
    got: dict[str, str] = {}

    def both() -> bool:
        msg = sub.receive(0.05)
        if msg is not None and isinstance(msg.body, Alert):
            got[msg.body.event_id] = msg.body.message_type
        return len(got) == 2

    wait_for(both, what="cancellation and final from the cache")
    assert got == {"evGone": "delete", "evDone": "final"}
    bus.clock.advance_s(901.0)  # past alert_cache_ttl_s: ended entries go quietly
    wait_for(lambda: pub.statistics().cached_alerts == 0, what="expiry")
    assert not any("expired" in r.getMessage() for r in caplog.records)


def test_alert_gap_never_resent_asks_for_the_cache_again(bus: Bus) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    pub.publish_alert(sample_alert(event_id="evG0"))
    receive_until(sub, _has_event(sub, "evG0"))
    pub.publish_alert(sample_alert(event_id="evG1"))
    wait_for(lambda: pub.statistics().alerts_sent == 2, what="evG1 sent")
    pub._seq["alert"] += 3  # as if three alerts had been lost on the way (publisher idle)
    pub.publish_alert(sample_alert(event_id="evG2"))
    got = receive_until(sub, _has_event(sub, "evG2"))
    assert sub.statistics().messages.missed == 3
    # asked for by seq first: the publisher never sent them, so they are lost, and the
    # last-value cache is asked for instead
    wait_for(lambda: _pump(sub) and sub.statistics().cache_refreshes == 1, what="refresh")
    assert sub.statistics().resend_requests >= 1 and sub.statistics().messages.lost == 3
    wait_subscribed(pub, 4, sub)  # the repeated alert subscription reached the publisher
    wait_for(lambda: pub.statistics().cache_resends >= 3, what="cache resent")
    assert {a.event_id for a in alerts(got)} >= {"evG1", "evG2"}


# ---- restarts and CURVE ---------------------------------------------------------------------
def test_publisher_restart_is_not_reported_as_loss(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    for n in range(30):
        pub.publish_status("busy", str(n))
    receive_until(sub, lambda m: m.kind == "status" and m.body.detail == "29")
    endpoint = pub.endpoint
    pub.close()
    bus.clock.advance_s(5.0)
    pub2 = bus.publisher(endpoint=endpoint)  # retried while ZMQ lets the port go
    wait_subscribed(pub2, 3, sub, timeout_s=20)
    pub2.publish_status("fresh", "after restart")
    receive_until(sub, lambda m: m.kind == "status" and m.body.state == "fresh", timeout_s=20)
    stats = sub.statistics().messages
    assert stats.missed == 0 and stats.restarts >= 1 and stats.dropped == 0
    assert any("publisher restarted" in r.getMessage() for r in caplog.records)
    assert not any("missed" in r.getMessage() for r in caplog.records)


def test_refused_curve_client_is_logged_with_its_key(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    pub = bus.publisher()
    intruder = bus.subscriber(pub.endpoint, curve=bus.keys.curve_client(bus.keys.intruder_secret))
    key = load_curve_keypair(bus.keys.intruder_secret).public_key.decode("ascii")

    def logged() -> bool:
        intruder.receive(0.02)
        return any(key in r.getMessage() for r in caplog.records)

    wait_for(logged, what="the refusal in the log")
    [line] = [r for r in caplog.records if key in r.getMessage()][:1]
    assert line.levelname == "WARNING" and "refused CURVE client key" in line.getMessage()
    assert "127.0.0.1" in line.getMessage()
    assert pub.statistics().clients_refused >= 1
