"""Build one console (tap, state, server) from the ``[console]`` section."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from eew.console.config import ConsoleConfig
from eew.console.server import ConsoleError, ConsoleServer, HealthSource
from eew.console.state import ConsoleState, StationInfo, TargetInfo
from eew.console.tap import ConsoleTap
from eew.schemafields import optional_path


class _Site(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def latitude_deg(self) -> float: ...
    @property
    def longitude_deg(self) -> float: ...


def station_infos(
    positions: Mapping[str, tuple[float, float, float]], partner_networks: Iterable[str]
) -> list[StationInfo]:
    """Map stations from ``Inventory.stations()`` (``NET.STA`` -> lat, lon, elevation)."""
    partner = frozenset(partner_networks)
    return [
        StationInfo(sid, lat, lon, sid.split(".")[0] in partner)
        for sid, (lat, lon, _elev) in positions.items()
    ]


def target_infos(targets: Iterable[_Site]) -> list[TargetInfo]:
    """Map targets from anything with ``name``, ``latitude_deg`` and ``longitude_deg``."""
    return [TargetInfo(t.name, t.latitude_deg, t.longitude_deg) for t in targets]


def read_token(path: Path | None) -> str | None:
    """The token in ``path`` (first line, stripped); None without a file.

    Raises
    ------
    ConsoleError
        Unreadable or empty file.
    """
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise ConsoleError(f"console token file {path}: {exc.strerror}") from exc
    if not token or not token[0].strip():
        raise ConsoleError(f"console token file {path} is empty")
    return token[0].strip()


def build_console(
    cfg: ConsoleConfig,
    positions: Mapping[str, tuple[float, float, float]],
    targets: Iterable[_Site],
    now_ns: Callable[[], int],
    *,
    mode: str = "live",
    rate: float = 1.0,
    health: HealthSource | None = None,
    base_dir: Path | None = None,
) -> ConsoleServer:
    """A console server (not started) with its tap and state.

    Parameters
    ----------
    cfg : ConsoleConfig
        Section ``[console]``.
    positions : mapping
        ``Inventory.stations()``.
    targets : iterable
        Target sites.
    now_ns : callable
        The processing clock [ns].
    mode : str
        ``live`` or ``replay`` (replayed alerts are drills).
    rate : float
        Data seconds per wall second.
    health : callable, optional
        Bus and partner link health.
    base_dir : Path, optional
        Where ``token_file`` is relative to (the configuration file's directory).
    """
    tap = ConsoleTap(cfg.queue_size, cfg.packet_queue_size)
    state = ConsoleState(
        station_infos(positions, cfg.partner_networks), target_infos(targets), cfg, mode
    )
    token = read_token(optional_path(base_dir or Path.cwd(), cfg.token_file))
    return ConsoleServer(
        tap,
        state,
        now_ns,
        cfg.host,
        cfg.port,
        token=token,
        rate=rate,
        health=health,
        update_interval_s=cfg.update_interval_s,
        max_clients=cfg.max_clients,
    )
