"""Where a time-chunked replay cuts the archive (:mod:`eew.parallel.chunks`).

:func:`use_time_chunks` decides between time chunks and the channel split (``--split``);
:func:`plan_chunks` places the edges so that every chunk processes as many records, its
warm-up included.
"""

from __future__ import annotations

import numpy as np

from eew.acquisition.windowed import B_END_MAX, B_END_MIN, B_RECORDS, StreamingIndex

#: auto split: time chunks when each would own at least this many warm-ups
AUTO_MIN_WARMUPS = 2.0
#: before any data [ns]: the start of the first chunk, which has no warm-up
NEVER = -(2**62)


def use_time_chunks(split: str, sidx: StreamingIndex, jobs: int, warmup_s: float) -> bool:
    """Whether ``--split`` (``auto``, ``time`` or ``channels``) means time chunks here.

    ``auto`` takes time chunks when every chunk would own at least
    :data:`AUTO_MIN_WARMUPS` warm-ups of data; shorter archives are shared out by channel.

    Raises
    ------
    ValueError
        For another value of ``split``.
    """
    if split not in ("auto", "time", "channels"):
        raise ValueError(f"split must be auto, time or channels, not {split!r}")
    if split != "auto":
        return split == "time"
    return sidx.span_s() >= jobs * AUTO_MIN_WARMUPS * warmup_s


def plan_chunks(
    sidx: StreamingIndex, jobs: int, warmup_ns: int
) -> list[tuple[int, int, int | None]]:
    """Cut the archive into ``(start_ns, own_ns, stop_ns)`` chunks of equal work.

    Each chunk processes its own records and its warm-up's; the edges are placed so that
    every chunk processes about as many records, warm-up included (the records of a block
    of the first pass are taken as spread evenly over its end times). The first chunk has
    no warm-up (it starts with the data, as one run does); the last has no end. Fewer
    chunks come back when the archive is too short for more.
    """
    if not sidx.n_records or jobs <= 1:
        return [(NEVER, NEVER, None)]
    t, done = _records_ending_before(sidx.blocks)

    def at(count: float) -> int:  # the end time by which ``count`` records have ended
        return int(np.ceil(np.interp(count, done, t)))

    def before(ns: int) -> float:
        return float(np.interp(ns, t, done))

    def edges(work: float) -> list[int]:
        """The edges when every chunk but the last processes ``work`` records."""
        out: list[int] = []
        for j in range(jobs - 1):
            target = (before(out[-1] - warmup_ns) if j else 0.0) + work
            if target >= done[-1]:
                break
            out.append(at(target))
        return out

    total = float(done[-1])
    lo, hi = total / jobs, total
    for _ in range(50):  # the last chunk's work falls as the others' grows
        mid = 0.5 * (lo + hi)
        cut = edges(mid)
        if len(cut) < jobs - 1 or total - before(cut[-1] - warmup_ns) <= mid:
            hi = mid
        else:
            lo = mid
    out: list[tuple[int, int, int | None]] = []
    own = NEVER
    for edge in edges(hi):
        if out and edge <= own:
            break
        out.append((own - warmup_ns if out else own, own, edge))
        own = edge
    out.append((own - warmup_ns if out else own, own, None))
    return out


def _records_ending_before(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times [ns] and the records that end before each (piecewise linear, increasing).

    Each block's records are spread evenly over its end times: a ramp from ``B_END_MIN``
    to ``B_END_MAX``; the sum of the ramps is linear between their corners.
    """
    lo, hi = blocks[:, B_END_MIN], blocks[:, B_END_MAX] + 1
    n = blocks[:, B_RECORDS].astype(float)
    slope = n / (hi - lo)
    t = np.concatenate([lo, hi])
    change = np.concatenate([slope, -slope])
    order = np.argsort(t, kind="stable")
    t, change = t[order], change[order]
    rate = np.cumsum(change)[:-1]  # records per ns between one corner and the next
    done = np.concatenate([[0.0], np.cumsum(rate * np.diff(t))])
    done = np.maximum.accumulate(done)  # rounding
    return t, done
