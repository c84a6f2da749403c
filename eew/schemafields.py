"""Helpers every configuration section uses to declare its fields (one default, one doc)."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def doc_field(default: Any, doc: str) -> Any:
    """Declare a dataclass field with its one default and its documentation (unit included)."""
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return field(default_factory=lambda: value, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


def require_positive(obj: Any, *keys: str) -> None:
    """Raise :class:`ValueError` naming the first of ``keys`` whose value is not > 0."""
    for key in keys:
        if not getattr(obj, key) > 0:
            raise ValueError(f"{key}: must be > 0")
