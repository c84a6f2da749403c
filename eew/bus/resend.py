"""Resend by sequence number: what a reconnecting subscriber missed comes back.

ZMQ's PUB/SUB drops what is published while a subscriber is disconnected (a
reconnect window, a re-created socket, a publisher restart before the subscriber
is back) and what a slow subscriber's queue cannot hold. Every message carries its
publisher session and its sequence number per topic (:mod:`eew.bus.signing`), so a
subscriber knows exactly which messages it did not get; this module lets it ask for
them, in-band, on the connection it already has (same port, same CURVE session, no
second endpoint to configure):

- **request**: a subscription whose prefix is
  ``eew-resend/1 <nonce> <topic> <session hex> <first seq> <last seq or ->``. The
  publisher's XPUB socket reports every subscription (``XPUB_VERBOSE``), so it reads
  the request there; the random nonce makes the prefix unique, so only the
  requesting subscriber receives the answer. ``-`` asks for everything after
  ``first`` (the tail: what was published while we reconnected);
- **answer**: each message still held, as four frames
  ``[request prefix, topic, payload, signature]`` (the original, signed frames:
  a resend cannot be told from the original, and needs no trust of its own),
  then ``[request prefix, b"done", b"<sent> <oldest> <newest>"]``: how many were
  sent, and the oldest and newest sequence numbers the publisher still holds for
  that topic in that session (``- -`` when the session is not the publisher's
  current one: it restarted, and the old session's messages are gone with it),
  and, when the answer stopped short of what was asked, a fourth number: the last
  sequence number it covers (``<sent> <oldest> <newest> <upto>``). An answer
  holds at most ``answer_limit`` messages (half the publisher's send high-water
  mark): a larger one would overflow the very queue whose overflow is being
  repaired. The subscriber asks for the rest when the answer is done, so a
  resend moves at the pace the subscriber reads;
- the subscriber's :class:`~eew.bus.gate.MessageGate` accepts a resent message only
  if it fills a gap it recorded, or continues the stream; anything else is a
  harmless duplicate. Then it unsubscribes the request prefix.

Retention policy of the publisher (:class:`ResendBuffer`): the newest
``resend_buffer_messages`` messages of the alert, pick and status topics of the
current session, oldest forgotten first; heartbeats are not kept (a late
heartbeat says nothing). A daemon's publisher keeps them on disk as it sends them
(:meth:`ResendBuffer.journal_to`): each kept message is appended to the tail file
with one ``write`` before it is sent, and the file is rewritten from the buffer
(:func:`save_tail`: temporary file, fsync, rename) at the session's first message,
after a publisher loop turn once it holds twice the buffer
(:meth:`ResendBuffer.tidy_journal`), and at the stop, with the newest sequence number of each
topic. A publisher killed (SIGKILL, a crash) leaves its tail up to its last
message: what the kernel was given survives the process (a power cut can lose
the appends since the last rewrite; a torn last record is dropped on reading).
Its next session
answers requests for that previous session from them: a ``done`` answer for it
names the previous session's newest sequence number of the topic as ``newest``,
so a subscriber that saw it up to ``k`` gets ``k + 1 .. newest`` or counts what
is not held as lost. At most :data:`MAX_JOBS` requests are served at a time
(more are refused, logged; the subscriber asks again), each paced at
:data:`BATCH` messages per publisher loop turn, so a resend cannot flood a slow
subscriber's queue nor hold up live alerts (live messages are always sent first).
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: first bytes of a resend request prefix (and of every frame 0 of an answer)
PREFIX = b"eew-resend/1 "
#: kinds whose messages the publisher keeps for resending
KEPT_KINDS = ("alert", "pick", "status")
#: requests served at the same time; further ones are refused until one is done
MAX_JOBS = 32
#: messages sent per publisher loop turn for all requests together
BATCH = 100
#: the publisher loop turns at least this often while requests are pending [ms]
PACE_MS = 10
_OPEN = b"-"
#: first bytes of a saved resend tail (:func:`save_tail`)
TAIL_MAGIC = b"eew-resend-tail/1\n"
_LEN = struct.Struct(">I")
_SEQ = struct.Struct(">QQ")  # session, then the count or a sequence number


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed resend request.

    Attributes
    ----------
    prefix : bytes
        The subscription prefix (frame 0 of every answer).
    topic : bytes
        Topic whose messages are asked for.
    session : int
        Publisher session they belong to.
    first, last : int
        Sequence numbers asked for, both included; ``last`` None: all after ``first``.
    """

    prefix: bytes
    topic: bytes
    session: int
    first: int
    last: int | None


def make_request(topic: bytes, session: int, first: int, last: int | None) -> Request:
    """A request with a fresh random nonce."""
    nonce = os.urandom(6).hex().encode("ascii")
    end = _OPEN if last is None else str(last).encode("ascii")
    prefix = b" ".join(
        (PREFIX.rstrip(), nonce, topic, f"{session:x}".encode("ascii"), str(first).encode(), end)
    )
    return Request(prefix, topic, session, first, last)


def parse_request(prefix: bytes) -> Request | None:
    """Parse a subscription prefix; None if it is not a well-formed resend request."""
    if not prefix.startswith(PREFIX) or len(prefix) > 200:
        return None
    parts = prefix[len(PREFIX) :].split(b" ")
    if len(parts) != 5:
        return None
    _, topic, session, first, last = parts
    try:
        first_seq = int(first)
        last_seq = None if last == _OPEN else int(last)
        request = Request(prefix, topic, int(session, 16), first_seq, last_seq)
    except ValueError:
        return None
    if first_seq < 0 or (last_seq is not None and last_seq < first_seq):
        return None
    return request


def parse_done(frame: bytes) -> tuple[int, int | None, int | None, int | None]:
    """``(sent, oldest, newest, upto)`` of a ``done`` answer; ValueError if malformed.

    ``upto`` is None when the answer covers all that was asked, else the last
    sequence number it covers (the rest is to be asked for again).
    """
    parts = frame.split(b" ")
    if len(parts) not in (3, 4):
        raise ValueError(f"{len(parts)} fields")
    sent, oldest, newest = parts[:3]
    return (
        int(sent),
        None if oldest == _OPEN else int(oldest),
        None if newest == _OPEN else int(newest),
        int(parts[3]) if len(parts) == 4 else None,
    )


@dataclass(slots=True)
class _Job:
    request: Request
    frames: deque[list[bytes]]
    oldest: int | None
    newest: int | None
    upto: int | None  # the last seq covered when the answer was cut short, else None
    sent: int = 0


@dataclass
class ResendBuffer:
    """The publisher's recent messages and the requests being answered.

    Used by the publisher thread only: no locking.

    Parameters
    ----------
    capacity : int
        Messages kept (all kept topics together), oldest forgotten first.
    session : int
        The publisher's session: requests for another one get an empty answer.
    answer_limit : int
        Messages in one answer at most (the publisher passes half its send
        high-water mark); the subscriber asks for the rest after ``done``.
    """

    capacity: int
    session: int
    answer_limit: int = BATCH
    _ring: deque[tuple[bytes, int, bytes, bytes]] = field(init=False)
    #: the previous session's saved tail (:meth:`load_previous`)
    previous_session: int = field(init=False, default=0)
    _previous: list[tuple[bytes, int, bytes, bytes]] = field(init=False, default_factory=list)
    _previous_newest: dict[bytes, int] = field(init=False, default_factory=dict)
    _jobs: dict[bytes, _Job] = field(init=False, default_factory=dict)
    #: topic -> the newest sequence number kept in this session
    _newest: dict[bytes, int] = field(init=False, default_factory=dict)
    _tail_path: Path | None = field(init=False, default=None)
    _journal_on: bool = field(init=False, default=False)
    _journal_fd: int | None = field(init=False, default=None)
    _journal_records: int = field(init=False, default=0)
    #: failed writes of the tail file (:meth:`_guarded`)
    tail_write_errors: int = field(init=False, default=0)
    refused: int = field(init=False, default=0)
    served: int = field(init=False, default=0)
    resent: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._ring = deque(maxlen=self.capacity)

    def keep(self, topic: bytes, seq: int, payload: bytes, block: bytes) -> None:
        """Remember a message about to be sent (and append it to the journal, if any)."""
        self._ring.append((topic, seq, payload, block))
        self._newest[topic] = seq
        if self._journal_on:
            self._guarded(self._append, topic, seq, payload, block)

    def tidy_journal(self) -> None:
        """Rewrite the journal from the buffer once it holds twice the buffer.

        Called by the publisher after the live messages of a loop turn are sent, so
        the rewrite (a few MB and an fsync at the default buffer) never delays one.
        """
        if self._journal_fd is not None and self._journal_records >= 2 * self.capacity:
            self._guarded(self._rewrite_journal)

    def journal_to(self, path: Path) -> None:
        """Keep this session's tail in ``path`` from the next kept message on.

        The file is (re)written from the buffer at the first message, so a session
        that sends nothing leaves the previous session's tail in place.
        """
        self._tail_path = path
        self._journal_on = True

    def close_journal(self) -> None:
        """Stop appending (the file stays as it is); idempotent."""
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        self._journal_on = False

    def write_tail(self) -> None:
        """At the stop: save the whole buffer compactly in the journal's file.

        Tried even when the journal was given up during the session (the disk may have
        room again); a failure is handled like the journal's (:meth:`_guarded`).
        """
        assert self._tail_path is not None, "journal_to() names the file"
        self.close_journal()
        if self._guarded(save_tail, self._tail_path, self.session, self._newest, self._ring):
            logger.info(
                "resend tail of session %#x saved to %s: %d message(s)",
                self.session,
                self._tail_path,
                len(self._ring),
            )

    def _append(self, topic: bytes, seq: int, payload: bytes, block: bytes) -> None:
        if self._journal_fd is None:
            self._rewrite_journal()
        else:
            os.write(self._journal_fd, _record(topic, seq, payload, block))
            self._journal_records += 1

    def _rewrite_journal(self) -> None:
        assert self._tail_path is not None
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        save_tail(self._tail_path, self.session, self._newest, self._ring)
        self._journal_fd = os.open(self._tail_path, os.O_WRONLY | os.O_APPEND)
        self._journal_records = len(self._ring)

    def _guarded(self, write: Callable[..., None], *args: Any) -> bool:
        """Run a write of the tail file; False if it failed.

        Why a failure does not propagate: the tail only serves the next session's
        resends, and an alert must not die of a full disk. It is logged at ERROR,
        counted (``tail_write_errors``) and ends the journal for this session; the
        messages stay kept in memory.
        """
        try:
            write(*args)
        except OSError as exc:
            self.close_journal()
            self.tail_write_errors += 1
            logger.error(
                "resend tail %s cannot be written (%s): not kept on disk in this session; "
                "a restart will answer resend requests for this session with nothing",
                self._tail_path,
                exc,
            )
            return False
        return True

    def load_previous(
        self,
        session: int,
        newest: dict[bytes, int],
        messages: Iterable[tuple[bytes, int, bytes, bytes]],
    ) -> None:
        """Answer requests for the previous ``session`` from its saved tail."""
        if session == self.session:
            return
        self.previous_session = session
        self._previous_newest = dict(newest)
        self._previous = list(messages)[-self.capacity :]

    def read_tail(self, path: Path) -> None:
        """Answer for the previous session from the tail it saved at ``path``, if any."""
        tail = load_tail(path)
        if tail is not None:
            self.load_previous(*tail)
            logger.info(
                "resend tail of the previous session %#x read: %d message(s)",
                tail[0],
                len(tail[2]),
            )

    def open(self, request: Request) -> None:
        """Start answering ``request`` (refused, logged, when too many are open)."""
        if request.prefix in self._jobs:
            return
        if len(self._jobs) >= MAX_JOBS:
            self.refused += 1
            if self.refused <= 10 or self.refused % 1000 == 0:
                logger.warning(
                    "resend request refused (%d open; %d refused so far): %r",
                    len(self._jobs),
                    self.refused,
                    request.prefix[:120],
                )
            return
        frames: deque[list[bytes]] = deque()
        oldest = newest = None
        held: Iterable[tuple[bytes, int, bytes, bytes]] = ()
        if request.session == self.session:
            held = self._ring
        elif request.session == self.previous_session != 0:
            held = self._previous
        seqs = [seq for topic, seq, _, _ in held if topic == request.topic]
        if seqs:
            oldest, newest = seqs[0], seqs[-1]
        if request.session == self.previous_session != 0:  # its end, even if none is held
            newest = self._previous_newest.get(request.topic, newest)
        last = request.last if request.last is not None else newest
        upto = None
        if seqs:
            for topic, seq, payload, block in held:
                if topic == request.topic and last is not None and request.first <= seq <= last:
                    if len(frames) == self.answer_limit:
                        upto = seq - 1  # the rest: asked for again after this answer
                        break
                    frames.append([request.prefix, topic, payload, block])
        self._jobs[request.prefix] = _Job(request, frames, oldest, newest, upto)
        self.served += 1
        logger.info(
            "resending %d message(s) of %r from seq %d%s",
            len(frames),
            request.topic,
            request.first,
            ""
            if request.session == self.session
            else " (previous session)"
            if request.session == self.previous_session
            else " (another session: none held)",
        )

    def cancel(self, prefix: bytes) -> None:
        """Forget a request its subscriber gave up on (it unsubscribed)."""
        self._jobs.pop(prefix, None)

    @property
    def pending(self) -> bool:
        """Whether requests are being answered."""
        return bool(self._jobs)

    def batch(self) -> list[list[bytes]]:
        """The next frames to send, ``done`` answers included.

        At most :data:`BATCH` and ``answer_limit`` messages per call (one call per
        publisher loop turn, at least every :data:`PACE_MS`).
        """
        out: list[list[bytes]] = []
        for prefix in list(self._jobs):
            job = self._jobs[prefix]
            while job.frames and len(out) < min(BATCH, self.answer_limit):
                out.append(job.frames.popleft())
                job.sent += 1
            if job.frames:
                break
            del self._jobs[prefix]
            fields = [str(job.sent).encode("ascii")]
            for v in (job.oldest, job.newest):
                fields.append(_OPEN if v is None else str(v).encode("ascii"))
            if job.upto is not None:
                fields.append(str(job.upto).encode("ascii"))
            out.append([prefix, b"done", b" ".join(fields)])
            if len(out) >= min(BATCH, self.answer_limit):
                break
        self.resent += sum(len(f) == 4 for f in out)
        return out


def save_tail(
    path: Path,
    session: int,
    newest: dict[bytes, int],
    messages: Iterable[tuple[bytes, int, bytes, bytes]],
) -> None:
    """Write a session's resend tail atomically (temporary file, fsync, rename; mode 0600).

    Parameters
    ----------
    path : Path
        The file (its directory must exist).
    session : int
        The publisher session the messages belong to.
    newest : dict
        Topic -> the newest sequence number sent on it in that session.
    messages : iterable
        ``(topic, seq, payload, signature block)``, oldest first (the signed originals).
    """
    parts = [TAIL_MAGIC, _SEQ.pack(session, len(newest))]
    for topic, seq in newest.items():
        parts += [_LEN.pack(len(topic)), topic, _SEQ.pack(0, seq)]
    parts += [_record(*m) for m in messages]
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(parts))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _record(topic: bytes, seq: int, payload: bytes, block: bytes) -> bytes:
    """One message of a tail file: its sequence number, then topic, payload, signature."""
    parts = [_SEQ.pack(0, seq)]
    for blob in (topic, payload, block):
        parts += [_LEN.pack(len(blob)), blob]
    return b"".join(parts)


def load_tail(
    path: Path,
) -> tuple[int, dict[bytes, int], list[tuple[bytes, int, bytes, bytes]]] | None:
    """Read a tail written by :func:`save_tail` and appended to by the journal.

    Returns ``(session, newest, messages)``: ``newest`` per topic is the larger of the
    header's and the newest appended message's. A torn last message (a crash or power
    cut in the middle of an append) is dropped, logged (WARNING), and the messages
    before it are kept. Returns None if there is no file or it is unreadable (logged,
    WARNING): it only helps subscribers get messages of the previous session, and
    every message in it is signed anyway.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        if not data.startswith(TAIL_MAGIC):
            raise ValueError("not a resend tail")
        pos = len(TAIL_MAGIC)

        def seq() -> int:
            nonlocal pos
            _, value = _SEQ.unpack_from(data, pos)
            pos += _SEQ.size
            return int(value)

        def blob() -> bytes:
            nonlocal pos
            (n,) = _LEN.unpack_from(data, pos)
            if pos + _LEN.size + n > len(data):
                raise ValueError("truncated")
            out = data[pos + _LEN.size : pos + _LEN.size + n]
            pos += _LEN.size + n
            return out

        session, count = _SEQ.unpack_from(data, pos)
        pos += _SEQ.size
        newest: dict[bytes, int] = {}
        for _ in range(count):
            topic = blob()
            newest[topic] = seq()
    except (ValueError, struct.error) as exc:
        logger.warning("ignoring the resend tail %s: %s", path, exc)
        return None
    messages = []
    while pos < len(data):
        start = pos
        try:
            s = seq()
            topic, payload, block = blob(), blob(), blob()
        except (ValueError, struct.error):
            logger.warning(
                "resend tail %s: the last %d byte(s), a torn message, dropped",
                path,
                len(data) - start,
            )
            break
        messages.append((topic, s, payload, block))
        newest[topic] = max(newest.get(topic, s), s)
    return int(session), newest, messages
