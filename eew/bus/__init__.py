"""The alert bus: signed, encrypted publication of alerts over ZeroMQ.

Implementation overview (see ``docs/alert_bus.md``):

- :mod:`~eew.bus.config`: ``BusConfig``, ``SecurityConfig``, ``BusSetup``,
  ``SubscriberConfig``;
- :mod:`~eew.bus.keys`: CURVE certificates and Ed25519 key files (``eew keys``);
- :mod:`~eew.bus.signing`: the signature frame, ``Signer`` and ``Verifier``;
- :mod:`~eew.bus.wire`: topics, heartbeat/status payloads, ``BusMessage``;
- :mod:`~eew.bus.handover`: the bounded queue from the processing core;
- :mod:`~eew.bus.publisher`: ``Publisher`` (the XPUB socket, last-value cache, heartbeats);
- :mod:`~eew.bus.gate`: ``MessageGate`` (verification, replay, freshness, gaps);
  :mod:`~eew.bus.watchdog`: the heartbeat watchdog;
- :mod:`~eew.bus.resend`, :mod:`~eew.bus.retired`: what a subscriber missed comes back
  by sequence number, across publisher restarts too;
- :mod:`~eew.bus.subscriber`: ``Subscriber``; :mod:`~eew.bus.connection`: its socket,
  re-created when the link is lost;
- :mod:`~eew.bus.cache`: the last-value cache; :mod:`~eew.bus.zap`: CURVE client checks;
- :mod:`~eew.bus.hooks`, :mod:`~eew.bus.render`: ``eew subscribe`` helpers.

Only this package imports :mod:`zmq` for alerts; the processing core hands
values to :meth:`Publisher.publish_alert` and never touches a socket.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the checker sees real types; at run time __getattr__ imports on use
    from eew.bus.config import BusConfig, BusSetup, SecurityConfig, SubscriberConfig
    from eew.bus.connection import CurveClient
    from eew.bus.errors import (
        BusError,
        KeyFileError,
        PublisherCrashedError,
        RejectedMessage,
    )
    from eew.bus.gate import GateStatistics, MessageGate
    from eew.bus.publisher import CurveServer, Publisher, PublisherStatistics
    from eew.bus.signing import Envelope, Signer, Verifier
    from eew.bus.subscriber import Subscriber, SubscriberStatistics
    from eew.bus.watchdog import WatchdogEvent
    from eew.bus.wire import BusMessage, Health, Heartbeat, Status

#: public name -> defining module; imported on first use (PEP 562), so that reading the
#: configuration (``eew.bus.config``) does not load zmq or the crypto libraries
_EXPORTS = {
    "BusConfig": "eew.bus.config",
    "BusSetup": "eew.bus.config",
    "SecurityConfig": "eew.bus.config",
    "SubscriberConfig": "eew.bus.config",
    "BusError": "eew.bus.errors",
    "KeyFileError": "eew.bus.errors",
    "PublisherCrashedError": "eew.bus.errors",
    "RejectedMessage": "eew.bus.errors",
    "GateStatistics": "eew.bus.gate",
    "MessageGate": "eew.bus.gate",
    "WatchdogEvent": "eew.bus.watchdog",
    "CurveServer": "eew.bus.publisher",
    "Publisher": "eew.bus.publisher",
    "PublisherStatistics": "eew.bus.publisher",
    "Envelope": "eew.bus.signing",
    "Signer": "eew.bus.signing",
    "Verifier": "eew.bus.signing",
    "CurveClient": "eew.bus.connection",
    "Subscriber": "eew.bus.subscriber",
    "SubscriberStatistics": "eew.bus.subscriber",
    "BusMessage": "eew.bus.wire",
    "Health": "eew.bus.wire",
    "Heartbeat": "eew.bus.wire",
    "Status": "eew.bus.wire",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eew.bus' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BusConfig",
    "BusError",
    "BusMessage",
    "BusSetup",
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
