"""``eew bridge mqtt`` against a real Mosquitto (Debian package), started per test."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from eew.bridge.core import TlsOptions
from eew.bridge.mqtt import MqttConfig, MqttSink, alert_topic
from eew.bus import Publisher
from eew.formats import native

pytest_plugins = ["test_bridge_support"]

from test_bridge_support import (  # noqa: E402
    ROOT,
    BridgeThread,
    Certs,
    Mosquitto,
    needs_status,
    publish_all,
    sample_chain,
    wait_for,
    with_status,
)


class Collector:
    """A paho subscriber that records (topic, payload, qos, retain)."""

    def __init__(self, port: int, topic: str = "eew/#", tls: Certs | None = None) -> None:
        self.messages: list[tuple[str, bytes, int, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if tls is not None:
            c.tls_set(ca_certs=str(tls.cert))
        c.on_connect = lambda cl, *_: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda *_: self._subscribed.set()
        c.on_message = self._on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        assert self._subscribed.wait(10), "test subscriber did not subscribe"

    def _on_message(self, client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, msg.qos, bool(msg.retain)))

    def on(self, prefix: str) -> list[tuple[str, bytes, int, bool]]:
        with self._lock:
            return [m for m in self.messages if m[0].startswith(prefix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _sink(port: int, **kw: object) -> MqttSink:
    return MqttSink(MqttConfig(host="127.0.0.1", port=port, reconnect_max_s=1, **kw))  # type: ignore[arg-type]


@pytest.mark.slow
def test_scenario_alerts_reach_an_mqtt_subscriber_and_the_last_is_retained(
    mosquitto: Mosquitto, bus: Publisher, scenario_alerts
) -> None:
    live = Collector(mosquitto.port, "eew/alert/#")
    bridge = BridgeThread(bus, _sink(mosquitto.port))
    publish_all(bus, scenario_alerts, gap_s=0.01)
    wait_for(lambda: len(live.on("eew/alert/")) == len(scenario_alerts), what="every alert")
    stats = bridge.stop()
    live.close()
    got = live.on("eew/alert/")
    # every version, in order, the bus payload byte for byte, QoS 1
    assert [native.loads(p)[0] for _, p, _, _ in got] == scenario_alerts
    assert [t for t, *_ in got] == [alert_topic("eew", a) for a in scenario_alerts]
    assert all(qos == 1 for _, _, qos, _ in got)
    assert stats.alerts == len(scenario_alerts) and stats.sink.dropped == 0
    assert stats.sink.confirmed == len(scenario_alerts)
    # a subscriber that comes later gets the newest version of each event, retained
    late = Collector(mosquitto.port, "eew/alert/#")
    newest = {a.event_id: a for a in scenario_alerts}
    wait_for(lambda: len(late.on("eew/alert/")) == len(newest), what="retained alerts")
    late.close()
    retained = {native.loads(p)[0].event_id: native.loads(p)[0] for _, p, _, r in late.messages}
    assert all(r for *_, r in late.messages)
    assert retained == newest


def test_heartbeats_status_and_last_will(mosquitto: Mosquitto, bus: Publisher) -> None:
    watch = Collector(mosquitto.port, "eew/#")
    bridge = BridgeThread(bus, _sink(mosquitto.port, sender="br1"), heartbeat_interval_s=0.2)
    wait_for(lambda: len(watch.on("eew/heartbeat/br1")) >= 3, what="three heartbeats")
    beat = json.loads(watch.on("eew/heartbeat/br1")[-1][1])
    assert beat["type"] == "heartbeat" and beat["sender"] == "br1" and beat["feed"] == "up"
    assert json.loads(watch.on("eew/status/br1")[0][1]) == {"state": "online"}
    stats = bridge.stop()
    assert stats.sink.heartbeats >= 3
    wait_for(lambda: len(watch.on("eew/status/br1")) >= 2, what="offline status")
    assert json.loads(watch.on("eew/status/br1")[-1][1]) == {"state": "offline"}
    watch.close()


def test_update_and_cancel_over_tls(mosquitto: Mosquitto, bus: Publisher, certs: Certs) -> None:
    live = Collector(mosquitto.tls_port, "eew/alert/#", tls=certs)
    tls = TlsOptions(enabled=True, ca_file=str(certs.cert))
    bridge = BridgeThread(bus, _sink(mosquitto.tls_port, tls=tls))
    chain = sample_chain()
    publish_all(bus, chain)
    wait_for(lambda: len(live.on("eew/alert/")) == 3, what="three alerts over TLS")
    bridge.stop()
    live.close()
    assert [native.loads(p)[0].message_type for _, p, _, _ in live.messages] == [
        "new",
        "update",
        "delete",
    ]


# paho-mqtt 2.2 leaves the socket of a failed TLS handshake to the garbage collector
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_refuses_an_unknown_server_certificate(mosquitto: Mosquitto, bus: Publisher) -> None:
    # the system CAs do not know our self-signed broker: no connection, alerts queued
    sink = _sink(mosquitto.tls_port, tls=TlsOptions(enabled=True))
    bridge = BridgeThread(bus, sink)
    bus.publish_alert(sample_chain()[0])
    wait_for(lambda: sink.statistics().queued == 1, what="alert queued")
    wait_for(lambda: sink._failures >= 1, what="a failed TLS handshake")
    stats = bridge.stop()
    assert not stats.sink.connected and stats.sink.confirmed == 0


def test_bridge_reconnects_after_a_broker_restart(mosquitto: Mosquitto, bus: Publisher) -> None:
    sink = _sink(mosquitto.port)
    bridge = BridgeThread(bus, sink)
    wait_for(lambda: sink.statistics().connected, what="connected")
    mosquitto.stop()
    wait_for(lambda: not sink.statistics().connected, what="disconnection noticed")
    new, update, delete = sample_chain()
    publish_all(bus, [new, update])  # while the broker is down: kept in the outbox
    wait_for(lambda: bridge.sink.statistics().sent == 2, what="alerts taken from the bus")
    mosquitto.start()  # same ports, no persistence: only what the bridge sends again
    wait_for(lambda: sink.statistics().connected, timeout_s=20, what="reconnection")
    bus.publish_alert(delete)
    late = Collector(mosquitto.port, "eew/alert/#")
    wait_for(lambda: len(late.messages) >= 1, what="retained alert after the restart")
    stats = bridge.stop()
    late.close()
    assert native.loads(late.messages[-1][1])[0].message_type == "delete"
    assert stats.sink.reconnects >= 1 and stats.sink.dropped == 0
    assert stats.sink.confirmed == 3


@needs_status
def test_drill_flag_survives_the_mqtt_bridge(mosquitto: Mosquitto, bus: Publisher) -> None:
    drills = [
        with_status(a, s)
        for a, s in zip(sample_chain(), ("exercise", "test", "exercise"), strict=True)
    ]
    live = Collector(mosquitto.port, "eew/alert/#")
    bridge = BridgeThread(bus, _sink(mosquitto.port))
    publish_all(bus, drills)
    wait_for(lambda: len(live.messages) == 3, what="drill alerts")
    bridge.stop()
    live.close()
    assert [json.loads(p)["status"] for _, p, _, _ in live.messages] == [
        "exercise",
        "test",
        "exercise",
    ]


def test_cli_bridge_mqtt(mosquitto: Mosquitto, bus: Publisher, tmp_path: Path) -> None:
    live = Collector(mosquitto.port, "eew/alert/#")
    before = bus.statistics().subscriptions
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "eew", "bridge", "mqtt", bus.endpoint, "--insecure"),
            *("--port", str(mosquitto.port), "--max-alerts", "1", "--duration-s", "60"),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: bus.statistics().subscriptions >= before + 2, 30, "CLI subscribed")
        bus.publish_alert(sample_chain()[0])
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "1 alert(s) from the bus; 1 sent, 1 confirmed" in err
    wait_for(lambda: len(live.messages) == 1, what="the CLI's alert")
    live.close()
