"""Artefact tests: spike/step/boxcar classification, calibration sines, flat and clipped data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from eew.config import Config
from eew.dsp import quality

GLITCH = {"numba": quality.glitch_test, "numpy": quality.glitch_test_np}
CONC = Config().rejection.glitch_concentration
FS = 100.0


def noisy(n: int = 80, sigma: float = 50.0, offset: float = 2000.0, seed: int = 0) -> np.ndarray:
    return offset + sigma * np.random.default_rng(seed).standard_normal(n)


def noise_burst(n: int = 200, onset: int = 60, seed: int = 0) -> np.ndarray:
    """Noise, then a 3-12 Hz noise burst 20 times stronger with a smooth 0.1 s rise."""
    rng = np.random.default_rng(seed)
    x = noisy(n, seed=seed)
    sos = signal.butter(4, [3.0, 12.0], btype="bandpass", fs=FS, output="sos")
    s = signal.sosfilt(sos, rng.standard_normal(n + 300))[300:]
    env = np.clip((np.arange(n) - onset) / 10.0, 0.0, 1.0)
    return x + 20 * 50.0 * env * s / s.std()


@pytest.mark.parametrize("impl", sorted(GLITCH))
@pytest.mark.parametrize("seed", range(4))
def test_one_sample_spike(impl: str, seed: int) -> None:
    x = noisy(seed=seed)
    x[50] += 1e5
    code, conc = GLITCH[impl](x, CONC)
    assert quality.GLITCH_NAMES[code] == "spike"
    assert conc >= CONC


@pytest.mark.parametrize("impl", sorted(GLITCH))
@pytest.mark.parametrize("width", [2, 3])
def test_short_pulse_is_a_spike(impl: str, width: int) -> None:
    x = noisy(seed=1)
    x[40 : 40 + width] -= 2e5
    assert quality.GLITCH_NAMES[GLITCH[impl](x, CONC)[0]] == "spike"


@pytest.mark.parametrize("impl", sorted(GLITCH))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_step(impl: str, sign: float) -> None:
    x = noisy(seed=2)
    x[37:] += sign * 5e4
    assert quality.GLITCH_NAMES[GLITCH[impl](x, CONC)[0]] == "step"


@pytest.mark.parametrize("impl", sorted(GLITCH))
@pytest.mark.parametrize("width", [5, 20])
def test_boxcar(impl: str, width: int) -> None:
    x = noisy(seed=3)
    x[30 : 30 + width] += 5e4
    assert quality.GLITCH_NAMES[GLITCH[impl](x, CONC)[0]] == "boxcar"


@pytest.mark.parametrize("impl", sorted(GLITCH))
@pytest.mark.parametrize("seed", range(4))
def test_band_limited_onset_is_not_a_glitch(impl: str, seed: int) -> None:
    code, conc = GLITCH[impl](noise_burst(seed=seed), CONC)
    assert code == quality.GLITCH_NONE
    assert conc < CONC


@pytest.mark.parametrize("impl", sorted(GLITCH))
def test_real_p_onset_is_not_a_glitch(impl: str, rjob_stream, rjob_p_ns: int) -> None:
    tr = rjob_stream.select(channel="EHZ")[0]
    i = round((rjob_p_ns - tr.stats.starttime.ns) / 1e7)
    for before, after in ((50, 30), (50, 100), (20, 20)):
        code, _ = GLITCH[impl](np.asarray(tr.data[i - before : i + after], dtype=float), CONC)
        assert code == quality.GLITCH_NONE


@pytest.mark.parametrize("impl", sorted(GLITCH))
def test_pure_noise_and_trivial_windows(impl: str) -> None:
    assert GLITCH[impl](noisy(seed=5), CONC)[0] == quality.GLITCH_NONE
    assert GLITCH[impl](np.full(50, 3.0), CONC) == (quality.GLITCH_NONE, 0.0)
    assert GLITCH[impl](np.array([1.0, 2.0]), CONC) == (quality.GLITCH_NONE, 0.0)


@pytest.mark.parametrize("seed", range(30))
def test_glitch_twins_agree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = noisy(int(rng.integers(3, 120)), seed=seed)
    kind = seed % 4
    n = x.shape[0]
    if kind == 1:
        x[int(rng.integers(0, n))] += rng.choice([-1, 1]) * 10 ** rng.uniform(2, 6)
    elif kind == 2:
        x[int(rng.integers(0, n)) :] += 10 ** rng.uniform(2, 6)
    elif kind == 3:
        a = int(rng.integers(0, n))
        x[a : a + int(rng.integers(1, 30))] -= 10 ** rng.uniform(2, 6)
    a_code, a_conc = quality.glitch_test(x, CONC)
    b_code, b_conc = quality.glitch_test_np(x, CONC)
    assert a_code == b_code
    assert a_conc == pytest.approx(b_conc, rel=1e-12)


@pytest.mark.parametrize("f_hz", [1.0, 5.0, 12.5])
def test_monochromatic_fraction_of_a_sine_is_near_one(f_hz: float) -> None:
    t = np.arange(300) / FS
    x = 1e4 + 3e3 * np.sin(2 * np.pi * f_hz * t + 0.3)
    assert quality.monochromatic_fraction(x) > 0.9


def test_monochromatic_fraction_of_noise_and_bursts_is_small() -> None:
    fracs = [quality.monochromatic_fraction(noisy(400, seed=s)) for s in range(5)]
    assert max(fracs) < 0.1
    burst = noise_burst(400, onset=0, seed=1)
    assert quality.monochromatic_fraction(burst) < Config().rejection.monochromatic_fraction


@pytest.mark.parametrize("f_hz", [1.0, 5.0, 12.5])
def test_sine_calibration_is_sine_like(f_hz: float) -> None:
    t = np.arange(350) / FS
    x = 1500 + noisy(350, seed=2) + 1e4 * np.sin(2 * np.pi * f_hz * t + 0.7)
    sine, frac = quality.is_sine_like(x, Config().rejection.monochromatic_fraction)
    assert sine and frac > 0.95


def test_few_cycles_ramps_and_growing_waves_are_not_sine_like() -> None:
    frac_min = Config().rejection.monochromatic_fraction
    t = np.arange(300) / FS
    # half a cycle of a long period (the start of a large event's P wave on a broadband sensor)
    assert not quality.is_sine_like(1e5 * np.sin(2 * np.pi * 0.2 * t), frac_min)[0]
    # two cycles only
    assert not quality.is_sine_like(1e4 * np.sin(2 * np.pi * 0.7 * t), frac_min)[0]
    # one frequency, but growing: a P wave, not a calibration
    assert not quality.is_sine_like(1e4 * t * np.sin(2 * np.pi * 3.0 * t), frac_min)[0]


def test_monochromatic_fraction_degenerate_windows() -> None:
    assert quality.monochromatic_fraction(np.zeros(4)) == 0.0
    assert quality.monochromatic_fraction(np.full(100, 5.0)) == 0.0


def test_is_flat() -> None:
    assert quality.is_flat(np.full(100, -17, dtype=np.int32))
    x = np.full(100, 3.0)
    x[99] = 4.0
    assert not quality.is_flat(x)
    assert not quality.is_flat(np.zeros(0))


def test_is_clipped() -> None:
    clip = Config().rejection.clip_counts
    x = noisy(100)
    assert not quality.is_clipped(x, clip)
    x[10] = clip
    assert quality.is_clipped(x, clip)
    x[10] = -clip - 1
    assert quality.is_clipped(x, clip)
    assert quality.is_clipped(np.array([2**23 - 1], dtype=np.int32), clip)
    assert not quality.is_clipped(np.zeros(0), clip)
