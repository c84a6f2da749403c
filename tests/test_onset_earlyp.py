"""AIC onset picker and early-P parameters, each against its plain-NumPy twin."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from eew.dsp import earlyp
from eew.dsp.onset import aic_onset, aic_onset_np

AIC = {"numba": aic_onset, "numpy": aic_onset_np}
EARLYP = {"numba": earlyp.early_p_params, "numpy": earlyp.early_p_params_np}
FS = 100.0
DT = 1.0 / FS


def noise_then_signal(n: int, onset: int, ratio: float, seed: int) -> np.ndarray:
    """White noise (std 1) with a band-limited signal ``ratio`` times stronger from ``onset``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    sos = signal.butter(4, [3.0, 12.0], btype="bandpass", fs=FS, output="sos")
    s = signal.sosfilt(sos, rng.standard_normal(n + 200))[200:]
    x[onset:] += ratio * s[onset:] / s.std()
    return x


# ---- AIC ----------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", sorted(AIC))
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("onset", [40, 150, 260])
def test_aic_finds_a_noise_to_signal_change(impl: str, seed: int, onset: int) -> None:
    x = noise_then_signal(300, onset, ratio=10.0, seed=seed)
    assert abs(AIC[impl](x) - onset) <= 3


@pytest.mark.parametrize("seed", range(20))
def test_aic_twins_agree(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(4, 400))
    onset = int(rng.integers(1, n))
    x = noise_then_signal(n, onset, ratio=float(rng.uniform(0.5, 30.0)), seed=seed)
    assert aic_onset(x) == aic_onset_np(x)


@pytest.mark.parametrize("impl", sorted(AIC))
def test_aic_short_or_constant_windows(impl: str) -> None:
    fn = AIC[impl]
    assert fn(np.zeros(3)) == -1
    assert fn(np.zeros(0)) == -1
    assert fn(np.full(50, 7.0)) == -1  # no variance anywhere: no onset
    k = fn(np.arange(10, dtype=np.float64))
    assert 1 <= k <= 8


@pytest.mark.parametrize("impl", sorted(AIC))
def test_aic_is_offset_and_scale_invariant(impl: str) -> None:
    x = noise_then_signal(400, 230, ratio=8.0, seed=9)
    k = AIC[impl](x)
    assert AIC[impl](1e6 * x + 3e7) == k


# ---- early-P parameters -------------------------------------------------------------------
def window_arrays(
    seed: int, n: int = 250
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    disp = np.cumsum(rng.standard_normal(n)) * 1e-4
    vel = rng.standard_normal(n) * 1e-3
    acc = rng.standard_normal(n) * 1e-1
    taup = np.abs(rng.standard_normal(n)) + 0.2
    bp = rng.standard_normal(n) * 5e-3
    return disp, vel, acc, taup, bp


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [1, 2, 30, 250])
@pytest.mark.parametrize("n_taup_delay", [0, 50, 400])
def test_early_p_twins_agree(seed: int, n: int, n_taup_delay: int) -> None:
    arrays = window_arrays(seed, n)
    for noise_peak in (1e-3, 0.0):
        a = earlyp.early_p_params(*arrays, noise_peak, n_taup_delay, DT)
        b = earlyp.early_p_params_np(*arrays, noise_peak, n_taup_delay, DT)
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("impl", sorted(EARLYP))
def test_early_p_empty_window_is_all_nan(impl: str) -> None:
    e = np.zeros(0)
    assert np.isnan(EARLYP[impl](e, e, e, e, e, 1.0, 0, DT)).all()


@pytest.mark.parametrize("impl", sorted(EARLYP))
@pytest.mark.parametrize("period_s", [0.25, 1.0, 3.0])
def test_tau_c_of_a_sine_is_its_period(impl: str, period_s: float) -> None:
    t = np.arange(round(4 * period_s * FS)) * DT  # whole periods
    disp = 0.3 * np.sin(2 * np.pi * t / period_s)
    z = np.zeros_like(t)
    p = EARLYP[impl](disp, z, z, z, z, 1.0, 0, DT)
    # finite differences and the window edges bias tau_c by about 1 % at 25 samples a period
    assert p[earlyp.I_TAUC] == pytest.approx(period_s, rel=0.02)


@pytest.mark.parametrize("impl", sorted(EARLYP))
def test_peaks_snr_and_tau_p(impl: str) -> None:
    rng = np.random.default_rng(1)
    n = 300
    disp = rng.standard_normal(n) * 2e-3
    disp[123] = -0.05  # the peak is negative: Pd is a peak of |disp|
    vel = rng.standard_normal(n) * 0.01
    vel[7] = 0.4
    acc = rng.standard_normal(n)
    acc[290] = -12.0
    bp = rng.standard_normal(n) * 0.1
    bp[50] = 2.5
    taup = np.linspace(0.1, 0.5, n)
    taup[10] = 9.0  # before the tau_p delay: must not count
    p = EARLYP[impl](disp, vel, acc, taup, bp, 0.5, 50, DT)
    assert p[earlyp.I_PD] == pytest.approx(0.05)
    assert p[earlyp.I_PV] == pytest.approx(0.4)
    assert p[earlyp.I_PA] == pytest.approx(12.0)
    assert p[earlyp.I_SNR] == pytest.approx(2.5 / 0.5)
    assert p[earlyp.I_TAUP] == pytest.approx(0.5)
    # without noise the SNR is infinite, not NaN
    assert EARLYP[impl](disp, vel, acc, taup, bp, 0.0, 50, DT)[earlyp.I_SNR] == np.inf
    # tau_p is undefined while the window is shorter than the delay
    assert np.isnan(EARLYP[impl](disp, vel, acc, taup, bp, 0.5, n, DT)[earlyp.I_TAUP])
