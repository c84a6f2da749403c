"""Scenario files: a TOML description of sources, stations, noise and disturbances.

The file is parsed into frozen dataclasses. Unknown tables or keys are errors
(:class:`~eew.errors.ConfigError` naming the key and the file), so a typo never becomes a
silent default. See ``docs/simulator.md`` for the full key reference and an example.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from obspy import UTCDateTime

from eew.errors import ConfigError

SOURCE_KINDS = ("local", "teleseism")
DISTURBANCE_KINDS = ("spike", "step", "calibration", "gap", "dead", "clip", "clock_offset")


@dataclass(frozen=True)
class SourceSpec:
    """One earthquake. ``kind = "local"`` covers regional events too (Hindu Kush).

    Attributes
    ----------
    origin_time : obspy.UTCDateTime
        Origin (rupture nucleation) time, UTC.
    latitude_deg, longitude_deg, depth_km : float
        Hypocentre (the nucleation point of a line source).
    magnitude : float
        Moment magnitude Mw.
    stress_drop_bar : float
        Brune stress drop (bar); sets the corner frequency.
    strike_deg, length_km : float or None
        Line source (given together; used for M >= 7): strike (deg from N) and rupture length.
    nucleation_fraction : float
        Position of the hypocentre along the line, 0 = start (strike-ward rupture), 1 = end.
    rupture_velocity_km_s : float
        Rupture front speed (km/s), along strike and down dip.
    width_km : float or None
        Down-dip width of a planar rupture (km; needs a line source). Unset: a line source
        (one row of sub-events at the hypocentre depth).
    dip_deg : float
        Dip of the plane (deg, 90 = vertical), dipping to the right of the strike.
    nucleation_dip_fraction : float
        Position of the hypocentre down dip, 0 = top edge, 1 = bottom edge.
    subevent_spacing_km : float
        Distance between neighbouring sub-events of a line or planar rupture (km).
    expect_public_alert : bool or None
        What the scorecard expects of the pipeline: a public alert (true) or none
        (false); unset, ``eew evaluate`` decides from magnitude and position. Copied into
        ``truth.json``.
    """

    id: str
    origin_time: UTCDateTime
    latitude_deg: float
    longitude_deg: float
    depth_km: float
    magnitude: float
    kind: str = "local"
    stress_drop_bar: float = 60.0
    strike_deg: float | None = None
    length_km: float | None = None
    nucleation_fraction: float = 0.5
    rupture_velocity_km_s: float = 2.8
    width_km: float | None = None
    dip_deg: float = 90.0
    nucleation_dip_fraction: float = 0.5
    subevent_spacing_km: float = 6.0
    expect_public_alert: bool | None = None


@dataclass(frozen=True)
class StationSpec:
    """Which channels to simulate and per-site behaviour.

    Attributes
    ----------
    inventory : tuple of pathlib.Path
        StationXML files (default: the packaged ``eew/data/stations/*.xml``).
    include : tuple of str
        fnmatch patterns on station ids ``NET.STA`` (default: all).
    channels : tuple of str
        fnmatch patterns on channel codes such as ``"HH?"`` (default: all).
    city_radius_km : float
        Stations within this epicentral distance of Almaty (43.238 N, 76.946 E) are city sites.
    delay_sigma_s : float
        Standard deviation (s) of the random per-station P delay (velocity-model error).
    targets : pathlib.Path or None
        Target-site CSV whose true S arrival and intensity go into ``truth.json``
        (default: the packaged ``eew/data/config/targets.csv``).
    """

    inventory: tuple[Path, ...] = ()
    include: tuple[str, ...] = ("*",)
    channels: tuple[str, ...] = ("*",)
    city_radius_km: float = 15.0
    delay_sigma_s: float = 0.07
    targets: Path | None = None


@dataclass(frozen=True)
class NoiseSpec:
    """Ambient noise between the Peterson (1993) NLNM (level 0) and NHNM (level 1), in dB."""

    enabled: bool = True
    rural_level: float = 0.25
    city_level: float = 0.6
    level_spread: float = 0.08
    digitizer_counts: float = 0.5


@dataclass(frozen=True)
class DisturbanceSpec:
    """One disturbance on a channel (``NET.STA.LOC.CHA``) or a whole station (``NET.STA``).

    Times are seconds after the record start. Amplitudes are counts.
    """

    kind: str
    target: str
    time_s: float = 0.0
    duration_s: float = 0.0
    amplitude_counts: float = 0.0
    frequency_hz: float = 1.0
    offset_s: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file.

    Attributes
    ----------
    name, description : str
        Short identifier and one-line description.
    seed : int
        Seed of every random draw; the same seed gives byte-identical output.
    start_time : obspy.UTCDateTime
        First sample time of every channel.
    length_s : float
        Record length (s).
    """

    name: str
    seed: int
    start_time: UTCDateTime
    length_s: float
    description: str = ""
    sources: tuple[SourceSpec, ...] = ()
    stations: StationSpec = field(default_factory=StationSpec)
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    disturbances: tuple[DisturbanceSpec, ...] = ()
    path: Path | None = None


def _time(value: Any, key: str, where: str) -> UTCDateTime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{where}: {key} must carry a time zone (use ...Z)")
        return UTCDateTime(value.astimezone(dt.UTC).isoformat())
    if isinstance(value, str):
        try:
            return UTCDateTime(value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: {key} is not an ISO 8601 time: {value!r}") from exc
    raise ConfigError(f"{where}: {key} must be a time, got {type(value).__name__}")


def _build(cls: type, table: dict[str, Any], where: str, convert: dict[str, Any]) -> Any:
    names = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names or key == "path":
            raise ConfigError(f"{where}: unknown key {key!r}")
        try:
            kwargs[key] = convert[key](value) if key in convert else value
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: bad value for {key!r}: {value!r}") from exc
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _floaty(*keys: str) -> dict[str, Any]:
    return {k: float for k in keys}


def _check_plane(src: SourceSpec, where: str) -> None:
    """A planar rupture needs a line source, a dip in (0, 90] and a top edge underground."""
    if src.width_km is None:
        return
    if src.strike_deg is None:
        raise ConfigError(f"{where}: width_km needs strike_deg and length_km")
    if not 0.0 < src.width_km <= 200.0 or not 0.0 < src.dip_deg <= 90.0:
        raise ConfigError(f"{where}: width_km must be in (0, 200] and dip_deg in (0, 90]")
    if not 0.0 <= src.nucleation_dip_fraction <= 1.0:
        raise ConfigError(f"{where}: nucleation_dip_fraction must be within [0, 1]")
    top = src.depth_km - src.nucleation_dip_fraction * src.width_km * math.sin(
        math.radians(src.dip_deg)
    )
    if top < 0.0:
        raise ConfigError(
            f"{where}: the rupture plane reaches above the surface (top edge {top:.1f} km); "
            "lower nucleation_dip_fraction or width_km, or deepen the hypocentre"
        )


def parse_scenario(data: dict[str, Any], path: Path | None = None) -> Scenario:
    """Build a :class:`Scenario` from a decoded TOML document.

    Raises
    ------
    eew.errors.ConfigError
        On unknown tables or keys, missing required keys and invalid values.
    """
    fname = str(path) if path else "<scenario>"
    base = path.parent if path else Path.cwd()
    allowed = {"scenario", "stations", "noise", "source", "disturbance"}
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{fname}: unknown table {key!r}")
    head = dict(data.get("scenario", {}))
    for req in ("name", "seed", "start_time", "length_s"):
        if req not in head:
            raise ConfigError(f"{fname}: [scenario] needs key {req!r}")
    for key in head:
        if key not in ("name", "seed", "start_time", "length_s", "description"):
            raise ConfigError(f"{fname}: [scenario] unknown key {key!r}")
    sources = []
    for i, tab in enumerate(data.get("source", [])):
        where = f"{fname} [[source]] #{i + 1}"
        tab = dict(tab)
        tab.setdefault("id", f"ev{i + 1}")
        for req in ("origin_time", "latitude_deg", "longitude_deg", "depth_km", "magnitude"):
            if req not in tab:
                raise ConfigError(f"{where}: missing key {req!r}")
        conv = _floaty(
            "latitude_deg",
            "longitude_deg",
            "depth_km",
            "magnitude",
            "stress_drop_bar",
            "strike_deg",
            "length_km",
            "nucleation_fraction",
            "rupture_velocity_km_s",
            "width_km",
            "dip_deg",
            "nucleation_dip_fraction",
            "subevent_spacing_km",
        )
        conv["origin_time"] = lambda v, w=where: _time(v, "origin_time", w)
        if not isinstance(tab.get("expect_public_alert", False), bool):
            raise ConfigError(f"{where}: expect_public_alert must be true or false")
        src = _build(SourceSpec, tab, where, conv)
        if src.kind not in SOURCE_KINDS:
            raise ConfigError(f"{where}: kind must be one of {SOURCE_KINDS}, got {src.kind!r}")
        if (src.strike_deg is None) != (src.length_km is None):
            raise ConfigError(f"{where}: strike_deg and length_km go together")
        if not 1.0 <= src.subevent_spacing_km <= 50.0:
            raise ConfigError(f"{where}: subevent_spacing_km must be within [1, 50]")
        if not 0.0 <= src.nucleation_fraction <= 1.0:
            raise ConfigError(f"{where}: nucleation_fraction must be within [0, 1]")
        _check_plane(src, where)
        if not -1.0 <= src.depth_km <= 700.0 or not 0.0 < src.magnitude < 9.6:
            raise ConfigError(f"{where}: depth_km or magnitude out of range")
        sources.append(src)
    st_tab = dict(data.get("stations", {}))
    st_conv: dict[str, Any] = {
        "inventory": lambda v: tuple((base / Path(p)).resolve() for p in v),
        "include": tuple,
        "channels": tuple,
        "targets": lambda v: (base / Path(str(v))).resolve(),
        **_floaty("city_radius_km", "delay_sigma_s"),
    }
    stations = _build(StationSpec, st_tab, f"{fname} [stations]", st_conv)
    noise = _build(
        NoiseSpec,
        dict(data.get("noise", {})),
        f"{fname} [noise]",
        _floaty("rural_level", "city_level", "level_spread", "digitizer_counts"),
    )
    dists = []
    for i, tab in enumerate(data.get("disturbance", [])):
        where = f"{fname} [[disturbance]] #{i + 1}"
        if "kind" not in tab or "target" not in tab:
            raise ConfigError(f"{where}: needs 'kind' and 'target'")
        conv = _floaty("time_s", "duration_s", "amplitude_counts", "frequency_hz", "offset_s")
        d = _build(DisturbanceSpec, dict(tab), where, conv)
        if d.kind not in DISTURBANCE_KINDS:
            raise ConfigError(f"{where}: kind must be one of {DISTURBANCE_KINDS}, got {d.kind!r}")
        dists.append(d)
    length_s = float(head["length_s"])
    if not 1.0 <= length_s <= 4 * 3600.0:
        raise ConfigError(f"{fname}: [scenario] length_s must be within 1 s and 4 h")
    return Scenario(
        name=str(head["name"]),
        seed=int(head["seed"]),
        start_time=_time(head["start_time"], "start_time", f"{fname} [scenario]"),
        length_s=length_s,
        description=str(head.get("description", "")),
        sources=tuple(sources),
        stations=stations,
        noise=noise,
        disturbances=tuple(dists),
        path=path,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read scenario: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    return parse_scenario(data, p.resolve())
