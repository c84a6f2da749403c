"""Checks every received message before anything acts on it.

:class:`MessageGate` is the subscriber's security boundary, kept free of
sockets so it can be tested alone. A message reaches the caller only if it

1. has exactly three frames and a valid topic (else ``malformed``);
2. carries a signature (else ``unsigned``) by the topic's agency, with a
   trusted key, that verifies (else ``forged``);
3. continues its topic's stream: within one publisher session (the signed
   ``session`` of :mod:`eew.bus.signing`) the sequence number must grow (else
   ``replayed``; a jump is counted as ``missed``); a new session is a publisher
   restart, accepted only if sent after the last message seen (else ``replayed``).
   The sequence numbers a gap skipped (and, after a restart, those of the new
   session sent before we (re)connected) are recorded as *missing*: the
   subscriber asks the publisher for them (:mod:`eew.bus.resend`), and a resent
   message is accepted only if it fills such a gap or continues the stream (else
   ``duplicate``: it was received already, or was asked for by someone else).
   At a restart the previous session's gaps are kept (:mod:`eew.bus.retired`) and its
   tail after the newest message seen is asked for: the publisher may still hold
   them (a daemon saves its resend buffer at its stop); what it does not is lost;
4. is fresh: the first message of a session must have been sent within
   ``max_clock_skew_s`` of the subscriber's clock, and nothing may be dated
   further than that in the future (else ``stale``). A message that continues
   a session already seen may be older, up to ``max_backlog_age_s``: it is the
   backlog of a subscriber that stalled or reconnected, not a replay, since its
   sequence number is new and signed. (Senders without a session, version-1
   blocks, keep the plain ``max_clock_skew_s`` window.)
5. has a payload that decodes to the topic's schema and names the topic's
   agency (else ``malformed`` / ``forged``) -- or, for an alert, an agency whose
   alerts the topic's agency may relay (:meth:`Verifier.relayed_by`, e.g. KZ-AEWS
   re-publishing KG-MES alerts; never without a verifier);
6. for alerts and picks, is a newer version of its event or pick than any seen
   (an older one is ``replayed``; the same version with the same content is a
   harmless ``duplicate``, e.g. a last-value-cache resend; the same version
   with different content is ``replayed``).

Each drop is counted per reason and logged (WARNING, rate-limited; duplicates
at DEBUG).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eew.bus.config import SubscriberConfig
from eew.bus.errors import RejectedMessage
from eew.bus.retired import Retired, RetiredSessions
from eew.bus.signing import Envelope, Verifier, parse_block
from eew.bus.wire import BusMessage, decode_payload, parse_topic
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.pick import Pick

logger = logging.getLogger(__name__)

DROP_REASONS = ("malformed", "unsigned", "forged", "stale", "replayed", "duplicate")
_COUNTERS = (
    "received",
    "accepted",
    "missed",
    "restarts",
    "backlog",
    "recovered",
    "lost",
    *DROP_REASONS,
)
#: gaps remembered per topic; beyond it the oldest gap is given up (counted as lost)
MAX_GAPS = 64
#: kinds whose gaps are asked for again (the publisher keeps no heartbeats)
RESENT_KINDS = (b"alert.", b"pick.", b"status.")


@dataclass(frozen=True, slots=True)
class _Stream:
    """The newest message seen on one topic."""

    session: int
    seq: int
    sent_ns: int


@dataclass(frozen=True, slots=True)
class GateStatistics:
    """Counters of a :class:`MessageGate` (and of a subscriber).

    Attributes
    ----------
    received : int
        Messages looked at.
    accepted : int
        Messages handed on.
    dropped_malformed, dropped_unsigned, dropped_forged, dropped_stale,
    dropped_replayed, dropped_duplicate : int
        Drops per reason.
    missed : int
        Messages missing from sequence gaps within one publisher session (lost
        at a high-water mark or while disconnected).
    restarts : int
        Publisher restarts seen (a new session on a topic); not counted as missed.
    backlog : int
        Accepted messages older than ``max_clock_skew_s`` that continued their
        publisher session (a stalled or reconnected subscriber's backlog).
    recovered : int
        Missed messages that came back when asked for (:mod:`eew.bus.resend`).
    lost : int
        Missed messages given up on: no longer held by the publisher (or by its
        previous session), or not resent after repeated requests.
    """

    received: int = 0
    accepted: int = 0
    dropped_malformed: int = 0
    dropped_unsigned: int = 0
    dropped_forged: int = 0
    dropped_stale: int = 0
    dropped_replayed: int = 0
    dropped_duplicate: int = 0
    missed: int = 0
    restarts: int = 0
    backlog: int = 0
    recovered: int = 0
    lost: int = 0

    @property
    def dropped(self) -> int:
        """All drops except harmless duplicates."""
        return self.received - self.accepted - self.dropped_duplicate


class MessageGate:
    """Verify, de-duplicate and decode raw bus frames.

    Parameters
    ----------
    verifier : Verifier or None
        Trusted agency keys. ``None`` accepts unsigned messages from anyone
        (insecure; tests and benchmarks only) but still checks everything else.
    clock : Clock
        The subscriber's clock (for the sent-time check).
    config : SubscriberConfig
        Skew limit and replay memory.
    """

    def __init__(self, verifier: Verifier | None, clock: Clock, config: SubscriberConfig) -> None:
        config.check()
        self._verifier = verifier
        self._clock = clock
        self._max_skew_ns = (
            math.inf
            if math.isinf(config.max_clock_skew_s)
            else round(config.max_clock_skew_s * 1e9)
        )
        self._max_backlog_ns = max(
            self._max_skew_ns,
            math.inf
            if math.isinf(config.max_backlog_age_s)
            else round(config.max_backlog_age_s * 1e9),
        )
        self._memory = config.replay_memory_events
        self._streams: dict[bytes, _Stream] = {}
        self._sessions: dict[str, int] = {}  # agency -> the session of its newest message
        self._gaps: set[bytes] = set()
        self._lost_topics: set[bytes] = set()
        self._restarted: set[tuple[str, int]] = set()  # (agency, new session)
        #: topic -> (session, [first, last] ranges of missing sequence numbers, oldest first)
        self._missing: dict[bytes, tuple[int, list[list[int]]]] = {}
        self._versions: OrderedDict[tuple[str, str, str], tuple[int, bytes]] = OrderedDict()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        #: topic -> the previous session of its publisher, after a restart
        self._previous = RetiredSessions(self._counts, self._lost, self._gaps_add, MAX_GAPS)
        self.last_rejected: tuple[bytes, str] = (b"", "")
        if verifier is None:
            logger.warning("alert bus subscriber WITHOUT signature verification (insecure)")

    def statistics(self) -> GateStatistics:
        """Snapshot of the counters."""
        c = self._counts
        return GateStatistics(
            received=c["received"],
            accepted=c["accepted"],
            missed=c["missed"],
            restarts=c["restarts"],
            backlog=c["backlog"],
            recovered=c["recovered"],
            lost=c["lost"],
            **{f"dropped_{r}": c[r] for r in DROP_REASONS},
        )

    def check(self, frames: Sequence[bytes], *, resent: bool = False) -> BusMessage | None:
        """Return the verified message, or ``None`` if it was dropped (counted, logged).

        ``resent``: the frames came as the answer to a resend request.
        """
        self._counts["received"] += 1
        try:
            message = self._check(frames, resent)
        except RejectedMessage as exc:
            self._drop(exc)
            #: topic and reason of the newest dropped message (the heartbeat watchdog's)
            self.last_rejected = (bytes(frames[0]) if frames else b"", exc.reason)
            return None
        self._counts["accepted"] += 1
        return message

    def _drop(self, exc: RejectedMessage) -> None:
        n = self._counts[exc.reason] = self._counts[exc.reason] + 1
        if exc.reason == "duplicate":
            logger.debug("dropped duplicate: %s", exc.detail)
        elif n <= 10 or n % 1000 == 0:
            logger.warning(
                "dropped %s message (%d so far%s): %s",
                exc.reason,
                n,
                "; only every 1000th is logged from now on" if n == 10 else "",
                exc.detail,
            )

    def _check(self, frames: Sequence[bytes], resent: bool = False) -> BusMessage:
        if len(frames) != 3:
            raise RejectedMessage("malformed", f"{len(frames)} frames (expected 3)")
        topic, payload, block = (bytes(f) for f in frames)
        kind, agency = parse_topic(topic)
        if self._verifier is not None:
            envelope = self._verifier.verify(topic, payload, block, agency)
        else:
            envelope = parse_block(block)[0]
        if resent and self._previous.owns(topic, envelope.session):
            self._check_resent_age(topic, envelope)
            self._previous.fill(topic, envelope.seq)  # a gap or its tail (else duplicate)
        elif resent and self._check_resent(topic, agency, envelope):
            self._take_missing(topic, envelope.seq)  # it came, even if superseded meanwhile
        else:
            self._check_stream(topic, agency, envelope)
        body = decode_payload(kind, self._payload_agency(kind, agency, payload), payload)
        if isinstance(body, Alert):
            self._check_version("alert", agency, body.event_id, body.version, payload, resent)
        elif isinstance(body, Pick):
            self._check_version("pick", agency, body.pick_id, body.update, payload, resent)

        return BusMessage(kind, agency, envelope, body, payload)

    def _payload_agency(self, kind: str, agency: str, payload: bytes) -> str:
        """The agency the payload must name: the topic's, or one it may relay alerts of."""
        relayed = self._verifier.relayed_by(agency) if self._verifier is not None else ()
        if kind != "alert" or not relayed:
            return agency
        try:
            claimed = json.loads(payload.decode("utf-8")).get("agency")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, RecursionError):
            return agency  # decode_payload reports it as malformed
        return claimed if claimed in relayed else agency

    def _check_stream(self, topic: bytes, agency: str, env: Envelope) -> None:
        """Freshness and order of a message in its topic's stream (see the module docstring)."""
        last = self._streams.get(topic)
        age_ns = self._clock.now_ns() - env.sent_time_ns
        if -age_ns > self._max_skew_ns:
            raise RejectedMessage(
                "stale",
                f"{topic!r} dated {-age_ns / 1e9:.1f} s in the future of our clock "
                f"(limit {self._max_skew_ns / 1e9:g} s; seq {env.seq})",
            )
        if last is None:  # a topic's first message continues a session its siblings began
            known = self._sessions.get(agency)
            continuing = env.session != 0 and known == env.session
            if known is not None and env.session not in (0, known):  # (a sibling restarted)
                self._restarted.add((agency, env.session))
        else:
            continuing = env.session == last.session and env.seq > last.seq
        restarted = False
        if last is not None and not continuing:
            legacy_restart = env.session == last.session == 0 and env.sent_time_ns > last.sent_ns
            if env.session == last.session and not legacy_restart:
                raise RejectedMessage("replayed", f"{topic!r} seq {env.seq} after {last.seq}")
            if env.sent_time_ns <= last.sent_ns:
                raise RejectedMessage(
                    "replayed", f"{topic!r} of session {env.session:#x}, sent before the last one"
                )
            restarted = True
        backlog_ok = continuing and env.session != 0  # unsessioned (v1) senders: no backlog
        limit_ns = self._max_backlog_ns if backlog_ok else self._max_skew_ns
        if age_ns > limit_ns:
            raise RejectedMessage(
                "stale",
                f"{topic!r} sent {age_ns / 1e9:.1f} s ago (limit {limit_ns / 1e9:g} s"
                f"{' for a backlog' if backlog_ok else ''}; seq {env.seq})",
            )
        if last is not None and continuing and env.seq > last.seq + 1:
            self._gap(topic, env.session, last.seq + 1, env.seq - 1)
        if continuing and age_ns > self._max_skew_ns:
            self._counts["backlog"] += 1
        if restarted and last is not None:
            self._counts["restarts"] += 1
            logger.warning(
                "%r: publisher restarted (session %#x -> %#x); %d message(s) of the new session "
                "were sent before we (re)connected%s",
                topic,
                last.session,
                env.session,
                env.seq,
                ": asking for them" if env.seq and topic.startswith(RESENT_KINDS) else "",
            )
            self._retire(topic, last)
            self._restarted.add((agency, env.session))
            if env.seq > 0:
                self._gap(topic, env.session, 0, env.seq - 1, restart=True)
        self._streams[topic] = _Stream(env.session, env.seq, env.sent_time_ns)
        self._sessions[agency] = env.session

    def note_newest(self, agency: str, session: int, newest: Mapping[str, int]) -> None:
        """A heartbeat's newest sequence numbers (:attr:`Heartbeat.newest_seq`).

        What a stream of the same session has not seen up to them was dropped (ZMQ
        keeps order on a connection, and the heartbeat came after them): recorded
        as missed and asked for, as any gap. Streams not seen yet are left alone
        (joining late loses nothing).
        """
        for kind, seq in newest.items():
            topic = f"{kind}.{agency}".encode("ascii")
            last = self._streams.get(topic)
            if last is None or session == 0 or last.session != session or seq <= last.seq:
                continue
            self._gap(topic, session, last.seq + 1, seq)
            self._streams[topic] = _Stream(session, seq, last.sent_ns)

    def pop_gaps(self) -> set[bytes]:
        """Topics with a new sequence gap since the last call (then forgotten)."""
        gaps, self._gaps = self._gaps, set()
        return gaps

    # ---- missing messages (gaps) and their resends ---------------------------------------------
    def _gap(
        self, topic: bytes, session: int, first: int, last: int, *, restart: bool = False
    ) -> None:
        """Record missing sequence numbers, to be asked for.

        ``restart``: a new session's first ones, not counted as missed (they were sent
        before we could receive them).
        """
        n = last - first + 1
        if not topic.startswith(RESENT_KINDS):  # heartbeats: not kept, not asked for
            logger.debug("%r: %d message(s) skipped (seq %d..%d)", topic, n, first, last)
            return
        if not restart:
            self._counts["missed"] += n
            logger.info(
                "%r: %d message(s) missed (seq %d..%d): asking for them again",
                topic,
                n,
                first,
                last,
            )
        held = self._missing.get(topic)
        ranges = held[1] if held is not None and held[0] == session else []
        if held is not None and held[0] != session:
            self._give_up_session(topic, "they went with the publisher's previous session")
        ranges.append([first, last])
        while len(ranges) > MAX_GAPS:
            lo, hi = ranges.pop(0)
            self._lost(topic, hi - lo + 1, lo, hi, "too many gaps at once")
        self._missing[topic] = (session, ranges)
        self._gaps.add(topic)

    def _check_resent(self, topic: bytes, agency: str, env: Envelope) -> bool:
        """True if a resent message fills a gap; raise ``duplicate`` unless it continues."""
        last = self._streams.get(topic)
        held = self._missing.get(topic)
        if held is not None and held[0] == env.session:
            if any(lo <= env.seq <= hi for lo, hi in held[1]):
                age_ns = self._clock.now_ns() - env.sent_time_ns
                if age_ns > self._max_backlog_ns:
                    raise RejectedMessage(
                        "stale", f"{topic!r} resent seq {env.seq}, sent {age_ns / 1e9:.1f} s ago"
                    )
                return True
        if env.session != 0 and env.session == self._sessions.get(agency):
            if last is None or env.session != last.session or env.seq > last.seq:
                return False  # a resent tail: checked as the stream's next message
        raise RejectedMessage("duplicate", f"{topic!r} seq {env.seq} resent, not missing")

    def _check_resent_age(self, topic: bytes, env: Envelope) -> None:
        age_ns = self._clock.now_ns() - env.sent_time_ns
        if age_ns > self._max_backlog_ns:
            raise RejectedMessage(
                "stale", f"{topic!r} resent seq {env.seq}, sent {age_ns / 1e9:.1f} s ago"
            )

    def _gaps_add(self, topic: bytes) -> None:
        self._gaps.add(topic)

    def _take_missing(self, topic: bytes, seq: int) -> None:
        session, ranges = self._missing[topic]
        out: list[list[int]] = []
        for lo, hi in ranges:
            if lo <= seq <= hi:
                out += [r for r in ([lo, seq - 1], [seq + 1, hi]) if r[0] <= r[1]]
            else:
                out.append([lo, hi])
        if out:
            self._missing[topic] = (session, out)
        else:
            del self._missing[topic]
        self._counts["recovered"] += 1

    def missing(self, topic: bytes) -> tuple[int, list[tuple[int, int]]] | None:
        """``(session, [(first, last), ...])`` of the sequence numbers missing on ``topic``."""
        held = self._missing.get(topic)
        return None if held is None else (held[0], [(lo, hi) for lo, hi in held[1]])

    def missing_topics(self) -> list[bytes]:
        """Topics with missing messages."""
        return list(self._missing)

    def streams(self) -> dict[bytes, tuple[int, int]]:
        """Topic -> ``(session, newest seq)`` of every stream seen (for resend requests)."""
        return {t: (s.session, s.seq) for t, s in self._streams.items()}

    def give_up(self, topic: bytes, session: int, first: int, last: int, why: str) -> int:
        """Stop waiting for the missing messages of ``topic`` within ``first..last``.

        They are counted as lost and logged (WARNING); returns how many.
        """
        prev = self._previous.get(topic)
        if prev is not None and prev.session == session:
            prev.ranges, lost = self._give_up_ranges(topic, prev.ranges, first, last, why)
            return lost
        held = self._missing.get(topic)
        if held is None or held[0] != session:
            return 0
        keep, lost = self._give_up_ranges(topic, held[1], first, last, why)
        if keep:
            self._missing[topic] = (session, keep)
        else:
            del self._missing[topic]
        return lost

    def _give_up_ranges(
        self, topic: bytes, ranges: list[list[int]], first: int, last: int, why: str
    ) -> tuple[list[list[int]], int]:
        keep: list[list[int]] = []
        lost = 0
        for lo, hi in ranges:
            a, b = max(lo, first), min(hi, last)
            if a > b:
                keep.append([lo, hi])
                continue
            lost += b - a + 1
            self._lost(topic, b - a + 1, a, b, why)
            keep += [r for r in ([lo, a - 1], [b + 1, hi]) if r[0] <= r[1]]
        return keep, lost

    # ---- the previous session of a restarted publisher (eew.bus.retired) -------------------
    def _retire(self, topic: bytes, last: _Stream) -> None:
        """A restart: keep what the previous session still owes us, to be asked for."""
        held = self._missing.pop(topic, None)
        ranges = held[1] if held is not None and held[0] == last.session else []
        if held is not None and held[0] != last.session:
            for lo, hi in held[1]:
                self._lost(topic, hi - lo + 1, lo, hi, "they went with an earlier session")
        if topic.startswith(RESENT_KINDS) and last.session != 0:
            self._previous.retire(topic, last.session, last.seq, ranges)
        else:
            for lo, hi in ranges:
                self._lost(topic, hi - lo + 1, lo, hi, "they went with the previous session")

    def end_previous(self, topic: bytes, session: int, newest: int | None) -> None:
        """The publisher said how far the previous ``session`` went on ``topic``.

        ``newest`` None: it does not know. Beyond what we saw is missing, to be asked
        for (or lost).
        """
        self._previous.end(topic, session, newest)

    def pop_retired(self) -> dict[bytes, tuple[int, int]]:
        """Topic -> ``(previous session, newest seq seen)`` of the restarts since the last call."""
        return self._previous.pop_retired()

    def previous(self, topic: bytes) -> Retired | None:
        """The previous session of ``topic``'s publisher, if it restarted (a live view)."""
        return self._previous.get(topic)

    def previous_topics(self) -> list[bytes]:
        """Topics whose publisher restarted."""
        return self._previous.topics()

    def _give_up_session(self, topic: bytes, why: str) -> None:
        held = self._missing.pop(topic, None)
        if held is not None:
            for lo, hi in held[1]:
                self._lost(topic, hi - lo + 1, lo, hi, why)

    def pop_restarts(self) -> set[tuple[str, int]]:
        """``(agency, new session)`` of the publisher restarts seen since the last call."""
        restarted, self._restarted = self._restarted, set()
        return restarted

    def pop_lost(self) -> set[bytes]:
        """Topics with messages given up on since the last call (then forgotten)."""
        lost, self._lost_topics = self._lost_topics, set()
        return lost

    def _lost(self, topic: bytes, n: int, first: int, last: int, why: str) -> None:
        self._counts["lost"] += n
        self._lost_topics.add(topic)
        logger.warning("%r: %d message(s) LOST (seq %d..%d): %s", topic, n, first, last, why)

    def _check_version(
        self, kind: str, agency: str, ident: str, version: int, payload: bytes, resent: bool = False
    ) -> None:
        key = (kind, agency, ident)
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        last = self._versions.get(key)
        if last is not None:
            last_version, last_digest = last
            if version < last_version and resent:  # a newer version came meanwhile
                raise RejectedMessage(
                    "duplicate", f"{kind} {ident} v{version} resent, v{last_version} already here"
                )
            if version < last_version:
                raise RejectedMessage(
                    "replayed", f"{kind} {ident} v{version} after v{last_version}"
                )
            if version == last_version:
                if digest == last_digest:
                    raise RejectedMessage("duplicate", f"{kind} {ident} v{version}")
                raise RejectedMessage("replayed", f"{kind} {ident} v{version} with other content")
        self._versions[key] = (version, digest)
        self._versions.move_to_end(key)
        while len(self._versions) > self._memory:
            self._versions.popitem(last=False)
