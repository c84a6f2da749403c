"""Our published events across restarts: persisted, then resumed or closed.

A daemon killed or restarted in the middle of an earthquake used to leave its open
event (``v0 new``) without a final or a cancellation, and published the same
earthquake again under a new id. :class:`EventJournal` keeps the newest published
version of every open event of ours in a small JSON file next to the SeedLink state
(``<state_file stem>.events.json``, written atomically after every alert: temporary
file, then ``os.replace``), and on start:

* an event of the new run that matches an open event of the previous run (same kind,
  origin times within :data:`RESUME_ORIGIN_S`, epicentres within
  :data:`RESUME_DISTANCE_KM` or three times their combined uncertainty) **continues its
  id**: its versions are numbered on from the previous run's last one, its first message
  becomes an ``update`` (:meth:`EventJournal.rewrite`);
* an open event that no new event continues within :data:`RESUME_WINDOW_S` of the
  processing clock is **closed**: its last estimate is published once more as
  ``final`` (never ``delete``: a cancellation tells a siren controller that the
  danger is over, a final only ends the updates) (:meth:`EventJournal.expired`).

So a subscriber never keeps one of our events open for ever, and one earthquake keeps
one id across a restart. Everything runs in the daemon's event loop.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

from eew.errors import DataError
from eew.model.alert import Alert
from eew.model.geo import distances_km

log = logging.getLogger("eew.daemon.events")

#: an event of the new run continues an open one if the origin times differ by at most [s]
RESUME_ORIGIN_S = 5.0
#: ... and the epicentres are at most this far apart (or 3 sigma combined, if larger) [km]
RESUME_DISTANCE_KM = 30.0
#: open events of the previous run not continued within this long are closed [s]
RESUME_WINDOW_S = 60.0

_END = ("final", "delete")
_FORMAT = "eew.events/1"


def journal_path(seedlink_state: Path | None) -> Path | None:
    """The event state file next to the SeedLink state (None: persistence off)."""
    if seedlink_state is None:
        return None
    return seedlink_state.with_name(seedlink_state.stem + ".events.json")


class EventJournal:
    """Open events of ours: persisted, resumed or closed after a restart.

    Parameters
    ----------
    path : Path or None
        The state file (None: nothing persisted, nothing resumed).
    agency : str
        Our agency code (other agencies' alerts are not ours to close).
    window_s : float, optional
        How long the previous run's open events wait to be continued [s]; default
        :data:`RESUME_WINDOW_S`.
    """

    def __init__(self, path: Path | None, agency: str, window_s: float | None = None) -> None:
        self.path = path
        self.agency = agency
        self.window_ns = round((RESUME_WINDOW_S if window_s is None else window_s) * 1e9)
        #: event id -> newest published version, for every open event (both runs)
        self.open: dict[str, Alert] = {}
        #: open events of the previous run not (yet) continued
        self.pending: dict[str, Alert] = {}
        #: this run's event id -> (the previous run's id, version offset)
        self._renamed: dict[str, tuple[str, int, tuple[int, ...]]] = {}
        self._deadline_ns: int | None = None
        self._write_failed = False
        self.counts = {"resumed": 0, "closed": 0, "write_errors": 0}

    # ---- start ------------------------------------------------------------------------------
    def load(self) -> int:
        """Read the previous run's open events; return how many (a bad file is logged)."""
        if self.path is None or not self.path.exists():
            return 0
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("format") != _FORMAT:
                raise DataError(f"format {doc.get('format')!r}, expected {_FORMAT!r}")
            alerts = [Alert.from_dict(d) for d in doc["events"]]
        except (OSError, ValueError, KeyError, TypeError, DataError) as exc:
            log.warning(
                "event state unreadable; previous events cannot be closed",
                extra={"kv": {"file": str(self.path), "error": str(exc)}},
            )
            return 0
        for a in alerts:
            if a.agency == self.agency and a.message_type not in _END:
                self.pending[a.event_id] = a
                self.open[a.event_id] = a
        if self.pending:
            log.info(
                "open events of the previous run",
                extra={
                    "kv": {
                        "events": ",".join(f"{a.event_id}/v{a.version}" for a in alerts),
                        "window_s": self.window_ns / 1e9,
                    }
                },
            )
        return len(self.pending)

    # ---- every alert of ours ----------------------------------------------------------------
    def rewrite(self, alert: Alert) -> Alert:
        """The alert as published: a continued event keeps the previous run's id."""
        if alert.agency != self.agency:
            return alert
        renamed = self._renamed.get(alert.event_id)
        if renamed is None and self.pending:
            # the same id (ids follow the origin time), or a matching new event
            old = self.pending.get(alert.event_id)
            if old is None and alert.event_id not in self.open:
                old = self._match(alert)
            if old is not None:
                del self.pending[old.event_id]
                chain = (*old.previous_sent_ns[: old.version], old.sent_time_ns)
                renamed = (old.event_id, old.version + 1, chain)
                self._renamed[alert.event_id] = renamed
                self.counts["resumed"] += 1
                log.warning(
                    "event resumed",
                    extra={
                        "kv": {
                            "event_id": old.event_id,
                            "new_id": alert.event_id,
                            "version": old.version + 1,
                        }
                    },
                )
        if renamed is None:
            return alert
        old_id, offset, chain = renamed
        return alert.with_(
            event_id=old_id,
            version=alert.version + offset,
            message_type="update" if alert.message_type == "new" else alert.message_type,
            previous_sent_ns=(*chain, *alert.previous_sent_ns[: alert.version]),
        )

    def record(self, alert: Alert) -> None:
        """Remember a published alert of ours (an ended event is forgotten); persist."""
        if alert.agency != self.agency:
            return
        if alert.message_type in _END:
            self.open.pop(alert.event_id, None)
            self.pending.pop(alert.event_id, None)
        else:
            self.open[alert.event_id] = alert
        self.save()

    def expired(self, now_ns: int) -> list[Alert]:
        """Closing ``final`` versions of the previous run's events not continued in time.

        The window starts at the first call with a positive time (a data clock reads 0
        until the first packet).
        """
        if not self.pending or now_ns <= 0:
            return []
        if self._deadline_ns is None:
            self._deadline_ns = now_ns + self.window_ns
        if now_ns < self._deadline_ns:
            return []
        out = []
        for old in self.pending.values():
            out.append(
                old.with_(
                    version=old.version + 1,
                    message_type="final",
                    sent_time_ns=max(now_ns, old.sent_time_ns),
                    previous_sent_ns=(*old.previous_sent_ns[: old.version], old.sent_time_ns),
                )
            )
            log.warning(
                "event of the previous run closed",
                extra={"kv": {"event_id": old.event_id, "version": old.version + 1}},
            )
        self.counts["closed"] += len(out)
        self.pending.clear()
        return out

    # ---- persistence ------------------------------------------------------------------------
    def save(self) -> None:
        """Write the open events atomically (a failure is logged once and counted)."""
        if self.path is None:
            return
        doc = {"format": _FORMAT, "events": [a.to_dict() for a in self.open.values()]}
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            self.counts["write_errors"] += 1
            if not self._write_failed:
                self._write_failed = True
                log.error(
                    "event state not written",
                    extra={"kv": {"file": str(self.path), "error": str(exc)}},
                )

    def _match(self, alert: Alert) -> Alert | None:
        best: tuple[float, Alert] | None = None
        for old in self._candidates(alert):
            d = float(
                distances_km(
                    old.latitude_deg, old.longitude_deg, alert.latitude_deg, alert.longitude_deg
                )
            )
            sig = math.hypot(_finite(old.horizontal_sigma_km), _finite(alert.horizontal_sigma_km))
            if d <= max(RESUME_DISTANCE_KM, 3.0 * sig) and (best is None or d < best[0]):
                best = (d, old)
        return best[1] if best is not None else None

    def _candidates(self, alert: Alert) -> Iterable[Alert]:
        for old in self.pending.values():
            same_kind = old.kind == alert.kind
            close = abs(old.origin_time_ns - alert.origin_time_ns) <= RESUME_ORIGIN_S * 1e9
            if same_kind and close:
                yield old


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0
