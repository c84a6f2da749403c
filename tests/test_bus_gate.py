"""Message verification without sockets: signatures, replay, freshness, malformed input."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from test_bus_support import DATA, T0_NS, Keys, sample_alert

from eew.bus import BusOverflowError, MessageGate, Signer, SubscriberConfig, Verifier
from eew.bus.errors import RejectedMessage
from eew.bus.gate import HeartbeatWatchdog
from eew.bus.handover import Handover
from eew.bus.signing import unsigned_block
from eew.bus.wire import Health, Heartbeat, encode_payload, make_topic
from eew.formats import native
from eew.model.clock import ManualClock

TOPIC = make_topic("alert", "KZ-AEWS")

pytest_plugins = ["test_bus_support"]


class Feed:
    """Builds frames as a publisher would, with any key."""

    def __init__(self, signer: Signer, clock: ManualClock) -> None:
        self.signer = signer
        self.clock = clock
        self.seq = 0

    def frames(self, payload: bytes, topic: bytes = TOPIC, **kw) -> list[bytes]:
        sent = kw.pop("sent_time_ns", self.clock.now_ns())
        seq = kw.pop("seq", self.seq)
        self.seq = seq + 1
        return [topic, payload, self.signer.sign(topic, payload, sent_time_ns=sent, seq=seq)]


@pytest.fixture
def setup(bus_keys: Keys):
    clock = ManualClock(T0_NS)
    gate = MessageGate(bus_keys.verifier(), clock, SubscriberConfig(max_clock_skew_s=30.0))
    return gate, Feed(bus_keys.signer(), clock), clock


def payload(**changes) -> bytes:
    return encode_payload(sample_alert(**changes))


def test_valid_alert_passes(setup) -> None:
    gate, feed, _ = setup
    msg = gate.check(feed.frames(payload()))
    assert msg is not None and msg.body == sample_alert() and msg.envelope.signed
    assert gate.statistics().accepted == 1


def test_forged_m8_in_almaty_is_dropped(setup, bus_keys: Keys) -> None:
    gate, _, clock = setup
    forger = Feed(Signer.from_file(bus_keys.forger_secret), clock)  # claims KZ-AEWS, wrong key
    m8 = payload(magnitude=8.0, latitude_deg=43.24, longitude_deg=76.95)
    assert gate.check(forger.frames(m8)) is None
    partner = Feed(Signer.from_file(bus_keys.partner_secret), clock)  # trusted, other agency
    assert gate.check(partner.frames(m8)) is None
    # partner key, partner topic, but the payload claims to be ours
    assert gate.check(partner.frames(m8, topic=make_topic("alert", "KG-MES"))) is None
    stats = gate.statistics()
    assert stats.dropped_forged == 3 and stats.accepted == 0


def test_tampered_payload_is_forged(setup) -> None:
    gate, feed, _ = setup
    topic, body, sig = feed.frames(payload(magnitude=4.5))
    tampered = body.replace(b'"magnitude": 4.5', b'"magnitude": 8.1')
    assert tampered != body
    assert gate.check([topic, tampered, sig]) is None
    assert gate.statistics().dropped_forged == 1


def test_unsigned_is_dropped(setup) -> None:
    gate, _, clock = setup
    block = unsigned_block(TOPIC, payload(), sent_time_ns=clock.now_ns(), seq=0, agency="KZ-AEWS")
    assert gate.check([TOPIC, payload(), block]) is None
    assert gate.check([TOPIC, payload(), b""]) is None  # no block at all: malformed
    stats = gate.statistics()
    assert stats.dropped_unsigned == 1 and stats.dropped_malformed == 1


def test_replayed_older_version_and_identical_frames(setup) -> None:
    gate, feed, clock = setup
    v1 = feed.frames(payload(version=1))
    assert gate.check(v1) is not None
    assert gate.check(v1) is None  # the same frames again: same seq, same sent time
    clock.advance_s(1)
    assert gate.check(feed.frames(payload(version=0))) is None  # older version, fresh envelope
    assert gate.check(feed.frames(payload(version=1))) is None  # same version: duplicate
    assert gate.check(feed.frames(payload(version=1, magnitude=7.9))) is None  # conflicting
    assert gate.check(feed.frames(payload(version=2))) is not None
    stats = gate.statistics()
    assert stats.dropped_replayed == 3 and stats.dropped_duplicate == 1 and stats.accepted == 2
    assert stats.dropped == 3


@pytest.mark.parametrize("offset_s", [-31.0, 31.0, -3600.0])
def test_stale_or_future_sent_time_is_dropped(setup, offset_s: float) -> None:
    gate, feed, clock = setup
    frames = feed.frames(payload(), sent_time_ns=clock.now_ns() + round(offset_s * 1e9))
    assert gate.check(frames) is None
    assert gate.statistics().dropped_stale == 1


def test_skew_check_can_be_disabled(bus_keys: Keys) -> None:
    clock = ManualClock(T0_NS)
    gate = MessageGate(bus_keys.verifier(), clock, SubscriberConfig(max_clock_skew_s=math.inf))
    feed = Feed(bus_keys.signer(), clock)
    assert gate.check(feed.frames(payload(), sent_time_ns=0)) is not None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"type": "alert"}',
        json.dumps({**native.to_dict(sample_alert()), "schema": "eew.alert/9"}).encode(),
        json.dumps({**native.to_dict(sample_alert()), "version": "x"}).encode(),
        json.dumps({**native.to_dict(sample_alert()), "type": "pick"}).encode(),
        b"[" * 100_000,
    ],
)
def test_malformed_signed_payloads_are_dropped(setup, body: bytes) -> None:
    gate, feed, _ = setup
    assert gate.check(feed.frames(body)) is None
    assert gate.statistics().dropped_malformed == 1


@pytest.mark.parametrize(
    "frames",
    [
        [TOPIC, b"{}"],
        [TOPIC, b"{}", b"x" * 90, b""],
        [b"alert", b"{}", b"x"],
        [b"bogus.KZ", b"", b""],
    ],
)
def test_malformed_frames_are_dropped(setup, frames: list[bytes]) -> None:
    gate, _, _ = setup
    assert gate.check(frames) is None
    assert gate.statistics().dropped_malformed == 1


def test_sequence_gap_is_counted_and_restart_accepted(setup) -> None:
    gate, feed, clock = setup
    assert gate.check(feed.frames(payload(version=0), seq=5)) is not None
    assert gate.check(feed.frames(payload(version=1), seq=9)) is not None
    assert gate.statistics().missed == 3
    clock.advance_s(1)
    assert gate.check(feed.frames(payload(version=2), seq=0)) is not None  # publisher restart


def test_verifier_rejections_carry_reasons(bus_keys: Keys) -> None:
    verifier = Verifier.from_dir(bus_keys.trusted_dir)
    assert verifier.agencies == ("KG-MES", "KZ-AEWS")
    sig = bus_keys.signer().sign(TOPIC, b"{}", sent_time_ns=1, seq=0)
    with pytest.raises(RejectedMessage) as info:
        verifier.verify(make_topic("alert", "KG-MES"), b"{}", sig, "KG-MES")
    assert info.value.reason == "forged"
    with pytest.raises(RejectedMessage) as info:
        verifier.verify(TOPIC, b"{}", sig[:-1], "KZ-AEWS")
    assert info.value.reason == "malformed"


def test_watchdog_lost_once_then_resumed() -> None:
    clock = ManualClock(T0_NS)
    dog = HeartbeatWatchdog(clock, interval_s=2.0, missed_intervals=3)
    assert dog.check() is None
    clock.advance_s(6.5)
    first = dog.check()
    assert first is not None and first.state == "lost" and "since start" in first.message
    assert dog.check() is None  # said once
    beat = Heartbeat("KZ-AEWS", clock.now_ns(), 1.0, Health())
    resumed = dog.beat(beat)
    assert resumed is not None and resumed.state == "resumed"
    clock.advance_s(3.5)  # now the announced 1 s interval applies
    lost = dog.check()
    assert lost is not None and "NO HEARTBEAT for 3.5 s" in lost.message


def test_handover_drop_policies() -> None:
    q = Handover(alert_capacity=2, pick_capacity=2, status_capacity=1)
    try:
        a0, a1 = sample_alert(event_id="e1", version=0), sample_alert(event_id="e1", version=1)
        b0 = sample_alert(event_id="e2", version=0)
        q.put_alert(a0)
        q.put_alert(b0)
        q.put_alert(a1)  # full: the queued older version of e1 goes
        assert q.statistics().alerts_superseded == 1
        with pytest.raises(BusOverflowError):
            q.put_alert(sample_alert(event_id="e3"))
        q.put_status("a")
        q.put_status("b")
        alerts, status, _ = q.drain()
        assert [(a.event_id, a.version) for a in alerts] == [("e2", 0), ("e1", 1)]
        assert status == [("b", "")] and q.statistics().status_dropped == 1
        p1, p2 = native.loads((DATA / "picks.jsonl").read_bytes())
        assert q.put_pick(p1) and q.put_pick(p2)
        assert not q.put_pick(dataclasses.replace(p1, update=9))  # the oldest goes
        _, _, picks = q.drain()
        assert len(picks) == 2 and picks[0] == p2 and q.statistics().picks_dropped == 1
    finally:
        q.close()
