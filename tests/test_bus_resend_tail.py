"""The resend tail across a publisher restart (issue 12 item 7).

What a publisher sent in its last moments before a restart, and a subscriber with a
full queue had not received, comes back from the next session (which read the tail
its predecessor saved), or is counted LOST when it cannot: never silently missing.
Every test binds random loopback ports and closes what it made (the ``bus`` fixture).
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_bus_faults import FreezableProxy
from test_bus_gate import TOPIC, Feed, payload
from test_bus_resend import Collector, _expect, _pick
from test_bus_support import T0_NS, Bus, Keys, wait_for, wait_subscribed

from eew.bus import BusConfig, MessageGate, SubscriberConfig
from eew.bus.resend import ResendBuffer, load_tail, make_request, parse_done, save_tail
from eew.model.clock import ManualClock, WallClock

pytest_plugins = ["test_bus_support"]

_TOPIC = b"pick.KZ-AEWS"


def test_tail_file_round_trip_and_previous_session_answers(tmp_path: Path) -> None:
    path = tmp_path / "bus.resend"
    msgs = [(_TOPIC, seq, b"p%d" % seq, b"\x00b\xff") for seq in range(3, 8)]
    save_tail(path, 0xABC, {_TOPIC: 9, b"alert.KZ-AEWS": 4}, msgs)
    assert path.stat().st_mode & 0o777 == 0o600
    tail = load_tail(path)
    assert tail == (0xABC, {_TOPIC: 9, b"alert.KZ-AEWS": 4}, msgs)
    buf = ResendBuffer(capacity=4, session=0xDEF)
    assert tail is not None
    buf.load_previous(*tail)  # only the newest 4 are kept, as in memory
    buf.open(make_request(_TOPIC, 0xABC, 5, None))
    frames = buf.batch()
    assert [f[2] for f in frames[:-1]] == [b"p5", b"p6", b"p7"]
    # the session's end (9), not the newest held (7): 8 and 9 are known to be missing
    assert parse_done(frames[-1][2]) == (3, 4, 9, None)
    buf.open(make_request(b"alert.KZ-AEWS", 0xABC, 0, None))  # none held, but its end known
    assert parse_done(buf.batch()[-1][2]) == (0, None, 4, None)
    buf.open(make_request(_TOPIC, 0x999, 0, None))  # neither session: nothing
    assert parse_done(buf.batch()[-1][2]) == (0, None, None, None)
    # a torn last message (a crash in the middle of an append) is dropped, the rest kept
    whole = path.read_bytes()
    path.write_bytes(whole[:-2])
    torn = load_tail(path)
    assert torn is not None and torn[2] == msgs[:-1] and torn[1][_TOPIC] == 9
    # unreadable files are ignored (and logged)
    for junk in (b"", b"eew-resend-tail/1\n\x00", whole[:30]):
        path.write_bytes(junk)
        assert load_tail(path) is None
    assert load_tail(tmp_path / "none") is None


def test_the_journal_keeps_the_tail_on_disk_as_messages_are_kept(tmp_path: Path) -> None:
    """Every kept message is in the file as soon as it is kept (a SIGKILL later loses
    nothing); the file is rewritten from the buffer once it holds twice the buffer
    (``tidy_journal``), so it stays bounded; a session that keeps nothing leaves the
    previous tail alone."""
    path = tmp_path / "bus.resend"
    save_tail(path, 0xABC, {_TOPIC: 3}, [(_TOPIC, 3, b"old", b"b")])
    idle = ResendBuffer(capacity=4, session=0x111)
    idle.journal_to(path)
    idle.close_journal()
    assert load_tail(path) == (0xABC, {_TOPIC: 3}, [(_TOPIC, 3, b"old", b"b")])
    buf = ResendBuffer(capacity=4, session=0xDEF)
    buf.journal_to(path)
    sizes = []
    for seq in range(20):
        buf.keep(_TOPIC, seq, b"p%d" % seq, b"sig")
        buf.tidy_journal()  # the publisher, after each loop turn
        tail = load_tail(path)
        assert tail is not None
        session, newest, messages = tail
        assert session == 0xDEF and newest == {_TOPIC: seq}
        assert messages[-1] == (_TOPIC, seq, b"p%d" % seq, b"sig")
        assert [m[1] for m in messages] == list(range(seq - len(messages) + 1, seq + 1))
        assert len(messages) <= 2 * 4 + 1
        sizes.append(path.stat().st_size)
    assert max(sizes) < 3 * min(s for s in sizes[4:])  # bounded: rewritten, not grown
    buf.keep(b"alert.KZ-AEWS", 0, b"a0", b"sig")
    buf.write_tail()  # the stop: a compact file
    tail = load_tail(path)
    assert tail is not None and [m[1] for m in tail[2]] == [17, 18, 19, 0]
    assert tail[1] == {_TOPIC: 19, b"alert.KZ-AEWS": 0}


def _restart_with_full_queue(bus: Bus, tmp_path: Path, *, tail: bool) -> tuple[Collector, int, int]:
    """Publish 300 picks to a subscriber that is not reading (queues of 20), restart the
    publisher, publish 5 more; return the collector and the picks of each session."""
    clock = WallClock()
    tail_file = tmp_path / "bus.resend" if tail else None
    config = BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.5, sndhwm_messages=20)
    pub = bus.publisher(config=config, clock=clock, resend_tail_file=tail_file)
    sub = bus.subscriber(
        pub.endpoint,
        clock=clock,
        config=SubscriberConfig(heartbeat_interval_s=0.5, rcvhwm_messages=20),
        kinds=("alert", "pick"),
    )
    got = Collector(sub)
    wait_subscribed(pub, 3, sub)
    pub.publish_pick(_pick(0))
    got.until(_expect(range(1)))
    old = 300
    for n in range(1, old):  # the subscriber is not reading: most stay behind
        pub.publish_pick(_pick(n))
    wait_for(lambda: pub.statistics().picks_sent == old, what="picks sent")
    time.sleep(0.2)
    endpoint = pub.endpoint
    pub.close()  # the daemon's stop: the tail is saved
    # (the next session's queue is the default: resends into a 20-message queue are
    # mostly dropped by ZMQ, unseen by the publisher, and given up after 3 requests)
    config2 = BusConfig(endpoint=endpoint, heartbeat_interval_s=0.5)
    pub2 = bus.publisher(config=config2, clock=clock, resend_tail_file=tail_file)
    for n in range(old, old + 5):
        pub2.publish_pick(_pick(n))
    return got, old, 5


def test_picks_sent_just_before_a_restart_come_back_from_the_saved_tail(
    bus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    got, old, new = _restart_with_full_queue(bus, tmp_path, tail=True)
    got.until(_expect(range(old + new)), timeout_s=60)
    got.pump(1.0)  # anything more would be a duplicate
    assert sorted(got.ids) == sorted(_expect(range(old + new)))
    stats = got.sub.statistics().messages
    assert stats.restarts >= 1 and stats.lost == 0
    assert stats.recovered == stats.missed
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "LOST" not in text
    assert "of b'pick.KZ-AEWS' from seq" in text and "(previous session)" in text


def test_without_the_saved_tail_what_the_old_session_owed_is_counted_lost(
    bus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A publisher that saves nothing (memory only, or killed) cannot say how far its
    old session went; what a gap showed is LOST, the rest arrives, nothing twice."""
    got, old, new = _restart_with_full_queue(bus, tmp_path, tail=False)
    got.until(_expect(range(old, old + new)), timeout_s=60)
    got.pump(2.0)
    assert len(got.ids) == len(set(got.ids))
    stats = got.sub.statistics().messages
    assert stats.restarts >= 1 and stats.lost == stats.missed - stats.recovered


def test_gate_asks_for_the_previous_sessions_tail_and_keeps_the_version_rule(
    bus_keys: Keys,
) -> None:
    """After a restart the previous session's end, once announced, is missing: what comes
    back is recovered (an older alert version than one delivered is still a duplicate),
    the rest is LOST; missed = recovered + lost."""
    clock = ManualClock(T0_NS)
    gate = MessageGate(bus_keys.verifier(), clock, SubscriberConfig())
    feed = Feed(bus_keys.signer(), clock)
    assert gate.check(feed.frames(payload(version=0), seq=0, session=7)) is not None
    assert gate.check(feed.frames(payload(version=1), seq=1, session=7)) is not None
    clock.advance_s(1)
    assert gate.check(feed.frames(payload(version=5), seq=0, session=8)) is not None
    assert gate.pop_retired() == {TOPIC: (7, 1)} and gate.pop_retired() == {}
    gate.end_previous(TOPIC, 7, 40)  # the publisher's answer: session 7 went to seq 40
    prev = gate.previous(TOPIC)
    assert prev is not None and prev.ranges == [[2, 40]] and gate.statistics().missed == 39
    old_version = feed.frames(payload(version=2), seq=35, session=7)
    assert gate.check(old_version, resent=True) is None  # v5 was delivered: never after it
    other = feed.frames(payload(event_id="other"), seq=36, session=7)
    msg = gate.check(other, resent=True)
    assert msg is not None and msg.envelope.session == 7
    assert gate.check(other, resent=True) is None  # once only
    assert prev.ranges == [[2, 34], [37, 40]]
    assert gate.give_up(TOPIC, 7, 0, 10**9, "not held") == 37
    stats = gate.statistics()
    assert (stats.recovered, stats.lost, stats.dropped_duplicate) == (2, 37, 2)
    assert stats.missed == stats.recovered + stats.lost
    # the current session is untouched
    assert gate.check(feed.frames(payload(version=6), seq=1, session=8)) is not None


_KILLED_PUBLISHER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_bus_resend import _pick
from eew.bus import BusConfig
from eew.bus.publisher import Publisher
from eew.model.clock import WallClock
config = BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.5)
pub = Publisher(config, agency="KZ-AEWS", clock=WallClock(), signer=None, curve=None,
                resend_tail_file=Path(sys.argv[1]))
pub.start()
print(pub.endpoint, flush=True)
while pub.statistics().subscriptions < 3:
    time.sleep(0.01)
pub.publish_pick(_pick(0))
print("zero", flush=True)
sys.stdin.readline()
for n in range(1, 300):
    pub.publish_pick(_pick(n))
while pub.statistics().picks_sent < 300:
    time.sleep(0.01)
print("sent", flush=True)
time.sleep(600)
"""


def test_picks_of_a_killed_publisher_come_back_from_its_journal(
    bus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A publisher killed with SIGKILL (no stop, nothing saved at the end) after 299
    picks went into a frozen link: its next session answers for it from the journal,
    and every pick arrives once, none LOST."""
    caplog.set_level(logging.INFO)
    tail_file = tmp_path / "bus.resend"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PUBLISHER, str(tail_file), str(Path(__file__).parent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x.strip()) for x in child.stdout or []])
    reader.start()
    proxy = None
    try:
        endpoint = lines.get(timeout=60)
        # the subscriber's link goes through a relay that can be frozen (half-open): what
        # the old session publishes into it never arrives, whatever the buffers hold
        proxy = FreezableProxy(int(endpoint.rsplit(":", 1)[1]))
        clock = WallClock()
        sub = bus.subscriber(
            f"tcp://127.0.0.1:{proxy.port}",
            secure=False,
            clock=clock,
            config=SubscriberConfig(heartbeat_interval_s=0.5),
            kinds=("alert", "pick"),
        )
        got = Collector(sub)
        wait_for(lambda: got.pump(0.01) and lines.qsize() > 0, 30, "the first pick sent")
        assert lines.get() == "zero"
        got.until(_expect(range(1)))
        proxy.freeze()
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        assert lines.get(timeout=60) == "sent"  # into the frozen link
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        pub2 = bus.publisher(
            secure=False,
            config=BusConfig(endpoint=endpoint, heartbeat_interval_s=0.5),
            clock=clock,
            resend_tail_file=tail_file,
        )
        for n in range(300, 305):
            pub2.publish_pick(_pick(n))
        # the subscriber notices the silence, re-creates its socket (a new relayed
        # connection) and asks the new session for the old one's tail
        got.until(_expect(range(305)), timeout_s=60)
        got.pump(1.0)  # anything more would be a duplicate
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        reader.join(timeout=10)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
        if proxy is not None:
            proxy.close()
    assert sorted(got.ids) == sorted(_expect(range(305)))
    stats = got.sub.statistics().messages
    assert stats.restarts >= 1 and stats.lost == 0
    assert stats.recovered == stats.missed
    # the 299 picks lost in the frozen link came from the killed session's journal
    assert pub2.statistics().resent >= 299
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "LOST" not in text and "(previous session)" in text


def test_a_tail_file_that_cannot_be_written_costs_no_message(
    bus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under the tail file: logged at ERROR once, counted, the journal ends;
    the publisher goes on sending."""

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("eew.bus.resend.save_tail", disk_full)
    clock = WallClock()
    pub = bus.publisher(clock=clock, resend_tail_file=tmp_path / "bus.resend")
    sub = bus.subscriber(pub.endpoint, clock=clock, kinds=("pick",))
    got = Collector(sub)
    wait_subscribed(pub, 2, sub)
    for n in range(3):
        pub.publish_pick(_pick(n))
    got.until(_expect(range(3)))
    assert pub.statistics().tail_write_errors == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot be written" in errors[0].getMessage()
    assert not (tmp_path / "bus.resend").exists()
    pub.close()  # the stop tries once more: logged and counted, not raised
    assert pub.statistics().tail_write_errors == 2
