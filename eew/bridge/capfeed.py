"""The CAP feed: each event's chain of CAP messages and an Atom index of the current ones.

Every alert becomes one CAP 1.2 message (:func:`eew.formats.cap.alert_to_cap`: Alert
for ``new``, Update for ``update`` and ``final``, Cancel for ``delete``; ``status``
as the alert says). The feed keeps the chain of each event itself and names in
``references`` every earlier message of the event **that it served** (so an
aggregator can fetch each one at its URL); a converter needs no state.

* Each message stays at a stable URL, ``/cap/SENDER/IDENTIFIER.xml``, for
  ``retention_s`` after its event's newest message (bounded by ``max_messages``;
  the oldest events go first).
* The Atom index ``/cap/feed.atom`` lists the current messages: the newest message
  of every event whose CAP ``expires`` has not passed (a Cancel included, until it
  expires), newest first, each entry linking to its message
  (``type="application/cap+xml"``), the form public-alert aggregators and
  cell-broadcast gateways poll.
* ``/health`` answers 200 with a small JSON object while the bridge's heartbeats
  are fresh and the bus feed is up, 503 otherwise.

A feed that starts in the middle of an event has no earlier message to name: the
converter then uses what the alert itself knows of its chain, if anything; if it
cannot write an Update or Cancel without references, the message is logged and
counted as dropped.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from lxml import etree

from eew.bridge.core import SinkStatistics
from eew.errors import DataError
from eew.formats import cap
from eew.model.alert import Alert
from eew.model.clock import Clock
from eew.model.timeutil import NS_PER_S, iso_to_ns, ns_to_iso

logger = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"
ATOM_MIME = "application/atom+xml"
_C = f"{{{cap.CAP_NS}}}"


@dataclass(frozen=True, slots=True)
class CapEntry:
    """One CAP message served by the feed.

    Attributes
    ----------
    sender, identifier : str
        CAP ``sender`` and ``identifier`` (together unique).
    sent_ns : int
        CAP ``sent`` [ns].
    msg_type : str
        ``Alert``, ``Update`` or ``Cancel``.
    status : str
        CAP ``status`` (``Actual``, ``Exercise``, ``Test``...).
    headline : str
        Headline of the first ``info`` in English (else the first ``info``).
    expires_ns : int
        CAP ``expires`` of the first ``info`` [ns].
    event : tuple of str
        (agency, event id) of the alert.
    version : int
        Alert version.
    xml : bytes
        The message.
    etag : str
        Strong entity tag of ``xml``.
    """

    sender: str
    identifier: str
    sent_ns: int
    msg_type: str
    status: str
    headline: str
    expires_ns: int
    event: tuple[str, str]
    version: int
    xml: bytes
    etag: str

    @property
    def path(self) -> str:
        """Its URL path, ``/cap/SENDER/IDENTIFIER.xml`` (percent-encoded)."""
        return f"/cap/{quote(self.sender, safe='')}/{quote(self.identifier, safe='')}.xml"

    def reference(self) -> cap.CapReference:
        """The message as a CAP ``references`` entry."""
        return cap.CapReference(self.sender, self.identifier, self.sent_ns)


def etag_of(data: bytes) -> str:
    """Strong HTTP entity tag of ``data``."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def parse_entry(xml: bytes, alert: Alert) -> CapEntry:
    """Read what the feed needs from a CAP message written for ``alert``."""
    root = etree.fromstring(xml)
    infos = root.findall(f"{_C}info")
    if not infos:
        raise DataError("CAP message without info")
    info = next((i for i in infos if i.findtext(f"{_C}language") == "en"), infos[0])
    expires = info.findtext(f"{_C}expires") or root.findtext(f"{_C}sent") or ""
    return CapEntry(
        sender=root.findtext(f"{_C}sender") or "",
        identifier=root.findtext(f"{_C}identifier") or "",
        sent_ns=iso_to_ns(root.findtext(f"{_C}sent") or ""),
        msg_type=root.findtext(f"{_C}msgType") or "",
        status=root.findtext(f"{_C}status") or "",
        headline=info.findtext(f"{_C}headline") or "",
        expires_ns=iso_to_ns(expires),
        event=(alert.agency, alert.event_id),
        version=alert.version,
        xml=xml,
        etag=etag_of(xml),
    )


class CapFeed:
    """The messages of the CAP feed and its Atom index; safe to use from several threads.

    Parameters
    ----------
    clock : Clock
        Decides which messages are current and when retention ends.
    title : str
        Atom feed title.
    retention_s : float
        How long the messages of an event stay served after its newest one [s].
    max_messages : int
        Most messages kept; beyond that the events updated longest ago are forgotten.
    heartbeat_timeout_s : float
        ``/health`` says 503 when no heartbeat came for this long [s].
    """

    def __init__(
        self,
        clock: Clock,
        *,
        title: str = "Earthquake early warnings",
        retention_s: float = 86_400.0,
        max_messages: int = 10_000,
        heartbeat_timeout_s: float = 30.0,
    ) -> None:
        self._clock = clock
        self._title = title
        self._retention_ns = round(retention_s * NS_PER_S)
        self._max_messages = max_messages
        self._heartbeat_timeout_ns = round(heartbeat_timeout_s * NS_PER_S)
        self._lock = threading.Lock()
        #: event -> its messages, oldest first; the event updated longest ago first
        self._chains: OrderedDict[tuple[str, str], list[CapEntry]] = OrderedDict()
        self._by_path: dict[str, CapEntry] = {}
        self._touched_ns: dict[tuple[str, str], int] = {}
        self._changed_ns = clock.now_ns()
        self._beat_ns: int | None = None
        self._feed_alive = False
        self._added = self._dropped = self._beats = 0
        self._served = 0

    # ---- input ------------------------------------------------------------------------------
    def add(self, alert: Alert) -> CapEntry | None:
        """Write ``alert`` as CAP chained to the earlier messages; ``None`` if it cannot."""
        key = (alert.agency, alert.event_id)
        with self._lock:
            chain = list(self._chains.get(key, ()))
        refs = [e.reference() for e in chain if e.version < alert.version]
        if any(e.version >= alert.version for e in chain):
            logger.info("cap feed: %s v%d already served", alert.event_id, alert.version)
            return None
        try:
            xml = cap.alert_to_cap(alert, references=refs)
            entry = parse_entry(xml, alert)
        except DataError as exc:
            with self._lock:
                self._dropped += 1
            logger.error("cap feed: %s v%d not served: %s", alert.event_id, alert.version, exc)
            return None
        now = self._clock.now_ns()
        with self._lock:
            self._chains.setdefault(key, []).append(entry)
            self._chains.move_to_end(key)
            self._by_path[entry.path] = entry
            self._touched_ns[key] = now
            self._changed_ns = now
            self._added += 1
            self._expire(now)
        return entry

    def heartbeat(self, now_ns: int, feed_alive: bool) -> None:
        """Record a heartbeat of the bridge loop (at the feed's clock) and the bus feed's state."""
        now_ns = self._clock.now_ns()
        with self._lock:
            self._beat_ns = now_ns
            self._feed_alive = feed_alive
            self._beats += 1
            self._expire(now_ns)

    def _expire(self, now_ns: int) -> None:
        """Forget events past retention, and the oldest beyond ``max_messages`` (lock held)."""
        n = len(self._by_path)
        while self._chains:
            key, chain = next(iter(self._chains.items()))
            old = now_ns - self._touched_ns[key] > self._retention_ns
            if not old and n <= self._max_messages:
                break
            del self._chains[key]
            del self._touched_ns[key]
            for e in chain:
                self._by_path.pop(e.path, None)
            n -= len(chain)

    # ---- output -----------------------------------------------------------------------------
    def message(self, path: str) -> CapEntry | None:
        """The message at URL path ``path``, or ``None``."""
        with self._lock:
            entry = self._by_path.get(path)
            if entry is not None:
                self._served += 1
            return entry

    def current(self, now_ns: int | None = None) -> list[CapEntry]:
        """The newest message of each event that has not expired, newest first."""
        now = self._clock.now_ns() if now_ns is None else now_ns
        with self._lock:
            newest = [chain[-1] for chain in self._chains.values()]
        return sorted(
            (e for e in newest if e.expires_ns > now), key=lambda e: e.sent_ns, reverse=True
        )

    def atom(self, base_url: str, now_ns: int | None = None) -> bytes:
        """The Atom index of the current messages (UTF-8 XML).

        Parameters
        ----------
        base_url : str
            Public URL of the server, e.g. ``https://eew.example.kz``; hrefs are absolute.
        now_ns : int, optional
            Time that decides what is current; the clock's by default.
        """
        now = self._clock.now_ns() if now_ns is None else now_ns
        base = base_url.rstrip("/")
        entries = self.current(now)
        with self._lock:
            newest = [chain[-1] for chain in self._chains.values()]
            changed = self._changed_ns
        # an entry that expired changed the index too
        changed = max([changed, *(e.expires_ns for e in newest if e.expires_ns <= now)])
        a = f"{{{ATOM_NS}}}"
        feed = etree.Element(f"{a}feed", nsmap={None: ATOM_NS})
        etree.SubElement(feed, f"{a}id").text = f"{base}/cap/feed.atom"
        etree.SubElement(feed, f"{a}title").text = self._title
        etree.SubElement(feed, f"{a}updated").text = ns_to_iso(changed, digits=0)
        author = etree.SubElement(feed, f"{a}author")
        etree.SubElement(author, f"{a}name").text = entries[0].sender if entries else "eew"
        link = etree.SubElement(feed, f"{a}link")
        link.set("rel", "self")
        link.set("type", ATOM_MIME)
        link.set("href", f"{base}/cap/feed.atom")
        for e in entries:
            entry = etree.SubElement(feed, f"{a}entry")
            etree.SubElement(entry, f"{a}id").text = f"{base}{e.path}"
            title = f"{e.headline} ({e.msg_type}" + (
                f", {e.status})" if e.status != "Actual" else ")"
            )
            etree.SubElement(entry, f"{a}title").text = title
            etree.SubElement(entry, f"{a}updated").text = ns_to_iso(e.sent_ns, digits=0)
            author = etree.SubElement(entry, f"{a}author")
            etree.SubElement(author, f"{a}name").text = e.sender
            link = etree.SubElement(entry, f"{a}link")
            link.set("rel", "alternate")
            link.set("type", CAP_MIME)
            link.set("href", f"{base}{e.path}")
        return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8"))

    def health(self, now_ns: int | None = None) -> tuple[bool, dict[str, object]]:
        """(healthy, details) for ``/health``: heartbeats fresh and the bus feed up."""
        now = self._clock.now_ns() if now_ns is None else now_ns
        with self._lock:
            beat, alive = self._beat_ns, self._feed_alive
            n_events, n_messages = len(self._chains), len(self._by_path)
        fresh = beat is not None and now - beat <= self._heartbeat_timeout_ns
        return fresh and alive, {
            "bridge": "up" if fresh else "stalled",
            "feed": "up" if alive else "down",
            "last_heartbeat": None if beat is None else ns_to_iso(beat),
            "events": n_events,
            "messages": n_messages,
        }

    def statistics(self) -> SinkStatistics:
        """Counters (``confirmed``: message downloads served)."""
        with self._lock:
            return SinkStatistics(
                connected=True,
                sent=self._added,
                confirmed=self._served,
                queued=0,
                dropped=self._dropped,
                heartbeats=self._beats,
                reconnects=0,
            )
