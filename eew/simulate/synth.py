"""Stochastic phase synthesis (Boore 2003), three components, and ground-motion measures.

A phase at one station is windowed Gaussian noise whose spectrum is multiplied by a target
amplitude spectrum (Boore 2003, section "Stochastic simulation"). The window is a boxcar of
the ground-motion duration followed by an exponential coda. The shaping filter is the
minimum-phase filter of the target amplitude, so it is causal: onsets are sharp and nothing
precedes the true arrival.
The three components are a coherent ray part (P: along the ray at the incidence angle from
the ray parameter; S: a random polarisation between SV and SH) plus 15-35 % incoherent
scattered energy.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
import scipy.fft
from scipy.signal import butter, sosfilt

#: causal high-pass (Hz) applied after each integration of the synthetic ground motion
INTEGRATION_HP_HZ = 0.02
#: pre-processing of the early-P measurements (science reference 1.1): 2-pole HP at 0.075 Hz
PD_HP_HZ = 0.075
PD_WINDOW_S = 3.0


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """Return a generator seeded by the scenario seed and stable keys (ids, indices).

    Keys make every draw independent of the order and of the set of stations simulated.
    """
    words = [int(seed) & 0xFFFFFFFF]
    for k in keys:
        words.append(k & 0xFFFFFFFF if isinstance(k, int) else zlib.crc32(str(k).encode()))
    return np.random.default_rng(np.random.SeedSequence(words))


@lru_cache(maxsize=16)
def _highpass_sos(corner_hz: float, sampling_rate_hz: float) -> np.ndarray:
    return butter(2, corner_hz, btype="high", fs=sampling_rate_hz, output="sos")


def integrate(
    x: np.ndarray, sampling_rate_hz: float, hp_hz: float = INTEGRATION_HP_HZ
) -> np.ndarray:
    """Causal trapezoid integration followed by a causal 2-pole Butterworth high-pass.

    Works along the last axis; the state starts at zero, so a signal that is zero before
    some sample stays zero there.
    """
    dt = 1.0 / sampling_rate_hz
    y = np.cumsum(x, axis=-1) * dt
    y -= 0.5 * dt * x
    y -= 0.5 * dt * x[..., :1]
    return sosfilt(_highpass_sos(hp_hz, sampling_rate_hz), y, axis=-1)


def pd_from_velocity(
    velocity: np.ndarray,
    sampling_rate_hz: float,
    onset_index: int,
    window_s: float = PD_WINDOW_S,
) -> float:
    """Pd: peak |displacement| in ``window_s`` after the P onset (units of velocity x s).

    The chain of the science reference (section 1.1): 2-pole causal high-pass at 0.075 Hz on
    velocity, trapezoid integration, high-pass again, peak absolute value in the window.
    """
    sos = _highpass_sos(PD_HP_HZ, sampling_rate_hz)
    v = sosfilt(sos, velocity)
    d = integrate(v, sampling_rate_hz, PD_HP_HZ)
    i1 = onset_index + round(window_s * sampling_rate_hz)
    seg = d[max(onset_index, 0) : max(i1, 1)]
    return float(np.max(np.abs(seg))) if seg.size else 0.0


def segment_layout(
    onset_s: float, duration_s: float, sampling_rate_hz: float
) -> tuple[int, int, float]:
    """Return (first sample of the segment, segment length, onset in segment samples).

    ``onset_s`` is measured from the record start; the segment starts 1 s before it.
    """
    i0 = int(np.floor(onset_s * sampling_rate_hz)) - int(sampling_rate_hz)
    span_s = 1.0 + 3.0 * duration_s + 30.0  # window, coda and low-cut ringing
    n = scipy.fft.next_fast_len(int(np.ceil(span_s * sampling_rate_hz)), real=True)
    return i0, n, onset_s * sampling_rate_hz - i0


def envelope(n: int, onset_idx: float, duration_s: float, sampling_rate_hz: float) -> np.ndarray:
    """Boxcar of ``duration_s`` from the onset, then an exponential coda (time constant T/2)."""
    tau = (np.arange(n) - onset_idx) / sampling_rate_hz
    coda = np.exp(-np.maximum(tau - duration_s, 0.0) / (0.5 * duration_s + 0.5))
    return np.where(tau >= 0.0, coda, 0.0)


def shaped_noise(
    rng: np.random.Generator,
    n: int,
    onset_idx: float,
    duration_s: float,
    sampling_rate_hz: float,
    fas: np.ndarray,
    shaping: np.ndarray | None = None,
) -> np.ndarray:
    """One realisation of a phase: windowed noise with Fourier amplitude spectrum ``fas``.

    ``fas`` is the target FAS on ``rfftfreq(n)`` (units of the output x s). The noise
    spectrum is normalised to unit mean square (Boore 2003), so the output FAS equals
    ``fas`` on average. The shaping filter is minimum phase, so the output is zero before
    ``onset_idx`` and starts impulsively. ``shaping`` is ``minimum_phase(fas, n)`` when the
    caller already has it (the components of one phase share it; the result is the same).
    """
    w = envelope(n, onset_idx, duration_s, sampling_rate_hz)
    x = rng.standard_normal(n) * w
    spec = scipy.fft.rfft(x)
    spec /= np.sqrt(np.mean(np.abs(spec) ** 2))
    if shaping is None:
        shaping = minimum_phase(fas, n)
    y = scipy.fft.irfft(spec * shaping * sampling_rate_hz, n)
    y[: int(np.ceil(onset_idx))] = 0.0  # only round-off and wrap-around are removed here
    return y


def minimum_phase(amplitude: np.ndarray, n: int, oversample: int = 8) -> np.ndarray:
    """Minimum-phase spectrum (on ``rfftfreq(n)``) with the given amplitude.

    Built with the folded real cepstrum (Oppenheim & Schafer, "Discrete-time signal
    processing", section 5.6): the filter is causal, so a phase shaped with it starts exactly
    at its window onset, with no acausal precursor, and its zero response at 0 Hz leaves no
    net velocity.

    The cepstrum is computed on a grid ``oversample`` times finer than the record and the
    impulse response cut back to ``n`` samples: on the record's own grid the cepstrum of a
    steep spectrum does not decay within ``n / 2`` samples and aliases, which puts a
    spurious copy of every phase half a record later (about 30 dB down).
    """
    m = oversample * n
    f_n = np.arange(amplitude.shape[0]) / n
    f_m = np.arange(m // 2 + 1) / m
    amp = np.interp(f_m, f_n, amplitude)
    log_a = np.log(np.maximum(amp, 1e-8 * float(np.max(amp))))
    cep = scipy.fft.irfft(log_a, m)
    fold = np.zeros(m)
    fold[0] = cep[0]
    half = (m + 1) // 2
    fold[1:half] = 2.0 * cep[1:half]
    if m % 2 == 0:
        fold[m // 2] = cep[m // 2]
    h = scipy.fft.irfft(np.exp(scipy.fft.rfft(fold)), m)[:n]
    # a gentle taper over the last tenth keeps the cut from ringing
    k = max(n // 10, 1)
    h[n - k :] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, k)))
    return scipy.fft.rfft(h, n)


def p_components(
    rng: np.random.Generator,
    n: int,
    onset_idx: float,
    duration_s: float,
    sampling_rate_hz: float,
    fas: np.ndarray,
    incidence_rad: float,
) -> np.ndarray:
    """P wave as (Z, R, T) rows: ray part at the incidence angle plus scattered energy."""
    mp = minimum_phase(fas, n)
    a, b, c = (
        shaped_noise(rng, n, onset_idx, duration_s, sampling_rate_hz, fas, mp) for _ in range(3)
    )
    z = np.cos(incidence_rad) * a + 0.15 * b
    r = np.sin(incidence_rad) * a + 0.2 * c
    t = 0.15 * (b - c) / np.sqrt(2.0)
    return np.stack([z, r, t])


def s_components(
    rng: np.random.Generator,
    n: int,
    onset_idx: float,
    duration_s: float,
    sampling_rate_hz: float,
    fas: np.ndarray,
    polarisation_rad: float,
) -> np.ndarray:
    """S wave as (Z, R, T) rows: polarised horizontal part plus scattered energy."""
    mp = minimum_phase(fas, n)
    a, b, c = (
        shaped_noise(rng, n, onset_idx, duration_s, sampling_rate_hz, fas, mp) for _ in range(3)
    )
    r = np.cos(polarisation_rad) * a + 0.35 * b
    t = np.sin(polarisation_rad) * a + 0.35 * c
    z = 0.3 * (b + c) / np.sqrt(2.0)
    return np.stack([z, r, t])


def rotate_zrt_to_zne(zrt: np.ndarray, azimuth_deg: float) -> np.ndarray:
    """Rotate (Z, R, T) rows to (Z, N, E); ``azimuth_deg`` is source -> station azimuth."""
    az = np.radians(azimuth_deg)
    z, r, t = zrt
    n = r * np.cos(az) - t * np.sin(az)
    e = r * np.sin(az) + t * np.cos(az)
    return np.stack([z, n, e])


def add_segment(total: np.ndarray, seg: np.ndarray, i0: int) -> None:
    """Add ``seg`` (rows x samples) into ``total`` starting at sample ``i0``, clipped."""
    n_total = total.shape[-1]
    a = max(i0, 0)
    b = min(i0 + seg.shape[-1], n_total)
    if b > a:
        total[..., a:b] += seg[..., a - i0 : b - i0]


def peak_motion(acc_zne: np.ndarray, sampling_rate_hz: float) -> dict[str, float]:
    """Peak ground motion of (Z, N, E) acceleration rows (m/s^2), in cm units.

    Returns PGA (cm/s^2), PGV (cm/s) and PGD (cm) as the largest horizontal absolute value,
    the geometric mean of the two horizontal PGAs, and the vertical PGA.
    """
    vel = integrate(acc_zne, sampling_rate_hz)
    disp = integrate(vel, sampling_rate_hz)
    pk_a = np.max(np.abs(acc_zne), axis=-1) * 100.0
    pk_v = np.max(np.abs(vel), axis=-1) * 100.0
    pk_d = np.max(np.abs(disp), axis=-1) * 100.0
    return {
        "pga_cm_s2": float(max(pk_a[1], pk_a[2])),
        "pga_geomean_cm_s2": float(np.sqrt(pk_a[1] * pk_a[2])),
        "pga_z_cm_s2": float(pk_a[0]),
        "pgv_cm_s": float(max(pk_v[1], pk_v[2])),
        "pgd_cm": float(max(pk_d[1], pk_d[2])),
    }
