"""Settings of the alert bus: publisher, security and subscriber.

Frozen dataclasses in the style of :mod:`eew.config`: one default per field,
a unit in every name or docstring, and a ``check()`` that raises
:class:`ValueError` naming the key. :class:`BusConfig` and
:class:`SecurityConfig` are meant for the daemon's TOML file (sections
``[bus]`` and ``[bus_security]``); :class:`SubscriberConfig` is what a
subscriber (``eew subscribe`` or a siren controller) sets for itself.
:class:`BusSetup` bundles what building a publisher needs besides those two
sections (who we are, whether the bus is insecure, where key paths start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from eew.schemafields import doc_field as _f
from eew.schemafields import optional_path
from eew.schemafields import require_positive as _positive


@dataclass(frozen=True)
class BusConfig:
    """The publishing side of the alert bus.

    Attributes
    ----------
    endpoint : str
        Where the XPUB socket binds. ``tcp://HOST:*`` binds a random free port
        (tests); :attr:`Publisher.endpoint` then tells which.
    heartbeat_interval_s : float
        A heartbeat is sent this often [s] (publisher clock).
    sndhwm_messages : int
        ZMQ send high-water mark per subscriber [messages]. A subscriber that
        falls this far behind loses messages (ZMQ drops them for that
        subscriber only; it sees them as sequence gaps).
    sndbuf_bytes : int
        Kernel send buffer per subscriber connection (``SO_SNDBUF``) [bytes];
        0 keeps the operating system's default, which Linux grows by autotuning
        up to ``net.ipv4.tcp_wmem``. A fixed small buffer makes a stalled
        subscriber reach the high-water mark sooner.
    alert_queue_size : int
        Handover queue capacity for alerts [messages]; alerts are never
        dropped (superseded versions go first, then :class:`BusOverflowError`).
    pick_queue_size : int
        Handover queue capacity for picks [messages]; when full the oldest
        pick is dropped and counted.
    status_queue_size : int
        Handover queue capacity for status messages; drop oldest.
    alert_cache_ttl_s : float
        An alert with no new version for this long leaves the last-value
        cache even if no ``final``/``delete`` was sent [s].
    publish_picks : bool
        Publish picks on ``pick.<agency>``.
    resend_buffer_messages : int
        The newest alert, pick and status messages kept for subscribers that ask
        for what they missed, by sequence number (:mod:`eew.bus.resend`) [messages].
    """

    endpoint: str = _f("tcp://*:5571", "XPUB bind endpoint (tcp://HOST:* for a random port)")
    heartbeat_interval_s: float = _f(2.0, "heartbeat period [s]")
    sndhwm_messages: int = _f(1000, "ZMQ send high-water mark per subscriber [messages]")
    sndbuf_bytes: int = _f(0, "kernel send buffer per connection, 0 = OS default [bytes]")
    alert_queue_size: int = _f(256, "alert handover queue (never dropped) [messages]")
    pick_queue_size: int = _f(2000, "pick handover queue, drop oldest [messages]")
    status_queue_size: int = _f(64, "status handover queue, drop oldest [messages]")
    alert_cache_ttl_s: float = _f(900.0, "expire unfinished alerts from the last-value cache [s]")
    publish_picks: bool = _f(True, "publish picks on pick.<agency>")
    resend_buffer_messages: int = _f(
        10000, "recent alert/pick/status messages kept for resend requests [messages]"
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "heartbeat_interval_s",
            "sndhwm_messages",
            "alert_queue_size",
            "pick_queue_size",
            "status_queue_size",
            "alert_cache_ttl_s",
            "resend_buffer_messages",
        )
        if self.sndbuf_bytes < 0:
            raise ValueError("sndbuf_bytes: must be >= 0 (0 = the OS default)")
        if not self.endpoint.startswith(("tcp://", "ipc://", "inproc://")):
            raise ValueError("endpoint: must be a tcp://, ipc:// or inproc:// ZMQ endpoint")


@dataclass(frozen=True)
class SecurityConfig:
    """Keys of the publishing side (paths relative to the configuration file).

    Attributes
    ----------
    curve_enabled : bool
        Encrypt and authenticate connections with CURVE. Off only for tests
        and benchmarks: without it anyone who can reach the port can listen.
    curve_secret_key_file : str
        The publisher's CURVE certificate with its secret key
        (``NAME.key_secret`` from ``eew keys``).
    curve_allowed_keys_dir : str
        Directory of the public CURVE certificates (``*.key``) of the
        subscribers that may connect; every other client is refused.
    signing_key_file : str
        The agency's Ed25519 signing key (``NAME.ed25519_secret``).
    trusted_keys_dir : str
        Directory of the Ed25519 public keys (``*.ed25519``) of the agencies
        whose messages we accept (partner feeds).
    """

    curve_enabled: bool = _f(True, "require CURVE encryption + client authentication")
    curve_secret_key_file: str = _f("keys/publisher.key_secret", "publisher CURVE certificate")
    curve_allowed_keys_dir: str = _f("keys/allowed", "public certificates of allowed subscribers")
    signing_key_file: str = _f("keys/KZ-AEWS.ed25519_secret", "Ed25519 signing key of the agency")
    trusted_keys_dir: str = _f("keys/trusted", "Ed25519 public keys of trusted agencies")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        for key in ("curve_secret_key_file", "curve_allowed_keys_dir", "signing_key_file"):
            if self.curve_enabled or key == "signing_key_file":
                if not getattr(self, key):
                    raise ValueError(f"{key}: must not be empty")


@dataclass(frozen=True)
class BusSetup:
    """Everything a publisher of ours is built from.

    Attributes
    ----------
    bus : BusConfig
        Section ``[bus]``.
    security : SecurityConfig
        Section ``[bus_security]``.
    agency : str
        Our agency code (``alert.agency``).
    insecure : bool
        Publish unsigned and without CURVE (``daemon.insecure_bus``; tests and demos).
    base_dir : Path
        Directory of the configuration file; relative key paths start here.
    """

    bus: BusConfig
    security: SecurityConfig
    agency: str
    insecure: bool = False
    base_dir: Path = Path(".")

    def path(self, value: str) -> Path | None:
        """A path from the configuration, relative to :attr:`base_dir`; None for ``''``."""
        return optional_path(self.base_dir, value)


@dataclass(frozen=True)
class SubscriberConfig:
    """The receiving side.

    Attributes
    ----------
    max_clock_skew_s : float
        The first message of a publisher session (and any message dated in
        the future) whose bus sent time differs from the subscriber's clock by
        more than this is dropped as stale [s]. ``inf`` disables the check
        (replays of archived data on a live clock).
    max_backlog_age_s : float
        A message that continues a publisher session already seen (its
        sequence number is new) is accepted up to this old [s]: the backlog of
        a subscriber that stalled or reconnected. Never below ``max_clock_skew_s``.
    heartbeat_interval_s : float
        Expected heartbeat period until the publisher announces its own [s].
    heartbeat_missed_intervals : float
        Warn when no heartbeat came for this many intervals.
    rcvhwm_messages : int
        ZMQ receive high-water mark [messages].
    rcvbuf_bytes : int
        Kernel receive buffer (``SO_RCVBUF``) [bytes]; 0 keeps the operating
        system's default (autotuned up to ``net.ipv4.tcp_rmem``).
    replay_memory_events : int
        Event ids (and pick ids) whose newest version is remembered for the
        replay check; the oldest are forgotten first (the sent-time check
        still rejects old captures).
    reconnect_interval_s, reconnect_interval_max_s : float
        Reconnection back-off, initial and maximum [s]: of ZMQ's own
        reconnections and of the subscriber re-creating its socket.
    silence_reconnect_intervals : float
        Re-create the socket when nothing at all came for this many heartbeat
        intervals (a half-open or dead connection); repeated with back-off.
    """

    max_clock_skew_s: float = _f(30.0, "drop new sessions sent this far from our clock [s]")
    max_backlog_age_s: float = _f(900.0, "accept a session's backlog up to this old [s]")
    heartbeat_interval_s: float = _f(2.0, "expected heartbeat period before one is received [s]")
    heartbeat_missed_intervals: float = _f(3.0, "warn after this many missing heartbeats")
    rcvhwm_messages: int = _f(10000, "ZMQ receive high-water mark [messages]")
    rcvbuf_bytes: int = _f(0, "kernel receive buffer, 0 = OS default [bytes]")
    replay_memory_events: int = _f(100_000, "event/pick ids remembered for replay checks")
    reconnect_interval_s: float = _f(0.2, "first reconnection delay [s]")
    reconnect_interval_max_s: float = _f(5.0, "largest reconnection delay [s]")
    silence_reconnect_intervals: float = _f(2.0, "re-create the socket after this much silence")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "max_clock_skew_s",
            "max_backlog_age_s",
            "heartbeat_interval_s",
            "heartbeat_missed_intervals",
            "rcvhwm_messages",
            "replay_memory_events",
            "reconnect_interval_s",
            "reconnect_interval_max_s",
            "silence_reconnect_intervals",
        )
        if self.rcvbuf_bytes < 0:
            raise ValueError("rcvbuf_bytes: must be >= 0 (0 = the OS default)")
        if math.isnan(self.max_clock_skew_s) or math.isnan(self.max_backlog_age_s):
            raise ValueError("max_clock_skew_s: must be a number (inf disables the check)")
        if self.reconnect_interval_max_s < self.reconnect_interval_s:
            raise ValueError("reconnect_interval_max_s: must be >= reconnect_interval_s")
