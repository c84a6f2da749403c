"""The daemon's sink: every value the pipeline or the event core emits ends here.

:class:`Outputs` publishes picks (station and all roles) and alerts, counts every kind of
value, logs one structured line per alert and per event status change, and records,
for each alert, the arrival time of the packet (or pick) whose processing emitted it
(asked of the processing chain, :attr:`eew.assembly.Chain.arrival_ns`, which takes it
from the packet): the start of the alert latency measured by
``benchmarks/bench_latency.py``.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eew.daemon.publish import AlertPublisher
from eew.event.lifecycle import EventState
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.pick import Pick, RejectedTrigger
from eew.model.timeutil import ns_to_iso

log = logging.getLogger("eew.daemon.outputs")


@dataclass(frozen=True, slots=True)
class AlertMark:
    """When the input that completed an alert arrived, and when the alert was queued."""

    event_id: str
    version: int
    arrival_ns: int
    queued_ns: int


class Outputs:
    """Route results to the publisher; count and log them.

    Parameters
    ----------
    publisher : AlertPublisher or None
        Where picks and alerts go; None for a dry run (logged only).
    clock : Clock
        Wall clock for :class:`AlertMark` times.
    arrival_ns : callable
        Arrival time [ns] of the input (packet or pick) being processed, for
        :class:`AlertMark` (the daemon passes its chain's).
    publish_picks : bool
        Publish picks (station and all roles; the central role does not re-publish).
    observers : sequence of callable
        Also called with every value (tests, the live demo's fallback printer).
    marks : int
        How many :class:`AlertMark` values are kept.
    """

    def __init__(
        self,
        publisher: AlertPublisher | None,
        clock: Clock,
        arrival_ns: Callable[[], int],
        *,
        publish_picks: bool,
        observers: Sequence[Callable[[object], None]] = (),
        marks: int = 10_000,
    ) -> None:
        self.publisher = publisher
        self.clock = clock
        self._arrival_ns = arrival_ns
        self.publish_picks = publish_picks
        self.observers = tuple(observers)
        self.counts: Counter[str] = Counter()
        self.marks: deque[AlertMark] = deque(maxlen=marks)
        self._event_status: dict[str, str] = {}

    def __call__(self, value: object) -> None:
        """Handle one value."""
        if isinstance(value, Pick):
            self.counts["pick_messages"] += 1
            if value.update == 0:
                self.counts["picks"] += 1
            if self.publish_picks and self.publisher is not None:
                if not self.publisher.publish_pick(value):
                    self.counts["picks_dropped"] += 1
        elif isinstance(value, Alert):
            self._alert(value)
        elif isinstance(value, EventState):
            self._event(value)
        elif isinstance(value, RejectedTrigger):
            self.counts["rejected_triggers"] += 1
        else:
            self.counts["other"] += 1
        for obs in self.observers:
            obs(value)

    def _alert(self, alert: Alert) -> None:
        self.counts["alerts"] += 1
        if self.publisher is not None:
            self.publisher.publish_alert(alert)
        self.marks.append(
            AlertMark(alert.event_id, alert.version, self._arrival_ns(), self.clock.now_ns())
        )
        best = max(alert.targets, key=lambda t: t.intensity_msk, default=None)
        log.info(
            "alert %s",
            alert.message_type,
            extra={
                "kv": {
                    "event_id": alert.event_id,
                    "version": alert.version,
                    "kind": alert.kind,
                    "origin_time": ns_to_iso(alert.origin_time_ns),
                    "magnitude": alert.magnitude,
                    "stations": len(alert.stations),
                    "max_msk": best.intensity_msk if best else float("nan"),
                    "target": best.name if best else "",
                    "warning_s": best.warning_time_s if best else float("nan"),
                }
            },
        )

    def _event(self, state: EventState) -> None:
        self.counts["event_updates"] += 1
        if self._event_status.get(state.event_id) == state.status:
            return
        if state.event_id not in self._event_status:
            self.counts["events"] += 1
        self._event_status[state.event_id] = state.status
        if state.status != "active":
            self._event_status.pop(state.event_id)
        r = state.record
        log.info(
            "event %s",
            state.status,
            extra={
                "kv": {
                    "event_id": state.event_id,
                    "origin_time": ns_to_iso(r.origin_ns),
                    "lat": r.location.latitude_deg,
                    "lon": r.location.longitude_deg,
                    "depth_km": r.location.depth_km,
                    "magnitude": r.magnitude.magnitude,
                    "stations": len(r.stations),
                    "alerted": state.alerted,
                }
            },
        )
