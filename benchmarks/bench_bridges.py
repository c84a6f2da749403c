"""Bridge latency: bus -> bridge -> real broker -> subscriber, for STOMP, MQTT and the CAP feed.

The alerts of a replayed scenario (``eew replay waveforms_samples/local_m4.5``, or
``--alerts FILE`` from an earlier replay) are published on a plain loopback bus
(no CURVE, unsigned: the bus's own cost is in bench_bus.py), one at a time; the
time from ``publish_alert`` to the subscriber having the message is recorded:

* STOMP: a stomp.py subscriber of the ActiveMQ topic (the ShakeAlert XML arrives);
* MQTT: a paho-mqtt subscriber of Mosquitto (the JSON arrives, QoS 1);
* CAP: an HTTP client polling the Atom index with ``If-None-Match`` until the entry
  of the message is listed, then fetching the message (both counted).

The scenario is sent ``--rounds`` times, each round with fresh event ids.
The brokers are the Debian packages, started as in the tests
(tests/test_bridge_support.py) on random loopback ports.
Run: ``python benchmarks/bench_bridges.py [--rounds 25] [--alerts replay.jsonl]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_bridge_support import (  # noqa: E402
    SCENARIO,
    BridgeThread,
    Mosquitto,
    make_certs,
    package_version,
    replay_alerts,
    start_activemq,
    stop_process,
)

from eew.bridge.capfeed import ATOM_NS, CapFeed  # noqa: E402
from eew.bridge.http import FEED_PATH, CapSink  # noqa: E402
from eew.bridge.mqtt import MqttConfig, MqttSink  # noqa: E402
from eew.bridge.stomp import DATA_TOPIC, StompConfig, StompSink  # noqa: E402
from eew.bus import BusConfig, Publisher  # noqa: E402
from eew.formats import cap  # noqa: E402
from eew.model.alert import Alert  # noqa: E402
from eew.model.clock import ManualClock, WallClock  # noqa: E402


class Arrivals:
    """(event id, version) -> arrival time, filled by the broker subscriber's thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: dict[tuple[str, int], float] = {}

    def arrived(self, event_id: str, version: int) -> None:
        with self._cond:
            self._seen[(event_id, version)] = time.perf_counter()
            self._cond.notify_all()

    def wait(self, key: tuple[str, int], timeout_s: float = 10.0) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._seen, timeout_s):
                raise RuntimeError(f"{key} did not arrive")
            return self._seen[key]


def rounds_of(alerts: list[Alert], n: int, tag: str) -> list[Alert]:
    """``n`` copies of the scenario with fresh event ids (the bus drops versions it has seen)."""
    return [a.with_(event_id=f"{a.event_id}-{tag}{i}") for i in range(n) for a in alerts]


def measure(pub: Publisher, alerts: list[Alert], wait: Callable[[Alert], float]) -> list[float]:
    out = []
    for alert in alerts:
        t0 = time.perf_counter()
        pub.publish_alert(alert)
        out.append(wait(alert) - t0)
    return out


def bench_stomp(pub: Publisher, alerts: list[Alert], port: int) -> list[float]:
    import stomp

    arrivals = Arrivals()

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: stomp.utils.Frame) -> None:
            h = frame.headers
            arrivals.arrived(h["eew_event_id"], int(h["eew_version"]))

    sub = stomp.Connection12([("127.0.0.1", port)])
    sub.set_listener("b", Listener())
    sub.connect(wait=True)
    sub.subscribe(DATA_TOPIC, id="1", ack="auto")
    time.sleep(0.5)
    bridge = BridgeThread(pub, StompSink(StompConfig("127.0.0.1", port)), 5.0)
    try:
        return measure(pub, alerts, lambda a: arrivals.wait((a.event_id, a.version)))
    finally:
        bridge.stop()
        sub.disconnect()


def bench_mqtt(pub: Publisher, alerts: list[Alert], port: int) -> list[float]:
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    arrivals = Arrivals()
    ready = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_connect = lambda c, *_: c.subscribe("eew/alert/#", qos=1)
    sub.on_subscribe = lambda *_: ready.set()

    def on_message(client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if not msg.retain:
            d = json.loads(msg.payload)
            arrivals.arrived(d["event_id"], d["version"])

    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    ready.wait(10)
    bridge = BridgeThread(pub, MqttSink(MqttConfig("127.0.0.1", port)), 5.0)
    try:
        return measure(pub, alerts, lambda a: arrivals.wait((a.event_id, a.version)))
    finally:
        bridge.stop()
        sub.disconnect()
        sub.loop_stop()


def bench_cap(pub: Publisher, alerts: list[Alert]) -> list[float]:
    feed = CapFeed(ManualClock(alerts[0].sent_time_ns), max_messages=100_000)
    sink = CapSink(feed, "127.0.0.1", 0)
    bridge = BridgeThread(pub, sink, 5.0)
    etag = ""

    def wait(alert: Alert) -> float:
        nonlocal etag
        want = quote(cap.cap_identifier(alert), safe="") + ".xml"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            req = urllib.request.Request(sink.base_url + FEED_PATH)
            if etag:
                req.add_header("If-None-Match", etag)
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    etag = resp.headers["ETag"]
                    atom = resp.read()
            except urllib.error.HTTPError as exc:  # 304: nothing new yet
                exc.close()
                time.sleep(0.001)
                continue
            hrefs = [
                link.get("href", "")
                for link in etree.fromstring(atom).iter(f"{{{ATOM_NS}}}link")
                if link.get("href", "").endswith(want)
            ]
            if hrefs:
                with urllib.request.urlopen(hrefs[0], timeout=5) as resp:
                    resp.read()
                return time.perf_counter()
            time.sleep(0.001)
        raise RuntimeError(f"{alert.event_id} v{alert.version} not in the feed")

    try:
        return measure(pub, alerts, wait)
    finally:
        bridge.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25, help="times the scenario is sent")
    parser.add_argument("--alerts", type=Path, help="JSON Lines from eew replay (else replay)")
    parser.add_argument("--only", choices=("stomp", "mqtt", "cap"), action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = args.alerts
        if src is None:
            from eew.cli import main as eew

            src = tmp / "replay.jsonl"
            eew(["replay", str(SCENARIO), "--out", str(src), "--no-progress"])
        scenario = replay_alerts(src)
        n = len(scenario) * args.rounds
        print(f"{len(scenario)} alerts of {SCENARIO.name} x {args.rounds} rounds = {n}")
        certs = make_certs(tmp)
        pub = Publisher(
            BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=1.0),
            agency=scenario[0].agency,
            clock=WallClock(),
            signer=None,
            curve=None,
        )
        only = args.only or ["stomp", "mqtt", "cap"]
        results: dict[str, tuple[str, list[float]]] = {}
        with pub:
            if "stomp" in only:
                (tmp / "amq").mkdir()
                amq, proc = start_activemq(tmp / "amq", certs)
                try:
                    lat = bench_stomp(pub, rounds_of(scenario, args.rounds, "s"), amq.port)
                finally:
                    stop_process(proc)
                results["STOMP -> ActiveMQ"] = (f"ActiveMQ {amq.version}", lat)
            if "mqtt" in only:
                (tmp / "mq").mkdir()
                mq = Mosquitto(tmp / "mq", certs)
                mq.start()
                try:
                    lat = bench_mqtt(pub, rounds_of(scenario, args.rounds, "m"), mq.port)
                finally:
                    mq.stop()
                results["MQTT -> Mosquitto"] = (f"Mosquitto {package_version('mosquitto')}", lat)
            if "cap" in only:
                lat = bench_cap(pub, rounds_of(scenario, args.rounds, "c"))
                results["CAP feed (HTTP poll)"] = ("stdlib http.server", lat)
        print(f"{'bridge':<22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'n':>5}  broker")
        for name, (broker, lat) in results.items():
            ms = np.asarray(lat) * 1e3
            print(
                f"{name:<22} {np.percentile(ms, 50):>8.2f} {np.percentile(ms, 99):>8.2f}"
                f" {ms.max():>8.2f} {len(ms):>5}  {broker}"
            )


if __name__ == "__main__":
    main()
