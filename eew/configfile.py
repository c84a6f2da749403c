"""Where the configuration file and the packaged data come from.

The package carries everything a fresh install needs (``eew/data/``):

``eew/data/config/eew.toml``
    the default configuration (the ``eew config --dump`` of the schema defaults);
``eew/data/config/targets.csv``
    the target sites of the forecasts;
``eew/data/stations/*.xml``
    the StationXML inventories (28 AW stations, 10 KN stations);
``eew/data/traveltimes_alm1d_v0.npz``
    the travel-time tables.

In a checkout, ``config/eew.toml`` is a copy of the packaged default (a test keeps them
equal) and ``stations/*.xml`` and ``config/targets.csv`` are symbolic links into
``eew/data/``, so the repository folders keep working and there is one copy of the data.

When no ``--config`` is given, the configuration file is the first of:

1. ``--config FILE`` on the command line;
2. the file named by the environment variable ``EEW_CONFIG`` (an error if it is missing);
3. ``./config/eew.toml`` in the current directory (a checkout);
4. ``/etc/eew/eew.toml`` (an installed service);
5. the packaged default ``eew/data/config/eew.toml``.

Relative paths inside a configuration file are resolved against the folder of that file;
keys the file does not set take their default paths relative to the packaged
``eew/data/config/`` folder (see :meth:`eew.config.Config.resolve_path`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eew.errors import ConfigError

#: environment variable naming the configuration file
ENV_VAR = "EEW_CONFIG"
#: configuration of a checkout, relative to the current directory
LOCAL_CONFIG = Path("config") / "eew.toml"
#: configuration of an installed service
SYSTEM_CONFIG = Path("/etc/eew/eew.toml")

#: one line for ``--config`` help texts
SEARCH_HELP = (
    "TOML configuration (default: $EEW_CONFIG, else ./config/eew.toml, else "
    "/etc/eew/eew.toml, else the packaged default; `eew config` shows which)"
)


def data_dir() -> Path:
    """The package's data folder ``eew/data`` (inventories, tables, default configuration)."""
    return Path(__file__).resolve().parent / "data"


def packaged_config_dir() -> Path:
    """``eew/data/config``: the packaged default configuration and target sites."""
    return data_dir() / "config"


def packaged_config() -> Path:
    """``eew/data/config/eew.toml``: the packaged default configuration file."""
    return packaged_config_dir() / "eew.toml"


def packaged_stations_dir() -> Path:
    """``eew/data/stations``: the packaged StationXML inventories."""
    return data_dir() / "stations"


@dataclass(frozen=True)
class ConfigFile:
    """A configuration file found by :func:`find_config`, and why it was chosen."""

    path: Path
    #: how it was found: "--config", "$EEW_CONFIG", "./config/eew.toml",
    #: "/etc/eew/eew.toml" or "packaged default"
    origin: str


def find_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    system: Path | None = None,
) -> ConfigFile | None:
    """Find the configuration file in the documented order (see the module docstring).

    Parameters
    ----------
    explicit : str or PathLike, optional
        ``--config`` from the command line; used as given (checked when it is read).
    environ : Mapping, optional
        Environment (default: :data:`os.environ`).
    cwd : Path, optional
        Current directory for ``./config/eew.toml`` (default: the process's).
    system : Path, optional
        The system-wide file (default: :data:`SYSTEM_CONFIG`).

    Returns
    -------
    ConfigFile or None
        ``None`` only when even the packaged default is missing (a broken install); the
        caller then uses the built-in defaults.

    Raises
    ------
    ConfigError
        ``$EEW_CONFIG`` is set but names no file.
    """
    if explicit is not None:
        return ConfigFile(Path(explicit), "--config")
    env = os.environ if environ is None else environ
    named = env.get(ENV_VAR, "")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file named by ${ENV_VAR} not found")
        return ConfigFile(path, f"${ENV_VAR}")
    local = (Path.cwd() if cwd is None else cwd) / LOCAL_CONFIG
    if local.is_file():
        return ConfigFile(local, "./config/eew.toml")
    system = SYSTEM_CONFIG if system is None else system
    if system.is_file():
        return ConfigFile(system, str(system))
    packaged = packaged_config()
    return ConfigFile(packaged, "packaged default") if packaged.is_file() else None
