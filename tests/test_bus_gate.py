"""Message verification without sockets: signatures, replay, freshness, malformed input."""

from __future__ import annotations

import dataclasses
import json
import math
import struct

import pytest
from test_bus_support import DATA, T0_NS, Keys, sample_alert

from eew.bus import MessageGate, Signer, SubscriberConfig, Verifier
from eew.bus.errors import RejectedMessage
from eew.bus.handover import Handover
from eew.bus.keys import load_signing_key
from eew.bus.signing import DOMAIN, unsigned_block
from eew.bus.watchdog import HeartbeatWatchdog
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
        session = kw.pop("session", 7)
        self.seq = seq + 1
        block = self.signer.sign(topic, payload, sent_time_ns=sent, seq=seq, session=session)
        return [topic, payload, block]


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
    assert gate.statistics().missed == 3 and gate.pop_gaps() == {TOPIC}
    assert gate.pop_gaps() == set()
    clock.advance_s(1)
    # a new session from 0: a restart, however far the old session had got; not a loss
    assert gate.check(feed.frames(payload(version=2), seq=0, session=8)) is not None
    clock.advance_s(1)
    assert gate.check(feed.frames(payload(version=3), seq=60, session=9)) is not None
    stats = gate.statistics()
    assert (stats.missed, stats.restarts) == (3, 2)
    # the gap of the old session went with it; the new session's first 60 are asked for
    assert stats.lost == 3 and gate.missing(TOPIC) == (9, [(0, 59)])
    assert gate.pop_gaps() == {TOPIC}


def test_a_heartbeat_ahead_of_a_stream_reveals_its_lost_tail(setup) -> None:
    """Messages dropped at the end of a burst: no later message shows the gap, the next
    heartbeat's ``newest_seq`` does (same session only; unseen streams are left alone)."""
    gate, feed, _ = setup
    assert gate.check(feed.frames(payload(version=0), seq=4)) is not None
    gate.note_newest("KZ-AEWS", 7, {"alert": 9, "pick": 30})  # no pick stream seen: no gap
    assert gate.statistics().missed == 5 and gate.missing(TOPIC) == (7, [(5, 9)])
    assert gate.pop_gaps() == {TOPIC}
    gate.note_newest("KZ-AEWS", 7, {"alert": 9})  # already known
    gate.note_newest("KZ-AEWS", 8, {"alert": 20})  # another session: its own restart logic
    assert gate.statistics().missed == 5 and gate.pop_gaps() == set()
    # the next live message continues after the announced tail: no second gap
    assert gate.check(feed.frames(payload(version=1), seq=10)) is not None
    assert gate.statistics().missed == 5


def test_replays_within_and_across_sessions(setup) -> None:
    gate, feed, clock = setup
    old = feed.frames(payload(version=0), seq=0, session=1)
    assert gate.check(old) is not None
    clock.advance_s(1)
    assert gate.check(feed.frames(payload(version=1), seq=0, session=2)) is not None
    clock.advance_s(1)
    # a capture of the earlier session, fresh enough, sent before the newest: replayed
    assert gate.check(old) is None
    # the current session going backwards: replayed
    assert gate.check(feed.frames(payload(version=5), seq=0, session=2)) is None
    assert gate.statistics().dropped_replayed == 2


def test_backlog_of_a_known_session_is_not_stale(setup) -> None:
    gate, feed, clock = setup
    assert gate.check(feed.frames(payload(version=0), seq=0)) is not None
    queued = [feed.frames(payload(version=v), seq=v) for v in (1, 2, 3)]
    clock.advance_s(120)  # a subscriber stalled for two minutes, then reads its queue
    assert all(gate.check(f) is not None for f in queued)
    stats = gate.statistics()
    assert (stats.accepted, stats.backlog, stats.dropped_stale) == (4, 3, 0)
    # but a new session must be fresh, and a backlog has an age limit too
    late = T0_NS + 1_000_000_000  # after the last message seen, but 119 s old
    assert gate.check(feed.frames(payload(version=4), seq=0, session=99, sent_time_ns=late)) is None
    clock.advance_s(900)
    assert gate.check(feed.frames(payload(version=5), seq=4, sent_time_ns=T0_NS)) is None
    assert gate.statistics().dropped_stale == 2


def test_stale_log_line_says_how_old(setup, caplog: pytest.LogCaptureFixture) -> None:
    gate, feed, clock = setup
    assert gate.check(feed.frames(payload(), sent_time_ns=clock.now_ns() - 45_000_000_000)) is None
    assert gate.check(feed.frames(payload(), sent_time_ns=clock.now_ns() + 45_000_000_000)) is None
    lines = [r.getMessage() for r in caplog.records if "stale" in r.getMessage()]
    assert "sent 45.0 s ago (limit 30 s" in lines[0]
    assert "dated 45.0 s in the future of our clock" in lines[1]


def test_version_1_blocks_are_still_read(setup, bus_keys: Keys) -> None:
    gate, _, clock = setup
    _, key = load_signing_key(bus_keys.signing_secret)

    def v1(seq: int, body: bytes) -> list[bytes]:  # the layout before sessions
        head = struct.pack(">BqQB", 1, clock.now_ns(), seq, 7) + b"KZ-AEWS"
        signature = key.sign(b"".join((DOMAIN, TOPIC, b"\x00", head, body))).signature
        return [TOPIC, body, head + signature]

    assert gate.check(v1(0, payload(version=0))) is not None
    assert gate.check(v1(1, payload(version=1))) is not None
    clock.advance_s(1)
    assert gate.check(v1(0, payload(version=2))) is not None  # a restart, told by sent time
    assert gate.statistics().restarts == 1


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
        q.put_alert(a1)  # full, but e1 has only its first alert queued: kept beside it
        q.put_alert(sample_alert(event_id="e3"))  # a new event is never refused
        a2 = sample_alert("alert_update", event_id="e1", version=2)
        q.put_alert(a2)  # coalesces into e1's newest entry, in place
        assert q.statistics().alerts_superseded == 1
        q.put_status("a")
        q.put_status("b")
        alerts, status, _ = q.drain()
        assert [(a.event_id, a.version) for a in alerts] == [
            ("e1", 0),
            ("e2", 0),
            ("e1", 2),
            ("e3", 0),
        ]
        assert q.statistics().alerts_peak == 4
        assert status == [("b", "")] and q.statistics().status_dropped == 1
        p1, p2 = native.loads((DATA / "picks.jsonl").read_bytes())
        assert q.put_pick(p1) and q.put_pick(p2)
        assert not q.put_pick(dataclasses.replace(p1, update=9))  # the oldest goes
        _, _, picks = q.drain()
        assert len(picks) == 2 and picks[0] == p2 and q.statistics().picks_dropped == 1
    finally:
        q.close()


def test_handover_burst_of_many_events_keeps_every_first_alert() -> None:
    q = Handover(alert_capacity=8, pick_capacity=2, status_capacity=1)
    try:
        base = sample_alert()
        for n in range(5000):
            q.put_alert(base.with_(event_id=f"ev{n}", version=0, message_type="new"))
            for v in range(1, 4):  # three updates each, arriving while the queue is full
                q.put_alert(base.with_(event_id=f"ev{n}", version=v, message_type="update"))
        alerts, _, _ = q.drain()
        firsts = {a.event_id for a in alerts if a.version == 0}
        newest = {a.event_id: a.version for a in alerts}
        assert len(firsts) == 5000 and set(newest.values()) == {3}
        assert len(alerts) <= 8 + 2 * 5000
    finally:
        q.close()
