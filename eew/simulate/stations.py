"""Channels to simulate, taken from an :class:`eew.inventory.Inventory`, grouped by station."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eew.errors import ConfigError, InventoryError

if TYPE_CHECKING:
    from eew.inventory import Inventory

#: Almaty reference point (science reference, section 6)
ALMATY_LAT_DEG = 43.238
ALMATY_LON_DEG = 76.946


@dataclass(frozen=True)
class SimChannel:
    """One channel to synthesise.

    Attributes
    ----------
    channel_id : str
        ``NET.STA.LOC.CHA``.
    sampling_rate_hz : float
        Sample rate (Hz).
    sensitivity : float
        Counts per input unit (m/s for velocity, m/s**2 for acceleration).
    kind : str
        ``"velocity"`` or ``"acceleration"``.
    component : str
        ``"Z"``, ``"N"`` or ``"E"``.
    """

    channel_id: str
    station_id: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    sampling_rate_hz: float
    sensitivity: float
    kind: str
    component: str

    @property
    def nslc(self) -> tuple[str, str, str, str]:
        """Return (network, station, location, channel) codes."""
        net, sta, loc, cha = self.channel_id.split(".")
        return net, sta, loc, cha


@dataclass(frozen=True)
class SimStation:
    """A station and the channels simulated on it."""

    station_id: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    channels: tuple[SimChannel, ...]


def channels_from_inventory(inventory: Inventory, time_ns: int | None = None) -> list[SimChannel]:
    """Convert the channels of an :class:`eew.inventory.Inventory` into :class:`SimChannel`.

    ``time_ns`` (ns since 1970) selects the epoch in force then; channels without one are
    skipped. Without it the latest epoch is used.
    """
    out = []
    for cid in inventory.channel_ids():
        info = inventory.get(cid, time_ns)
        if info is None:
            continue
        if len(cid.split(".")) != 4:
            raise InventoryError(f"channel id {cid!r} is not NET.STA.LOC.CHA")
        out.append(
            SimChannel(
                channel_id=cid,
                station_id=str(info.station_id),
                latitude_deg=float(info.latitude_deg),
                longitude_deg=float(info.longitude_deg),
                elevation_m=float(info.elevation_m),
                sampling_rate_hz=float(info.sampling_rate_hz),
                sensitivity=float(info.sensitivity),
                kind=str(info.kind),
                component=str(info.component),
            )
        )
    return out


def default_inventory_paths() -> tuple[Path, ...]:
    """Return the packaged ``eew/data/stations/*.xml`` files (sorted)."""
    from eew.configfile import packaged_stations_dir

    return tuple(sorted(packaged_stations_dir().glob("*.xml")))


def load_channels(paths: Sequence[Path], time_ns: int | None = None) -> list[SimChannel]:
    """Load StationXML files through :func:`eew.inventory.load_inventory`."""
    from eew.inventory import load_inventory

    if not paths:
        raise ConfigError("no StationXML files given and none found in eew/data/stations/")
    return channels_from_inventory(load_inventory([str(p) for p in paths]), time_ns)


def select_stations(
    channels: Iterable[SimChannel], include: Sequence[str], channel_codes: Sequence[str]
) -> list[SimStation]:
    """Group channels by station, keeping stations matching ``include`` and codes ``channel_codes``.

    Stations come out sorted by id; channels by code. A station with no matching channel is
    dropped.
    """
    groups: dict[str, list[SimChannel]] = {}
    for ch in channels:
        if not any(fnmatch.fnmatchcase(ch.station_id, pat) for pat in include):
            continue
        if not any(fnmatch.fnmatchcase(ch.nslc[3], pat) for pat in channel_codes):
            continue
        if ch.kind not in ("velocity", "acceleration") or ch.component not in "ZNE":
            continue
        groups.setdefault(ch.station_id, []).append(ch)
    stations = []
    for sid in sorted(groups):
        chans = tuple(sorted(groups[sid], key=lambda c: c.channel_id))
        first = chans[0]
        stations.append(
            SimStation(sid, first.latitude_deg, first.longitude_deg, first.elevation_m, chans)
        )
    return stations
