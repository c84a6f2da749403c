"""Filter alerts for ``eew subscribe`` (the blocks people read: :mod:`eew.formats.screen`)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection

from eew.formats import native
from eew.model.alert import Alert, TargetForecast


def _selected(alert: Alert, targets: Collection[str] | None) -> list[TargetForecast]:
    return [t for t in alert.targets if not targets or t.name in targets]


def max_intensity(alert: Alert, targets: Collection[str] | None = None) -> float:
    """Largest predicted MSK-64 intensity over the (selected) targets; NaN if none."""
    values = [t.intensity_msk for t in _selected(alert, targets) if not math.isnan(t.intensity_msk)]
    return max(values) if values else math.nan


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
