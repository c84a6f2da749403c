"""The previous session of a restarted publisher: what it still owes a subscriber.

When a publisher restarts (a new signed session, :mod:`eew.bus.gate`), the messages
of its previous session that the subscriber had not received are not written off:
the gaps it had recorded are kept here, with the newest sequence number it saw, and
the subscriber asks the new session for them and for the old session's tail after
that number (:mod:`eew.bus.resend`; a daemon's publisher saves its resend buffer at
its stop and answers from it). The answer to the tail request says how far the old
session went (:meth:`RetiredSessions.end`): beyond what was seen is missing, then
recovered or lost like any gap. One previous session per topic: a second restart
writes off what the first still owed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from eew.bus.errors import RejectedMessage

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Retired:
    """A topic's previous publisher session, after a restart: what is still wanted of it.

    Attributes
    ----------
    session : int
        The previous session.
    newest : int
        Its newest sequence number received or known missing.
    ranges : list of [first, last]
        Its sequence numbers still missing.
    end_known : bool
        The publisher has said how far the session went (a ``done`` answer to a tail
        request), or that it does not know.
    """

    session: int
    newest: int
    ranges: list[list[int]]
    end_known: bool = False


class RetiredSessions:
    """The previous sessions of a gate's topics (used by :class:`~eew.bus.gate.MessageGate`).

    Parameters
    ----------
    counts : dict
        The gate's counters (``missed``, ``recovered`` are updated in place).
    lost : callable
        ``lost(topic, n, first, last, why)``: count and log lost messages.
    gap : callable
        ``gap(topic)``: a topic has new missing messages to ask for.
    max_gaps : int
        Gaps kept per topic; beyond, the oldest is lost.
    """

    def __init__(
        self,
        counts: dict[str, int],
        lost: Callable[[bytes, int, int, int, str], None],
        gap: Callable[[bytes], None],
        max_gaps: int,
    ) -> None:
        self._counts = counts
        self._lost = lost
        self._gap = gap
        self._max_gaps = max_gaps
        self._by_topic: dict[bytes, Retired] = {}
        self._new: set[bytes] = set()

    def retire(self, topic: bytes, session: int, newest: int, ranges: list[list[int]]) -> None:
        """``topic``'s publisher restarted; ``session`` was seen up to ``newest``."""
        older = self._by_topic.pop(topic, None)
        if older is not None:
            for lo, hi in older.ranges:
                self._lost(topic, hi - lo + 1, lo, hi, "they went with an earlier session")
        self._by_topic[topic] = Retired(session, newest, ranges)
        self._new.add(topic)

    def owns(self, topic: bytes, session: int) -> bool:
        """Whether ``session`` is ``topic``'s previous session."""
        prev = self._by_topic.get(topic)
        return prev is not None and prev.session == session

    def fill(self, topic: bytes, seq: int) -> None:
        """Take a resent message of the previous session (a gap, or its tail).

        Raises
        ------
        RejectedMessage
            ``duplicate``: not missing (received already).
        """
        prev = self._by_topic[topic]
        if any(lo <= seq <= hi for lo, hi in prev.ranges):
            out: list[list[int]] = []
            for lo, hi in prev.ranges:
                parts = ([lo, seq - 1], [seq + 1, hi]) if lo <= seq <= hi else ([lo, hi],)
                out += [r for r in parts if r[0] <= r[1]]
            prev.ranges = out
            self._counts["recovered"] += 1
            return
        if seq <= prev.newest:
            raise RejectedMessage(
                "duplicate", f"{topic!r} seq {seq} of the previous session, not missing"
            )
        self._missing_up_to(topic, prev, seq - 1)
        prev.newest = seq

    def end(self, topic: bytes, session: int, newest: int | None) -> None:
        """The publisher said how far ``session`` went on ``topic`` (None: unknown)."""
        prev = self._by_topic.get(topic)
        if prev is None or prev.session != session:
            return
        prev.end_known = True
        if newest is not None:
            self._missing_up_to(topic, prev, newest)

    def _missing_up_to(self, topic: bytes, prev: Retired, last: int) -> None:
        if last <= prev.newest:
            return
        first, n = prev.newest + 1, last - prev.newest
        self._counts["missed"] += n
        logger.info(
            "%r: %d message(s) of the previous session %#x missed (seq %d..%d): asking for them",
            topic,
            n,
            prev.session,
            first,
            last,
        )
        prev.ranges.append([first, last])
        prev.newest = last
        while len(prev.ranges) > self._max_gaps:
            lo, hi = prev.ranges.pop(0)
            self._lost(topic, hi - lo + 1, lo, hi, "too many gaps at once")
        self._gap(topic)

    def pop_retired(self) -> dict[bytes, tuple[int, int]]:
        """Topic -> ``(previous session, newest seq seen)`` of the restarts since the last call."""
        out = {t: (self._by_topic[t].session, self._by_topic[t].newest) for t in self._new}
        self._new = set()
        return out

    def get(self, topic: bytes) -> Retired | None:
        """The previous session of ``topic`` (a live view), if any."""
        return self._by_topic.get(topic)

    def topics(self) -> list[bytes]:
        """Topics with a previous session."""
        return list(self._by_topic)
