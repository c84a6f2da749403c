"""MQTT bridge: native ``eew.alert/1`` JSON, QoS 1, the newest alert of each event retained.

Topics (``PREFIX`` default ``eew``):

* ``PREFIX/alert/AGENCY/EVENT_ID``: every alert version, the verified bus payload
  byte for byte (the drill ``status`` and every other field as published), QoS 1,
  **retained**: the broker keeps the newest version of each event, so a client that
  subscribes to ``PREFIX/alert/#`` gets the current state of every event at once,
  then each new version. Retained alerts carry the MQTT 5 message expiry
  ``retain_expiry_s`` (default 900 s after the newest version, ``final`` and
  ``delete`` included, as the bus's last-value cache), after which the broker
  forgets them.
* ``PREFIX/heartbeat/SENDER``: every heartbeat interval, QoS 0, not retained:
  ``{"type": "heartbeat", "sender", "sent_time", "feed": "up"|"down"}``.
* ``PREFIX/status/SENDER``: retained ``{"state": "online"}`` on connect; the broker
  publishes the last will ``{"state": "offline"}`` if the bridge vanishes.

paho-mqtt's network thread keeps the connection (MQTT keep-alive pings) and
reconnects with back-off; QoS 1 messages in flight are sent again after a
reconnection. While the broker is away, new alerts wait in a bounded outbox
(oldest dropped, counted).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from eew.bridge.core import BridgeError, Outbox, SinkStatistics, TlsOptions
from eew.model.alert import Alert
from eew.model.timeutil import ns_to_iso

if TYPE_CHECKING:
    from eew.bus.wire import BusMessage

logger = logging.getLogger(__name__)

_TOPIC_UNSAFE = re.compile(r"[/+#\x00]")


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Where and how the MQTT bridge connects.

    Attributes
    ----------
    host, port : str, int
        The broker (Mosquitto: 1883, 8883 for TLS by convention).
    prefix : str
        First topic level(s).
    username, password : str, optional
        MQTT credentials.
    tls : TlsOptions
        TLS to the broker (server certificate and host name verified).
    keepalive_s : int
        MQTT keep-alive [s]: the client pings at least this often; the broker drops
        (and publishes the will of) a client silent for 1.5 times as long.
    retain_expiry_s : int
        MQTT 5 message expiry of the retained alerts [s]; 0 keeps them for ever.
    sender : str
        Last topic level of the heartbeat and status topics; also the client id.
    outbox_size : int
        Alerts kept while the broker is away.
    reconnect_initial_s, reconnect_max_s : int
        Reconnection back-off [s] (paho takes whole seconds).
    """

    host: str
    port: int
    prefix: str = "eew"
    username: str | None = None
    password: str | None = None
    tls: TlsOptions = field(default_factory=TlsOptions)
    keepalive_s: int = 30
    retain_expiry_s: int = 900
    sender: str = "eew-bridge"
    outbox_size: int = 1000
    reconnect_initial_s: int = 1
    reconnect_max_s: int = 30


def topic_level(text: str) -> str:
    """``text`` made safe as one MQTT topic level (``/``, ``+``, ``#`` become ``_``)."""
    return _TOPIC_UNSAFE.sub("_", text) or "_"


def alert_topic(prefix: str, alert: Alert) -> str:
    """``PREFIX/alert/AGENCY/EVENT_ID`` of ``alert``."""
    return f"{prefix}/alert/{topic_level(alert.agency)}/{topic_level(alert.event_id)}"


class MqttSink:
    """The MQTT side of ``eew bridge mqtt`` (see the module docstring).

    Parameters
    ----------
    config : MqttConfig
        Broker, topics, TLS, keep-alive.
    """

    def __init__(self, config: MqttConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._outbox: Outbox[tuple[str, bytes]] = Outbox(config.outbox_size, "mqtt bridge")
        self._sent = self._confirmed = self._dropped = self._beats = 0
        self._connects = 0
        self._failures = 0  # connection attempts failed in a row
        self._awaited: set[int] = set()  # message ids of alerts waiting for their PUBACK
        self._uncounted: set[int] = set()  # status and heartbeat messages
        self._early: set[int] = set()
        self._where = f"{config.host}:{config.port}"
        self._status_topic = f"{config.prefix}/status/{topic_level(config.sender)}"
        self._beat_topic = f"{config.prefix}/heartbeat/{topic_level(config.sender)}"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.sender,
            protocol=mqtt.MQTTv5,
        )
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls.enabled:
            client.tls_set_context(config.tls.client_context())
        client.will_set(self._status_topic, b'{"state": "offline"}', qos=1, retain=True)
        client.reconnect_delay_set(config.reconnect_initial_s, config.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        self._client = client
        try:
            client.connect_async(config.host, config.port, keepalive=config.keepalive_s)
        except (OSError, ValueError) as exc:
            raise BridgeError(f"mqtt bridge: cannot connect to {self._where}: {exc}") from exc
        client.loop_start()

    # ---- paho callbacks (its network thread) ----------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            logger.error("mqtt bridge: broker %s refused us: %s", self._where, reason)
            return
        self._failures = 0
        with self._lock:
            self._connects += 1
            again = self._connects > 1
        info = client.publish(self._status_topic, b'{"state": "online"}', qos=1, retain=True)
        self._track(info.mid, counted=False)
        self._connected.set()
        if again:
            logger.warning("mqtt bridge: reconnected to %s", self._where)
        else:
            logger.info(
                "mqtt bridge: connected to %s (TLS %s)", self._where, self._config.tls.enabled
            )

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._connected.is_set():
            logger.warning(
                "mqtt bridge: connection to %s lost (%s); reconnecting", self._where, reason
            )
        self._connected.clear()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._failures += 1
        log = logger.warning if self._failures == 1 else logger.debug
        log("mqtt bridge: cannot connect to %s (attempt %d); retrying", self._where, self._failures)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            if mid in self._awaited:
                self._awaited.discard(mid)
                self._confirmed += 1
            elif mid in self._uncounted:
                self._uncounted.discard(mid)
            else:  # acknowledged before publish() returned to us
                self._early.add(mid)

    def _track(self, mid: int, counted: bool) -> None:
        """Remember that ``mid`` was published; count its PUBACK if it is an alert."""
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                self._confirmed += counted
            else:
                (self._awaited if counted else self._uncounted).add(mid)

    # ---- the Sink protocol --------------------------------------------------------------------
    def _alert_properties(self) -> Any:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ContentType = "application/json"
        if self._config.retain_expiry_s > 0:
            props.MessageExpiryInterval = self._config.retain_expiry_s
        return props

    def _publish(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(
            topic, payload, qos=1, retain=True, properties=self._alert_properties()
        )
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self._dropped += 1
            logger.error("mqtt bridge: paho's queue is full: %s not sent", topic)
            return
        self._track(info.mid, counted=True)
        # MQTT_ERR_NO_CONN: paho keeps the QoS 1 message and sends it after reconnecting

    def deliver(self, message: BusMessage, alert: Alert) -> None:
        """Publish the bus payload of ``alert``, retained, QoS 1."""
        topic = alert_topic(self._config.prefix, alert)
        self._sent += 1
        if self._connected.is_set() and not len(self._outbox):
            self._publish(topic, message.payload)
        else:
            self._outbox.put((topic, message.payload))

    def heartbeat(self, now_ns: int, feed_alive: bool) -> None:
        """Publish a heartbeat now if connected (QoS 0, never queued)."""
        if not self._connected.is_set():
            return
        body = {
            "type": "heartbeat",
            "sender": self._config.sender,
            "sent_time": ns_to_iso(now_ns),
            "feed": "up" if feed_alive else "down",
        }
        info = self._client.publish(self._beat_topic, json.dumps(body).encode("utf-8"), qos=0)
        self._track(info.mid, counted=False)
        self._beats += 1

    def poll(self) -> None:
        """Flush the outbox once connected (paho reconnects by itself)."""
        while self._connected.is_set() and len(self._outbox):
            topic, payload = self._outbox.pop()
            self._publish(topic, payload)

    def statistics(self) -> SinkStatistics:
        """A snapshot of the counters (``confirmed``: alerts acknowledged with PUBACK)."""
        with self._lock:
            confirmed, connects = self._confirmed, self._connects
        connected, reconnects = self._connected.is_set(), max(0, connects - 1)
        return self._outbox.statistics(
            connected, self._sent, confirmed, self._dropped, self._beats, reconnects
        )

    def close(self, timeout_s: float = 2.0) -> None:
        """Flush, publish ``offline``, disconnect and stop paho's thread."""
        self.poll()
        if self._connected.is_set():
            info = self._client.publish(
                self._status_topic, b'{"state": "offline"}', qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                logger.warning("mqtt bridge: offline status not confirmed")
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        if len(self._outbox):
            logger.error("mqtt bridge: %d alert(s) not sent at close", len(self._outbox))
