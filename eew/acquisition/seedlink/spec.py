"""What a SeedLink client is asked to do, and what it delivers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eew.acquisition.seedlink.protocol import parse_stream_list
from eew.model.packet import Packet


@dataclass(frozen=True, slots=True)
class StationSelection:
    """One STATION request: network and station patterns (``?``/``*``) and v3 selectors."""

    network: str
    station: str
    selectors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A server and what to ask it for."""

    host: str
    port: int
    stations: tuple[StationSelection, ...] = (StationSelection("*", "*"),)

    @property
    def name(self) -> str:
        """``host:port``, the key of this server in the state file."""
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, address: str, streams: str = "*_*") -> ServerSpec:
        """From ``HOST:PORT`` and an obspy-style list ``NET_STA[:SEL ...],...``."""
        host, _, port = address.rpartition(":")
        sel = tuple(StationSelection(n, s, sl) for n, s, sl in parse_stream_list(streams))
        return cls(host or "127.0.0.1", int(port), sel)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Tuning of :class:`SeedLinkClient` (times in seconds).

    ``begin_ns``/``end_ns`` request a time window (``TIME``) for stations
    without a resume point; with ``end_ns`` each connection ends when the
    server says END. ``dialup`` uses FETCH (ends at the server's buffer end).
    """

    keepalive_s: float = 30.0
    timeout_s: float = 90.0
    connect_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    state_file: Path | None = None
    state_interval_s: float = 10.0
    queue_size: int = 20_000
    begin_ns: int | None = None
    end_ns: int | None = None
    dialup: bool = False
    late_s: float = 10.0
    future_s: float | None = 5.0
    gap_tolerance_samples: float = 0.5


@dataclass(frozen=True, slots=True)
class Received:
    """A delivered packet with where it came from."""

    server: str
    seq: int
    packet: Packet
    arrival_ns: int
