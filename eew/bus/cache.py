"""The publisher's last-value cache: the newest version of every recent alert.

A subscriber that (re)connects is sent every cached alert at once, so a
restarted siren controller knows the current situation without waiting for
the next update. Entries are kept for ``ttl_ns`` after their newest version:

- an event still going (``new``/``update``) that gets no new version for that
  long expires with a WARNING (its final or cancellation never came);
- ``final`` and ``delete`` versions stay for that long too, so a subscriber
  that was away when an event was cancelled or closed still receives the
  cancellation or the final solution when it returns.

Used only by the publisher thread: no locking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eew.model.alert import Alert

logger = logging.getLogger(__name__)

END_TYPES = ("final", "delete")


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    payload: bytes
    updated_ns: int
    ended: bool


class LastValueCache:
    """Newest encoded version per event id, oldest update first.

    Parameters
    ----------
    ttl_ns : int
        How long an entry stays after its newest version was cached [ns].
    """

    def __init__(self, ttl_ns: int) -> None:
        self._ttl_ns = ttl_ns
        self._entries: dict[str, _Entry] = {}

    def put(self, alert: Alert, payload: bytes, now_ns: int) -> None:
        """Cache ``payload`` as the newest version of ``alert.event_id`` (older ones ignored)."""
        cached = self._entries.get(alert.event_id)
        if cached is not None and alert.version < cached.version:
            return  # an older version sent late: keep the newer one
        self._entries.pop(alert.event_id, None)  # re-inserted last: oldest update first
        ended = alert.message_type in END_TYPES
        self._entries[alert.event_id] = _Entry(alert.version, payload, now_ns, ended)

    def expire(self, now_ns: int) -> int:
        """Forget the entries older than the lifetime; return how many went."""
        old = [e for e, entry in self._entries.items() if now_ns - entry.updated_ns > self._ttl_ns]
        for event_id in old:
            if not self._entries.pop(event_id).ended:
                logger.warning(
                    "alert %s expired from the last-value cache without final/delete", event_id
                )
        return len(old)

    def payloads(self) -> list[bytes]:
        """Every cached payload, the least recently updated first."""
        return [entry.payload for entry in self._entries.values()]

    @property
    def active(self) -> int:
        """Cached events that have not ended (no ``final``/``delete`` yet)."""
        return sum(not entry.ended for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
