"""Alert bus over real sockets: delivery, CURVE access, last-value cache, back-pressure."""

from __future__ import annotations

import threading
import time

import pytest
import zmq
from test_bus_support import Bus, alerts, receive_until, sample_alert, wait_for, wait_subscribed

from eew.bus import (
    BusConfig,
    BusError,
    Health,
    Heartbeat,
    PublisherCrashedError,
    Status,
    SubscriberConfig,
)
from eew.model.alert import Alert
from eew.model.clock import ManualClock

pytest_plugins = ["test_bus_support"]


def test_end_to_end_alert_delivery_with_curve_and_signature(bus: Bus) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)  # alert., heartbeat., status.
    alert = sample_alert()
    pub.publish_alert(alert)
    got = receive_until(sub, lambda m: m.kind == "alert")
    [msg] = [m for m in got if m.kind == "alert"]
    assert msg.body == alert
    assert msg.agency == "KZ-AEWS" and msg.envelope.signer == "KZ-AEWS" and msg.envelope.signed
    wait_for(lambda: pub.statistics().active_alerts == 1, what="cached alert")
    stats = pub.statistics()
    assert stats.alerts_sent == 1 and stats.running
    assert sub.statistics().messages.dropped == 0


def test_subscriber_without_allowed_key_gets_nothing(bus: Bus) -> None:
    events = []
    pub = bus.publisher()
    intruder = bus.subscriber(
        pub.endpoint,
        curve=bus.keys.curve_client(bus.keys.intruder_secret),
        on_watchdog=events.append,
    )
    plain = bus.subscriber(pub.endpoint, curve=None)  # no CURVE at all
    allowed = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    pub.publish_alert(sample_alert())
    receive_until(allowed, lambda m: m.kind == "alert")
    bus.clock.advance_s(1.0)  # another heartbeat
    receive_until(allowed, lambda m: m.kind == "heartbeat")
    for sub in (intruder, plain):
        assert sub.receive(0.3) is None
        assert sub.statistics().messages.received == 0
    assert pub.statistics().subscriptions == 3  # only the allowed subscriber's three
    bus.clock.advance_s(5.0)  # no heartbeat for 4+ intervals on the intruder's clock
    assert intruder.receive(0.2) is None
    assert [e.state for e in events] == ["lost"]
    assert "not allowed" in events[0].message


def test_late_subscriber_gets_current_alerts_from_cache(bus: Bus) -> None:
    pub = bus.publisher()
    a = sample_alert(event_id="evA", version=0, message_type="new")
    b0 = sample_alert(event_id="evB", version=0, message_type="new")
    b1 = sample_alert("alert_update", event_id="evB", version=1)
    c = sample_alert("alert_final", event_id="evC", version=2)
    d = sample_alert("alert_delete", event_id="evD", version=1)
    for alert in (a, b0, b1, c, d):
        pub.publish_alert(alert)
    wait_for(lambda: pub.statistics().alerts_sent == 5, what="alerts sent")
    stats = pub.statistics()
    assert stats.active_alerts == 2 and stats.cached_alerts == 4  # final and delete stay
    sub = bus.subscriber(pub.endpoint)  # connects after everything was sent
    got: list[Alert] = []
    deadline = time.monotonic() + 10
    while len(got) < 4 and time.monotonic() < deadline:
        msg = sub.receive(0.1)
        if msg is not None and isinstance(msg.body, Alert):
            got.append(msg.body)
    assert sorted((x.event_id, x.version) for x in got) == [
        ("evA", 0),
        ("evB", 1),
        ("evC", 2),
        ("evD", 1),
    ]
    wait_for(lambda: pub.statistics().cache_resends >= 4, what="resend count")


def test_cache_resend_is_a_harmless_duplicate_for_existing_subscribers(bus: Bus) -> None:
    pub = bus.publisher()
    first = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    pub.publish_alert(sample_alert())
    receive_until(first, lambda m: m.kind == "alert")
    bus.subscriber(pub.endpoint)  # triggers a cache resend to everyone
    wait_subscribed(pub, 6)
    wait_for(lambda: pub.statistics().cache_resends >= 1, what="resend")
    deadline = time.monotonic() + 2
    while first.statistics().messages.dropped_duplicate == 0 and time.monotonic() < deadline:
        first.receive(0.05)
    stats = first.statistics().messages
    assert stats.dropped_duplicate == 1 and stats.dropped == 0


def test_stalled_subscriber_does_not_slow_the_publisher(bus: Bus, zmq_tracker) -> None:
    config = BusConfig(endpoint="tcp://127.0.0.1:*", sndhwm_messages=100, alert_queue_size=64)
    pub = bus.publisher(config=config)
    ctx = zmq_tracker.context()
    stalled = zmq_tracker.socket(ctx, zmq.SUB)  # never reads
    stalled.rcvhwm = 1
    keys = bus.keys.curve_client()
    stalled.curve_secretkey = keys.keypair.secret_key
    stalled.curve_publickey = keys.keypair.public_key
    stalled.curve_serverkey = keys.server_key
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    stalled.connect(pub.endpoint)
    healthy = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 4)
    n = 3000
    base = sample_alert("alert_update", event_id="evS")

    def produce() -> None:
        for v in range(n):
            pub.publish_alert(base.with_(version=v, message_type="update"))

    t0 = time.monotonic()
    producer = threading.Thread(target=produce)
    producer.start()
    got = receive_until(
        healthy, lambda m: isinstance(m.body, Alert) and m.body.version == n - 1, timeout_s=40
    )
    producer.join(10)
    elapsed = time.monotonic() - t0
    assert not producer.is_alive()
    assert elapsed < 40  # generous: the point is that it completes at all
    stats = pub.statistics()
    # a full alert queue discards superseded versions of the same event, nothing else
    assert stats.alerts_sent + stats.alerts_superseded == n
    assert stats.send_dropped == 0 and stats.active_alerts == 1
    received = len(alerts(got))
    # whatever the healthy subscriber lost at a high-water mark shows as a sequence gap
    assert received + healthy.statistics().messages.missed >= stats.alerts_sent


def test_heartbeats_carry_health_and_follow_the_clock(bus: Bus) -> None:
    health = Health(data_latency_s=1.25, live_stations=17, last_packet_time_ns=bus.clock.now_ns())
    pub = bus.publisher(health=lambda: health)
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    bus.clock.advance_s(1.0)
    got = receive_until(sub, lambda m: m.kind == "heartbeat")
    beat = got[-1].body
    assert isinstance(beat, Heartbeat)
    assert beat.health == health and beat.interval_s == 1.0 and beat.agency == "KZ-AEWS"
    before = pub.statistics().heartbeats_sent
    time.sleep(0.2)  # the manual clock did not move: no new heartbeat
    assert pub.statistics().heartbeats_sent == before


def test_heartbeat_watchdog_warns_and_recovers(bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    events = []
    sub_clock = ManualClock(bus.clock.now_ns())
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint, clock=sub_clock, on_watchdog=events.append)
    wait_subscribed(pub, 3)
    bus.clock.advance_s(1.0)
    receive_until(sub, lambda m: m.kind == "heartbeat")
    sub_clock.advance_s(3.5)  # > 3 intervals without a heartbeat on our clock
    assert sub.receive(0.2) is None
    assert [e.state for e in events] == ["lost"]
    assert "NO HEARTBEAT" in events[0].message
    assert any(r.levelname == "ERROR" and "NO HEARTBEAT" in r.getMessage() for r in caplog.records)
    assert not sub.statistics().heartbeats_alive
    # the silence also made the subscriber re-create its socket: wait until it is back
    wait_subscribed(pub, 6, sub)
    bus.clock.advance_s(1.0)  # the publisher sends the next one
    receive_until(sub, lambda m: m.kind == "heartbeat")
    assert [e.state for e in events] == ["lost", "resumed"]
    assert sub.statistics().heartbeats_alive and sub.statistics().heartbeat_losses == 1


def test_status_up_and_down(bus: Bus) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    pub.publish_status("degraded", "3 stations lost")
    got = receive_until(sub, lambda m: m.kind == "status")
    assert got[-1].body == Status("KZ-AEWS", bus.clock.now_ns(), "degraded", "3 stations lost")
    bus.clock.advance_s(0.5)
    pub.close()
    got = receive_until(sub, lambda m: m.kind == "status")
    assert got[-1].body.state == "down"


def test_subscriber_reconnects_to_a_restarted_publisher(bus: Bus) -> None:
    pub = bus.publisher()
    sub = bus.subscriber(pub.endpoint)
    wait_subscribed(pub, 3)
    pub.publish_alert(sample_alert(event_id="evR", version=0))
    receive_until(sub, lambda m: m.kind == "alert")
    endpoint = pub.endpoint
    pub.close()
    bus.clock.advance_s(5.0)  # restarted later: new sent times, sequence numbers from 0
    pub2 = bus.publisher(endpoint=endpoint)
    wait_subscribed(pub2, 3, sub, timeout_s=15)
    pub2.publish_alert(sample_alert(event_id="evR", version=1, message_type="update"))
    got = receive_until(sub, lambda m: isinstance(m.body, Alert) and m.body.version == 1, 15)
    assert alerts(got)[-1].event_id == "evR"
    assert sub.statistics().messages.dropped == 0


def test_crashed_publisher_thread_surfaces_in_the_caller(bus: Bus) -> None:
    def broken_health() -> Health:
        raise RuntimeError("health probe exploded")

    with pytest.raises(PublisherCrashedError) as info:
        bus.publisher(health=broken_health)  # the first heartbeat is sent at start
    assert isinstance(info.value.__cause__, RuntimeError)
    pub = bus.publishers.pop()
    with pytest.raises(PublisherCrashedError):
        pub.publish_alert(sample_alert())
    with pytest.raises(PublisherCrashedError):
        pub.close()


def test_publisher_refuses_foreign_agency_and_use_before_start(bus: Bus) -> None:
    pub = bus.publisher()
    with pytest.raises(BusError):
        pub.publish_alert(sample_alert(agency="KG-MES"))
    pub.close()
    with pytest.raises(BusError):
        pub.publish_alert(sample_alert())


def test_plain_mode_round_trip_without_verification(bus: Bus) -> None:
    pub = bus.publisher(secure=False)
    sub = bus.subscriber(pub.endpoint, secure=False, config=SubscriberConfig())
    wait_subscribed(pub, 3)
    pub.publish_alert(sample_alert())
    got = receive_until(sub, lambda m: m.kind == "alert")
    assert not got[-1].envelope.signed
    secure_sub = bus.subscriber(pub.endpoint, curve=None)  # verifying, on the plain feed
    wait_subscribed(pub, 6)
    bus.clock.advance_s(1.0)
    assert secure_sub.receive(0.5) is None
    assert secure_sub.statistics().messages.dropped_unsigned >= 1
