"""Merge policy: which partner alerts our subscribers see (pure logic, no sockets).

Policy "ours first, the partner's fills the gap" (``docs/cross_border.md``):

* our own alerts are always published;
* a partner alert whose event matches one of our active events (:class:`SameEvent`: within
  ``merge_origin_s`` and ``merge_distance_km``, or statistically compatible given both
  solutions' uncertainties and magnitudes, never beyond ``merge_max_distance_km``; the
  ``merge_*`` keys of ``[partner]``) is **merged**: not re-published, only
  linked (``related(partner_event_id)`` -> our event id, logged);
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
from eew.partner.config import PartnerConfig

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


def chi2_3_quantile(p: float) -> float:
    """The ``p`` quantile of the chi-square distribution with 3 degrees of freedom.

    Its CDF is ``erf(sqrt(x/2)) - sqrt(2x/pi) exp(-x/2)``; inverted by bisection (no SciPy).
    E.g. 0.99 -> 11.34, 0.999 -> 16.27.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability {p!r} outside (0, 1)")
    lo, hi = 0.0, 200.0
    for _ in range(100):
        x = 0.5 * (lo + hi)
        cdf = math.erf(math.sqrt(x / 2)) - math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
        lo, hi = (x, hi) if cdf < p else (lo, x)
    return 0.5 * (lo + hi)


def rupture_length_km(magnitude: float) -> float:
    """Subsurface rupture length [km], all slip types (Wells & Coppersmith 1994, Table 2A).

    ``log10 L = -2.44 + 0.59 M``; 0 for an unknown magnitude.
    """
    return 10.0 ** (-2.44 + 0.59 * magnitude) if math.isfinite(magnitude) else 0.0


@dataclass(frozen=True, slots=True)
class SameEvent:
    """Whether two solutions (ours and the partner's) describe the same earthquake.

    Two independent estimates of one hypocentre differ by a Gaussian error whose
    covariance is the sum of theirs: the test of track-to-track association (Bar-Shalom
    1981, IEEE Trans. Autom. Control 26(2), 571-572) with a chi-square gate. Here, with
    the solutions' 1-sigma uncertainties (``horizontal_sigma_km`` read as the radial RMS
    of the epicentre, so ``h**2 / 2`` per axis; ``origin_time_sigma_s``)::

        V_xy = (h_a**2 + h_b**2) / 2 + model_km**2 + (L(M) / 4)**2        [km**2 per axis]
        V_t  = t_a**2 + t_b**2 + model_s**2                              [s**2]
        D**2 = d**2 / V_xy + dt**2 / V_t      ~ chi-square, 3 degrees of freedom

    ``model_km``/``model_s`` stand for the two networks' different velocity models and
    pickers (errors the solutions' own sigmas do not include); ``L(M)`` is the rupture
    length of the larger magnitude (:func:`rupture_length_km`): the two centres may see
    different parts of a long rupture, so epicentres of a large event legitimately
    differ by up to about ``L/2``. An unknown sigma counts as ``unknown_sigma_km`` (radial)
    or ``unknown_sigma_s``.

    Two solutions are the same event if they are within the fixed tolerances (the
    earlier rule, kept as a floor: ``|dt| <= origin_s`` and ``d <= distance_km``) or if
    ``D**2`` is within the ``confidence`` quantile, and in any case never beyond
    ``max_distance_km`` (a solution with huge sigmas does not swallow every event).

    Attributes
    ----------
    origin_s, distance_km : float
        Always the same event within these [s], [km].
    confidence : float
        Gate probability (chi-square, 3 degrees of freedom).
    model_sigma_km, model_sigma_s : float
        Model error added per axis [km] and to the origin time [s].
    max_distance_km : float
        Never the same event beyond this [km].
    unknown_sigma_km, unknown_sigma_s : float
        Uncertainty of a solution that has none: epicentre (radial) [km], origin time [s].

    The ``[partner]`` keys ``merge_*`` set every attribute (:meth:`from_config`).
    """

    origin_s: float = 5.0
    distance_km: float = 30.0
    confidence: float = 0.999
    model_sigma_km: float = 5.0
    model_sigma_s: float = 1.0
    max_distance_km: float = 150.0
    unknown_sigma_km: float = 30.0
    unknown_sigma_s: float = 5.0

    @classmethod
    def from_config(cls, cfg: PartnerConfig) -> SameEvent:
        """The test with the ``merge_*`` keys of a ``[partner]`` section."""
        return cls(
            origin_s=cfg.merge_origin_s,
            distance_km=cfg.merge_distance_km,
            confidence=cfg.merge_confidence,
            model_sigma_km=cfg.merge_model_sigma_km,
            model_sigma_s=cfg.merge_model_sigma_s,
            max_distance_km=cfg.merge_max_distance_km,
            unknown_sigma_km=cfg.merge_unknown_sigma_km,
            unknown_sigma_s=cfg.merge_unknown_sigma_s,
        )

    def distance2(self, a: Alert, b: Alert) -> float:
        """The statistical distance ``D**2`` (inf if either solution has no epicentre)."""
        if not (_located(a) and _located(b)):
            return math.inf
        km = float(distances_km(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
        dt = abs(a.origin_time_ns - b.origin_time_ns) / NS_PER_S

        def known(v: float, default: float) -> float:
            return v if math.isfinite(v) else default

        h2 = known(a.horizontal_sigma_km, self.unknown_sigma_km) ** 2
        h2 += known(b.horizontal_sigma_km, self.unknown_sigma_km) ** 2
        mag = max(known(a.magnitude, -math.inf), known(b.magnitude, -math.inf))
        v_xy = h2 / 2 + self.model_sigma_km**2 + (rupture_length_km(mag) / 4) ** 2
        v_t = known(a.origin_time_sigma_s, self.unknown_sigma_s) ** 2
        v_t += known(b.origin_time_sigma_s, self.unknown_sigma_s) ** 2 + self.model_sigma_s**2
        return km**2 / v_xy + dt**2 / v_t

    def __call__(self, a: Alert, b: Alert) -> float | None:
        """``D**2`` if ``a`` and ``b`` are the same event, else None."""
        d2 = self.distance2(a, b)
        if not math.isfinite(d2):
            return None
        km = float(distances_km(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
        if km > self.max_distance_km:
            return None
        if abs(a.origin_time_ns - b.origin_time_ns) <= self.origin_s * NS_PER_S and (
            km <= self.distance_km
        ):
            return d2
        return d2 if d2 <= chi2_3_quantile(self.confidence) else None


class AlertMerger:
    """Decide, per alert, between relaying, merging and closing (see the module docstring).

    Parameters
    ----------
    own_agency, partner_agency : str
        Agency codes.
    merge_origin_s : float
        Origin-time difference always accepted as one event [s].
    merge_distance_km : float
        Epicentral distance always accepted as one event [km].
    memory : int
        Partner event ids remembered (links, relayed state).
    rule : SameEvent, optional
        The full same-event test; by default :class:`SameEvent` with the two tolerances
        above and its own defaults otherwise.
    """

    def __init__(
        self,
        own_agency: str,
        partner_agency: str,
        merge_origin_s: float,
        merge_distance_km: float,
        memory: int = 100_000,
        rule: SameEvent | None = None,
    ) -> None:
        self.own_agency = own_agency
        self.partner_agency = partner_agency
        self.rule = rule or SameEvent(origin_s=merge_origin_s, distance_km=merge_distance_km)
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
        """Whether two estimates describe the same earthquake (:class:`SameEvent`)."""
        return self.rule(a, b) is not None

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
        closing: list[tuple[Alert, str]] = []
        for pid, last in list(self._relayed.items()):
            if self.same_event(last, alert):
                own_id = self._match(last) or alert.event_id  # the closest of ours
                closing.append((self._close(pid, last, own_id, now_ns, last.version + 1), own_id))
        if not closing:
            return MergeDecision("ignored")
        self._counts["closed"] += len(closing)
        for c, own_id in closing:
            log.info(
                "partner alert closed",
                extra={"kv": {"event_id": c.event_id, "related_event_id": own_id}},
            )
        return MergeDecision("closed", tuple(c for c, _ in closing), alert.event_id)

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
        """Our active event statistically closest to ``alert`` that is the same one, or None."""
        best: tuple[float, str] | None = None
        for eid, own in self._own.items():
            d2 = self.rule(own, alert)
            if d2 is not None and (best is None or d2 < best[0]):
                best = (d2, eid)
        return None if best is None else best[1]

    def _close(self, pid: str, last: Alert, own_id: str, now_ns: int, version: int) -> Alert:
        del self._relayed[pid]
        self._link(pid, own_id)
        return last.with_(version=version, message_type="final", sent_time_ns=now_ns)

    def _link(self, pid: str, own_id: str) -> None:
        self._links[pid] = own_id
        while len(self._links) > self._memory:
            self._links.popitem(last=False)
