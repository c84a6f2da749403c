"""The fused chain straight into a channel's history ring, for the batched archive replay.

:func:`process_to_ring` is :func:`eew.dsp.chain.process_packet` followed by
:func:`eew.detect.ring._ring_write` of its output and the packet's largest ratio and peak
acceleration and velocity (:class:`eew.detect.batch.BatchRunner`), in one pass over the
samples: the chain's loops write the ring's columns themselves, with no intermediate
array, and keep the maxima as they go. The results are those of the separate steps to
the last bit; :func:`process_to_ring_np` is the plain-NumPy twin.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from eew.dsp.chain import (
    N_ROWS,
    ROW_ACC,
    ROW_RATIO,
    ROW_VEL,
    _peak_join,
    _process_cols,
    process_packet_np,
)


@njit(cache=True)
def process_to_ring(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    ring: np.ndarray,
    pos: int,
) -> tuple[float, float, float]:
    """:func:`~eew.dsp.chain.process_packet` into a history ring, with the packet's peaks.

    The rows go to columns ``pos, pos + 1, ...`` of ``ring`` (shape ``(N_ROWS + 1, cap)``,
    wrapping once at most; the last row gets the counts ``x``), as
    :func:`eew.detect.ring._ring_write` of ``process_packet``'s output would write
    them, with no intermediate array and no second pass over the samples but the
    conversion of the counts.

    Returns
    -------
    tuple of float
        ``(max ratio, peak |acceleration|, peak |velocity|)`` of the packet: the largest
        ratio (at least 0) and the largest absolute values [cm/s², cm/s] (NaN if any
        sample is NaN), as :func:`process_to_ring_np` computes them.
    """
    n = x.shape[0]
    first = min(n, ring.shape[1] - pos)
    # the counts first, as float64 (exact for any integer counts): the loops read them there,
    # without converting an integer in every sample
    counts = ring[N_ROWS]
    counts[pos : pos + first] = x[:first]
    counts[: n - first] = x[first:]
    a0 = counts[pos : pos + first]
    r, a, v = _process_cols(a0, params, bp_sos, hp_sos, lp_sos, state, ring, 0, first, pos)
    if first < n:
        a1 = counts[: n - first]
        r2, a2, v2 = _process_cols(a1, params, bp_sos, hp_sos, lp_sos, state, ring, 0, n - first, 0)
        r, a, v = max(r, r2), _peak_join(a, a2), _peak_join(v, v2)
    return r, a, v


def process_to_ring_np(
    x: np.ndarray,
    params: np.ndarray,
    bp_sos: np.ndarray,
    hp_sos: np.ndarray,
    lp_sos: np.ndarray,
    state: np.ndarray,
    ring: np.ndarray,
    pos: int,
) -> tuple[float, float, float]:
    """Plain-NumPy twin of :func:`process_to_ring` (:func:`process_packet_np`, then copies)."""
    n = x.shape[0]
    out = np.empty((N_ROWS, n))
    process_packet_np(x, params, bp_sos, hp_sos, lp_sos, state, out)
    cols = (pos + np.arange(n)) % ring.shape[1]
    ring[:N_ROWS, cols] = out
    ring[N_ROWS, cols] = x
    if n == 0:
        return 0.0, 0.0, 0.0
    acc, vel = np.abs(out[ROW_ACC]), np.abs(out[ROW_VEL])
    return (
        float(out[ROW_RATIO][out[ROW_RATIO] > 0.0].max(initial=0.0)),
        float(acc.max()),  # NaN if any is NaN
        float(vel.max()),
    )
