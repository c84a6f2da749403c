"""The console's configuration section, ``[console]``.

Declared here, composed into the one configuration file by :mod:`eew.daemon.config`
(unknown keys are errors there, as for every section). The console binds to the loopback
interface by default; binding it anywhere else without a token is a configuration error,
so an unauthenticated console can never be reached from the network by accident.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from eew.schemafields import doc_field as _f
from eew.schemafields import require_positive as _positive

#: host names that mean "this machine only"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) can only be reached from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ConsoleConfig:
    """The operations console in the browser (section ``[console]``)."""

    enabled: bool = _f(False, "serve the web console from the daemon")
    host: str = _f("127.0.0.1", "address to bind; anything but loopback needs token_file")
    port: int = _f(8765, "TCP port (0: a free port, logged at start)")
    token_file: str = _f(
        "", "file holding the access token (relative to this file); empty: no token"
    )
    partner_networks: tuple[str, ...] = _f(
        ("KN",), "network codes drawn as the partner's stations (ours: every other)"
    )
    queue_size: int = _f(
        4096, "picks and rejected triggers waiting for the console; full: oldest dropped"
    )
    packet_queue_size: int = _f(
        8192, "packets waiting for the console (latency, traces); full: oldest dropped"
    )
    record_section_s: float = _f(60.0, "length of the record section [s]")
    station_live_s: float = _f(30.0, "a station without a packet for this long is dead [s]")
    triggered_s: float = _f(30.0, "a station shows as triggered this long after its pick [s]")
    update_interval_s: float = _f(0.1, "the console pushes changes this often [s]")
    max_clients: int = _f(32, "browser connections at once; more are refused")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "queue_size",
            "packet_queue_size",
            "record_section_s",
            "station_live_s",
            "triggered_s",
            "update_interval_s",
            "max_clients",
        )
        if not 0 <= self.port <= 65535:
            raise ValueError("port: must be 0..65535")
        if not self.host:
            raise ValueError("host: must not be empty")
        if not is_loopback(self.host) and not self.token_file:
            raise ValueError(
                f"token_file: required when host is not loopback ({self.host!r} is reachable "
                "from the network); set a token file or bind 127.0.0.1"
            )
