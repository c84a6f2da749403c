"""Topics and payloads of the alert bus.

A bus message is three ZMQ frames ``[topic, payload, signature]``:

- topic: ``alert.<agency>``, ``pick.<agency>``, ``heartbeat.<agency>`` or
  ``status.<agency>`` (ASCII; subscribers filter by prefix);
- payload: one native JSON object, UTF-8 (``eew.alert/1`` and ``eew.pick/1``
  from :mod:`eew.formats.native`; ``eew.heartbeat/1`` and ``eew.status/1``
  defined here);
- signature: the block of :mod:`eew.bus.signing`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eew.bus.errors import RejectedMessage
from eew.bus.keys import check_agency
from eew.bus.signing import Envelope
from eew.errors import DataError
from eew.formats import native
from eew.formats._common import parse_time
from eew.model.alert import Alert
from eew.model.pick import Pick
from eew.model.timeutil import ns_to_iso

KINDS = ("alert", "pick", "heartbeat", "status")
HEARTBEAT_SCHEMA = "eew.heartbeat/1"
STATUS_SCHEMA = "eew.status/1"
#: payloads above this are malformed (an alert is a few kB) [bytes]
MAX_PAYLOAD_BYTES = 1 << 20


def make_topic(kind: str, agency: str) -> bytes:
    """``kind.agency`` as bytes, e.g. ``b"alert.KZ-AEWS"``."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{kind}.{check_agency(agency)}".encode("ascii")


def parse_topic(topic: bytes) -> tuple[str, str]:
    """Split a topic into ``(kind, agency)``; :class:`RejectedMessage` if invalid."""
    try:
        kind, agency = topic.decode("ascii").split(".", 1)
        check_agency(agency)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RejectedMessage("malformed", f"topic {topic[:64]!r}") from exc
    if kind not in KINDS:
        raise RejectedMessage("malformed", f"topic kind {kind!r}")
    return kind, agency


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


@dataclass(frozen=True, slots=True)
class Health:
    """Daemon health reported in heartbeats (supplied by a callable).

    Attributes
    ----------
    data_latency_s : float
        Median data latency over the live channels [s] (NaN: unknown).
    live_stations : int
        Stations that delivered data recently.
    last_packet_time_ns : int or None
        End time of the newest packet received [ns].
    partner : mapping
        The partner exchange's liveness, counts and clock offset (flat ``key -> number or
        text``; empty without a partner; see ``docs/cross_border.md``).
    """

    data_latency_s: float = math.nan
    live_stations: int = 0
    last_packet_time_ns: int | None = None
    partner: Mapping[str, str | int | float | None] = field(default_factory=dict)


def _partner_in(value: object) -> dict[str, str | int | float | None]:
    """The heartbeat's ``partner`` object: flat, scalar values only."""
    if not isinstance(value, dict):
        raise TypeError("partner must be an object")
    out: dict[str, str | int | float | None] = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (str, int, float, type(None))):
            raise TypeError(f"partner.{k} must be a number, a string or null")
        out[str(k)] = v
    return out


def _partner_out(p: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready: non-finite numbers (an age before the first beat) become null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in p.items()}


def _newest_in(d: object) -> dict[str, int]:
    """A heartbeat's ``newest_seq``: kinds of the bus to non-negative integers."""
    if not isinstance(d, dict):
        raise ValueError("newest_seq must be an object")
    out = {}
    for kind, seq in d.items():
        if kind not in KINDS or isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"newest_seq: bad entry {kind!r}: {seq!r}")
        out[kind] = seq
    return out


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A heartbeat (schema ``eew.heartbeat/1``).

    Attributes
    ----------
    agency : str
        Publishing agency.
    sent_time_ns : int
        Publisher clock when it was made [ns].
    interval_s : float
        The publisher's heartbeat period [s]: subscribers base their
        watchdog on it.
    health : Health
        Daemon health.
    active_alerts : int
        Alerts in the last-value cache.
    picks_dropped : int
        Picks dropped by the handover queue since the start.
    newest_seq : Mapping[str, int]
        Kind (``alert``, ``pick``, ``status``) -> the sequence number of the newest
        message sent on it in this publisher session, for the kinds sent so far. A
        subscriber that has seen less of a stream than this lost the rest (ZMQ
        keeps order on a connection): messages dropped at the end of a burst are
        noticed at the next heartbeat, not at the next message of that kind.
    """

    agency: str
    sent_time_ns: int
    interval_s: float
    health: Health
    active_alerts: int = 0
    picks_dropped: int = 0
    newest_seq: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        last = self.health.last_packet_time_ns
        return {
            "type": "heartbeat",
            "schema": HEARTBEAT_SCHEMA,
            "agency": self.agency,
            "sent_time": ns_to_iso(self.sent_time_ns),
            "interval_s": self.interval_s,
            "data_latency_s": _num(self.health.data_latency_s),
            "live_stations": self.health.live_stations,
            "last_packet_time": None if last is None else ns_to_iso(last),
            "active_alerts": self.active_alerts,
            "picks_dropped": self.picks_dropped,
            "newest_seq": dict(self.newest_seq),
            **({"partner": _partner_out(self.health.partner)} if self.health.partner else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Heartbeat:
        """Inverse of :meth:`to_dict`; :class:`DataError` if malformed."""
        try:
            last = d["last_packet_time"]
            latency = d["data_latency_s"]
            interval_s = float(d["interval_s"])
            if not interval_s > 0:
                raise ValueError("interval_s must be > 0")
            return cls(
                agency=check_agency(str(d["agency"])),
                sent_time_ns=parse_time(d["sent_time"], "heartbeat sent_time"),
                interval_s=interval_s,
                health=Health(
                    data_latency_s=math.nan if latency is None else float(latency),
                    live_stations=int(d["live_stations"]),
                    last_packet_time_ns=None
                    if last is None
                    else parse_time(last, "heartbeat last_packet_time"),
                    partner=_partner_in(d.get("partner", {})),
                ),
                active_alerts=int(d.get("active_alerts", 0)),
                picks_dropped=int(d.get("picks_dropped", 0)),
                newest_seq=_newest_in(d.get("newest_seq", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed heartbeat: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Status:
    """A status message (schema ``eew.status/1``): ``up``, ``down`` or free text.

    Attributes
    ----------
    agency : str
        Publishing agency.
    sent_time_ns : int
        Publisher clock [ns].
    state : str
        Short machine-readable state.
    detail : str
        Human-readable detail.
    """

    agency: str
    sent_time_ns: int
    state: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "type": "status",
            "schema": STATUS_SCHEMA,
            "agency": self.agency,
            "sent_time": ns_to_iso(self.sent_time_ns),
            "state": self.state,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Status:
        """Inverse of :meth:`to_dict`; :class:`DataError` if malformed."""
        try:
            return cls(
                agency=check_agency(str(d["agency"])),
                sent_time_ns=parse_time(d["sent_time"], "status sent_time"),
                state=str(d["state"]),
                detail=str(d.get("detail", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed status: {exc!r}") from exc


Body = Alert | Pick | Heartbeat | Status


@dataclass(frozen=True, slots=True)
class BusMessage:
    """A received message that passed every check.

    Attributes
    ----------
    kind : str
        ``alert``, ``pick``, ``heartbeat`` or ``status``.
    agency : str
        Agency of the topic (equal to the signer and to the payload's agency).
    envelope : Envelope
        Sent time, sequence number and signer.
    body : Alert, Pick, Heartbeat or Status
        The decoded payload.
    payload : bytes
        The payload as received (native JSON, UTF-8).
    """

    kind: str
    agency: str
    envelope: Envelope
    body: Body
    payload: bytes


def encode_payload(body: Body) -> bytes:
    """Native JSON of ``body`` as UTF-8 bytes."""
    if isinstance(body, (Alert, Pick)):
        return native.dumps(body).encode("utf-8")
    return json.dumps(body.to_dict(), ensure_ascii=False, allow_nan=False).encode("utf-8")


def decode_payload(kind: str, agency: str, payload: bytes) -> Body:
    """Decode and check a payload received on topic ``kind.agency``.

    Raises
    ------
    RejectedMessage
        ``malformed``: not UTF-8 JSON, wrong schema for the topic, or the
        payload names another agency than the topic.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise RejectedMessage("malformed", f"payload of {len(payload)} bytes")
    try:
        d = json.loads(payload.decode("utf-8"))
        if not isinstance(d, dict) or d.get("type") != kind:
            raise DataError(f"payload type is not {kind!r}")
        body: Body
        if kind == "alert":
            body = native.alert_from_dict(d)
        elif kind == "pick":
            body = native.pick_from_dict(d)
        elif kind == "heartbeat":
            body = Heartbeat.from_dict(d)
        else:
            body = Status.from_dict(d)
    except (UnicodeDecodeError, json.JSONDecodeError, DataError, RecursionError) as exc:
        raise RejectedMessage("malformed", f"{kind}.{agency}: {exc}") from exc
    if not isinstance(body, Pick) and body.agency != agency:
        raise RejectedMessage("forged", f"{kind}.{agency} carries agency {body.agency!r}")
    return body
