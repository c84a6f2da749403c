"""What a SeedLink client is asked to do, and what it delivers."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from eew.acquisition.seedlink.protocol import parse_stream_list
from eew.model.packet import Packet


@dataclass(frozen=True, slots=True)
class StationSelection:
    """One STATION request: network and station patterns (``?``/``*``) and selectors.

    Selectors are v3 (``HH?``, ``00BHZ``, ``!HHE``; sent in their v4 form over SeedLink
    4) or v4 (``*_H_H_Z``, ``00_B_H_?:3``; sent as they are).
    """

    network: str
    station: str
    selectors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A server and what to ask it for."""

    host: str
    port: int
    stations: tuple[StationSelection, ...] = (StationSelection("*", "*"),)
    #: connect over TLS (``tls://HOST:PORT``)
    tls: bool = False

    @property
    def name(self) -> str:
        """``host:port``, the key of this server in the state file."""
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, address: str, streams: str = "*_*") -> ServerSpec:
        """From ``[tls://]HOST:PORT`` and an obspy-style list ``NET_STA[:SEL ...],...``."""
        tls = address.lower().startswith("tls://")
        host, _, port = address[6:].rpartition(":") if tls else address.rpartition(":")
        sel = tuple(StationSelection(n, s, sl) for n, s, sl in parse_stream_list(streams))
        return cls(host or "127.0.0.1", int(port), sel, tls)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Tuning of :class:`SeedLinkClient` (times in seconds).

    ``begin_ns``/``end_ns`` request a time window (``TIME``) for stations
    without a resume point; with ``end_ns`` each connection ends when the
    server says END. ``dialup`` uses FETCH (ends at the server's buffer end).
    ``protocol``: ``"auto"`` speaks SeedLink 4.0 with servers that offer it (HELLO
    ``SLPROTO:4.0``) and 3.1 with the others; ``"4"`` insists on 4.0, ``"3"`` keeps 3.1.
    ``mseed3`` asks a v4 server for miniSEED 3 payloads (the ``:3`` filter).
    ``ssl_context`` is used for ``tls`` servers (default: the system's CAs, verified).
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
    protocol: str = "auto"
    mseed3: bool = False
    ssl_context: ssl.SSLContext | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """A delivered packet with where it came from."""

    server: str
    seq: int
    packet: Packet
    arrival_ns: int
