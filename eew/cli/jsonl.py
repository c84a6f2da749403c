"""JSON Lines output: one flat JSON object per result, each with a ``type`` field."""

from __future__ import annotations

import json
from typing import IO, Any, Protocol


class Serialisable(Protocol):
    """Anything with a ``to_dict()`` giving a flat JSON-ready dict."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready representation."""
        ...


class JsonlWriter:
    """Write results as JSON Lines to a text stream.

    Parameters
    ----------
    stream : IO[str]
        Open text stream (stdout or a file).
    types : set of str, optional
        Only write objects whose ``type`` is in this set (``None``: all).
    """

    def __init__(self, stream: IO[str], types: set[str] | None = None) -> None:
        self._stream = stream
        self._types = types
        self.written = 0

    def __call__(self, value: Serialisable) -> None:
        """Write one result."""
        d = value.to_dict()
        if self._types is not None and d.get("type") not in self._types:
            return
        self._stream.write(json.dumps(d, separators=(",", ":"), allow_nan=False) + "\n")
        self.written += 1


def read_jsonl(stream: IO[str]) -> list[dict[str, Any]]:
    """Read JSON Lines back (blank lines ignored)."""
    return [json.loads(line) for line in stream if line.strip()]
