"""Settings of the daemon: a view of the one configuration schema.

One TOML file configures a daemon; :func:`eew.config.load_config` reads and checks all of
it. The daemon's own sections are declared in :mod:`eew.daemon.schema`:

- ``[daemon]`` (:class:`DaemonConfig`): role, clock, heartbeat, shutdown, metrics;
- ``[seedlink]`` (:class:`SeedLinkConfig`): servers, streams, resume state, timeouts;
- ``[upstream]`` (:class:`UpstreamConfig`): the central role's pick feeds;
- ``[bus]`` and ``[bus_security]``: :class:`eew.bus.BusConfig` and
  :class:`eew.bus.SecurityConfig`, the alert publisher.

The same rules as :mod:`eew.config` apply: one default per field, a unit in every name or
doc, unknown keys and wrong types raise :class:`~eew.errors.ConfigError` naming the key
and the file, and relative paths are resolved against the file's directory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eew.bus.config import BusConfig, SecurityConfig
from eew.config import Config, config_from_dict, default_config_path, dump_config, load_config
from eew.daemon.schema import CLOCKS, ROLES, DaemonConfig, SeedLinkConfig, UpstreamConfig
from eew.partner.config import PartnerConfig

__all__ = [
    "CLOCKS",
    "ROLES",
    "DaemonConfig",
    "SeedLinkConfig",
    "Settings",
    "UpstreamConfig",
    "load_settings",
    "settings_from_dict",
]

@dataclass(frozen=True)
class Settings:
    """Everything a daemon is configured with."""

    config: Config
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    seedlink: SeedLinkConfig = field(default_factory=SeedLinkConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    partner: PartnerConfig = field(default_factory=PartnerConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    bus_security: SecurityConfig = field(default_factory=SecurityConfig)
    base_dir: Path = field(default=Path("."), compare=False)
    source: str = field(default="<defaults>", compare=False)

    def path(self, value: str) -> Path | None:
        """A path from the file, relative to the file's directory; None for ''."""
        return (self.base_dir / value).resolve() if value else None

    def with_role(self, role: str) -> Settings:
        """The same settings with another role (``--role``)."""
        return dataclasses.replace(self, daemon=dataclasses.replace(self.daemon, role=role))


def load_settings(path: str | Path | None = None) -> Settings:
    """Read a daemon configuration file (see :func:`eew.config.load_config`).

    Raises
    ------
    ConfigError
        Unreadable file, TOML syntax, unknown key, wrong type or violated invariant.
    """
    if path is None and default_config_path() is None:
        return _settings(Config())
    return _settings(load_config(path))


def settings_from_dict(
    raw: dict[str, Any], source: str = "<dict>", base_dir: Path | None = None
) -> Settings:
    """Build :class:`Settings` from a parsed TOML document."""
    return _settings(config_from_dict(raw, source=source, base_dir=base_dir or Path.cwd()))


def _settings(config: Config) -> Settings:
    return Settings(
        config,
        daemon=config.daemon,
        seedlink=config.seedlink,
        upstream=config.upstream,
        partner=config.partner,
        bus=config.bus,
        bus_security=config.bus_security,
        base_dir=config.base_dir,
        source=config.source,
    )


def dump_settings(settings: Settings) -> str:
    """The effective configuration as TOML (all sections, with their docs)."""
    return dump_config(settings.config)
