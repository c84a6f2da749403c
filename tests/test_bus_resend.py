"""No message lost in a reconnect window: resend by sequence number (eew.bus.resend).

Every test binds random loopback ports and closes what it made (the ``bus`` fixture).
Picks are used because nothing else brings them back (alerts also have the last-value
cache): every pick published while a subscriber was away must arrive, exactly once.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import pytest
from test_bus_faults import FreezableProxy
from test_bus_support import DATA, Bus, receive_until, wait_for, wait_subscribed

from eew.bus import BusConfig, Subscriber, SubscriberConfig
from eew.bus.resend import ResendBuffer, make_request, parse_done, parse_request
from eew.formats import native
from eew.model.clock import WallClock
from eew.model.pick import Pick

pytest_plugins = ["test_bus_support"]


def _pick(n: int) -> Pick:
    [pick] = native.loads((DATA / "pick.json").read_bytes())
    assert isinstance(pick, Pick)
    return dataclasses.replace(pick, pick_id=f"resend-{n}")


class Collector:
    """Receives from a subscriber and keeps every pick id, duplicates included."""

    def __init__(self, sub: Subscriber) -> None:
        self.sub = sub
        self.ids: list[str] = []

    def pump(self, seconds: float = 0.05) -> bool:
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            msg = self.sub.receive(0.01)
            if msg is not None and isinstance(msg.body, Pick):
                self.ids.append(msg.body.pick_id)
        return True

    def until(self, ids: set[str], timeout_s: float = 20.0) -> None:
        wait_for(lambda: self.pump() and ids <= set(self.ids), timeout_s, f"{len(ids)} picks")


def _expect(ids: range) -> set[str]:
    return {f"resend-{n}" for n in ids}


# ---- the pieces -----------------------------------------------------------------------------
def test_request_round_trip_and_buffer_policy() -> None:
    req = make_request(b"pick.KZ-AEWS", 0xABC, 5, None)
    assert parse_request(req.prefix) == req
    bounded = make_request(b"pick.KZ-AEWS", 0xABC, 5, 9)
    assert parse_request(bounded.prefix) == bounded and bounded.prefix != req.prefix
    for junk in (b"eew-resend/1 x", b"eew-resend/1 n pick.X zz 1 2", b"eew-resend/1 n t 1 5 2"):
        assert parse_request(junk) is None
    buf = ResendBuffer(capacity=4, session=0xABC)
    for seq in range(6):  # only the newest 4 are kept
        buf.keep(b"pick.KZ-AEWS", seq, b"p%d" % seq, b"b")
    buf.keep(b"heartbeat.KZ-AEWS", 0, b"h", b"b")  # (the publisher never offers these)
    buf.open(req)
    frames = buf.batch()
    assert [f[2] for f in frames[:-1]] == [b"p5"]
    assert frames[-1][1] == b"done" and parse_done(frames[-1][2]) == (1, 3, 5, None)
    buf.open(make_request(b"pick.KZ-AEWS", 0x999, 0, None))  # another session: nothing
    assert parse_done(buf.batch()[-1][2]) == (0, None, None, None)
    assert not buf.pending


def test_long_answers_are_cut_at_the_answer_limit_and_say_where() -> None:
    """An answer never holds more than ``answer_limit`` messages (it must fit the slow
    subscriber's queue); its ``done`` names the last sequence number covered."""
    buf = ResendBuffer(capacity=100, session=0xABC, answer_limit=4)
    for seq in range(10):
        buf.keep(b"pick.KZ-AEWS", seq, b"p%d" % seq, b"b")
    buf.open(make_request(b"pick.KZ-AEWS", 0xABC, 2, 8))
    frames = buf.batch()
    assert [f[2] for f in frames[:-1]] == [b"p2", b"p3", b"p4", b"p5"]
    assert parse_done(frames[-1][2]) == (4, 0, 9, 5)
    buf.open(make_request(b"pick.KZ-AEWS", 0xABC, 6, None))  # a tail: the same limit
    frames = buf.batch()
    assert [f[2] for f in frames[:-1]] == [b"p6", b"p7", b"p8", b"p9"]
    assert parse_done(frames[-1][2]) == (4, 0, 9, None)  # all of it: no fourth field
    with pytest.raises(ValueError):
        parse_done(b"1 2")


# ---- faults ---------------------------------------------------------------------------------
def test_picks_published_while_the_link_was_down_come_back(bus: Bus) -> None:
    """A half-open link (the proxy freezes): picks published meanwhile, and none after,
    arrive once the subscriber has re-created its socket: the tail is asked for."""
    clock = WallClock()
    config = BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.5)
    pub = bus.publisher(config=config, clock=clock)
    proxy = FreezableProxy(int(pub.endpoint.rsplit(":", 1)[1]))
    try:
        sub = bus.subscriber(
            f"tcp://127.0.0.1:{proxy.port}",
            clock=clock,
            config=SubscriberConfig(heartbeat_interval_s=0.5),
            kinds=("alert", "pick"),
        )
        got = Collector(sub)
        wait_subscribed(pub, 3, sub)
        for n in range(5):
            pub.publish_pick(_pick(n))
        got.until(_expect(range(5)))
        proxy.freeze()
        for n in range(5, 40):  # into the frozen link: lost on the way
            pub.publish_pick(_pick(n))
        got.until(_expect(range(40)), timeout_s=30)
        got.pump(1.0)  # anything more would be a duplicate
        assert sorted(got.ids) == sorted(_expect(range(40)))
        stats = sub.statistics()
        assert stats.reconnects >= 1 and stats.resend_requests >= 1
        assert stats.messages.lost == 0 and stats.messages.dropped == 0
        assert pub.statistics().resent >= 35
    finally:
        proxy.close()


def test_publisher_restart_is_told_apart_and_its_first_picks_come_back(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = WallClock()
    config = BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.5)
    pub = bus.publisher(config=config, clock=clock)
    sub = bus.subscriber(
        pub.endpoint,
        clock=clock,
        config=SubscriberConfig(heartbeat_interval_s=0.5),
        kinds=("alert", "pick"),
    )
    got = Collector(sub)
    wait_subscribed(pub, 3, sub)
    for n in range(10):
        pub.publish_pick(_pick(n))
    got.until(_expect(range(10)))
    endpoint = pub.endpoint
    pub.close()
    pub2 = bus.publisher(config=BusConfig(endpoint=endpoint, heartbeat_interval_s=0.5), clock=clock)
    for n in range(10, 70):  # the new session publishes before the subscriber is back
        pub2.publish_pick(_pick(n))
    wait_for(lambda: pub2.statistics().picks_sent == 60, what="picks sent")
    got.until(_expect(range(70)), timeout_s=30)
    got.pump(1.0)
    assert sorted(got.ids) == sorted(_expect(range(70)))
    stats = sub.statistics().messages
    assert stats.restarts >= 1 and stats.missed == 0 and stats.lost == 0
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "publisher restarted" in text
    assert "missed" not in text and "LOST" not in text


def test_picks_dropped_at_the_high_water_mark_are_asked_for(bus: Bus) -> None:
    """A subscriber that stalls behind a small queue loses messages in the middle of the
    stream (ZMQ drops them at the high-water marks): every gap is filled by seq.

    The kernel socket buffers are pinned small on both ends (``sndbuf_bytes``,
    ``rcvbuf_bytes``): left to Linux's autotuning they grow to megabytes and absorb
    the whole stall, so that ZMQ would drop nothing and the gaps would go untested.
    """
    clock = WallClock()
    config = BusConfig(
        endpoint="tcp://127.0.0.1:*",
        heartbeat_interval_s=0.5,
        sndhwm_messages=20,
        sndbuf_bytes=4096,
    )
    pub = bus.publisher(config=config, clock=clock)
    sub = bus.subscriber(
        pub.endpoint,
        clock=clock,
        config=SubscriberConfig(heartbeat_interval_s=0.5, rcvhwm_messages=20, rcvbuf_bytes=4096),
        kinds=("alert", "pick"),
    )
    got = Collector(sub)
    wait_subscribed(pub, 3, sub)
    for n in range(300):  # the subscriber is not reading
        pub.publish_pick(_pick(n))
    wait_for(lambda: pub.statistics().picks_sent == 300, what="picks sent")
    time.sleep(0.3)
    pub.publish_pick(_pick(300))  # a later pick shows the gap at once
    got.until(_expect(range(301)), timeout_s=40)
    got.pump(1.0)
    assert sorted(got.ids) == sorted(_expect(range(301)))
    stats = sub.statistics().messages
    assert stats.missed > 0, "ZMQ dropped nothing: the gaps were not exercised"
    assert stats.recovered == stats.missed and stats.lost == 0


def test_what_the_publisher_no_longer_holds_is_counted_lost(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    clock = WallClock()
    config = BusConfig(endpoint="tcp://127.0.0.1:*", resend_buffer_messages=5)
    pub = bus.publisher(config=config, clock=clock)
    sub = bus.subscriber(pub.endpoint, clock=clock, kinds=("alert", "pick"))
    got = Collector(sub)
    wait_subscribed(pub, 3, sub)
    pub.publish_pick(_pick(0))
    got.until(_expect(range(1)))
    pub._seq["pick"] += 20  # as if 20 picks had been lost and had left the buffer since
    for n in range(1, 6):
        pub.publish_pick(_pick(n))
    got.until(_expect(range(6)))
    wait_for(lambda: got.pump() and sub.statistics().messages.lost == 20, what="20 lost")
    assert any("LOST" in r.getMessage() for r in caplog.records)
    receive_until(sub, lambda m: m.kind == "heartbeat")  # still working


def test_partner_picks_published_while_the_partner_restarted_reach_the_link(
    bus: Bus, tmp_path
) -> None:
    """The partner link (eew.partner) is a bus subscriber: the Kyrgyz export publisher
    restarts and publishes picks before our link is back; every pick reaches the link's
    queue once, and the restart is not counted as messages missed."""
    import asyncio

    import nacl.signing

    from eew.bus import Publisher, Signer, Verifier
    from eew.partner.config import PartnerConfig
    from eew.partner.link import PartnerLink

    key = nacl.signing.SigningKey.generate()
    clock = WallClock()

    def kg_publisher(endpoint: str) -> Publisher:
        pub = Publisher(
            BusConfig(endpoint=endpoint, heartbeat_interval_s=0.5),
            agency="KG-MES",
            clock=clock,
            signer=Signer("KG-MES", key),
            curve=None,
            context=bus.tracker.context(),
        )
        pub.start()
        return pub

    pub = kg_publisher("tcp://127.0.0.1:*")
    endpoint = pub.endpoint
    cfg = PartnerConfig(
        enabled=True, endpoints=(endpoint,), trusted_key_file="x", inventory_file="x"
    )
    got: list[str] = []

    async def drain(link: PartnerLink, n: int, timeout_s: float) -> None:
        t_end = time.monotonic() + timeout_s
        while len(got) < n and time.monotonic() < t_end:
            item = link.get_nowait()
            if item is None:
                await asyncio.sleep(0.02)
            elif isinstance(item[0], Pick):
                got.append(item[0].pick_id)

    async def main() -> None:
        nonlocal pub
        link = PartnerLink(cfg, Verifier({"KG-MES": (key.verify_key,)}), clock)
        link.start()
        try:
            t_end = time.monotonic() + 20
            while pub.statistics().subscriptions < 3 and time.monotonic() < t_end:
                await asyncio.sleep(0.02)
            for n in range(10):
                pub.publish_pick(_pick(n))
            await drain(link, 10, 20)
            pub.close()
            pub = kg_publisher(endpoint)
            for n in range(10, 50):  # before the link has reconnected
                pub.publish_pick(_pick(n))
            await drain(link, 50, 30)
            await asyncio.sleep(0.5)
            await drain(link, 51, 0.5)  # a duplicate would show here
            st = link.statistics().gate
            assert st.restarts >= 1 and st.missed == 0 and st.lost == 0, st
        finally:
            await link.close()

    try:
        asyncio.run(main())
    finally:
        pub.close()
    assert sorted(got) == sorted(_expect(range(50)))
