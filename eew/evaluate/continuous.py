"""False triggers and false alerts on continuous data (``eew evaluate --continuous``).

Operators replay days or months of continuous recordings, most of it noise, and count what
the system would have done: triggers per channel-hour, events and alerts per day. The
archive goes through the same chain as ``eew replay`` (:func:`eew.parallel.replay_archive`,
``--jobs`` included); only counts are kept, so memory does not grow with the results.

Definitions
-----------
* **triggers**: every STA/LTA trigger that came out of the picker, as a pick or as a
  rejected trigger (spike, step, calibration, low SNR...), counted per channel and per UTC
  day of the trigger (a pick's onset, a rejected trigger's time);
* **channel-hours**: the recorded data of the channels that were processed (samples /
  sampling rate), gaps excluded;
* **events**: events declared by the event core, per UTC day of their origin time;
  teleseismic or distant ones are counted apart;
* **alerts**: alert messages (every version, source and onsite alike) and alerted events
  (distinct event ids; an onsite alert has its own), per UTC day of sending. On noise
  every alert is a false alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eew.acquisition import scan
from eew.acquisition.archive import C_CHANNEL, index_archive
from eew.assembly import Stages
from eew.config import Config
from eew.event.lifecycle import EventState
from eew.inventory import load_inventory
from eew.model.alert import Alert
from eew.model.pick import Pick, RejectedTrigger
from eew.model.timeutil import ns_to_iso
from eew.parallel import replay_archive

SECONDS_PER_DAY = 86400.0


@dataclass
class _Day:
    triggers: int = 0
    picks: int = 0
    events: int = 0
    alerts: int = 0
    alerted_events: int = 0


@dataclass
class ContinuousReport:
    """Counts of a continuous replay (see the module docstring).

    Attributes
    ----------
    paths : list of str
        The archive's files or folders.
    channels : int
        Channels processed.
    channel_hours : float
        Recorded hours summed over those channels.
    span_s : float
        Data span, first sample to last [s].
    triggers, picks, rejected : int
        Triggers examined, picks made, triggers rejected.
    events, distant_events : int
        Events declared; of them teleseismic or distant.
    alert_messages, alerted_events : int
        Alert messages sent; distinct events alerted.
    per_day : dict
        UTC date -> triggers, picks, events, alerts, alerted_events.
    per_channel : dict
        Channel -> (triggers, hours).
    jobs : int
        Processes used.
    """

    paths: list[str]
    channels: int
    channel_hours: float
    span_s: float
    triggers: int
    picks: int
    rejected: int
    events: int
    distant_events: int
    alert_messages: int
    alerted_events: int
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)
    per_channel: dict[str, tuple[int, float]] = field(default_factory=dict)
    jobs: int = 1

    @property
    def days(self) -> float:
        """Data span in days."""
        return self.span_s / SECONDS_PER_DAY

    @property
    def triggers_per_channel_hour(self) -> float:
        """Triggers per channel-hour (0 without data)."""
        return self.triggers / self.channel_hours if self.channel_hours > 0 else 0.0

    def per_day_rate(self, count: int) -> float:
        """``count`` per day of data (0 without data)."""
        return count / self.days if self.span_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "paths": self.paths,
            "channels": self.channels,
            "channel_hours": round(self.channel_hours, 3),
            "span_s": round(self.span_s, 3),
            "days": round(self.days, 5),
            "triggers": self.triggers,
            "triggers_per_channel_hour": round(self.triggers_per_channel_hour, 5),
            "picks": self.picks,
            "rejected_triggers": self.rejected,
            "events": self.events,
            "events_per_day": round(self.per_day_rate(self.events), 4),
            "distant_events": self.distant_events,
            "alert_messages": self.alert_messages,
            "alerted_events": self.alerted_events,
            "alerts_per_day": round(self.per_day_rate(self.alert_messages), 4),
            "alerted_events_per_day": round(self.per_day_rate(self.alerted_events), 4),
            "per_day": self.per_day,
            "per_channel": {
                cid: {"triggers": t, "hours": round(h, 4)}
                for cid, (t, h) in self.per_channel.items()
            },
            "jobs": self.jobs,
        }


class _Counter:
    """The sink of a continuous replay: counts by day, keeps nothing else."""

    def __init__(self) -> None:
        self.days: dict[str, _Day] = {}
        self._picks: set[str] = set()
        self._events: set[str] = set()
        self._alerted: set[str] = set()
        self.alert_messages = 0
        self.channel_triggers: Counter[str] = Counter()

    @property
    def alerted_events(self) -> int:
        """Distinct events alerted."""
        return len(self._alerted)

    def _day(self, t_ns: int) -> _Day:
        key = ns_to_iso(t_ns)[:10]
        day = self.days.get(key)
        if day is None:
            day = self.days[key] = _Day()
        return day

    def __call__(self, value: object) -> None:
        if isinstance(value, Pick):
            if value.pick_id not in self._picks:
                self._picks.add(value.pick_id)
                day = self._day(value.time_ns)
                day.picks += 1
                day.triggers += 1
                self.channel_triggers[value.channel_id] += 1
        elif isinstance(value, RejectedTrigger):
            self._day(value.trigger_time_ns).triggers += 1
            self.channel_triggers[value.channel_id] += 1
        elif isinstance(value, EventState):
            if value.event_id not in self._events:
                self._events.add(value.event_id)
                self._day(value.record.origin_ns).events += 1
        elif isinstance(value, Alert):
            self.alert_messages += 1
            day = self._day(value.sent_time_ns)
            day.alerts += 1
            if value.event_id not in self._alerted:
                self._alerted.add(value.event_id)
                day.alerted_events += 1


def evaluate_continuous(
    paths: Sequence[str],
    config: Config,
    config_hash: str,
    *,
    jobs: int = 1,
    extra_stationxml: Sequence[str] = (),
) -> ContinuousReport:
    """Replay a continuous archive and count triggers, events and alerts.

    Parameters
    ----------
    paths : sequence of str
        miniSEED files or folders (searched recursively).
    config, config_hash : Config, str
        Processing configuration and its hash.
    jobs : int
        Processes for the per-channel stage (:mod:`eew.parallel`).
    extra_stationxml : sequence of str
        StationXML files added to the configured inventory.
    """
    inventory_paths = [*map(str, config.stationxml_paths()), *extra_stationxml]
    inventory = load_inventory(inventory_paths)
    idx = index_archive(paths)
    # recorded seconds per channel, from the index
    t = idx.table
    seconds = np.zeros(len(idx.channel_ids))
    if len(idx):
        np.add.at(seconds, t[:, C_CHANNEL], t[:, scan.C_NSAMP] / idx.rate_hz)
    counter = _Counter()
    result = replay_archive(
        idx,
        config,
        config_hash,
        inventory,
        inventory_paths,
        counter,
        stages=Stages(channels=True, events=True),
        jobs=jobs,
    )
    stats = result.statistics
    code = {cid: i for i, cid in enumerate(idx.channel_ids)}
    per_channel = {
        cid: (counter.channel_triggers[cid], float(seconds[code[cid]]) / 3600.0)
        for cid in stats.per_channel
    }
    ev = result.events
    return ContinuousReport(
        paths=[str(p) for p in paths],
        channels=stats.channels,
        channel_hours=sum(h for _t, h in per_channel.values()),
        span_s=stats.data_span_s,
        triggers=sum(counter.channel_triggers.values()),
        picks=sum(d.picks for d in counter.days.values()),
        rejected=sum(counter.channel_triggers.values())
        - sum(d.picks for d in counter.days.values()),
        events=ev.events if ev is not None else 0,
        distant_events=ev.teleseisms if ev is not None else 0,
        alert_messages=counter.alert_messages,
        alerted_events=counter.alerted_events,
        per_day={k: vars(d) for k, d in sorted(counter.days.items())},
        per_channel=per_channel,
        jobs=result.jobs,
    )


def format_continuous(report: ContinuousReport, top: int = 10) -> str:
    """A readable report: totals, rates, per day, the channels that trigger most."""
    r = report
    lines = [
        f"continuous evaluation of {', '.join(r.paths)} ({r.jobs} job(s))",
        f"  data: {r.channels} channels, span {r.span_s / 3600.0:.2f} h "
        f"({r.days:.3f} days), {r.channel_hours:.1f} channel-hours",
        f"  triggers {r.triggers}: {r.triggers_per_channel_hour:.4f} per channel-hour "
        f"(picks {r.picks}, rejected {r.rejected})",
        f"  events {r.events}: {r.per_day_rate(r.events):.2f} per day "
        f"(teleseismic/distant {r.distant_events})",
        f"  alerts: {r.alert_messages} messages, {r.alerted_events} alerted events: "
        f"{r.per_day_rate(r.alert_messages):.2f} messages and "
        f"{r.per_day_rate(r.alerted_events):.2f} alerted events per day",
        "",
        f"  {'day (UTC)':<12}{'triggers':>9}{'picks':>7}{'events':>8}{'alerts':>8}"
        f"{'alerted events':>16}",
    ]
    for day, d in r.per_day.items():
        lines.append(
            f"  {day:<12}{d['triggers']:>9}{d['picks']:>7}{d['events']:>8}{d['alerts']:>8}"
            f"{d['alerted_events']:>16}"
        )
    rates = Counter(
        {cid: t / h for cid, (t, h) in r.per_channel.items() if h > 0 and t > 0}
    ).most_common(top)
    if rates:
        lines += ["", "  channels that trigger most:"]
        for cid, rate in rates:
            t, h = r.per_channel[cid]
            lines.append(f"  {cid:<18}{t:>6} triggers in {h:8.2f} h: {rate:8.3f} per hour")
    return "\n".join(lines)
