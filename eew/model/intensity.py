"""Intensities and clock times as people read them: Roman MSK-64 degrees, local time.

Bottom of the package (imports nothing of ``eew``): the console, the subscriber and the
command line share these.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

#: Almaty's offset from UTC [h]. Kazakhstan moved to one zone, UTC+5, on 2024-03-01
#: (before that Almaty was UTC+6); the console shows times of either era at UTC+5.
ALMATY_UTC_OFFSET_H = 5


def roman_intensity(value: float) -> str:
    """An MSK-64 (or MMI) intensity as a Roman degree, rounded: ``6.6`` -> ``"VII"``.

    Below I.5 is ``"I"``, above XII is ``"XII"``; NaN (unknown) is ``"?"``.
    """
    if math.isnan(value):
        return "?"
    degree = min(max(round(value), 1), 12)
    return _ROMAN[degree - 1]


def almaty_time(time_ns: int, digits: int = 0) -> str:
    """``HH:MM:SS`` (with ``digits`` decimals) in Almaty local time (UTC+5)."""
    t = datetime.fromtimestamp(time_ns / 1e9, UTC) + timedelta(hours=ALMATY_UTC_OFFSET_H)
    text = t.strftime("%H:%M:%S")
    if digits > 0:
        frac = (time_ns % 1_000_000_000) / 1e9
        text += f"{frac:.{digits}f}"[1:]
    return text
