"""The scorecard: a replay's alerts and events against the scenario truth.

Matching
--------
A source alert (all messages of one ``event_id``) *matches* a true event when one of
its messages puts the epicentre within :data:`MATCH_KM` and the origin time within
:data:`MATCH_S` of it; each alert is assigned to the true event most of its messages
match. An alert that matches no true event is a *false alert*. Onsite alerts are scored
apart: one is expected when it follows the first true P arrival at a city station by at
most :data:`ONSITE_MATCH_S`, otherwise it is a false onsite alert.

Times
-----
``sent_time`` under replay is the end of the packet that completed a message (the data
clock), so every latency here is what a live system with zero telemetry delay would
achieve with the same packets. "P4" is the true P arrival at the fourth station (of
those that delivered data); the magnitude "once 3 s of P are in" is scored from P4 + 3 s.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from eew.config import OnsiteConfig
from eew.evaluate.run import ReplayRun
from eew.evaluate.seen import p_travel_times_s, seen_magnitude
from eew.evaluate.truth import TrueEvent, Truth, travel_time_s
from eew.event.lifecycle import EventState
from eew.event.locate import TravelTimeStack
from eew.model.alert import Alert
from eew.model.geo import distances_km
from eew.model.timeutil import NS_PER_S

MATCH_KM = 50.0
MATCH_S = 20.0
ONSITE_MATCH_S = 10.0
ALERT_MIN_MAGNITUDE = 4.5
LARGE_MAGNITUDE = 7.0
LARGE_THRESHOLD = 6.5
#: magnitude checkpoints [s after origin]
MAGNITUDE_CHECK_S = (5.0, 10.0, 15.0)
#: the magnitude is checked against the true one this long after the rupture ends [s]
RUPTURE_END_CHECK_S = 5.0
#: a forecast intensity is right when within this of the observed one [MSK units]
INTENSITY_TOLERANCE = 1.0


@dataclass
class TargetScore:
    """Warning time at one target for the first alert of an event."""

    name: str
    distance_km: float
    true_s_after_origin_s: float
    true_warning_s: float
    predicted_warning_s: float
    s_arrival_error_s: float
    predicted_msk: float
    predicted_pga_cm_s2: float
    #: MSK-64 intensity of the simulated ground motion at the target (truth)
    observed_msk: float = math.nan
    #: forecast MSK of the final estimate
    final_predicted_msk: float = math.nan


@dataclass
class MagnitudeCheck:
    """The event's magnitude estimate at a fixed time after origin.

    ``estimate`` is the latest event estimate (alerted or not) sent by then (NaN: none
    yet); ``released`` is the Mw of the moment the rupture had released by then (the
    truth's moment-release series; the final magnitude for a point source);
    ``seen_by_one`` and ``seen_by_four`` are the Mw of the part of it whose P waves had
    reached at least one and four stations with data (:mod:`eew.evaluate.seen`: the
    most a causal magnitude can measure; NaN without the truth's sub-events or before any
    moment reached that many stations).
    """

    after_origin_s: float
    estimate: float
    true_magnitude: float
    released: float
    error: float
    error_released: float
    seen_by_one: float = math.nan
    seen_by_four: float = math.nan


@dataclass
class EventScore:
    """How one true event was handled."""

    id: str
    magnitude: float
    depth_km: float
    latitude_deg: float
    longitude_deg: float
    inside_network: bool
    near_network: bool
    alertable: bool
    detected: bool = False
    alert_ids: list[str] = field(default_factory=list)
    p4_after_origin_s: float = math.nan
    first_alert_after_origin_s: float = math.nan
    first_alert_after_p4_s: float = math.nan
    first_alert_epicentral_error_km: float = math.nan
    first_alert_depth_error_km: float = math.nan
    first_alert_origin_error_s: float = math.nan
    first_alert_magnitude: float = math.nan
    first_alert_stations: int = 0
    median_epicentral_error_km: float = math.nan
    max_epicentral_error_km: float = math.nan
    final_epicentral_error_km: float = math.nan
    final_depth_error_km: float = math.nan
    final_magnitude: float = math.nan
    magnitude_at_p4_3s: float = math.nan
    max_magnitude_error_after_p4_3s: float = math.nan
    magnitude_over_6_5_after_origin_s: float = math.nan
    city_first_p_after_origin_s: float = math.nan
    city_first_p_packet_end_after_origin_s: float = math.nan
    onsite_after_first_p_s: float = math.nan
    onsite_after_first_p_data_s: float = math.nan
    targets: list[TargetScore] = field(default_factory=list)
    magnitude_checks: list[MagnitudeCheck] = field(default_factory=list)
    #: the magnitude :data:`RUPTURE_END_CHECK_S` after the rupture ended (the truth's moment
    #: release reaches its final value) against the true magnitude; None for a point source
    rupture_end_check: MagnitudeCheck | None = None
    #: targets with an observed and a forecast intensity; fraction of them within
    #: :data:`INTENSITY_TOLERANCE` for the first and the final estimate
    intensity_targets: int = 0
    intensity_within_1_first: float = math.nan
    intensity_within_1_final: float = math.nan
    #: (seconds after origin, epicentral error km, depth error km, magnitude, lower bound,
    #: stations, alerted) of every event estimate
    series: list[tuple[float, float, float, float, bool, int, bool]] = field(default_factory=list)


@dataclass
class ScenarioScore:
    """The scorecard of one scenario."""

    scenario: str
    description: str
    packet_s: float
    events: list[EventScore]
    source_alerts: int
    false_alerts: list[str]
    duplicate_alerts: int
    events_found: int
    events_declared: int
    onsite_alerts: int
    false_onsite_alerts: int
    picks: int
    #: a public alert (source or onsite) was expected: some true event is alertable
    public_alert_expected: bool = False
    #: a public alert (source or onsite) was sent
    public_alert_sent: bool = False

    @property
    def public_alert_right(self) -> bool:
        """The public-alert decision agrees with the truth."""
        return self.public_alert_expected == self.public_alert_sent

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        d: dict[str, Any] = _clean(asdict(self))
        d["public_alert_right"] = self.public_alert_right
        return d


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 4)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _km(lat: float, lon: float, ev: TrueEvent) -> float:
    return float(
        distances_km(lat, lon, np.array([ev.latitude_deg]), np.array([ev.longitude_deg]))[0]
    )


def _matches(a: Alert, ev: TrueEvent) -> bool:
    return (
        _km(a.latitude_deg, a.longitude_deg, ev) <= MATCH_KM
        and abs(a.origin_time_ns - ev.origin_ns) <= MATCH_S * NS_PER_S
    )


def assign_alerts(alerts: list[Alert], events: tuple[TrueEvent, ...]) -> dict[str, int | None]:
    """Source alert id -> index of the true event it belongs to (``None``: false alert)."""
    by_id: dict[str, list[Alert]] = {}
    for a in alerts:
        if a.kind == "source":
            by_id.setdefault(a.event_id, []).append(a)
    out: dict[str, int | None] = {}
    for eid, msgs in by_id.items():
        best: tuple[int, float, int] | None = None
        for i, ev in enumerate(events):
            hits = [m for m in msgs if _matches(m, ev)]
            if not hits:
                continue
            mean_km = float(np.mean([_km(m.latitude_deg, m.longitude_deg, ev) for m in hits]))
            key = (-len(hits), mean_km, i)
            if best is None or key < best:
                best = key
        out[eid] = None if best is None else best[2]
    return out


def score_scenario(
    truth: Truth,
    run: ReplayRun,
    onsite_cfg: OnsiteConfig,
    stack: TravelTimeStack,
    packet_s: float,
) -> ScenarioScore:
    """Compute the scorecard of one replayed scenario.

    Parameters
    ----------
    truth : Truth
        The scenario's truth.
    run : ReplayRun
        The replay's picks, events and alerts.
    onsite_cfg : OnsiteConfig
        Section ``[onsite]`` of the replay's configuration (city definition for onsite
        scoring).
    stack : TravelTimeStack
        Travel-time tables for the true S arrival at the targets.
    packet_s : float
        Packet length of the replay [s] (recorded on the scorecard).
    """
    assignment = assign_alerts(run.alerts, truth.events)
    source = [a for a in run.alerts if a.kind == "source"]
    onsite = sorted((a for a in run.alerts if a.kind == "onsite"), key=lambda a: a.sent_time_ns)
    with_data = set(run.packet_ends_ns)
    city = _city_stations(truth, onsite_cfg)
    scores = []
    onsite_expected: set[int] = set()
    for i, ev in enumerate(truth.events):
        ids = sorted(eid for eid, k in assignment.items() if k == i)
        msgs = sorted((a for a in source if a.event_id in ids), key=lambda a: a.sent_time_ns)
        es = _event_score(truth, ev, ids, msgs, run, with_data, stack)
        onsite_expected |= _score_onsite(es, ev, city, run, onsite)
        scores.append(es)
    found = sum(1 for s in scores if s.detected)
    return ScenarioScore(
        scenario=truth.scenario,
        description=truth.description,
        packet_s=packet_s,
        events=scores,
        source_alerts=len(assignment),
        false_alerts=sorted(eid for eid, k in assignment.items() if k is None),
        duplicate_alerts=sum(max(len(s.alert_ids) - 1, 0) for s in scores),
        events_found=found,
        events_declared=len({e.event_id for e in run.events}),
        onsite_alerts=len(onsite),
        false_onsite_alerts=len(onsite) - len(onsite_expected),
        picks=len({p.pick_id for p in run.picks}),
        public_alert_expected=any(s.alertable for s in scores),
        public_alert_sent=bool(run.alerts),
    )


def _event_score(
    truth: Truth,
    ev: TrueEvent,
    ids: list[str],
    msgs: list[Alert],
    run: ReplayRun,
    with_data: set[str],
    stack: TravelTimeStack,
) -> EventScore:
    near = truth.near_network(ev)
    s = EventScore(
        id=ev.id,
        magnitude=ev.magnitude,
        depth_km=ev.depth_km,
        latitude_deg=ev.latitude_deg,
        longitude_deg=ev.longitude_deg,
        inside_network=truth.inside_network(ev.latitude_deg, ev.longitude_deg),
        near_network=near,
        alertable=(
            near and ev.magnitude >= ALERT_MIN_MAGNITUDE
            if ev.expect_public_alert is None
            else ev.expect_public_alert
        ),
        alert_ids=ids,
    )
    p4 = ev.p_nth_ns(4, with_data)
    if p4 is not None:
        s.p4_after_origin_s = (p4 - ev.origin_ns) / NS_PER_S
    states = _estimates(ev, ids, run)
    p_times = None
    if ev.source is not None:
        p_times = p_travel_times_s(
            ev.source, {k: v for k, v in truth.stations.items() if k in with_data}, stack
        )
    s.magnitude_checks = magnitude_checks(ev, states, p_times_s=p_times)
    s.rupture_end_check = rupture_end_check(ev, states, p_times)
    s.series = [
        (
            (st.sent_time_ns - ev.origin_ns) / NS_PER_S,
            _km(st.record.location.latitude_deg, st.record.location.longitude_deg, ev),
            st.record.location.depth_km - ev.depth_km,
            st.record.magnitude.magnitude,
            st.record.magnitude.is_lower_bound,
            len(st.record.stations),
            st.alerted,
        )
        for st in states
    ]
    published = [a for a in msgs if a.message_type in ("new", "update")]
    if not published:
        if states:
            s.targets = _target_scores(ev, None, states[0], states[-1], run, stack)
            _intensity_summary(s)
        return s
    s.detected = True
    first = published[0]
    s.first_alert_after_origin_s = (first.sent_time_ns - ev.origin_ns) / NS_PER_S
    if p4 is not None:
        s.first_alert_after_p4_s = (first.sent_time_ns - p4) / NS_PER_S
    s.first_alert_epicentral_error_km = _km(first.latitude_deg, first.longitude_deg, ev)
    s.first_alert_depth_error_km = first.depth_km - ev.depth_km
    s.first_alert_origin_error_s = (first.origin_time_ns - ev.origin_ns) / NS_PER_S
    s.first_alert_magnitude = first.magnitude
    s.first_alert_stations = len(first.stations)
    errs = [_km(a.latitude_deg, a.longitude_deg, ev) for a in published]
    s.median_epicentral_error_km = float(np.median(errs))
    s.max_epicentral_error_km = float(np.max(errs))
    last = published[-1]
    s.final_epicentral_error_km = errs[-1]
    s.final_depth_error_km = last.depth_km - ev.depth_km
    s.final_magnitude = last.magnitude
    if p4 is not None:
        t3 = p4 + 3 * NS_PER_S
        before = [a for a in published if a.sent_time_ns <= t3]
        after = [a for a in published if a.sent_time_ns > t3]
        scored = before[-1:] + after
        s.magnitude_at_p4_3s = scored[0].magnitude
        s.max_magnitude_error_after_p4_3s = max(abs(a.magnitude - ev.magnitude) for a in scored)
    over = [a for a in published if a.magnitude > LARGE_THRESHOLD]
    if over:
        s.magnitude_over_6_5_after_origin_s = (over[0].sent_time_ns - ev.origin_ns) / NS_PER_S
    final_state = states[-1] if states else None
    s.targets = _target_scores(ev, first, None, final_state, run, stack, last)
    _intensity_summary(s)
    return s


def _estimates(ev: TrueEvent, ids: list[str], run: ReplayRun) -> list[EventState]:
    """The active estimates of the pipeline event(s) that stand for ``ev``, in order.

    With alerts: those of the alerted event ids and of the events that continue their
    onsite incidents (:mod:`eew.event.incident`). Without: those of the declared event
    whose estimates match the true event most often (within :data:`MATCH_KM` and
    :data:`MATCH_S`), so that events never alerted are scored too.
    """
    active = [st for st in run.events if st.status == "active"]
    if ids:
        # events whose alerts continue an onsite incident carry its id (eew.event.incident)
        linked = {st.event_id for st in active if st.incident_id and st.incident_id in ids}
        return [st for st in active if st.event_id in ids or st.event_id in linked]
    hits: dict[str, int] = {}
    for st in active:
        loc = st.record.location
        if (
            _km(loc.latitude_deg, loc.longitude_deg, ev) <= MATCH_KM
            and abs(st.record.origin_ns - ev.origin_ns) <= MATCH_S * NS_PER_S
        ):
            hits[st.event_id] = hits.get(st.event_id, 0) + 1
    if not hits:
        return []
    best = max(sorted(hits), key=lambda k: hits[k])
    return [st for st in active if st.event_id == best]


def magnitude_checks(
    ev: TrueEvent,
    states: list[EventState],
    times_s: tuple[float, ...] = MAGNITUDE_CHECK_S,
    p_times_s: np.ndarray | None = None,
) -> list[MagnitudeCheck]:
    """The magnitude estimate ``times_s`` after origin against the final and released Mw.

    Parameters
    ----------
    ev : TrueEvent
        The true event (its moment-release series gives the released Mw).
    states : list of EventState
        The event's estimates in sending order.
    times_s : tuple of float
        Checkpoints [s after origin].
    p_times_s : numpy.ndarray, optional
        P travel times from the truth's sub-events to the stations with data
        (:func:`eew.evaluate.seen.p_travel_times_s`); without them the ``seen_by_*``
        fields stay NaN.
    """
    out = []
    for t in times_s:
        cut = ev.origin_ns + round(t * NS_PER_S)
        before = [st for st in states if st.sent_time_ns <= cut]
        est = before[-1].record.magnitude.magnitude if before else math.nan
        released = ev.released_magnitude(t)
        out.append(
            MagnitudeCheck(
                after_origin_s=t,
                estimate=est,
                true_magnitude=ev.magnitude,
                released=released,
                error=est - ev.magnitude,
                error_released=est - released,
                seen_by_one=_seen(ev, p_times_s, t, 1),
                seen_by_four=_seen(ev, p_times_s, t, 4),
            )
        )
    return out


def _seen(ev: TrueEvent, p_times_s: np.ndarray | None, t: float, k: int) -> float:
    if ev.source is None or p_times_s is None:
        return math.nan
    return seen_magnitude(ev.source, p_times_s, t, k)


def rupture_end_check(
    ev: TrueEvent, states: list[EventState], p_times_s: np.ndarray | None = None
) -> MagnitudeCheck | None:
    """The magnitude :data:`RUPTURE_END_CHECK_S` after the rupture ends, against the true one.

    The rupture ends when the truth's ``moment_release`` reaches its final value
    (:meth:`~eew.evaluate.truth.TrueEvent.rupture_end_s`); None for a point source (no
    series). ``released`` is then the true magnitude, so ``error == error_released``.
    """
    end = ev.rupture_end_s()
    if not math.isfinite(end):
        return None
    (check,) = magnitude_checks(ev, states, (end + RUPTURE_END_CHECK_S,), p_times_s)
    check.released = ev.magnitude
    check.error_released = check.error
    return check


def within_tolerance(predicted: list[float], observed: list[float]) -> float:
    """Fraction of finite (predicted, observed) pairs within :data:`INTENSITY_TOLERANCE`.

    NaN when no pair has both values.
    """
    pairs = [
        (p, o)
        for p, o in zip(predicted, observed, strict=True)
        if math.isfinite(p) and math.isfinite(o)
    ]
    if not pairs:
        return math.nan
    return sum(abs(p - o) <= INTENSITY_TOLERANCE for p, o in pairs) / len(pairs)


def _intensity_summary(s: EventScore) -> None:
    obs = [t.observed_msk for t in s.targets]
    s.intensity_targets = sum(
        1
        for t in s.targets
        if math.isfinite(t.observed_msk) and math.isfinite(t.final_predicted_msk)
    )
    s.intensity_within_1_first = within_tolerance([t.predicted_msk for t in s.targets], obs)
    s.intensity_within_1_final = within_tolerance([t.final_predicted_msk for t in s.targets], obs)


def _target_scores(
    ev: TrueEvent,
    first: Alert | None,
    first_state: EventState | None,
    final_state: EventState | None,
    run: ReplayRun,
    stack: TravelTimeStack,
    last: Alert | None = None,
) -> list[TargetScore]:
    """Warning time (first alert) and forecast intensity (first and final estimate) per target.

    The true S arrival is the truth's first S from any part of the rupture where the
    truth has target rows, otherwise the travel-time tables from the hypocentre. Without
    an alert (``first`` None) the first and final estimates give the intensities and no
    warning time is scored.
    """
    if first is not None:
        fc = {f.name: f for f in first.targets}
    else:
        fc = {f.name: f for f in (first_state.record.forecasts if first_state else ())}
    final_fc = {f.name: f for f in (final_state.record.forecasts if final_state else ())}
    if last is not None:
        # the last published alert is final for the public: prefer it when it is later
        if final_state is None or last.sent_time_ns >= final_state.sent_time_ns:
            final_fc = {f.name: f for f in last.targets}
    out = []
    for t in run.targets:
        d = _km(t.latitude_deg, t.longitude_deg, ev)
        tt = ev.targets.get(t.name)
        if tt is not None:
            s_true = tt.s_ns
            ts = (s_true - ev.origin_ns) / NS_PER_S
        else:
            ts = float(travel_time_s(stack, "S", ev.depth_km, np.array([d]))[0])
            s_true = ev.origin_ns + round(ts * NS_PER_S)
        f = fc.get(t.name)
        ff = final_fc.get(t.name)
        out.append(
            TargetScore(
                name=t.name,
                distance_km=d,
                true_s_after_origin_s=ts,
                true_warning_s=(
                    (s_true - first.sent_time_ns) / NS_PER_S if first is not None else math.nan
                ),
                predicted_warning_s=f.warning_time_s if f and first is not None else math.nan,
                s_arrival_error_s=(f.s_arrival_time_ns - s_true) / NS_PER_S if f else math.nan,
                predicted_msk=f.intensity_msk if f else math.nan,
                predicted_pga_cm_s2=f.pga_cm_s2 if f else math.nan,
                observed_msk=tt.msk if tt is not None else math.nan,
                final_predicted_msk=ff.intensity_msk if ff else math.nan,
            )
        )
    return out


def _city_stations(truth: Truth, c: OnsiteConfig) -> set[str]:
    ids = list(truth.stations)
    if not ids:
        return set()
    lat = np.array([truth.stations[s][0] for s in ids])
    lon = np.array([truth.stations[s][1] for s in ids])
    d = distances_km(c.city_lat_deg, c.city_lon_deg, lat, lon)
    return {s for s, di in zip(ids, d, strict=True) if di <= c.city_radius_km}


def _score_onsite(
    s: EventScore, ev: TrueEvent, city: set[str], run: ReplayRun, onsite: list[Alert]
) -> set[int]:
    """Fill the onsite fields; return the indices of the onsite alerts this event explains."""
    arr = [a for a in ev.arrivals if a.station_id in city and a.station_id in run.packet_ends_ns]
    if ev.kind != "local" or not arr:
        return set()
    first_p = min(a.p_ns for a in arr)
    ends = [run.packet_end_after(a.station_id, a.p_ns) for a in arr]
    first_data = min((e for e in ends if e is not None), default=None)
    s.city_first_p_after_origin_s = (first_p - ev.origin_ns) / NS_PER_S
    if first_data is not None:
        s.city_first_p_packet_end_after_origin_s = (first_data - ev.origin_ns) / NS_PER_S
    hit = {
        i
        for i, a in enumerate(onsite)
        if 0 <= a.sent_time_ns - first_p <= ONSITE_MATCH_S * NS_PER_S
    }
    if hit:
        a = onsite[min(hit)]
        s.onsite_after_first_p_s = (a.sent_time_ns - first_p) / NS_PER_S
        if first_data is not None:
            s.onsite_after_first_p_data_s = (a.sent_time_ns - first_data) / NS_PER_S
    return hit
