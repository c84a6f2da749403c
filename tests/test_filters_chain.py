"""Stateful filters and the fused per-packet chain: twins, packet independence, physics."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from scipy import signal

from eew.config import Config
from eew.dsp import chain
from eew.dsp.filters import (
    design_bandpass,
    design_highpass,
    design_lowpass,
    sosfilt_stateful,
    sosfilt_stateful_np,
)
from eew.errors import ConfigError

FS = 100.0
VEL_SENS = 2.5168e9  # counts per m/s
ACC_SENS = 427_000.0  # counts per m/s^2
SOSFILT = {"numba": sosfilt_stateful, "numpy": sosfilt_stateful_np}
PROCESS = {"numba": chain.process_packet, "numpy": chain.process_packet_np}


def design(
    *, is_acceleration: bool = False, sensitivity: float = VEL_SENS, fs: float = FS
) -> chain.ChainDesign:
    """The chain of one channel with the default configuration."""
    cfg = Config()
    trig, proc = cfg.trigger, cfg.processing
    low, high = (
        (trig.acceleration_band_low_hz, trig.acceleration_band_high_hz)
        if is_acceleration
        else (trig.velocity_band_low_hz, trig.velocity_band_high_hz)
    )
    return chain.design_chain(
        sensitivity=sensitivity,
        is_acceleration=is_acceleration,
        sampling_rate_hz=fs,
        bp_sos=design_bandpass(low, high, fs, trig.band_order),
        hp_sos=design_highpass(proc.highpass_hz, fs, proc.highpass_order),
        lp_sos=design_lowpass(proc.taup_lowpass_hz, fs, 2),
        baseline_window_s=proc.baseline_window_s,
        n_sta=round(trig.sta_s * fs),
        n_lta=round(trig.lta_s * fs),
        taup_time_constant_s=proc.taup_time_constant_s,
        can_trigger=True,
        n_warmup=round(trig.warmup_s * fs),
    )


def run_chain(
    d: chain.ChainDesign,
    x: np.ndarray,
    sizes: list[int] | None = None,
    impl: Callable[..., None] = chain.process_packet,
) -> np.ndarray:
    """Run the chain over ``x`` in packets of ``sizes`` (whole if None); return all rows."""
    state = d.new_state()
    out = np.empty((chain.N_ROWS, x.shape[0]))
    bounds = np.cumsum([0, *(sizes or [x.shape[0]])])
    assert bounds[-1] == x.shape[0]
    for a, b in itertools.pairwise(bounds):
        block = np.empty((chain.N_ROWS, b - a))
        impl(x[a:b], d.params, d.bp_sos, d.hp_sos, d.lp_sos, state, block)
        out[:, a:b] = block
    return out


def random_sizes(n: int, seed: int, n_max: int = 500) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n:
        step = 1 if rng.random() < 0.3 else int(rng.integers(1, n_max))
        sizes.append(min(step, n - sum(sizes)))
    return sizes


def sine_counts(
    amplitude: float, f_hz: float, sensitivity: float, duration_s: float, offset: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of a sine of ``amplitude`` [cm/s or cm/s^2] at ``f_hz``, with a DC offset [counts]."""
    t = np.arange(round(duration_s * FS)) / FS
    return t, offset + amplitude / 100.0 * sensitivity * np.sin(2 * np.pi * f_hz * t)


def steady(x: np.ndarray, skip_s: float) -> np.ndarray:
    """The part of ``x`` after the filter transients."""
    return x[round(skip_s * FS) :]


def realistic_counts(n: int, seed: int = 0) -> np.ndarray:
    """Noise with a DC offset, a low-frequency drift and an event-like burst [int counts]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    x = 2000.0 + 300.0 * rng.standard_normal(n) + 800.0 * np.sin(2 * np.pi * 0.05 * t)
    onset = n // 2
    sos = signal.butter(4, [2.0, 12.0], btype="bandpass", fs=FS, output="sos")
    burst = signal.sosfilt(sos, rng.standard_normal(n - onset)) * np.exp(-t[: n - onset] / 3.0)
    x[onset:] += 40_000.0 * burst / np.abs(burst).max()
    return np.round(x).astype(np.int32)


# ---- filter design ------------------------------------------------------------------------
def test_design_rejects_bands_at_or_above_nyquist_and_empty_bands() -> None:
    with pytest.raises(ConfigError, match="Nyquist"):
        design_bandpass(1.0, 50.0, FS)
    with pytest.raises(ConfigError, match="Nyquist"):
        design_lowpass(60.0, FS)
    with pytest.raises(ConfigError):
        design_bandpass(10.0, 5.0, FS)
    with pytest.raises(ConfigError):
        design_highpass(0.0, FS)


def test_design_matches_butterworth_corners() -> None:
    sos = design_bandpass(1.0, 15.0, FS, order=2)
    assert sos.shape == (2, 6)
    _w, h = signal.sosfreqz(sos, worN=[1.0, 4.0, 15.0], fs=FS)
    gain = np.abs(h)
    assert gain[0] == pytest.approx(2**-0.5, rel=0.02)  # -3 dB at the corners
    assert gain[2] == pytest.approx(2**-0.5, rel=0.02)
    assert gain[1] == pytest.approx(1.0, rel=0.02)
    hp = design_highpass(0.075, FS, order=2)
    _, h = signal.sosfreqz(hp, worN=[0.075, 0.01, 1.0], fs=FS)
    assert np.abs(h[0]) == pytest.approx(2**-0.5, rel=1e-3)
    assert np.abs(h[1]) == pytest.approx((0.01 / 0.075) ** 2, rel=0.05)  # 12 dB/octave
    assert np.abs(h[2]) == pytest.approx(1.0, abs=1e-3)


# ---- stateful SOS filter ------------------------------------------------------------------
@pytest.mark.parametrize("impl", sorted(SOSFILT))
def test_sosfilt_stateful_matches_scipy_whole_and_in_packets(impl: str) -> None:
    fn = SOSFILT[impl]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(3001) * 1e3 + 50.0
    sos = design_bandpass(1.0, 15.0, FS, order=2)
    ref = signal.sosfilt(sos, x)
    zi = np.zeros((sos.shape[0], 2))
    np.testing.assert_allclose(fn(x, sos, zi), ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    zi = np.zeros((sos.shape[0], 2))
    sizes = random_sizes(x.shape[0], seed=4)
    bounds = np.cumsum([0, *sizes])
    y = np.concatenate([fn(x[a:b], sos, zi) for a, b in itertools.pairwise(bounds)])
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    # the carried state is scipy's zi after the whole trace
    _, zf = signal.sosfilt(sos, x, zi=np.zeros((sos.shape[0], 2)))
    np.testing.assert_allclose(zi, zf, rtol=1e-9, atol=1e-12 * np.abs(zf).max())


def test_sosfilt_stateful_with_initial_state_matches_scipy_zi() -> None:
    sos = design_highpass(0.075, FS)
    x = np.random.default_rng(5).standard_normal(500)
    zi0 = signal.sosfilt_zi(sos) * 3.0
    ref, _ = signal.sosfilt(sos, x, zi=zi0.copy())
    np.testing.assert_allclose(sosfilt_stateful(x, sos, zi0.copy()), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sosfilt_stateful_np(x, sos, zi0.copy()), ref, rtol=1e-12, atol=1e-12)


def test_sosfilt_stateful_numba_is_bit_identical_across_packet_sizes() -> None:
    sos = design_bandpass(2.0, 20.0, FS)
    x = np.random.default_rng(6).standard_normal(2000)
    whole = sosfilt_stateful(x, sos, np.zeros((sos.shape[0], 2)))
    zi = np.zeros((sos.shape[0], 2))
    ones = np.concatenate([sosfilt_stateful(x[i : i + 1], sos, zi) for i in range(x.shape[0])])
    np.testing.assert_array_equal(ones, whole)


# ---- fused chain: twins and packet independence --------------------------------------------
@pytest.mark.parametrize("is_acceleration", [False, True], ids=["velocity", "acceleration"])
def test_chain_numba_matches_numpy_twin(is_acceleration: bool) -> None:
    sens = ACC_SENS if is_acceleration else VEL_SENS
    d = design(is_acceleration=is_acceleration, sensitivity=sens)
    x = realistic_counts(6000, seed=1)
    sizes = random_sizes(x.shape[0], seed=2)
    ref = run_chain(d, x, sizes, chain.process_packet_np)
    got = run_chain(d, x, sizes, chain.process_packet)
    for row in range(chain.N_ROWS):
        scale = np.abs(ref[row]).max()
        assert scale > 0.0, f"row {row} is all zero"
        np.testing.assert_allclose(
            got[row], ref[row], rtol=0, atol=1e-9 * scale, err_msg=f"row {row}"
        )
    # and the twin itself does not depend on the packet size
    whole_np = run_chain(d, x, None, chain.process_packet_np)
    for row in range(chain.N_ROWS):
        scale = np.abs(ref[row]).max()
        np.testing.assert_allclose(whole_np[row], ref[row], rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("is_acceleration", [False, True], ids=["velocity", "acceleration"])
def test_chain_numba_is_bit_identical_for_any_packet_size(is_acceleration: bool) -> None:
    sens = ACC_SENS if is_acceleration else VEL_SENS
    d = design(is_acceleration=is_acceleration, sensitivity=sens)
    x = realistic_counts(4000, seed=7)
    whole = run_chain(d, x)
    for sizes in (random_sizes(x.shape[0], seed=8), [1] * x.shape[0], [512] * 7 + [416]):
        np.testing.assert_array_equal(run_chain(d, x, sizes), whole)


def test_chain_accepts_int32_and_float_counts_alike() -> None:
    d = design()
    x = realistic_counts(3000)
    np.testing.assert_array_equal(run_chain(d, x), run_chain(d, x.astype(np.float64)))


def test_chain_only_triggering_channels_compute_a_ratio() -> None:
    d = design()
    quiet = chain.design_chain(
        sensitivity=VEL_SENS,
        is_acceleration=False,
        sampling_rate_hz=FS,
        bp_sos=d.bp_sos,
        hp_sos=d.hp_sos,
        lp_sos=d.lp_sos,
        baseline_window_s=10.0,
        n_sta=50,
        n_lta=2000,
        taup_time_constant_s=1.0,
        can_trigger=False,
        n_warmup=300,
    )
    x = realistic_counts(4000)
    for impl in PROCESS.values():
        out = run_chain(quiet, x, impl=impl)
        assert not out[chain.ROW_RATIO].any()
        assert not out[chain.ROW_BP].any()
        full = run_chain(d, x, impl=impl)
        np.testing.assert_array_equal(out[chain.ROW_VEL], full[chain.ROW_VEL])
    ratio = run_chain(d, x)[chain.ROW_RATIO]
    assert not ratio[:300].any()  # warm-up: no ratio before warmup_s
    assert ratio[2000:].max() > 4.0  # the burst at the middle triggers


# ---- physics --------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", sorted(PROCESS))
def test_constant_offset_is_removed(impl: str) -> None:
    d = design()
    x = np.full(3000, 123_456.0)
    out = run_chain(d, x, impl=PROCESS[impl])
    for row in (chain.ROW_RAW, chain.ROW_BP, chain.ROW_ACC, chain.ROW_VEL, chain.ROW_DISP):
        assert np.abs(out[row]).max() < 1e-12, f"row {row} sees the offset"


def test_slow_drift_is_removed_by_the_baseline() -> None:
    d = design()
    t = np.arange(12_000) / FS
    x = 50_000.0 + 10.0 * t  # a slow linear drift [counts]
    raw = run_chain(d, x)[chain.ROW_RAW]
    # the running mean lags a ramp by tau * slope: a small constant, not the offset
    assert np.abs(steady(raw, 60.0)).max() == pytest.approx(10.0 * 10.0 * 100 / VEL_SENS, rel=0.05)


@pytest.mark.parametrize("f_hz", [1.0, 2.0, 0.5])
def test_velocity_sine_gives_expected_displacement_and_acceleration(f_hz: float) -> None:
    v_cm_s = 0.01
    _, x = sine_counts(v_cm_s, f_hz, VEL_SENS, 90.0, offset=4000.0)
    out = run_chain(design(), x)
    w = 2 * np.pi * f_hz
    vel = np.abs(steady(out[chain.ROW_VEL], 60.0)).max()
    disp = np.abs(steady(out[chain.ROW_DISP], 60.0)).max()
    acc = np.abs(steady(out[chain.ROW_ACC], 60.0)).max()
    assert vel == pytest.approx(v_cm_s, rel=0.02)
    assert disp == pytest.approx(v_cm_s / w, rel=0.03)
    assert acc == pytest.approx(v_cm_s * w, rel=0.03)


@pytest.mark.parametrize("f_hz", [1.0, 3.0])
def test_acceleration_sine_gives_expected_velocity_and_displacement(f_hz: float) -> None:
    a_cm_s2 = 2.0
    _, x = sine_counts(a_cm_s2, f_hz, ACC_SENS, 90.0, offset=-700.0)
    out = run_chain(design(is_acceleration=True, sensitivity=ACC_SENS), x)
    w = 2 * np.pi * f_hz
    assert np.abs(steady(out[chain.ROW_ACC], 60.0)).max() == pytest.approx(a_cm_s2, rel=0.02)
    assert np.abs(steady(out[chain.ROW_VEL], 60.0)).max() == pytest.approx(a_cm_s2 / w, rel=0.03)
    assert np.abs(steady(out[chain.ROW_DISP], 60.0)).max() == pytest.approx(
        a_cm_s2 / w**2, rel=0.03
    )


def test_units_are_cm_from_counts_via_sensitivity() -> None:
    # the same ground motion recorded with twice the gain gives the same cm/s
    _, x1 = sine_counts(0.05, 1.0, VEL_SENS, 40.0)
    _, x2 = sine_counts(0.05, 1.0, 2 * VEL_SENS, 40.0)
    v1 = run_chain(design(sensitivity=VEL_SENS), x1)[chain.ROW_VEL]
    v2 = run_chain(design(sensitivity=2 * VEL_SENS), x2)[chain.ROW_VEL]
    np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-12)
    assert np.abs(steady(v1, 30.0)).max() == pytest.approx(0.05, rel=0.02)


def test_highpass_removes_very_long_periods() -> None:
    v_cm_s = 0.01
    _, x = sine_counts(v_cm_s, 0.01, VEL_SENS, 600.0)  # 100 s period
    out = run_chain(design(), x)
    vel = np.abs(steady(out[chain.ROW_VEL], 300.0)).max()
    disp = np.abs(steady(out[chain.ROW_DISP], 300.0)).max()
    assert vel < 0.03 * v_cm_s
    assert disp < 0.03 * v_cm_s / (2 * np.pi * 0.01)
    # while 1 Hz passes almost unchanged (see the sine tests): the filter is a high-pass


@pytest.mark.parametrize(("f_hz", "expected_s"), [(1.0, 1.0), (0.5, 2.0)])
def test_tau_p_of_a_sine_is_its_period(f_hz: float, expected_s: float) -> None:
    _, x = sine_counts(0.01, f_hz, VEL_SENS, 60.0, offset=1000.0)
    taup = steady(run_chain(design(), x)[chain.ROW_TAUP], 30.0)
    assert taup.mean() == pytest.approx(expected_s, rel=0.05)
    assert np.median(taup) == pytest.approx(expected_s, rel=0.1)


def test_tau_p_grows_with_period() -> None:
    periods = []
    for f_hz in (4.0, 1.0, 0.3):
        _, x = sine_counts(0.01, f_hz, VEL_SENS, 60.0)
        periods.append(steady(run_chain(design(), x)[chain.ROW_TAUP], 30.0).mean())
    assert periods[0] < periods[1] < periods[2]
