"""Target sites: where shaking is forecast and warning times are counted down."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from eew.errors import ConfigError

COLUMNS = ("name", "latitude_deg", "longitude_deg", "vs30_m_s")


@dataclass(frozen=True, slots=True)
class Target:
    """One target site.

    Attributes
    ----------
    name : str
        Unique name (e.g. ``"Almaty-Medeu"``).
    latitude_deg, longitude_deg : float
        Position [deg].
    vs30_m_s : float
        Time-averaged shear-wave velocity of the top 30 m [m/s] (site class for the GMPE).
    """

    name: str
    latitude_deg: float
    longitude_deg: float
    vs30_m_s: float


def load_targets(path: str | Path) -> tuple[Target, ...]:
    """Read a target CSV (``#`` comment lines allowed; columns :data:`COLUMNS`).

    Raises
    ------
    ConfigError
        Missing file, unknown or missing column, bad number, duplicate name.
    """
    path = Path(path)
    try:
        lines = [
            ln
            for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read target sites: {exc.strerror}") from exc
    reader = csv.DictReader(lines)
    cols = tuple(reader.fieldnames or ())
    if set(cols) != set(COLUMNS):
        raise ConfigError(f"{path}: columns must be {', '.join(COLUMNS)}; found {', '.join(cols)}")
    out: list[Target] = []
    seen: set[str] = set()
    for i, row in enumerate(reader, start=2):
        try:
            t = Target(
                row["name"].strip(),
                float(row["latitude_deg"]),
                float(row["longitude_deg"]),
                float(row["vs30_m_s"]),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: data line {i}: {exc}") from exc
        if t.name in seen:
            raise ConfigError(f"{path}: duplicate target {t.name!r}")
        if not (-90 <= t.latitude_deg <= 90 and -180 <= t.longitude_deg <= 180 and t.vs30_m_s > 0):
            raise ConfigError(f"{path}: target {t.name!r} has an impossible value")
        seen.add(t.name)
        out.append(t)
    if not out:
        raise ConfigError(f"{path}: no target sites")
    return tuple(out)
