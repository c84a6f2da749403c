"""The chain straight into the history ring (batched replay): same bits as its separate steps."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from eew.detect.ring import _ring_write
from eew.dsp import chain
from eew.dsp.filters import design_bandpass
from eew.dsp.ringchain import process_to_ring, process_to_ring_np
from tests.test_filters_chain import ACC_SENS, VEL_SENS, design, random_sizes, realistic_counts

CAP = 701  # ring columns: packets wrap at many positions


def _designs() -> dict[str, chain.ChainDesign]:
    vel = design(sensitivity=VEL_SENS)
    acc = design(is_acceleration=True, sensitivity=ACC_SENS)
    no_trigger = dataclasses.replace(acc, params=acc.params.copy())
    no_trigger.params[chain.P_TRIGGER] = 0.0
    # 8-pole band-pass: the general loop (any number of sections) instead of the default one
    general = dataclasses.replace(vel, bp_sos=design_bandpass(1.0, 10.0, 100.0, 4))
    return {"velocity": vel, "acceleration": acc, "no_trigger": no_trigger, "general": general}


DESIGNS = _designs()


def _separate_steps(d: chain.ChainDesign, x: np.ndarray, sizes: list[int]) -> tuple:
    """process_packet, _ring_write of its output, the maxima with NumPy: per packet."""
    state, ring = d.new_state(), np.zeros((chain.N_ROWS + 1, CAP))
    maxima, pos = [], 5
    for a, b in itertools.pairwise(np.cumsum([0, *sizes])):
        out = np.empty((chain.N_ROWS, b - a))
        chain.process_packet(x[a:b], d.params, d.bp_sos, d.hp_sos, d.lp_sos, state, out)
        _ring_write(ring, pos, out, x[a:b])
        pos = (pos + b - a) % CAP
        maxima.append(
            (
                max(0.0, out[chain.ROW_RATIO].max()),
                np.abs(out[chain.ROW_ACC]).max(),
                np.abs(out[chain.ROW_VEL]).max(),
            )
        )
    return state, ring, np.array(maxima)


def _to_ring(impl, d: chain.ChainDesign, x: np.ndarray, sizes: list[int]) -> tuple:  # type: ignore[no-untyped-def]
    state, ring = d.new_state(), np.zeros((chain.N_ROWS + 1, CAP))
    maxima, pos = [], 5
    for a, b in itertools.pairwise(np.cumsum([0, *sizes])):
        maxima.append(impl(x[a:b], d.params, d.bp_sos, d.hp_sos, d.lp_sos, state, ring, pos))
        pos = (pos + b - a) % CAP
    return state, ring, np.array(maxima)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_ring_kernel_is_bit_identical_to_the_separate_steps(name: str) -> None:
    d = DESIGNS[name]
    x = realistic_counts(5000, seed=3)
    x[2500] += 3_000_000  # a spike: a ratio far above 1 in one packet
    sizes = random_sizes(x.shape[0], seed=4, n_max=CAP - 1)
    ref_state, ref_ring, ref_max = _separate_steps(d, x, sizes)
    state, ring, got_max = _to_ring(process_to_ring, d, x, sizes)
    np.testing.assert_array_equal(state, ref_state)
    np.testing.assert_array_equal(ring, ref_ring)
    np.testing.assert_array_equal(got_max, ref_max)
    assert ref_max[:, 0].max() > 3.0 if name != "no_trigger" else ref_max[:, 0].max() == 0.0


@pytest.mark.parametrize("name", list(DESIGNS))
def test_ring_kernel_matches_its_numpy_twin(name: str) -> None:
    d = DESIGNS[name]
    x = realistic_counts(5000, seed=5)
    sizes = random_sizes(x.shape[0], seed=6, n_max=CAP - 1)
    state, ring, got = _to_ring(process_to_ring, d, x, sizes)
    state_np, ring_np, ref = _to_ring(process_to_ring_np, d, x, sizes)
    for r in range(chain.N_ROWS + 1):
        scale = max(np.abs(ring_np[r]).max(), 1e-300)
        np.testing.assert_allclose(ring[r], ring_np[r], rtol=0, atol=1e-9 * scale, err_msg=r)
    for k in range(3):
        scale = max(np.abs(ref[:, k]).max(), 1e-300)
        np.testing.assert_allclose(got[:, k], ref[:, k], rtol=0, atol=1e-9 * scale, err_msg=k)
    np.testing.assert_allclose(state, state_np, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("impl", [process_to_ring, process_to_ring_np], ids=["numba", "numpy"])
def test_ring_kernel_peaks_are_nan_when_a_sample_is_nan(impl) -> None:  # type: ignore[no-untyped-def]
    d = DESIGNS["velocity"]
    state, ring = d.new_state(), np.zeros((chain.N_ROWS + 1, CAP))
    x = realistic_counts(300, seed=8)
    impl(x, d.params, d.bp_sos, d.hp_sos, d.lp_sos, state, ring, 0)
    state[chain.N_FIXED + 4] = np.nan  # the high-pass state: acceleration and velocity NaN
    r, a, v = impl(x, d.params, d.bp_sos, d.hp_sos, d.lp_sos, state, ring, CAP - 100)
    assert np.isnan(a) and np.isnan(v) and r >= 0.0


@pytest.mark.parametrize("name", ["velocity", "acceleration", "no_trigger"])
def test_register_loop_gives_the_general_loops_bits(name: str) -> None:
    """The default design's loop (state in registers) against the loop over the state array,
    packet by packet from a fresh start, with the peaks both return."""
    d = DESIGNS[name]
    x = realistic_counts(4000, seed=9)
    sizes = random_sizes(x.shape[0], seed=10)
    s_fast, s_general = d.new_state(), d.new_state()
    for a, b in itertools.pairwise(np.cumsum([0, *sizes])):
        fast, general = np.empty((chain.N_ROWS, b - a)), np.empty((chain.N_ROWS, b - a))
        got = chain._process_cols(
            x[a:b], d.params, d.bp_sos, d.hp_sos, d.lp_sos, s_fast, fast, 0, b - a, 0
        )
        ref = chain._process_range(
            x[a:b], d.params, d.bp_sos, d.hp_sos, d.lp_sos, s_general, general, 0, b - a, 0
        )
        np.testing.assert_array_equal(fast, general)
        assert got == ref
    np.testing.assert_array_equal(s_fast, s_general)
