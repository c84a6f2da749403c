"""Outgoing side of the exchange: relaying partner alerts to our subscribers, exporting ours.

:class:`RelayPublisher` is our ordinary bus publisher that may also carry the alerts of
the listed partner agencies. They go out on our ``alert.<ours>`` topic, signed with our
key, with the partner's code in the payload's ``agency`` field; subscribers accept them
only if their trusted-keys directory grants us that relay (``relays.toml``, see
:meth:`eew.bus.Verifier.from_dir`).

:class:`Exporter` feeds a second publisher of ours, the one the partner subscribes to,
with **our own** picks and alerts only: a value whose agency is not ours, a pick of a
partner station or a pick id we imported is never sent back (loop prevention), counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from eew.bus import Publisher
from eew.bus.keys import check_agency
from eew.model.alert import Alert
from eew.model.pick import Pick
from eew.partner.merge import IdMemory


class AlertSink(Protocol):
    """Where relayed partner alerts go (our bus publisher)."""

    def publish_alert(self, alert: Alert) -> None:
        """Queue an alert (never dropped)."""
        ...


class ValuePublisher(AlertSink, Protocol):
    """What :class:`Exporter` sends through: alerts and picks."""

    def publish_pick(self, pick: Pick) -> bool:
        """Queue a pick; False if an older one was dropped."""
        ...


class ExportPublisher(ValuePublisher, Protocol):
    """The export publisher as the exchange runs it (:class:`RelayPublisher` or a double)."""

    def start(self, timeout_s: float = 10.0) -> str:
        """Start; return the endpoint."""
        ...

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued, stop."""
        ...

    def check(self) -> None:
        """Raise if the publisher has died."""
        ...


@dataclass(frozen=True, slots=True)
class ExportStatistics:
    """Counters of an :class:`Exporter`.

    Attributes
    ----------
    picks, alerts : int
        Our picks and alerts exported.
    loop_blocked : int
        Values not sent back to the partner (theirs, or relayed by us).
    """

    picks: int
    alerts: int
    loop_blocked: int


class RelayPublisher(Publisher):
    """A :class:`eew.bus.Publisher` that may also carry the alerts of partner agencies.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`eew.bus.Publisher`.
    relay_agencies : collection of str
        Agencies whose alerts may be published (besides our own); see
        :meth:`eew.bus.Publisher.allow_relay`.
    """

    def __init__(self, *args: Any, relay_agencies: Collection[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_relay([check_agency(a) for a in relay_agencies])


class Exporter:
    """Send our own picks and alerts to the partner (an observer of the daemon's outputs).

    Parameters
    ----------
    publisher : ValuePublisher
        The export publisher (its own endpoint; only the partner's CURVE key allowed).
    own_agency : str
        Our agency code.
    partner_stations : collection of str
        ``NET.STA`` codes of the partner's stations (never exported).
    imported : IdMemory
        Pick ids received from the partner (never exported).
    picks, alerts : bool
        What to export.
    """

    def __init__(
        self,
        publisher: ValuePublisher,
        own_agency: str,
        partner_stations: Collection[str],
        imported: IdMemory,
        *,
        picks: bool,
        alerts: bool,
    ) -> None:
        self.publisher = publisher
        self.own_agency = own_agency
        self._partner_stations = frozenset(partner_stations)
        self._imported = imported
        self._picks = picks
        self._alerts = alerts
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, value: object) -> None:
        """Export ``value`` if it is ours and of an exported kind; otherwise count it."""
        if isinstance(value, Pick) and self._picks:
            station = value.channel_id.rsplit(".", 2)[0]
            if station in self._partner_stations or value.pick_id in self._imported:
                self._count("loop_blocked")
                return
            self.publisher.publish_pick(value)
            self._count("picks")
        elif isinstance(value, Alert) and self._alerts:
            if value.agency != self.own_agency:
                self._count("loop_blocked")
                return
            self.publisher.publish_alert(value)
            self._count("alerts")

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def statistics(self) -> ExportStatistics:
        """Counts of what was exported and what was not sent back."""
        with self._lock:
            c = self._counts
            return ExportStatistics(c["picks"], c["alerts"], c["loop_blocked"])
