"""The configuration file: every section, composed at the top.

One TOML file configures ``eew run``, ``eew replay`` and ``eew evaluate``. Its sections
are declared by the packages that use them and composed here into :class:`Settings`:

- the processing sections (``[inventory]`` ... ``[onsite]``, ``[replay]``):
  :class:`eew.config.Config`, given to the processing chain section by section;
- ``[bus]`` and ``[bus_security]``: :class:`eew.bus.config.BusConfig` and
  :class:`eew.bus.config.SecurityConfig`, the alert publisher;
- ``[daemon]``, ``[seedlink]``, ``[upstream]``: :mod:`eew.daemon.schema`;
- ``[partner]``: :class:`eew.partner.config.PartnerConfig`;
- ``[console]``: :class:`eew.console.config.ConsoleConfig`, the web console.

:func:`load_settings` reads a file with :mod:`tomllib`; unknown sections or keys, wrong
types and violated invariants raise :class:`~eew.errors.ConfigError` naming the key and
the file. :func:`dump_settings` renders the effective configuration back to TOML
(``eew config --dump``); ``config/eew.toml`` is exactly that dump of the defaults with the
location grid pinned, and a test keeps the two in step. Relative paths are resolved against
the file's directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eew import config as processing
from eew.bus.config import BusConfig, BusSetup, SecurityConfig
from eew.config import Config, default_config_path
from eew.console.config import ConsoleConfig
from eew.daemon.schema import CLOCKS, ROLES, DaemonConfig, SeedLinkConfig, UpstreamConfig
from eew.errors import ConfigError
from eew.partner.config import PartnerConfig
from eew.schemafields import build_section, optional_path, read_toml, render_section

__all__ = [
    "CLOCKS",
    "ROLES",
    "SECTIONS",
    "DaemonConfig",
    "SeedLinkConfig",
    "Settings",
    "UpstreamConfig",
    "dump_settings",
    "load_settings",
    "settings_from_dict",
]


@dataclass(frozen=True)
class Settings:
    """Everything one configuration file holds."""

    config: Config = field(default_factory=Config)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    seedlink: SeedLinkConfig = field(default_factory=SeedLinkConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    partner: PartnerConfig = field(default_factory=PartnerConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    bus_security: SecurityConfig = field(default_factory=SecurityConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)

    @property
    def base_dir(self) -> Path:
        """The directory of the file, against which its relative paths are resolved."""
        return self.config.base_dir

    @property
    def source(self) -> str:
        """The file the settings came from."""
        return self.config.source

    def section(self, name: str) -> Any:
        """The section named ``name`` in the file (a processing section or one of ours)."""
        if name not in SECTIONS:
            raise KeyError(name)
        if name in processing.SECTIONS:
            return getattr(self.config, name)
        return getattr(self, name)

    def path(self, value: str) -> Path | None:
        """A path from the file, relative to the file's directory; None for ''."""
        return optional_path(self.base_dir, value)

    def bus_setup(self) -> BusSetup:
        """What our publishers are built from: the bus sections, agency, keys' directory."""
        return BusSetup(
            self.bus,
            self.bus_security,
            agency=self.config.alert.agency,
            insecure=self.daemon.insecure_bus,
            base_dir=self.base_dir,
        )

    def with_role(self, role: str) -> Settings:
        """The same settings with another role (``--role``)."""
        return dataclasses.replace(self, daemon=dataclasses.replace(self.daemon, role=role))

    def hash(self) -> str:
        """Short SHA-256 of the effective configuration (stamped on every output).

        The sections in :data:`NOT_HASHED` only show results (the console): they change no
        output, so they take no part in the hash.
        """
        text = dump_settings(self, skip=NOT_HASHED)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


#: sections that change no output and are left out of :meth:`Settings.hash`
NOT_HASHED = ("console",)

#: the sections of the file, in the order ``eew config --dump`` writes them
SECTIONS = (
    # the processing sections in their own order, except [replay], which closes the file
    *(name for name in processing.SECTIONS if name != "replay"),
    "bus",
    "bus_security",
    "daemon",
    "seedlink",
    "upstream",
    "partner",
    "console",
    "replay",
)


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate a configuration file.

    Parameters
    ----------
    path : str or Path, optional
        TOML file. ``None`` looks the file up in the documented order
        (:func:`eew.configfile.find_config`: ``$EEW_CONFIG``, ``./config/eew.toml``,
        ``/etc/eew/eew.toml``, the packaged default).

    Raises
    ------
    ConfigError
        Unreadable file, TOML syntax error, unknown section or key, wrong
        type, or violated invariant; the message names the file and the key.
    """
    if path is None:
        path = default_config_path()
        if path is None:
            return Settings()
    path = Path(path)
    return settings_from_dict(read_toml(path), source=str(path), base_dir=path.resolve().parent)


def settings_from_dict(
    raw: dict[str, Any], source: str = "<dict>", base_dir: Path | None = None
) -> Settings:
    """Build validated :class:`Settings` from a nested dict (as parsed from TOML)."""
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        sections[name] = build_section(_section_type(name), name, value, source)
    for name in SECTIONS:
        if name not in sections:
            sections[name] = build_section(_section_type(name), name, {}, source)
    config = Config(
        **{name: sections.pop(name) for name in processing.SECTIONS},
        base_dir=base_dir or Path.cwd(),
        source=source,
        set_keys=frozenset(f"{name}.{key}" for name, value in raw.items() for key in value),
    )
    return Settings(config, **sections)


def _section_type(name: str) -> type:
    owner = Config if name in processing.SECTIONS else Settings
    section: type = typing.get_type_hints(owner)[name]
    return section


def dump_settings(settings: Settings, with_docs: bool = True, skip: tuple[str, ...] = ()) -> str:
    """Render ``settings`` as TOML that :func:`load_settings` reads back to equal settings.

    ``skip`` leaves sections out (:meth:`Settings.hash`).
    """
    lines = [
        "# Almaty EEW pipeline configuration.",
        "# Generated from the schema in eew/config.py (`eew config --dump`); all keys optional.",
    ]
    for name in SECTIONS:
        if name in skip:
            continue
        lines.append("")
        lines.extend(render_section(name, settings.section(name), with_docs))
    return "\n".join(lines) + "\n"
