"""Merge policy: which partner alerts our subscribers see (pure logic, no sockets).

Policy "ours first, the partner's fills the gap" (``docs/cross_border.md``):

* our own alerts are always published;
* a partner alert whose event matches one of our active events (origin times within
  ``merge_origin_s`` and epicentres within ``merge_distance_km``) is **merged**: not
  re-published, only linked (``related(partner_event_id)`` -> our event id, logged);
* a partner alert with no matching event of ours is **relayed** (re-published with the
  partner's agency code), and so are its later versions;
* when a relayed partner event comes to match one of ours (our alert appears, or either
  estimate moves), the relay **closes** it: one last version of the partner's newest
  estimate with ``message_type = "final"`` (never ``delete``: a cancellation would tell a
  siren controller that the shaking is off). From then on the partner event stays linked
  and only our event is visible;
* a partner ``delete`` is relayed only for an event we relayed; a partner event we never
  showed needs no cancellation.

Every decision is returned as a :class:`MergeDecision`; the caller publishes its
``relay`` alerts. Everything runs in one thread (the daemon's event loop).
"""

from __future__ import annotations

import logging
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass

from eew.model.alert import Alert
from eew.model.geo import distances_km
from eew.model.timeutil import NS_PER_S

log = logging.getLogger("eew.partner.merge")

_END = ("final", "delete")
ACTIONS = ("relayed", "merged", "closed", "ignored")


class IdMemory:
    """A bounded set of ids, oldest forgotten first (loop prevention, duplicates).

    Parameters
    ----------
    size : int
        How many ids are remembered.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, ident: str) -> None:
        """Remember ``ident`` (refreshes its age)."""
        self._ids[ident] = None
        self._ids.move_to_end(ident)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def __contains__(self, ident: object) -> bool:
        return ident in self._ids

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class MergeDecision:
    """What to do with one alert.

    Attributes
    ----------
    action : str
        ``relayed``, ``merged``, ``closed`` (a relayed partner event now linked to ours)
        or ``ignored`` (duplicate, foreign agency, cancellation of an event never shown).
    relay : tuple of Alert
        Partner alerts to publish on our bus (tagged with the partner's agency).
    related_event_id : str
        Our event the partner event is linked to ("" if none).
    """

    action: str
    relay: tuple[Alert, ...] = ()
    related_event_id: str = ""


@dataclass(frozen=True, slots=True)
class MergeStatistics:
    """Counts of the merge decisions, one per :data:`ACTIONS` entry."""

    relayed: int
    merged: int
    closed: int
    ignored: int


def _located(a: Alert) -> bool:
    return math.isfinite(a.latitude_deg) and math.isfinite(a.longitude_deg)


class AlertMerger:
    """Decide, per alert, between relaying, merging and closing (see the module docstring).

    Parameters
    ----------
    own_agency, partner_agency : str
        Agency codes.
    merge_origin_s : float
        Largest origin-time difference of one event [s].
    merge_distance_km : float
        Largest epicentral distance between the two estimates of one event [km].
    memory : int
        Partner event ids remembered (links, relayed state).
    """

    def __init__(
        self,
        own_agency: str,
        partner_agency: str,
        merge_origin_s: float,
        merge_distance_km: float,
        memory: int = 100_000,
    ) -> None:
        self.own_agency = own_agency
        self.partner_agency = partner_agency
        self._dt_ns = merge_origin_s * NS_PER_S
        self._km = merge_distance_km
        self._memory = memory
        self._own: dict[str, Alert] = {}  # our active events: newest alert
        self._relayed: dict[str, Alert] = {}  # partner events shown on our bus: newest relayed
        self._links: OrderedDict[str, str] = OrderedDict()  # partner event id -> ours
        self._seen = IdMemory(memory)  # partner "event_id/version" already decided
        self._counts: Counter[str] = Counter()

    # ---- queries ----------------------------------------------------------------------------
    def related(self, partner_event_id: str) -> str | None:
        """Our event id a partner event was merged into, or None."""
        return self._links.get(partner_event_id)

    def statistics(self) -> MergeStatistics:
        """Counts of the decisions."""
        c = self._counts
        return MergeStatistics(c["relayed"], c["merged"], c["closed"], c["ignored"])

    def same_event(self, a: Alert, b: Alert) -> bool:
        """Whether two estimates describe the same earthquake (origin and epicentre)."""
        if not (_located(a) and _located(b)):
            return False
        if abs(a.origin_time_ns - b.origin_time_ns) > self._dt_ns:
            return False
        km = float(distances_km(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
        return km <= self._km

    # ---- decisions --------------------------------------------------------------------------
    def own_alert(self, alert: Alert, now_ns: int) -> MergeDecision:
        """Track one of our alerts; close the relayed partner events it matches.

        Parameters
        ----------
        alert : Alert
            An alert our event core published.
        now_ns : int
            Current time (sent time of a closing version) [ns].
        """
        if alert.agency != self.own_agency:
            return MergeDecision("ignored")
        if alert.message_type in _END:
            self._own.pop(alert.event_id, None)
            return MergeDecision("ignored")
        self._own[alert.event_id] = alert
        closing = []
        for pid, last in list(self._relayed.items()):
            if self.same_event(last, alert):
                closing.append(self._close(pid, last, alert.event_id, now_ns, last.version + 1))
        if not closing:
            return MergeDecision("ignored")
        self._counts["closed"] += len(closing)
        for c in closing:
            log.info(
                "partner alert closed",
                extra={"kv": {"event_id": c.event_id, "related_event_id": alert.event_id}},
            )
        return MergeDecision("closed", tuple(closing), alert.event_id)

    def partner_alert(self, alert: Alert, now_ns: int) -> MergeDecision:
        """Decide what our subscribers see of one partner alert.

        Parameters
        ----------
        alert : Alert
            A verified alert of the partner.
        now_ns : int
            Current time [ns] (unused for relayed versions: they keep the partner's).
        """
        decision = self._decide(alert, now_ns)
        self._counts[decision.action] += 1
        if decision.action != "ignored":
            log.info(
                "partner alert %s",
                decision.action,
                extra={
                    "kv": {
                        "agency": alert.agency,
                        "event_id": alert.event_id,
                        "version": alert.version,
                        "related_event_id": decision.related_event_id or "-",
                    }
                },
            )
        return decision

    def _decide(self, alert: Alert, now_ns: int) -> MergeDecision:
        key = f"{alert.event_id}/{alert.version}"
        if alert.agency != self.partner_agency or key in self._seen:
            return MergeDecision("ignored")
        self._seen.add(key)
        pid = alert.event_id
        linked = self._links.get(pid)
        if linked is not None:
            return MergeDecision("merged", (), linked)
        match = self._match(alert)
        if pid in self._relayed:
            if match is not None and alert.message_type != "delete":
                return MergeDecision(
                    "closed", (self._close(pid, alert, match, now_ns, alert.version),), match
                )
            if alert.message_type in _END:
                del self._relayed[pid]
            else:
                self._relayed[pid] = alert
            return MergeDecision("relayed", (alert,), match or "")
        if match is not None:
            self._link(pid, match)
            return MergeDecision("merged", (), match)
        if alert.message_type in _END:
            return MergeDecision("ignored")  # never shown: nothing to end
        self._relayed[pid] = alert
        while len(self._relayed) > self._memory:
            self._relayed.pop(next(iter(self._relayed)))
        return MergeDecision("relayed", (alert,))

    def _match(self, alert: Alert) -> str | None:
        """Our active event closest in origin time that is the same earthquake, or None."""
        best: tuple[int, str] | None = None
        for eid, own in self._own.items():
            if self.same_event(own, alert):
                dt = abs(own.origin_time_ns - alert.origin_time_ns)
                if best is None or dt < best[0]:
                    best = (dt, eid)
        return None if best is None else best[1]

    def _close(self, pid: str, last: Alert, own_id: str, now_ns: int, version: int) -> Alert:
        del self._relayed[pid]
        self._link(pid, own_id)
        return last.with_(version=version, message_type="final", sent_time_ns=now_ns)

    def _link(self, pid: str, own_id: str) -> None:
        self._links[pid] = own_id
        while len(self._links) > self._memory:
            self._links.popitem(last=False)
