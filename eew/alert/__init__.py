"""The alert bus: signed, encrypted publication of alerts over ZeroMQ.

Implementation overview (see ``docs/alert_bus.md``):

- :mod:`~eew.alert.config`: ``BusConfig``, ``SecurityConfig``, ``SubscriberConfig``;
- :mod:`~eew.alert.keys`: CURVE certificates and Ed25519 key files (``eew keys``);
- :mod:`~eew.alert.signing`: the signature frame, ``Signer`` and ``Verifier``;
- :mod:`~eew.alert.wire`: topics, heartbeat/status payloads, ``BusMessage``;
- :mod:`~eew.alert.handover`: the bounded queue from the processing core;
- :mod:`~eew.alert.publisher`: ``Publisher`` (the XPUB socket, last-value cache, heartbeats);
- :mod:`~eew.alert.gate`: ``MessageGate`` (verification, replay, freshness) and the
  heartbeat watchdog;
- :mod:`~eew.alert.subscriber`: ``Subscriber``;
- :mod:`~eew.alert.hooks`, :mod:`~eew.alert.render`: ``eew subscribe`` helpers.

Only this package imports :mod:`zmq` for alerts; the processing core hands
values to :meth:`Publisher.publish_alert` and never touches a socket.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> defining module; imported on first use (PEP 562), so that reading the
#: configuration (``eew.alert.config``) does not load zmq or the crypto libraries
_EXPORTS = {
    "BusConfig": "eew.alert.config",
    "SecurityConfig": "eew.alert.config",
    "SubscriberConfig": "eew.alert.config",
    "BusError": "eew.alert.errors",
    "BusOverflowError": "eew.alert.errors",
    "KeyFileError": "eew.alert.errors",
    "PublisherCrashedError": "eew.alert.errors",
    "RejectedMessage": "eew.alert.errors",
    "GateStatistics": "eew.alert.gate",
    "MessageGate": "eew.alert.gate",
    "WatchdogEvent": "eew.alert.gate",
    "CurveServer": "eew.alert.publisher",
    "Publisher": "eew.alert.publisher",
    "PublisherStatistics": "eew.alert.publisher",
    "Envelope": "eew.alert.signing",
    "Signer": "eew.alert.signing",
    "Verifier": "eew.alert.signing",
    "CurveClient": "eew.alert.subscriber",
    "Subscriber": "eew.alert.subscriber",
    "SubscriberStatistics": "eew.alert.subscriber",
    "BusMessage": "eew.alert.wire",
    "Health": "eew.alert.wire",
    "Heartbeat": "eew.alert.wire",
    "Status": "eew.alert.wire",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eew.alert' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BusConfig",
    "BusError",
    "BusMessage",
    "BusOverflowError",
    "CurveClient",
    "CurveServer",
    "Envelope",
    "GateStatistics",
    "Health",
    "Heartbeat",
    "KeyFileError",
    "MessageGate",
    "Publisher",
    "PublisherCrashedError",
    "PublisherStatistics",
    "RejectedMessage",
    "SecurityConfig",
    "Signer",
    "Status",
    "Subscriber",
    "SubscriberConfig",
    "SubscriberStatistics",
    "Verifier",
    "WatchdogEvent",
]
