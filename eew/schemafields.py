"""The machinery every configuration section uses: declaration, parsing, rendering.

A section is a frozen dataclass whose fields are declared with :func:`doc_field` (one
default, one doc with the unit) and which may have a ``check()`` raising
:class:`ValueError` naming the key. :func:`build_section` turns a parsed TOML table into
such a section (unknown keys, wrong types and violated invariants raise
:class:`~eew.errors.ConfigError` naming the file and ``section.key``);
:func:`render_section` writes it back. The sections themselves are declared by the
packages that use them; the file that holds them all is composed in
:mod:`eew.daemon.config`. This module imports nothing from the package but the errors.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any

from eew.errors import ConfigError


def doc_field(default: Any, doc: str, unset: str = "") -> Any:
    """Declare a dataclass field with its one default and its documentation (unit included).

    A field typed ``X | None`` may default to ``None`` ("unset", which TOML cannot write):
    ``unset`` then says what that means, and the dump writes the key as a comment.
    """
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return field(default_factory=lambda: value, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc, "unset": unset})


def require_positive(obj: Any, *keys: str) -> None:
    """Raise :class:`ValueError` naming the first of ``keys`` whose value is not > 0."""
    for key in keys:
        if not getattr(obj, key) > 0:
            raise ValueError(f"{key}: must be > 0")


def optional_path(base_dir: Path, value: str) -> Path | None:
    """A path from a configuration file, relative to ``base_dir``; None for ``''``."""
    return (base_dir / value).resolve() if value else None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file.

    Raises
    ------
    ConfigError
        Unreadable file or TOML syntax error; the message names the file.
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def build_section(cls: type, section: str, values: dict[str, Any], source: str) -> Any:
    """Build and check one section from its TOML table.

    Parameters
    ----------
    cls : type
        The section's dataclass.
    section : str
        Its name in the file (for messages).
    values : dict
        The parsed table.
    source : str
        The file (for messages).

    Raises
    ------
    ConfigError
        Unknown key, wrong type or violated invariant, naming ``source`` and
        ``section.key``.
    """
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key {section}.{key} (known: {', '.join(sorted(known))})"
            )
        kwargs[key] = _coerce(value, hints[key], f"{source}: {section}.{key}")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{source}: {section}.{exc}") from exc
    return obj


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(typ)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, item_type, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if len(args) == 1:  # X | None: a value in the file is an X
            return _coerce(value, args[0], where)
        raise ConfigError(f"{where}: unsupported union type")  # pragma: no cover
    raise ConfigError(f"{where}: unsupported type {typ!r}")  # pragma: no cover


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {value!r} as TOML")  # pragma: no cover


def render_section(name: str, section: Any, with_docs: bool = True) -> list[str]:
    """The TOML lines of one section: its header, then each key (after its doc)."""
    lines = [f"[{name}]"]
    for f in dataclasses.fields(section):
        if with_docs:
            lines.append(f"# {f.metadata.get('doc', '')}")
        value = getattr(section, f.name)
        if value is None:
            lines.append(f"# {f.name} = ...  (unset: {f.metadata.get('unset', '')})")
        else:
            lines.append(f"{f.name} = {_toml_value(value)}")
    return lines
