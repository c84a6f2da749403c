"""Structured log lines: ``time level component: message key=value ...``.

Library code logs as usual and passes its fields with ``extra={"kv": {...}}``;
:class:`KeyValueFormatter` appends them. Only the CLI installs it
(:func:`configure_logging`); nothing is configured at import.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import IO, Any


def _value(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    s = str(v)
    if s == "" or any(c in s for c in ' ="\n'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


def kv_text(fields: Mapping[str, Any]) -> str:
    """``key=value`` pairs separated by spaces (values with spaces are quoted)."""
    return " ".join(f"{k}={_value(v)}" for k, v in fields.items())


class KeyValueFormatter(logging.Formatter):
    """One line per record: UTC ISO time, level, component, message, ``key=value`` pairs.

    The component is the logger name without the ``eew.`` prefix.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` on one line (a traceback follows on the next lines)."""
        t = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"
        component = record.name.removeprefix("eew.")
        line = f"{stamp} {record.levelname} {component}: {record.getMessage()}"
        fields = getattr(record, "kv", None)
        if fields:
            line += " " + kv_text(fields)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, stream: IO[str]) -> logging.Handler:
    """Replace the root handlers by one structured handler on ``stream``; return it."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    return handler
