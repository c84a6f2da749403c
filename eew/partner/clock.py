"""The partner's clock: offset detection from shared events and heartbeats, and the policy.

Two independent measurements (``docs/cross_border.md``, "Partner clock"):

**Data time, from pick residuals.** For an event located by our own network (a source
alert of ours with at least ``min_picks`` of our stations), the partner's picks of the
same earthquake must fit the same hypocentre. A constant offset ``delta`` of the
partner's time stamps shows as a residual common to all of its stations, whereas an
error of our epicentre shows as residuals that vary with azimuth and distance. So the
hypocentre is searched again (:func:`group_offset`: a grid around our epicentre at every
depth of the event core's travel-time tables, :mod:`eew.event.traveltime`) with two
origin times, one per network: at each node the L1 misfit of each network's picks
about its own median origin time; at the best node ``delta = median(partner) -
median(ours)``. This is joint location with a station-group time term (the station
terms of joint hypocentre determination, Douglas 1967, Nature 215, 47-48), here one
term for the partner's whole network. Its standard error combines the picks' scatter
(``1.2533 * sqrt(s_own**2 / n_own + s_partner**2 / n_partner)``, ``s``: 1.4826 MAD,
1.2533 the median's efficiency factor) and the trade-off with the hypocentre (the spread
of the term over the nodes that fit about as well: networks on opposite sides of the
event trade the term against the epicentre). The newest shared event with enough picks
of both networks decides, so a clock that is fixed stops counting at the next shared
event. Partner picks are taken raw (before any correction), our picks as our event core
forwarded them.

The offset is **known** when ``|delta| >= warn_s`` and ``|delta| >= significance``
(3) standard errors: it is logged as a WARNING (once per change), is in the heartbeat line,
the bus heartbeats and the metrics. While it is known, ``policy`` says
what happens to partner picks given to our event core (counted; :class:`ClockPolicy`):

* ``report``: nothing, the picks are used as they are;
* ``correct`` (default): their times are shifted by ``-delta`` (our time scale);
* ``discard``: they are not used (the partner's alerts still are).

**Wall clock, from heartbeats.** Each verified partner heartbeat gives ``sent - received``
(their clock at sending minus ours at reception) = offset - transit time. The largest
value over the last ``heartbeat_window`` (30) heartbeats (the least delayed one, as NTP's
clock filter) estimates the partner's wall-clock offset minus the shortest transit;
beyond ``warn_s`` it is a WARNING too. It says whether the partner's
*computers* are off (NTP), which the pick residuals (the *digitizers'* time stamps)
cannot, and the reverse. It does not change the picks.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eew.event.locate import TravelTimeStack
from eew.model.alert import Alert
from eew.model.pick import Pick
from eew.model.timeutil import NS_PER_S
from eew.partner.clockstate import load_offset, save_offset
from eew.partner.config import CLOCK_POLICIES, PartnerConfig

log = logging.getLogger("eew.partner.clock")

#: what happens to partner picks while a clock offset of theirs is known
POLICIES = CLOCK_POLICIES
#: heartbeats over which the partner's wall-clock offset is estimated (default)
HEARTBEAT_WINDOW = 30
#: picks (of either network) and reference events remembered
PICK_MEMORY = 5000
EVENT_MEMORY = 16
#: an offset must be this many standard errors from 0 to be known (default)
SIGNIFICANCE = 3.0
_DISCARD = -(2**63)  # a pick decision: not used (any other value: the shift [ns])
_KM_PER_DEG = 111.195
#: nodes either side of the centre of each search square (21 x 21 nodes)
_HALF_NODES = 10


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """How the partner's clock is measured and what a known offset changes.

    Set by the ``clock_*`` keys of ``[partner]`` (:meth:`from_config`).

    Attributes
    ----------
    warn_s : float
        An offset beyond this is reported and acted on [s] (pick scatter is 0.1-0.3 s;
        association tolerates about 1 s).
    min_picks : int
        Picks of each network in one shared event needed to measure the offset.
    window_s : float
        Largest offset looked for: picks further from the predicted P time are not
        used [s].
    policy : str
        ``report``, ``correct`` or ``discard`` (:data:`POLICIES`).
    significance : float
        ... and only if at least this many standard errors from 0.
    heartbeat_window : int
        Heartbeats over which the partner's wall-clock offset is estimated.
    """

    warn_s: float = 0.5
    min_picks: int = 4
    window_s: float = 10.0
    policy: str = "correct"
    significance: float = SIGNIFICANCE
    heartbeat_window: int = HEARTBEAT_WINDOW

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"clock policy {self.policy!r}: one of {', '.join(POLICIES)}")
        if not (self.warn_s > 0 and self.window_s > self.warn_s and self.min_picks >= 2):
            raise ValueError("clock policy: need warn_s > 0, window_s > warn_s, min_picks >= 2")
        if not (self.significance > 0 and self.heartbeat_window >= 1):
            raise ValueError("clock policy: need significance > 0, heartbeat_window >= 1")

    @classmethod
    def from_config(cls, cfg: PartnerConfig) -> ClockPolicy:
        """The policy set by the ``clock_*`` keys of a ``[partner]`` section."""
        return cls(
            warn_s=cfg.clock_warn_s,
            min_picks=cfg.clock_min_picks,
            window_s=cfg.clock_window_s,
            policy=cfg.clock_policy,
            significance=cfg.clock_significance,
            heartbeat_window=cfg.clock_heartbeat_window,
        )


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """The partner's clock as measured (a snapshot).

    Attributes
    ----------
    offset_s : float
        Partner data time minus ours, from the newest shared event [s]; NaN if unknown.
    sigma_s : float
        Its standard error [s]; NaN if unknown.
    picks, own_picks : int
        Partner picks and our picks of that event used.
    event_id : str
        Our event it was measured on ("" if none).
    known : bool
        Significant and beyond ``ClockPolicy.warn_s``: the policy acts.
    heartbeat_offset_s : float
        Partner wall clock minus ours, less the shortest transit, from the heartbeats
        [s]; NaN before the first.
    corrected, discarded : int
        Partner picks shifted or not used by the policy since the start.
    """

    offset_s: float = math.nan
    sigma_s: float = math.nan
    picks: int = 0
    own_picks: int = 0
    event_id: str = ""
    known: bool = False
    heartbeat_offset_s: float = math.nan
    corrected: int = 0
    discarded: int = 0


def _station(pick: Pick) -> str:
    return pick.channel_id.rsplit(".", 2)[0]


def _p_times(stack: TravelTimeStack, depth_km: float, dist_km: np.ndarray) -> np.ndarray:
    """P travel times [s] at epicentral distances (linear in depth and distance)."""
    axis = np.arange(stack.p_s.shape[1]) * stack.distance_step_km
    z = stack.depth_km
    if z.size == 1:
        one: np.ndarray = np.interp(dist_km, axis, stack.p_s[0])
        return one
    i = int(np.clip(np.searchsorted(z, depth_km) - 1, 0, z.size - 2))
    w = float(np.clip((depth_km - z[i]) / (z[i + 1] - z[i]), 0.0, 1.0))
    out: np.ndarray = (1.0 - w) * np.interp(dist_km, axis, stack.p_s[i]) + w * np.interp(
        dist_km, axis, stack.p_s[i + 1]
    )
    return out


def _mad_sigma(r: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


@dataclass(frozen=True, slots=True)
class _Estimate:
    offset_s: float
    sigma_s: float
    picks: int
    own_picks: int


def _row_times(stack: TravelTimeStack, iz: int, dist_km: np.ndarray) -> np.ndarray:
    """P travel times [s] of depth slice ``iz`` at distances ``dist_km``.

    Linear on the uniform distance axis; the last value beyond the table.
    """
    row = stack.p_s[iz]
    f = np.clip(dist_km / stack.distance_step_km, 0.0, row.size - 1.0)
    i = np.minimum(f.astype(np.int64), row.size - 2)
    w = f - i
    out: np.ndarray = row[i] * (1.0 - w) + row[i + 1] * w
    return out


def group_offset(
    stack: TravelTimeStack,
    lat0: float,
    lon0: float,
    half_width_km: float,
    own: tuple[np.ndarray, np.ndarray, np.ndarray],
    partner: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[float, float, float, float, float]:
    """Time term of the partner's picks, hypocentre searched with one origin time per network.

    A square of 21 x 21 nodes around ``(lat0, lon0)`` at every depth of the tables, then
    twice a five times finer square around the best node at its depth. At each node the misfit is
    the L1 norm of each network's residuals about their own median.

    Parameters
    ----------
    stack : TravelTimeStack
        P travel-time tables.
    lat0, lon0 : float
        Centre of the search (our epicentre) [deg].
    half_width_km : float
        Half width of the square searched [km].
    own, partner : tuple of numpy.ndarray
        ``(latitude [deg], longitude [deg], pick time [s, any common origin])`` per station.

    Returns
    -------
    offset_s, sigma_s : float
        ``median(partner origins) - median(our origins)`` at the best node and its
        standard error [s]: the picks' scatter plus the trade-off with the hypocentre
        (the spread of the term over the nodes that fit within one mean absolute
        residual of the best).
    lat, lon, depth_km : float
        The best node [deg], [km].
    """
    cos0 = math.cos(math.radians(lat0))
    xy = [
        ((lon - lon0) * _KM_PER_DEG * cos0, (lat - lat0) * _KM_PER_DEG)
        for lat, lon, _ in (own, partner)
    ]
    n_all = own[2].size + partner[2].size
    cx, cy, best_iz = 0.0, 0.0, 0
    step = half_width_km / _HALF_NODES
    spread = 0.0
    for level in range(3):  # coarse at every depth, then twice finer around the best node
        g = np.arange(-_HALF_NODES, _HALF_NODES + 1) * step
        nx = (cx + g)[:, None].repeat(g.size, 1).ravel()
        ny = (cy + g)[None, :].repeat(g.size, 0).ravel()
        depths = range(stack.depth_km.size) if level == 0 else (best_iz,)
        costs, terms, where = [], [], []
        for iz in depths:
            cost = np.zeros(nx.size)
            meds = []
            for (sx, sy), (_, _, t) in zip(xy, (own, partner), strict=True):
                d = np.hypot(nx[:, None] - sx[None, :], ny[:, None] - sy[None, :])
                r = t[None, :] - _row_times(stack, iz, d.ravel()).reshape(d.shape)
                med = np.median(r, axis=1)
                cost += np.abs(r - med[:, None]).sum(axis=1)
                meds.append(med)
            costs.append(cost)
            terms.append(meds[1] - meds[0])
            where.append(np.full(nx.size, iz))
        c, term, izs = np.concatenate(costs), np.concatenate(terms), np.concatenate(where)
        k = int(np.argmin(c))
        if level == 0:
            b = max(float(c[k]) / max(n_all - 4, 1), 0.02)
            spread = float(np.std(term[c <= c[k] + b]))
        kk = k % nx.size
        cx, cy, best_iz = float(nx[kk]), float(ny[kk]), int(izs[k])
        step /= 5.0  # the next square spans two steps of this one either side
    r_own, r_p = (
        t - _row_times(stack, best_iz, np.hypot(cx - sx, cy - sy))
        for (sx, sy), (_, _, t) in zip(xy, (own, partner), strict=True)
    )
    offset = float(np.median(r_p) - np.median(r_own))
    var = max(_mad_sigma(r_own), 0.05) ** 2 / r_own.size
    var += max(_mad_sigma(r_p), 0.05) ** 2 / r_p.size
    var = 1.2533**2 * var + spread**2
    lat = lat0 + cy / _KM_PER_DEG
    lon = lon0 + cx / (_KM_PER_DEG * cos0)
    return offset, math.sqrt(var), lat, lon, float(stack.depth_km[best_iz])


class ClockMonitor:
    """Measure the partner's clock offset and apply the policy (see the module docstring).

    Parameters
    ----------
    agency : str
        The partner's agency code (log lines).
    own_agency : str
        Our agency code (reference events are ours only).
    partner_stations : collection of str
        ``NET.STA`` of the partner's stations.
    stack : TravelTimeStack
        P travel-time tables (the event core's, :func:`eew.event.traveltime.load_stack`).
    policy : ClockPolicy, optional
        Thresholds and policy (default :class:`ClockPolicy`).
    state_path : Path, optional
        Where the newest measurement is kept across restarts (:mod:`eew.partner.clockstate`):
        read back here, rewritten at each new one. None: not kept.
    """

    def __init__(
        self,
        agency: str,
        own_agency: str,
        partner_stations: Collection[str],
        stack: TravelTimeStack,
        policy: ClockPolicy | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.agency = agency
        self.cfg = policy or ClockPolicy()
        self.own_agency = own_agency
        self._partner_stations = frozenset(partner_stations)
        self._stack = stack
        self._own: OrderedDict[str, Pick] = OrderedDict()  # pick id -> newest version
        self._partner: OrderedDict[str, Pick] = OrderedDict()
        self._events: OrderedDict[str, Alert] = OrderedDict()  # reference event -> newest
        self._dirty: set[str] = set()
        self._per_event: OrderedDict[str, _Estimate] = OrderedDict()
        self._keys: dict[str, tuple[float, float, bytes, bytes]] = {}
        self._decided: OrderedDict[str, int] = OrderedDict()  # pick id -> shift [ns]
        self._latest: tuple[str, _Estimate] | None = None
        self._beats: deque[float] = deque(maxlen=self.cfg.heartbeat_window)
        self._corrected = 0
        self._discarded = 0
        self._warned: float | None = None  # offset of the last warning (None: not known)
        self._hb_warned = False
        self._state_path = state_path
        saved = load_offset(state_path, agency) if state_path is not None else None
        if saved is not None:
            eid, offset, sigma, picks, own_picks, origin_ns = saved
            self._latest = (eid, _Estimate(offset, sigma, picks, own_picks))
            log.info(
                "partner clock offset of the previous run",
                extra={
                    "kv": {
                        "agency": agency,
                        "offset_s": round(offset, 3),
                        "sigma_s": round(sigma, 3),
                        "event_id": eid,
                        "origin_time_ns": origin_ns,
                    }
                },
            )

    # ---- inputs -------------------------------------------------------------------------------
    def own_pick(self, pick: Pick) -> None:
        """One of our picks (as the event core forwarded it)."""
        self._remember(self._own, pick)

    def partner_pick(self, pick: Pick) -> None:
        """A partner pick as received (raw time stamps), partner coordinates set."""
        self._remember(self._partner, pick)
        ot_ns = pick.time_ns
        window_ns = (self.cfg.window_s + 200.0) * NS_PER_S
        for eid, alert in self._events.items():
            if abs(ot_ns - alert.origin_time_ns) <= window_ns:
                self._dirty.add(eid)

    def own_alert(self, alert: Alert) -> None:
        """One of our alerts: a located source alert becomes (or updates) a reference."""
        if alert.agency != self.own_agency or alert.kind != "source":
            return
        if alert.message_type == "delete":
            self._events.pop(alert.event_id, None)
            self._dirty.discard(alert.event_id)
            return
        if not (math.isfinite(alert.latitude_deg) and math.isfinite(alert.longitude_deg)):
            return
        own = [s for s in alert.stations if s not in self._partner_stations]
        if len(own) < self.cfg.min_picks:
            return
        self._events[alert.event_id] = alert
        self._events.move_to_end(alert.event_id)
        while len(self._events) > EVENT_MEMORY:
            self._events.popitem(last=False)
        self._dirty.add(alert.event_id)

    def heartbeat(self, sent_ns: int, received_ns: int) -> None:
        """A verified partner heartbeat: its sent time and our clock at reception [ns]."""
        self._beats.append((sent_ns - received_ns) / NS_PER_S)
        hb = max(self._beats)
        bad = abs(hb) > self.cfg.warn_s and len(self._beats) >= 3
        if bad and not self._hb_warned:
            log.warning(
                "partner wall clock off",
                extra={
                    "kv": {
                        "agency": self.agency,
                        "heartbeat_offset_s": round(hb, 3),
                        "heartbeats": len(self._beats),
                    }
                },
            )
        elif self._hb_warned and not bad:
            log.info(
                "partner wall clock agrees again",
                extra={"kv": {"agency": self.agency, "heartbeat_offset_s": round(hb, 3)}},
            )
        self._hb_warned = bad

    # ---- policy -------------------------------------------------------------------------------
    def apply(self, pick: Pick) -> Pick | None:
        """The partner pick to give our event core under :attr:`ClockPolicy.policy`.

        The raw pick is remembered first (it may itself complete the measurement). The
        decision is taken at a pick's first message and kept for its later messages
        (growing windows): an onset is never half shifted, half not.
        """
        self.partner_pick(pick)
        est = self.estimate()
        shift = self._decided.get(pick.pick_id)
        if shift is None:
            if not est.known or self.cfg.policy == "report":
                shift = 0
            elif self.cfg.policy == "discard":
                shift = _DISCARD
            else:
                shift = round(est.offset_s * NS_PER_S)
            self._decided[pick.pick_id] = shift
            while len(self._decided) > PICK_MEMORY:
                self._decided.popitem(last=False)
        if shift == _DISCARD:
            self._discarded += 1
            return None
        if shift == 0:
            return pick
        self._corrected += 1
        return dataclasses.replace(
            pick, time_ns=pick.time_ns - shift, trigger_time_ns=pick.trigger_time_ns - shift
        )

    def estimate(self) -> ClockOffset:
        """The current measurement (re-measures the events that changed)."""
        for eid in [e for e in self._events if e in self._dirty]:
            self._dirty.discard(eid)
            est = self._measure(self._events[eid])
            if est is not None:
                self._per_event[eid] = est
                self._per_event.move_to_end(eid)
                while len(self._per_event) > EVENT_MEMORY:
                    self._per_event.popitem(last=False)
                before = self._latest
                self._latest = max(
                    ((e, self._per_event[e]) for e in self._per_event if e in self._events),
                    key=lambda kv: self._events[kv[0]].origin_time_ns,
                    default=(eid, est),
                )
                if self._latest != before:
                    self._save()
        hb = max(self._beats) if self._beats else math.nan
        if self._latest is None:
            return ClockOffset(
                heartbeat_offset_s=hb, corrected=self._corrected, discarded=self._discarded
            )
        eid, e = self._latest
        known = abs(e.offset_s) >= max(self.cfg.warn_s, self.cfg.significance * e.sigma_s)
        self._report(eid, e, known)
        return ClockOffset(
            offset_s=e.offset_s,
            sigma_s=e.sigma_s,
            picks=e.picks,
            own_picks=e.own_picks,
            event_id=eid,
            known=known,
            heartbeat_offset_s=hb,
            corrected=self._corrected,
            discarded=self._discarded,
        )

    # ---- internals ----------------------------------------------------------------------------
    def _save(self) -> None:
        if self._state_path is None or self._latest is None:
            return
        eid, e = self._latest
        event = self._events.get(eid)
        origin_ns = event.origin_time_ns if event is not None else 0
        save_offset(
            self._state_path,
            self.agency,
            eid,
            e.offset_s,
            e.sigma_s,
            e.picks,
            e.own_picks,
            origin_ns,
        )

    def _remember(self, memory: OrderedDict[str, Pick], pick: Pick) -> None:
        memory[pick.pick_id] = pick
        memory.move_to_end(pick.pick_id)
        while len(memory) > PICK_MEMORY:
            memory.popitem(last=False)

    def _select(
        self, picks: OrderedDict[str, Pick], alert: Alert, stations: Collection[str] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per station the pick closest to the predicted P time of ``alert`` in the window."""
        window = self.cfg.window_s
        cand = [p for p in picks.values() if not p.retracted]
        if stations is not None:
            cand = [p for p in cand if _station(p) in stations]
        if not cand:
            return np.empty(0), np.empty(0), np.empty(0)
        lat = np.array([p.latitude_deg for p in cand])
        lon = np.array([p.longitude_deg for p in cand])
        cos0 = math.cos(math.radians(alert.latitude_deg))
        d = np.hypot(
            (lon - alert.longitude_deg) * _KM_PER_DEG * cos0,
            (lat - alert.latitude_deg) * _KM_PER_DEG,
        )
        t = np.array([(p.time_ns - alert.origin_time_ns) / NS_PER_S for p in cand])
        r = t - _p_times(self._stack, alert.depth_km, d)
        chosen: dict[str, int] = {}
        for i, p in enumerate(cand):
            if abs(r[i]) > window:
                continue
            sid = _station(p)
            j = chosen.get(sid)
            if j is None or abs(r[i]) < abs(r[j]):
                chosen[sid] = i
        idx = np.array(sorted(chosen.values()), dtype=int)
        return lat[idx], lon[idx], t[idx]

    def _measure(self, alert: Alert) -> _Estimate | None:
        own_stations = {s for s in alert.stations if s not in self._partner_stations}
        own = self._select(self._own, alert, own_stations)
        partner = self._select(self._partner, alert, self._partner_stations)
        n = self.cfg.min_picks
        if own[0].size < n or partner[0].size < n:
            return None
        key = (alert.latitude_deg, alert.longitude_deg, own[2].tobytes(), partner[2].tobytes())
        if self._keys.get(alert.event_id) == key:  # same picks, same centre: same answer
            return self._per_event.get(alert.event_id)
        self._keys[alert.event_id] = key
        while len(self._keys) > EVENT_MEMORY:
            del self._keys[next(iter(self._keys))]
        h = alert.horizontal_sigma_km
        half = min(max(3.0 * h if math.isfinite(h) else 30.0, 10.0), 60.0)
        offset, sigma, *_ = group_offset(
            self._stack, alert.latitude_deg, alert.longitude_deg, half, own, partner
        )
        return _Estimate(offset, sigma, int(partner[0].size), int(own[0].size))

    def _report(self, eid: str, e: _Estimate, known: bool) -> None:
        warn = self.cfg.warn_s
        kv = {
            "agency": self.agency,
            "offset_s": round(e.offset_s, 3),
            "sigma_s": round(e.sigma_s, 3),
            "picks": e.picks,
            "own_picks": e.own_picks,
            "event_id": eid,
            "policy": self.cfg.policy,
        }
        if known and (self._warned is None or abs(e.offset_s - self._warned) > warn / 2):
            self._warned = e.offset_s
            log.warning("partner clock offset", extra={"kv": kv})
        elif not known and self._warned is not None:
            self._warned = None
            log.warning("partner clock offset no longer seen", extra={"kv": kv})
