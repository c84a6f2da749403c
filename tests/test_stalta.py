"""Recursive STA/LTA: numba kernel, NumPy twin, obspy, streaming and warm-up semantics."""

from __future__ import annotations

import numpy as np
import pytest
from obspy.signal.trigger import recursive_sta_lta, recursive_sta_lta_py

from eew.dsp.stalta import (
    _TINY,
    STATE_SIZE,
    new_state,
    recursive_stalta,
    recursive_stalta_np,
    stalta_step,
)

# (n_sta, n_lta): short/long pairs at 100 Hz and two extremes
WINDOWS = [(5, 50), (20, 200), (50, 1000), (100, 3000), (3, 4000)]
RTOL_OBSPY = 1e-10  # blocked evaluation vs. obspy's sample-by-sample loop: rounding only
RTOL_STREAM = 1e-12  # the same kernel cut at different places


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * 250.0


def _impulsive(n: int, seed: int = 1) -> np.ndarray:
    """Noise with isolated spikes and a strong onset (dynamic range ~1e6 in the squares)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    a[rng.integers(0, n, 20)] *= 1e3
    a[n // 2 :] *= 30.0
    return a


DATA = {"noise": _noise(12_345), "impulsive": _impulsive(12_345)}


def _serial(
    a: np.ndarray, n_sta: int, n_lta: int, state: np.ndarray, n_warmup: int, unbiased: bool
) -> np.ndarray:
    """Reference: the per-sample step, in pure Python."""
    if n_warmup < 0:
        n_warmup = n_lta
    step = stalta_step.py_func
    return np.array([step(x * x, state, n_sta, n_lta, n_warmup, unbiased) for x in a])


def _packets(a: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    edges = np.concatenate([[0], np.cumsum(sizes)])
    edges = edges[edges < a.shape[0]]
    return [a[i:j] for i, j in zip(edges, [*edges[1:], a.shape[0]], strict=True)]


def _random_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Packet sizes: many 0- and 1-sample packets, short ones, and some long enough for blocks."""
    choices = [0, 1, 1, 2, 3, 7, 31, 128, 300, 511, 1500, 4099]
    return rng.choice(choices, size=n)


@pytest.mark.parametrize("kind", sorted(DATA))
@pytest.mark.parametrize(("n_sta", "n_lta"), WINDOWS)
def test_whole_trace_matches_obspy_and_twin(kind: str, n_sta: int, n_lta: int) -> None:
    a = DATA[kind]
    c = recursive_sta_lta(a, n_sta, n_lta)
    ours = recursive_stalta(a, n_sta, n_lta, new_state())
    np.testing.assert_allclose(ours, c, rtol=RTOL_OBSPY, atol=0)
    np.testing.assert_allclose(ours, recursive_sta_lta_py(a, n_sta, n_lta), rtol=RTOL_OBSPY, atol=0)
    twin = recursive_stalta_np(a, n_sta, n_lta, new_state())
    np.testing.assert_allclose(twin, c, rtol=RTOL_OBSPY, atol=0)
    assert np.all(ours[:n_lta] == 0.0)
    assert np.all(ours[n_lta:] > 0.0)


@pytest.mark.parametrize(
    "n", [0, 1, 2, 127, 128, 129, 511, 512, 513, 1023, 1024, 1025, 1500, 1700, 1703, 2100, 4097]
)
def test_lengths_around_block_sizes(n: int) -> None:
    a = _noise(n, seed=n)
    for unbiased in (False, True):
        state = new_state()
        ref_state = new_state()
        ours = recursive_stalta(a, 10, 40, state, 20, unbiased)
        ref = _serial(a, 10, 40, ref_state, 20, unbiased)
        np.testing.assert_allclose(ours, ref, rtol=RTOL_STREAM, atol=0)
        np.testing.assert_allclose(state, ref_state, rtol=RTOL_STREAM, atol=0)
        assert state[2] == n


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("n_warmup", [-1, 0, 77, 5000])
@pytest.mark.parametrize(("n_sta", "n_lta"), [(20, 200), (50, 1000)])
def test_kernel_twin_and_serial_reference_agree(
    n_sta: int, n_lta: int, n_warmup: int, unbiased: bool
) -> None:
    a = DATA["impulsive"][:6000]
    states = [new_state() for _ in range(3)]
    ours = recursive_stalta(a, n_sta, n_lta, states[0], n_warmup, unbiased)
    twin = recursive_stalta_np(a, n_sta, n_lta, states[1], n_warmup, unbiased)
    ref = _serial(a, n_sta, n_lta, states[2], n_warmup, unbiased)
    np.testing.assert_allclose(ours, ref, rtol=RTOL_STREAM, atol=0)
    np.testing.assert_allclose(twin, ref, rtol=RTOL_OBSPY, atol=0)
    np.testing.assert_allclose(states[0], states[2], rtol=RTOL_STREAM, atol=0)
    np.testing.assert_allclose(states[1], states[2], rtol=RTOL_OBSPY, atol=0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("unbiased", "n_warmup"), [(False, -1), (True, 150), (True, 0)])
def test_packetised_equals_whole(seed: int, unbiased: bool, n_warmup: int) -> None:
    rng = np.random.default_rng(seed)
    a = DATA["impulsive"] if seed % 2 else DATA["noise"]
    n_sta, n_lta = WINDOWS[seed % len(WINDOWS)]
    whole_state = new_state()
    whole = recursive_stalta(a, n_sta, n_lta, whole_state, n_warmup, unbiased)
    for kernel in (recursive_stalta, recursive_stalta_np):
        state = new_state()
        parts = [
            kernel(p, n_sta, n_lta, state, n_warmup, unbiased)
            for p in _packets(a, _random_sizes(rng, a.shape[0]))
        ]
        streamed = np.concatenate(parts)
        rtol = RTOL_STREAM if kernel is recursive_stalta else RTOL_OBSPY
        np.testing.assert_allclose(streamed, whole, rtol=rtol, atol=0)
        np.testing.assert_allclose(state, whole_state, rtol=rtol, atol=0)
        assert state[2] == whole_state[2] == a.shape[0]


def test_one_sample_packets_are_exact() -> None:
    a = DATA["impulsive"][:3000]
    state = new_state()
    streamed = np.concatenate([recursive_stalta(a[i : i + 1], 20, 200, state) for i in range(3000)])
    ref_state = new_state()
    np.testing.assert_array_equal(streamed, _serial(a, 20, 200, ref_state, -1, False))
    np.testing.assert_array_equal(state, ref_state)


def test_empty_packet_leaves_state_alone() -> None:
    state = new_state()
    recursive_stalta(DATA["noise"][:500], 10, 100, state)
    before = state.copy()
    out = recursive_stalta(np.empty(0), 10, 100, state)
    assert out.shape == (0,)
    np.testing.assert_array_equal(state, before)


def test_new_state_and_seeding() -> None:
    state = new_state()
    assert state.shape == (STATE_SIZE,)
    np.testing.assert_array_equal(state, [0.0, _TINY, 0.0])
    out = recursive_stalta(np.array([1e6]), 10, 100, state, 0)
    # the first sample after a start only seeds the state
    np.testing.assert_array_equal(out, [0.0])
    np.testing.assert_array_equal(state, [0.0, _TINY, 1.0])


@pytest.mark.parametrize("n_warmup", [-1, 0, 1, 333])
def test_ratio_is_zero_during_warmup_only(n_warmup: int) -> None:
    n_lta = 400
    expected = n_lta if n_warmup < 0 else max(n_warmup, 1)  # the seeding sample is always 0
    a = DATA["noise"][:3000]
    # fed whole and in packets that cut the warm-up
    for sizes in ([3000], [1, 100, 250, 2649]):
        state = new_state()
        out = np.concatenate(
            [recursive_stalta(p, 40, n_lta, state, n_warmup) for p in _packets(a, np.array(sizes))]
        )
        assert np.all(out[:expected] == 0.0)
        assert np.all(out[expected:] > 0.0)


def test_unbiased_start_is_near_one_on_stationary_noise() -> None:
    n_sta, n_lta, n_warmup = 50, 1000, 100
    a = _noise(20_000, seed=7)
    unbiased = recursive_stalta(a, n_sta, n_lta, new_state(), n_warmup, True)
    biased = recursive_stalta(a, n_sta, n_lta, new_state(), n_warmup, False)
    assert np.all(unbiased[:n_warmup] == 0.0)
    # right after the warm-up, the running means give a ratio ~1 ...
    early = unbiased[n_warmup : n_warmup + 200]
    assert 0.6 < np.median(early) < 1.6
    # ... while the zero-started averages are still far off (LTA has barely grown)
    assert np.median(biased[n_warmup : n_warmup + 200]) > 2.5
    # once both have converged they are the same recursion
    np.testing.assert_allclose(unbiased[15_000:], biased[15_000:], rtol=1e-3)
    assert 0.8 < np.median(unbiased[5_000:]) < 1.2


def test_unbiased_weights_follow_running_means() -> None:
    a = DATA["noise"][:40]
    cf = a * a
    state = new_state()
    recursive_stalta(a, 10, 30, state, 0, True)
    # after the seed, the k-th update has weight 1/k up to k = n_lta = 30, then 1/30
    lta = np.mean(cf[1:31])
    for x in cf[31:]:
        lta = x / 30 + (1 - 1 / 30) * lta
    np.testing.assert_allclose(state[1], lta, rtol=1e-13)


def test_reset_restarts_the_recursion() -> None:
    a = DATA["impulsive"]
    state = new_state()
    recursive_stalta(a[:5000], 20, 200, state)
    # a gap: the caller resets the state; the output equals a fresh start on the rest
    state[:] = new_state()
    after_reset = recursive_stalta(a[5000:], 20, 200, state)
    np.testing.assert_array_equal(after_reset, recursive_stalta(a[5000:], 20, 200, new_state()))
    assert state[2] == a.shape[0] - 5000
    assert np.all(after_reset[:200] == 0.0)


def test_long_zero_stretch_gives_zero_not_nan() -> None:
    # all-zero input lets the LTA underflow to 0; the ratio must stay 0 (not 0/0)
    a = np.zeros(60_000)
    a[50_000:] = _noise(10_000, seed=3)
    state = new_state()
    out = recursive_stalta(a, 10, 100, state)
    assert np.all(np.isfinite(out))
    assert np.all(out[:50_000] == 0.0)
    ref = _serial(a, 10, 100, new_state(), -1, False)
    np.testing.assert_allclose(out, ref, rtol=RTOL_STREAM, atol=0)


def test_non_contiguous_input() -> None:
    a = DATA["noise"]
    strided = a[::3]
    np.testing.assert_array_equal(
        recursive_stalta(strided, 20, 200, new_state()),
        recursive_stalta(np.ascontiguousarray(strided), 20, 200, new_state()),
    )


def test_onset_of_ten_times_the_noise_triggers_within_sta() -> None:
    n_sta, n_lta, onset = 50, 1000, 6000  # 0.5 s / 10 s at 100 Hz
    a = _noise(9000, seed=11)
    a[onset:] *= 10.0
    ratio = recursive_stalta(a, n_sta, n_lta, new_state())
    assert ratio[n_lta:onset].max() < 3.0
    first = onset + int(np.argmax(ratio[onset:] > 4.0))
    assert ratio[first] > 4.0
    assert first - onset <= n_sta
    assert ratio[onset : onset + 3 * n_sta].max() > 8.0
