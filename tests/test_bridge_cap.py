"""``eew bridge cap``: the CAP messages and their Atom index, read with a real HTTP client."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
from lxml import etree

from eew.bridge.capfeed import ATOM_NS, CapFeed
from eew.bridge.core import TlsOptions
from eew.bridge.http import FEED_PATH, CapSink
from eew.bus import Publisher
from eew.formats import cap
from eew.model.alert import Alert
from eew.model.clock import ManualClock

pytest_plugins = ["test_bridge_support"]

from test_bridge_support import (  # noqa: E402
    SAMPLES,
    BridgeThread,
    Certs,
    needs_status,
    publish_all,
    sample_chain,
    wait_for,
    with_status,
)

A = f"{{{ATOM_NS}}}"
C = f"{{{cap.CAP_NS}}}"


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SAMPLES / "CAP-v1.2.xsd")))


def get(url: str, context: ssl.SSLContext | None = None, **headers: str) -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(), dict(exc.headers)


def entries(atom: bytes) -> list[tuple[str, str]]:
    """(title, CAP href) of each Atom entry."""
    feed = etree.fromstring(atom)
    assert feed.tag == f"{A}feed"
    return [
        (e.findtext(f"{A}title"), e.find(f"{A}link[@type='application/cap+xml']").get("href"))
        for e in feed.findall(f"{A}entry")
    ]


def references(xml: bytes) -> list[str]:
    text = etree.fromstring(xml).findtext(f"{C}references") or ""
    return [r.split(",")[1] for r in text.split()]


def identifier(xml: bytes) -> str:
    return etree.fromstring(xml).findtext(f"{C}identifier")


def _feed_at(alert: Alert) -> tuple[CapFeed, ManualClock]:
    clock = ManualClock(alert.sent_time_ns)
    return CapFeed(clock, heartbeat_timeout_s=5.0), clock


def test_update_and_cancel_chain_over_http(bus: Publisher, cap_schema) -> None:
    new, update, delete = sample_chain()
    feed, clock = _feed_at(new)
    sink = CapSink(feed, "127.0.0.1", 0)
    bridge = BridgeThread(bus, sink)
    bus.publish_alert(new)
    wait_for(lambda: feed.statistics().sent == 1, what="the first message")
    status, atom, headers = get(sink.base_url + FEED_PATH)
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    [(title, href0)] = entries(atom)
    assert "Alert" in title
    publish_all(bus, [update, delete])
    wait_for(lambda: feed.statistics().sent == 3, what="update and cancel")
    # the index lists the event once: its newest message, the Cancel
    status, atom, headers = get(sink.base_url + FEED_PATH)
    [(title, href2)] = entries(atom)
    assert "Cancel" in title
    # each message at its stable URL, valid CAP, chained by references
    _, xml0, h0 = get(href0)
    _, xml2, _ = get(href2)
    assert h0["Content-Type"].startswith("application/cap+xml")
    for xml in (xml0, xml2):
        cap_schema.assertValid(etree.fromstring(xml))
    msgs = {identifier(x): x for x in (xml0, xml2)}
    assert references(xml0) == []
    assert len(references(xml2)) == 2 and references(xml2)[0] == identifier(xml0)
    update_url = href2.replace(identifier(xml2), references(xml2)[1])
    status, xml1, _ = get(update_url)
    assert status == 200 and etree.fromstring(xml1).findtext(f"{C}msgType") == "Update"
    assert references(xml1) == [identifier(xml0)]
    assert cap.alert_from_cap(msgs[identifier(xml2)]).message_type == "delete"
    # polling with the entity tag costs nothing while nothing changes
    status, body, _ = get(sink.base_url + FEED_PATH, **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    # once the Cancel expires the index is empty; the messages stay at their URLs
    clock.advance_s(3600)
    assert entries(get(sink.base_url + FEED_PATH)[1]) == []
    assert get(href0)[0] == 200
    assert get(sink.base_url + "/cap/nothing.xml")[0] == 404
    bridge.stop()


def test_health_follows_the_heartbeats(bus: Publisher) -> None:
    new = sample_chain()[0]
    feed, clock = _feed_at(new)
    sink = CapSink(feed, "127.0.0.1", 0)
    assert get(sink.base_url + "/health")[0] == 503  # no heartbeat yet
    bridge = BridgeThread(bus, sink, heartbeat_interval_s=0.1)
    wait_for(lambda: feed.statistics().heartbeats >= 1, what="a heartbeat")
    status, body, _ = get(sink.base_url + "/health")
    assert status == 200 and json.loads(body)["feed"] == "up"
    bridge.stop()  # closes the server too
    sink = CapSink(feed, "127.0.0.1", 0)
    clock.advance_s(60)  # no heartbeat for longer than the timeout
    status, body, _ = get(sink.base_url + "/health")
    assert status == 503 and json.loads(body)["bridge"] == "stalled"
    feed.heartbeat(0, False)  # the loop beats again, but the bus feed is down
    status, body, _ = get(sink.base_url + "/health")
    assert status == 503 and json.loads(body) | {"last_heartbeat": None} == {
        "bridge": "up",
        "feed": "down",
        "last_heartbeat": None,
        "events": 0,
        "messages": 0,
    }
    sink.close()


def test_https_with_a_verified_certificate(bus: Publisher, certs: Certs) -> None:
    new = sample_chain()[0]
    feed, _ = _feed_at(new)
    tls = TlsOptions(enabled=True, cert_file=str(certs.cert), key_file=str(certs.key))
    sink = CapSink(feed, "127.0.0.1", 0, tls=tls)
    assert sink.base_url.startswith("https://")
    bridge = BridgeThread(bus, sink)
    bus.publish_alert(new)
    wait_for(lambda: feed.statistics().sent == 1, what="the message")
    context = ssl.create_default_context(cafile=str(certs.cert))
    status, atom, _ = get(sink.base_url + FEED_PATH, context)
    [(_, href)] = entries(atom)
    status, xml, _ = get(href, context)
    assert status == 200 and identifier(xml) == cap.cap_identifier(new)
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get(sink.base_url + FEED_PATH, ssl.create_default_context())
    bridge.stop()


def test_update_without_earlier_messages_is_not_served_blindly(bus: Publisher) -> None:
    _, update, _ = sample_chain()
    feed, _ = _feed_at(update)
    if not update.__class__.__dataclass_fields__.get("previous_sent_ns"):
        # the base model cannot name earlier messages it never saw: dropped, counted
        assert feed.add(update) is None and feed.statistics().dropped == 1
    else:  # pragma: no cover (the formats branch: the alert carries its own chain)
        assert feed.add(update) is not None


@pytest.mark.slow
def test_scenario_alerts_become_a_cap_feed(bus: Publisher, scenario_alerts, cap_schema) -> None:
    feed, _ = _feed_at(scenario_alerts[-1])
    sink = CapSink(feed, "127.0.0.1", 0)
    bridge = BridgeThread(bus, sink)
    publish_all(bus, scenario_alerts, gap_s=0.01)
    wait_for(lambda: feed.statistics().sent == len(scenario_alerts), what="every alert")
    assert feed.statistics().dropped == 0
    _, atom, _ = get(sink.base_url + FEED_PATH)
    listed = entries(atom)
    assert len(listed) == len({a.event_id for a in scenario_alerts})
    seen: dict[str, list[str]] = {}
    for _, href in listed:
        _, xml, _ = get(href)
        cap_schema.assertValid(etree.fromstring(xml))
        refs = references(xml)
        for ref in refs:  # every referenced message is served too, and valid
            status, older, _ = get(href.replace(identifier(xml), ref))
            assert status == 200
            cap_schema.assertValid(etree.fromstring(older))
        seen[identifier(xml)] = refs
    n_versions = {a.event_id: 0 for a in scenario_alerts}
    for a in scenario_alerts:
        n_versions[a.event_id] += 1
    assert sorted(len(r) + 1 for r in seen.values()) == sorted(n_versions.values())
    bridge.stop()


@needs_status
def test_drill_flag_survives_the_cap_feed(bus: Publisher) -> None:
    new, update, _ = sample_chain()
    drills = [with_status(new, "exercise"), with_status(update, "exercise")]
    feed, _ = _feed_at(new)
    sink = CapSink(feed, "127.0.0.1", 0)
    bridge = BridgeThread(bus, sink)
    publish_all(bus, drills)
    wait_for(lambda: feed.statistics().sent == 2, what="drill messages")
    [(title, href)] = entries(get(sink.base_url + FEED_PATH)[1])
    _, xml, _ = get(href)
    bridge.stop()
    assert etree.fromstring(xml).findtext(f"{C}status") == "Exercise"
    assert "Exercise" in title
