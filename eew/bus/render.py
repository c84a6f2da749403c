"""Turn alerts into lines for people (and filter them) for ``eew subscribe``."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection

from eew.formats import native
from eew.model.alert import Alert, TargetForecast
from eew.model.timeutil import ns_to_iso

_LABELS = {"new": "ALERT", "update": "UPDATE", "final": "FINAL", "delete": "CANCELLED"}


def _selected(alert: Alert, targets: Collection[str] | None) -> list[TargetForecast]:
    return [t for t in alert.targets if not targets or t.name in targets]


def max_intensity(alert: Alert, targets: Collection[str] | None = None) -> float:
    """Largest predicted MSK-64 intensity over the (selected) targets; NaN if none."""
    values = [t.intensity_msk for t in _selected(alert, targets) if not math.isnan(t.intensity_msk)]
    return max(values) if values else math.nan


def countdown(target: TargetForecast, now_ns: int) -> str:
    """``S waves in 12 s`` (or ``S waves arrived 3 s ago``) at ``now_ns``."""
    left_s = (target.s_arrival_time_ns - now_ns) / 1e9
    if left_s >= 0:
        return f"S waves in {left_s:.0f} s"
    return f"S waves arrived {-left_s:.0f} s ago"


def format_alert(alert: Alert, now_ns: int, targets: Collection[str] | None = None) -> str:
    """One readable line: magnitude, location, and per target intensity and countdown.

    Parameters
    ----------
    alert : Alert
        The alert.
    now_ns : int
        Current time for the countdowns [ns].
    targets : collection of str, optional
        Only these targets (default: all).
    """
    label = _LABELS.get(alert.message_type, alert.message_type.upper())
    drill = "" if alert.status == "actual" else f"[{alert.status.upper()} - NOT A REAL ALERT] "
    head = f"{drill}[{label}] {alert.agency} {alert.event_id} v{alert.version} ({alert.kind})"
    if alert.message_type == "delete":
        return f"{head}: event cancelled, disregard earlier alerts"
    mag = f"M{'>=' if alert.magnitude_is_lower_bound else ''}{alert.magnitude:.1f}"
    if not math.isnan(alert.magnitude_sigma):
        mag += f"±{alert.magnitude_sigma:.1f}"
    lat, lon = alert.latitude_deg, alert.longitude_deg
    where = f"{abs(lat):.3f}{'N' if lat >= 0 else 'S'} {abs(lon):.3f}{'E' if lon >= 0 else 'W'}"
    parts = [
        f"{head}: {mag} {alert.magnitude_type} at {where}, depth {alert.depth_km:.0f} km, "
        f"origin {ns_to_iso(alert.origin_time_ns, 1)}, {len(alert.stations)} stations"
    ]
    for t in _selected(alert, targets):
        intensity = "?" if math.isnan(t.intensity_msk) else f"{t.intensity_msk:.1f}"
        if t.intensity_is_lower_bound:
            intensity = ">=" + intensity
        parts.append(f"{t.name}: MSK {intensity}, {countdown(t, now_ns)}")
    return " | ".join(parts)


def json_line(alert: Alert) -> str:
    """The native ``eew.alert/1`` JSON of ``alert`` on one line."""
    return native.dumps(alert)


class AlertFilter:
    """``--min-intensity`` / ``--target`` filtering with event memory.

    Once an event has passed, all its later versions pass too, so an update
    below the threshold, a ``final`` or a cancellation reaches whoever got the
    first alert.

    Parameters
    ----------
    min_intensity : float, optional
        Smallest predicted MSK-64 intensity at a selected target.
    targets : collection of str, optional
        Targets considered (an alert without any of them does not pass).
    memory : int
        Events remembered.
    """

    def __init__(
        self,
        min_intensity: float | None = None,
        targets: Collection[str] | None = None,
        memory: int = 10_000,
    ) -> None:
        self._min = min_intensity
        self._targets = frozenset(targets) if targets else None
        self._passed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._memory = memory

    @property
    def targets(self) -> frozenset[str] | None:
        """The selected targets (None: all)."""
        return self._targets

    def passes(self, alert: Alert) -> bool:
        """Whether ``alert`` is shown and handed to the hook."""
        key = (alert.agency, alert.event_id)
        if key in self._passed:
            return True
        if self._targets is not None and not _selected(alert, self._targets):
            return False
        if self._min is not None and not max_intensity(alert, self._targets) >= self._min:
            return False
        self._passed[key] = None
        while len(self._passed) > self._memory:
            self._passed.popitem(last=False)
        return True
