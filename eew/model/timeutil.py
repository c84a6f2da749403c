"""Time conversions: integer ns since the epoch <-> ISO 8601 UTC strings."""

from __future__ import annotations

import datetime as _dt

#: nanoseconds per second: every time in the pipeline is an integer of ns since the epoch
NS_PER_S = 1_000_000_000
#: 1970-01-01T00:00:00Z, the origin of those integers
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def ns_to_iso(t_ns: int, digits: int = 3) -> str:
    """Format ``t_ns`` as ISO 8601 UTC, e.g. ``2024-01-22T18:09:04.123Z`` (``digits`` decimals)."""
    sec, frac_ns = divmod(int(t_ns), NS_PER_S)
    scale = 10 ** (9 - digits)
    frac = (frac_ns + scale // 2) // scale
    if frac >= 10**digits:
        sec += 1
        frac -= 10**digits
    base = (EPOCH + _dt.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:0{digits}d}Z" if digits else f"{base}Z"


def iso_to_ns(text: str) -> int:
    """Parse an ISO 8601 time (``Z`` or an offset; naive means UTC) to ns since the epoch."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    frac_ns = 0
    if "." in t:
        head, rest = t.split(".", 1)
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                break
        tz = rest[len(digits) :]
        frac_ns = int((digits + "000000000")[:9])
        t = head + tz
    d = _dt.datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    delta = d - EPOCH
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + frac_ns
