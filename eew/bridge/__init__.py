"""Bridges from the alert bus to the brokers and feeds that agencies run.

Implementation overview (see ``docs/bridges.md``):

- :mod:`~eew.bridge.core`: the loop shared by every bridge (:func:`run_bridge`): a bus
  :class:`~eew.bus.subscriber.Subscriber` in, one :class:`Sink` out, heartbeats on a
  schedule; :class:`TlsOptions`, :class:`Backoff`, :class:`Outbox`;
- :mod:`~eew.bridge.stomp`: ShakeAlert-style XML on ActiveMQ topics over STOMP
  (stomp.py), with ``<hb>`` heartbeats;
- :mod:`~eew.bridge.mqtt`: native ``eew.alert/1`` JSON over MQTT (paho-mqtt), QoS 1,
  the newest alert of each event retained;
- :mod:`~eew.bridge.capfeed`: the CAP message chain of each event and its Atom index;
  :mod:`~eew.bridge.http`: the HTTP(S) server that serves them.

The bridges never touch ZeroMQ: they read the bus through its subscriber API
(:mod:`eew.bus`), which verifies, de-duplicates and reconnects. They pass on
what the alert carries (the drill ``status`` included) unchanged: MQTT forwards
the verified bus payload byte for byte, ShakeAlert and CAP are written by
:mod:`eew.formats` from the alert. The broker clients (stomp.py, paho-mqtt) are
the optional ``bridges`` extra, imported only by the module of the bridge that needs them.
"""
