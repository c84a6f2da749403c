"""``eew bridge stomp`` against a real ActiveMQ (Debian package), one broker per session."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import stomp
from lxml import etree

from eew.bridge.core import TlsOptions
from eew.bridge.stomp import DATA_TOPIC, HEARTBEAT_TOPIC, StompConfig, StompSink
from eew.bus import Publisher
from eew.formats.shakealert import alert_from_shakealert

pytest_plugins = ["test_bridge_support"]

from test_bridge_support import (  # noqa: E402
    ActiveMQ,
    BridgeThread,
    Certs,
    needs_status,
    publish_all,
    sample_chain,
    wait_for,
    with_status,
)

pytestmark = pytest.mark.slow  # the session's ActiveMQ takes 4-15 s to start


class Collector:
    """A stomp.py subscriber of the data and heartbeat topics."""

    def __init__(self, port: int, topics: tuple[str, ...] = (DATA_TOPIC, HEARTBEAT_TOPIC)) -> None:
        self.frames: list[tuple[str, bytes, dict[str, str]]] = []
        self._lock = threading.Lock()
        outer = self

        class Listener(stomp.ConnectionListener):  # type: ignore[misc]
            def on_message(self, frame: stomp.utils.Frame) -> None:
                with outer._lock:
                    body = frame.body if isinstance(frame.body, bytes) else frame.body.encode()
                    outer.frames.append((frame.headers["destination"], body, frame.headers))

        self.conn = stomp.Connection12([("127.0.0.1", port)], auto_decode=False)
        self.conn.set_listener("c", Listener())
        self.conn.connect(wait=True)
        for i, topic in enumerate(topics):
            self.conn.subscribe(topic, id=str(i), ack="auto")
        # SUBSCRIBE has no answer: a receipt tells the broker has processed it
        self.conn.send("/topic/eew.test.sync", b"", receipt="sync")
        time.sleep(0.2)

    def on(self, topic: str) -> list[tuple[str, bytes, dict[str, str]]]:
        with self._lock:
            return [f for f in self.frames if f[0] == topic]

    def close(self) -> None:
        self.conn.disconnect()


class Relay:
    """A TCP relay 127.0.0.1:port -> broker; ``cut()`` closes every connection through it."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self._closed = threading.Event()
        self.port = self._server.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._server.close()
        self.cut()


def _sink(port: int, **kw: object) -> StompSink:
    return StompSink(
        StompConfig(host="127.0.0.1", port=port, reconnect_max_s=1.0, heartbeat_ms=1000, **kw)  # type: ignore[arg-type]
    )


def test_scenario_alerts_reach_an_activemq_subscriber(
    activemq: ActiveMQ, bus: Publisher, scenario_alerts
) -> None:
    live = Collector(activemq.port)
    bridge = BridgeThread(bus, _sink(activemq.port), heartbeat_interval_s=0.2)
    publish_all(bus, scenario_alerts, gap_s=0.01)
    wait_for(lambda: len(live.on(DATA_TOPIC)) == len(scenario_alerts), what="every alert")
    wait_for(lambda: len(live.on(HEARTBEAT_TOPIC)) >= 2, what="heartbeats")
    stats = bridge.stop()
    live.close()
    got = [alert_from_shakealert(body) for _, body, _ in live.on(DATA_TOPIC)]
    assert [(a.event_id, a.version) for a in got] == [
        (a.event_id, a.version) for a in scenario_alerts
    ]
    assert [a.magnitude for a in got] == pytest.approx([a.magnitude for a in scenario_alerts])
    headers = live.on(DATA_TOPIC)[0][2]
    assert headers["content-type"].startswith("application/xml")
    assert headers["eew_event_id"] == scenario_alerts[0].event_id
    hb = etree.fromstring(live.on(HEARTBEAT_TOPIC)[-1][1])
    assert hb.tag == "hb" and hb.get("sender") == "eew-bridge" and hb.get("feed") == "up"
    assert stats.sink.confirmed == len(scenario_alerts)  # every RECEIPT came back
    assert stats.sink.dropped == 0 and stats.sink.queued == 0


def test_update_and_cancel_over_tls(activemq: ActiveMQ, bus: Publisher, certs: Certs) -> None:
    live = Collector(activemq.port)
    tls = TlsOptions(enabled=True, ca_file=str(certs.cert))
    bridge = BridgeThread(bus, _sink(activemq.ssl_port, tls=tls))
    publish_all(bus, sample_chain())
    wait_for(lambda: len(live.on(DATA_TOPIC)) == 3, what="three alerts over TLS")
    stats = bridge.stop()
    live.close()
    types = [etree.fromstring(b).get("message_type") for _, b, _ in live.on(DATA_TOPIC)]
    assert types == ["new", "update", "delete"]
    assert stats.sink.confirmed == 3


def test_tls_refuses_an_unknown_server_certificate(activemq: ActiveMQ, bus: Publisher) -> None:
    sink = _sink(activemq.ssl_port, tls=TlsOptions(enabled=True))  # system CAs only
    bridge = BridgeThread(bus, sink)
    bus.publish_alert(sample_chain()[0])
    wait_for(lambda: sink.statistics().queued == 1, what="alert queued")
    stats = bridge.stop()
    assert not stats.sink.connected and stats.sink.confirmed == 0


def test_bridge_reconnects_and_sends_what_was_not_confirmed(
    activemq: ActiveMQ, bus: Publisher
) -> None:
    live = Collector(activemq.port)
    relay = Relay(activemq.port)
    sink = _sink(relay.port)
    bridge = BridgeThread(bus, sink)
    new, update, delete = sample_chain()
    bus.publish_alert(new)
    wait_for(lambda: len(live.on(DATA_TOPIC)) == 1, what="first alert")
    relay.cut()  # the broker and the bridge both see the connection drop
    wait_for(lambda: not sink.statistics().connected, what="disconnection noticed")
    publish_all(bus, [update, delete])

    def versions() -> list[int]:
        return [int(etree.fromstring(b).get("version")) for _, b, _ in live.on(DATA_TOPIC)]

    wait_for(lambda: set(versions()) == {0, 2, 3}, timeout_s=20, what="alerts after reconnect")
    stats = bridge.stop()
    relay.close()
    live.close()
    # a message whose RECEIPT was lost in the cut is sent again: at least once, in order
    assert versions() == sorted(versions()) and versions()[-1] == 3
    assert stats.sink.reconnects >= 1 and stats.sink.dropped == 0


@needs_status
def test_drill_flag_survives_the_stomp_bridge(activemq: ActiveMQ, bus: Publisher) -> None:
    new, update, _ = sample_chain()
    drills = [with_status(new, "exercise"), with_status(update, "actual")]
    live = Collector(activemq.port)
    bridge = BridgeThread(bus, _sink(activemq.port))
    publish_all(bus, drills)
    wait_for(lambda: len(live.on(DATA_TOPIC)) == 2, what="drill alerts")
    bridge.stop()
    live.close()
    got = [alert_from_shakealert(b) for _, b, _ in live.on(DATA_TOPIC)]
    assert [etree.fromstring(b).get("category") for _, b, _ in live.on(DATA_TOPIC)] == [
        "test",
        "live",
    ]
    assert got[0].status != "actual" and got[1].status == "actual"  # type: ignore[attr-defined]
