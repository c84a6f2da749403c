"""The daemon's configuration sections: ``[daemon]``, ``[seedlink]``, ``[upstream]``.

They are part of the one configuration file (:class:`eew.daemon.config.Settings` has them
as fields, so ``eew config --dump`` shows them); this module holds only their declarations
and invariants and imports nothing from the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass

from eew.schemafields import doc_field as _f
from eew.schemafields import require_positive as _positive

ROLES = ("station", "central", "all")
CLOCKS = ("wall", "data")
#: the longest stop drain [s]: with the rest of the stop (0.06-0.3 s measured) the process
#: exits within 1 s of SIGTERM even when it is behind (docs/operations.md, Signals)
MAX_DRAIN_S = 0.5


def _check_address(key: str, text: str) -> None:
    _host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{key}: {text!r} is not HOST:PORT")


@dataclass(frozen=True)
class DaemonConfig:
    """The daemon itself (section ``[daemon]``)."""

    role: str = _f("all", "station (SeedLink -> picks), central (picks -> alerts) or all")
    processing_clock: str = _f(
        "wall",
        "time of the processing core: wall (live) or data (newest packet end; accelerated "
        "playback such as the live demo)",
    )
    publish: bool = _f(True, "publish on the alert bus (false: dry run, results only logged)")
    insecure_bus: bool = _f(
        False, "publish unsigned and without CURVE (tests and demos only; logged as WARNING)"
    )
    heartbeat_interval_s: float = _f(
        5.0, "health snapshot period: log line, bus heartbeat health, metrics [s]"
    )
    station_live_s: float = _f(30.0, "a station is live if data arrived this recently [s]")
    event_tick_s: float = _f(1.0, "events without new picks are checked for expiry this often [s]")
    drain_s: float = _f(
        0.5, "on stop, packets already received are processed this long (at most 0.5) [s]"
    )
    shutdown_timeout_s: float = _f(4.5, "everything stops within this after SIGTERM [s]")
    metrics_listen: str = _f("", "Prometheus endpoint HOST:PORT; empty: off")
    log_level: str = _f("INFO", "DEBUG, INFO, WARNING or ERROR")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        if self.role not in ROLES:
            raise ValueError(f"role: must be one of {', '.join(ROLES)}")
        if self.processing_clock not in CLOCKS:
            raise ValueError(f"processing_clock: must be one of {', '.join(CLOCKS)}")
        _positive(
            self,
            "heartbeat_interval_s",
            "station_live_s",
            "event_tick_s",
            "drain_s",
            "shutdown_timeout_s",
        )
        if self.drain_s >= self.shutdown_timeout_s:
            raise ValueError("drain_s: must be below shutdown_timeout_s")
        if self.drain_s > MAX_DRAIN_S:
            raise ValueError(
                f"drain_s: at most {MAX_DRAIN_S} s, so that the process exits within 1 s of "
                "SIGTERM (the rest of the stop takes up to a few tenths of a second)"
            )
        if self.metrics_listen:
            _check_address("metrics_listen", self.metrics_listen)
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log_level: must be DEBUG, INFO, WARNING or ERROR")


@dataclass(frozen=True)
class SeedLinkConfig:
    """SeedLink intake of the station and all roles (section ``[seedlink]``)."""

    servers: tuple[str, ...] = _f(("127.0.0.1:18000",), "SeedLink servers, HOST:PORT each")
    streams: str = _f("*_*", "stations and selectors, NET_STA[:SEL ...],... (obspy style)")
    state_file: str = _f("seedlink.state", "resume state (relative to this file); empty: none")
    state_interval_s: float = _f(10.0, "the state file is written this often and on stop [s]")
    keepalive_s: float = _f(30.0, "send INFO ID after this long without traffic [s]")
    timeout_s: float = _f(90.0, "a link silent this long is stalled and reconnected [s]")
    connect_timeout_s: float = _f(10.0, "TCP connect and HELLO timeout [s]")
    backoff_initial_s: float = _f(0.5, "first reconnect delay [s]")
    backoff_max_s: float = _f(30.0, "largest reconnect delay [s]")
    queue_size: int = _f(20_000, "packets between the links and processing (full: TCP pushback)")
    late_s: float = _f(10.0, "packets with a latency above this are counted as late [s]")
    future_s: float = _f(5.0, "drop packets ending further ahead of our clock [s]; inf: off")
    gap_tolerance_samples: float = _f(0.5, "gap / overlap detection tolerance [samples]")
    protocol: str = _f("auto", "SeedLink version: auto (4.0 where offered, else 3.1), 4 or 3")
    tls_ca_file: str = _f(
        "",
        "CA certificates (PEM) for tls://HOST:PORT servers (relative to this file); empty: system",
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        if self.protocol not in ("auto", "4", "3"):
            raise ValueError("protocol: must be auto, 4 or 3")
        if not self.servers:
            raise ValueError("servers: at least one server is needed")
        for s in self.servers:
            _check_address("servers", s)
        _positive(
            self,
            "state_interval_s",
            "keepalive_s",
            "timeout_s",
            "connect_timeout_s",
            "backoff_initial_s",
            "backoff_max_s",
            "queue_size",
            "late_s",
            "future_s",
            "gap_tolerance_samples",
        )
        if self.timeout_s <= self.keepalive_s:
            raise ValueError("timeout_s: must be longer than keepalive_s")


@dataclass(frozen=True)
class UpstreamConfig:
    """Pick feeds of station daemons for the central role (section ``[upstream]``)."""

    endpoints: tuple[str, ...] = _f((), "bus endpoints of the station daemons, tcp://HOST:PORT")
    queue_size: int = _f(10_000, "picks waiting for the event core; full: oldest dropped")
    curve_key_file: str = _f("", "our CURVE certificate with secret key; empty: no CURVE")
    curve_server_key_file: str = _f("", "public CURVE certificate of the station publishers")
    trusted_keys_dir: str = _f("", "Ed25519 keys of trusted publishers; empty: unsigned accepted")
    max_clock_skew_s: float = _f(30.0, "drop picks sent further than this from our clock [s]")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(self, "queue_size", "max_clock_skew_s")
        if bool(self.curve_key_file) != bool(self.curve_server_key_file):
            raise ValueError("curve_key_file: goes together with curve_server_key_file")
        for e in self.endpoints:
            if not e.startswith(("tcp://", "ipc://", "inproc://")):
                raise ValueError(f"endpoints: {e!r} is not a ZMQ endpoint")
