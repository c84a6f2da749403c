"""One incident per earthquake: the version chain shared by onsite and source alerts.

Every alert of the event core goes out through an :class:`IncidentBook`, the publishing
side that keeps each event's chain (event id, version counter, the sent times of the
earlier versions for CAP ``references``) and stamps the alert status (actual, exercise,
test).

An earthquake under the city is first seen by the onsite detector (kind ``onsite``), then
located by the network (kind ``source``). Both are versions of **one** event id:

* an onsite alert opens an incident (version 0, ``new``) unless a source incident of a
  compatible origin is active; then it becomes the next version of that incident: the
  latest source estimate with the observed intensities as lower bounds (kind
  ``onsite``, so that its cause stays visible);
* the first source alert of an event adopts an open onsite incident whose onset is
  compatible with its origin time (the onset ``-onsite_lead_s`` .. ``+adopt_window_s``
  around the origin) and continues its chain with an ``update``;
* the source estimate supersedes the onsite one and never contradicts it: the observed
  intensity at a target is a floor of every later version (where the forecast is lower,
  the floor is shown, marked ``intensity_is_lower_bound``), and so is the onsite magnitude
  lower bound.

An onsite incident that no source alert adopts within ``onsite_final_s`` is closed with
a ``final`` version (:meth:`IncidentBook.expire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eew.model.alert import Alert, TargetForecast
from eew.model.timeutil import NS_PER_S

_KEEP_S = 3600.0


@dataclass
class Incident:
    """The chain of one earthquake's alerts."""

    event_id: str
    #: reference time for matching: the source origin, or the onsite onset
    origin_ns: int
    kind: str
    sent_ns: list[int] = field(default_factory=list)
    last: Alert | None = None
    #: target name -> (intensity MSK, intensity MMI, PGA) observed by the onsite detector
    floors: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    magnitude_floor: float = float("-inf")
    adopted: bool = False
    closed: bool = False

    @property
    def next_version(self) -> int:
        """Version number of the next message."""
        return len(self.sent_ns)


class IncidentBook:
    """Keeps the incidents and stamps every outgoing alert (see the module docstring).

    Parameters
    ----------
    status : str
        ``actual``, ``exercise`` or ``test``, stamped on every alert.
    adopt_window_s : float
        A source origin this long before an onsite onset can adopt it [s].
    onsite_lead_s : float
        ... or this long after it (origin-time uncertainty) [s].
    onsite_final_s : float
        An onsite incident not adopted after this [s] gets a ``final``.
    """

    def __init__(
        self,
        status: str = "actual",
        adopt_window_s: float = 30.0,
        onsite_lead_s: float = 5.0,
        onsite_final_s: float = 60.0,
    ) -> None:
        self.status = status
        self.adopt_window_ns = round(adopt_window_s * NS_PER_S)
        self.onsite_lead_ns = round(onsite_lead_s * NS_PER_S)
        self.onsite_final_ns = round(onsite_final_s * NS_PER_S)
        self.incidents: list[Incident] = []

    # ---- publishing ---------------------------------------------------------------------
    def _publish(self, inc: Incident, alert: Alert) -> Alert:
        """Give ``alert`` the incident's id, version, history, floors and status."""
        version = inc.next_version
        out = _with_floors(alert, inc).with_(
            event_id=inc.event_id,
            version=version,
            message_type=alert.message_type
            if version == 0 or alert.message_type in ("final", "delete")
            else "update",
            status=self.status,
            previous_sent_ns=tuple(inc.sent_ns),
        )
        inc.sent_ns.append(out.sent_time_ns)
        inc.last = out
        if out.message_type in ("final", "delete"):
            inc.closed = True
        return out

    def _prune(self, now: int) -> None:
        keep = round(_KEEP_S * NS_PER_S)
        self.incidents = [
            i for i in self.incidents if not (i.closed and now - i.sent_ns[-1] > keep)
        ]

    # ---- source alerts ------------------------------------------------------------------
    def open_source(self, event_id: str, origin_ns: int) -> Incident:
        """The incident of a source event's first alert: an adopted onsite one, or a new one."""
        for inc in self.incidents:
            if (
                inc.kind == "onsite"
                and not inc.adopted
                and not inc.closed
                and origin_ns - self.onsite_lead_ns <= inc.origin_ns
                and inc.origin_ns - origin_ns <= self.adopt_window_ns
            ):
                inc.adopted = True
                inc.kind = "source"
                inc.origin_ns = origin_ns
                return inc
        inc = Incident(event_id, origin_ns, "source")
        self.incidents.append(inc)
        return inc

    def publish(self, inc: Incident, alert: Alert) -> Alert:
        """Stamp and record one alert of ``inc``."""
        self._prune(alert.sent_time_ns)
        return self._publish(inc, alert)

    # ---- onsite alerts ------------------------------------------------------------------
    def onsite(self, alert: Alert, onset_ns: int) -> Alert:
        """Publish an onsite alert: a version of an active source incident, or a new one."""
        self._prune(alert.sent_time_ns)
        floors = {t.name: (t.intensity_msk, t.intensity_mmi, t.pga_cm_s2) for t in alert.targets}
        for inc in self.incidents:
            if (
                inc.kind == "source"
                and not inc.closed
                and inc.last is not None
                and inc.origin_ns - self.onsite_lead_ns <= onset_ns
                and onset_ns - inc.origin_ns <= self.adopt_window_ns
            ):
                _merge_floors(inc, floors, alert)
                merged = inc.last.with_(
                    sent_time_ns=alert.sent_time_ns,
                    kind="onsite",
                    message_type="update",
                    stations=tuple(sorted(set(inc.last.stations) | set(alert.stations))),
                    targets=tuple(t.with_warning(alert.sent_time_ns) for t in inc.last.targets),
                )
                return self._publish(inc, merged)
        inc = Incident(alert.event_id, onset_ns, "onsite")
        _merge_floors(inc, floors, alert)
        self.incidents.append(inc)
        return self._publish(inc, alert)

    def expire(self, now: int) -> list[Alert]:
        """``final`` versions of the onsite incidents that no source alert adopted in time."""
        out = []
        for inc in self.incidents:
            if (
                inc.kind == "onsite"
                and not inc.closed
                and inc.last is not None
                and now - inc.sent_ns[-1] >= self.onsite_final_ns
            ):
                final = inc.last.with_(message_type="final", sent_time_ns=now)
                out.append(self._publish(inc, final.with_(targets=_rewarn(final, now))))
        return out


def _rewarn(alert: Alert, now: int) -> tuple[TargetForecast, ...]:
    return tuple(t.with_warning(now) for t in alert.targets)


def _merge_floors(
    inc: Incident, floors: dict[str, tuple[float, float, float]], alert: Alert
) -> None:
    for name, (msk, mmi, pga) in floors.items():
        old = inc.floors.get(name)
        inc.floors[name] = (
            (max(old[0], msk), max(old[1], mmi), max(old[2], pga)) if old else (msk, mmi, pga)
        )
    if alert.magnitude_is_lower_bound:
        inc.magnitude_floor = max(inc.magnitude_floor, alert.magnitude)


def _with_floors(alert: Alert, inc: Incident) -> Alert:
    """``alert`` with the incident's observed floors applied (never below what was seen)."""
    if not inc.floors and alert.magnitude >= inc.magnitude_floor:
        return alert
    targets = []
    for t in alert.targets:
        floor = inc.floors.get(t.name)
        if floor is None or not floor[0] > t.intensity_msk:
            targets.append(t)
            continue
        targets.append(
            t.with_(
                intensity_msk=floor[0],
                intensity_mmi=max(floor[1], t.intensity_mmi),
                pga_cm_s2=max(floor[2], t.pga_cm_s2),
                intensity_is_lower_bound=True,
            )
        )
    if alert.magnitude < inc.magnitude_floor:
        return alert.with_(
            targets=tuple(targets), magnitude=inc.magnitude_floor, magnitude_is_lower_bound=True
        )
    return alert.with_(targets=tuple(targets))
