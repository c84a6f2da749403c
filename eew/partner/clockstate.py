"""The partner's measured clock offset across a daemon restart.

A clock offset of the partner's digitizers is measured only on a shared event located by
our own network (:mod:`eew.partner.clock`), which may be weeks apart. A daemon restarted
in between used to forget it, and used the partner's picks uncorrected until the next
shared event. :func:`save_offset` keeps the newest measurement in a small JSON file next
to the SeedLink state (``<state_file stem>.partner_clock.json``, written atomically:
temporary file, then ``os.replace``), and :func:`load_offset` reads it back at start, when
it stands until a new shared event is measured, exactly as it did before the restart.
The wall-clock offset from the heartbeats is not kept: it is measured again within a few
heartbeats.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from eew.errors import DataError

log = logging.getLogger("eew.partner.clock")

_FORMAT = "eew.partner-clock/1"


def clock_state_path(seedlink_state: Path | None) -> Path | None:
    """The partner clock state file next to the SeedLink state (None: not persisted)."""
    if seedlink_state is None:
        return None
    return seedlink_state.with_name(seedlink_state.stem + ".partner_clock.json")


def save_offset(
    path: Path,
    agency: str,
    event_id: str,
    offset_s: float,
    sigma_s: float,
    picks: int,
    own_picks: int,
    origin_time_ns: int,
) -> bool:
    """Write one measurement atomically; return False (logged) if it could not be written.

    Parameters
    ----------
    path : Path
        The state file.
    agency : str
        The partner's agency code (a file of another partner is not read back).
    event_id : str
        Our event the offset was measured on.
    offset_s, sigma_s : float
        Partner data time minus ours and its standard error [s].
    picks, own_picks : int
        Partner picks and our picks used.
    origin_time_ns : int
        Origin time of that event [ns] (how old the measurement is).
    """
    doc = {
        "format": _FORMAT,
        "agency": agency,
        "event_id": event_id,
        "offset_s": offset_s,
        "sigma_s": sigma_s,
        "picks": picks,
        "own_picks": own_picks,
        "origin_time_ns": origin_time_ns,
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.error(
            "partner clock state not written",
            extra={"kv": {"file": str(path), "error": str(exc)}},
        )
        return False
    return True


def load_offset(path: Path, agency: str) -> tuple[str, float, float, int, int, int] | None:
    """The measurement saved by :func:`save_offset`, or None (absent, unreadable: logged).

    Returns
    -------
    tuple or None
        ``(event_id, offset_s, sigma_s, picks, own_picks, origin_time_ns)``.
    """
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != _FORMAT:
            raise DataError(f"format {doc.get('format')!r}, expected {_FORMAT!r}")
        if doc["agency"] != agency:
            log.info(
                "partner clock state of another partner ignored",
                extra={"kv": {"file": str(path), "agency": doc["agency"]}},
            )
            return None
        out = (
            str(doc["event_id"]),
            float(doc["offset_s"]),
            float(doc["sigma_s"]),
            int(doc["picks"]),
            int(doc["own_picks"]),
            int(doc["origin_time_ns"]),
        )
        if not (math.isfinite(out[1]) and math.isfinite(out[2]) and out[2] >= 0):
            raise DataError("offset_s and sigma_s must be finite")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, DataError) as exc:
        log.warning(
            "partner clock state unreadable; the offset is measured anew",
            extra={"kv": {"file": str(path), "error": str(exc)}},
        )
        return None
    return out
