"""The filter corners of one channel, adapted to its own sample rate.

Every channel runs at its own sample rate. The configured corners (``[trigger]`` band,
``[processing]`` high-pass and tau_p low-pass) are those of a 100 Hz channel; a channel
whose Nyquist frequency ``fN = fs / 2`` is too low for them gets lower ones by one rule:

* every corner is at most ``c = MAX_CORNER_NYQUIST_FRACTION * fN = 0.8 fN`` (a causal
  Butterworth corner at the Nyquist frequency is no filter at all; at 0.8 fN the bilinear
  transform's warping of the corner stays small);
* the trigger band's high corner becomes ``min(configured, c)``; its low corner stays;
* the ground-motion high-pass and the tau_p low-pass become ``min(configured, c)``;
* the channel is **set aside** (:class:`~eew.errors.ChannelError`) if its trigger band would
  be narrower than ``MIN_BAND_OCTAVES`` = one octave (high corner at least twice the low
  one) or the tau_p low-pass would not lie above the high-pass: such a channel cannot pick
  a P onset.

At 100 Hz and above nothing changes (``0.8 x 50 Hz = 40 Hz`` is above every default
corner). Velocity sensors: 1-15 Hz at 100 Hz, 1-8 Hz at 20 Hz, set aside below 5 Hz;
accelerometers: 2-20 Hz at 100 Hz, 2-16 Hz at 40 Hz, 2-8 Hz at 20 Hz, set aside below
10 Hz. No per-rate overrides and no configuration keys are offered: the rule gives each
rate the widest band its Nyquist frequency allows within the configured corners, an operator
who wants a narrower band for every channel lowers the configured corner, and one fixed rule
is one thing less to get wrong (and leaves the configuration of 100 Hz networks, and its
hash on every alert, as it was).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eew.config import ProcessingConfig, TriggerConfig
from eew.errors import ChannelError

__all__ = ["ChannelFilters", "channel_filters"]

#: sensor kinds the chain can process (input unit m/s or m/s**2)
KINDS = ("velocity", "acceleration")
#: every filter corner is at most this fraction of the channel's Nyquist frequency
MAX_CORNER_NYQUIST_FRACTION = 0.8
#: narrowest usable trigger band after the high corner was lowered [octaves]
MIN_BAND_OCTAVES = 1.0


@dataclass(frozen=True, slots=True)
class ChannelFilters:
    """The corners one channel runs with.

    Attributes
    ----------
    band_low_hz, band_high_hz : float
        Trigger band-pass corners [Hz].
    highpass_hz : float
        Ground-motion high-pass corner [Hz].
    taup_lowpass_hz : float
        tau_p low-pass corner [Hz].
    adapted : tuple of str
        The configuration keys whose value was lowered for this channel's Nyquist frequency
        (empty when the configured corners are used as they are).
    """

    band_low_hz: float
    band_high_hz: float
    highpass_hz: float
    taup_lowpass_hz: float
    adapted: tuple[str, ...] = ()


def channel_filters(
    kind: str, sampling_rate_hz: float, processing: ProcessingConfig, trigger: TriggerConfig
) -> ChannelFilters:
    """Apply the rule of the module docstring to one channel.

    Parameters
    ----------
    kind : str
        ``"velocity"`` or ``"acceleration"`` (from the channel's input unit).
    sampling_rate_hz : float
        The channel's own sample rate [Hz].
    processing, trigger : ProcessingConfig, TriggerConfig
        The configured corners and the rule's parameters.

    Returns
    -------
    ChannelFilters
        The corners, with the keys that were lowered.

    Raises
    ------
    ChannelError
        If the kind is not supported, the rate is not positive, or the adapted band is too
        narrow (the message says why; the router sets the channel aside).
    """
    if kind not in KINDS:
        raise ChannelError(f"{kind} sensors are not supported (velocity or acceleration only)")
    fs = float(sampling_rate_hz)
    if not (math.isfinite(fs) and fs > 0.0):
        raise ChannelError(f"sample rate {sampling_rate_hz!r} Hz is not positive")
    cap = MAX_CORNER_NYQUIST_FRACTION * 0.5 * fs
    adapted: list[str] = []

    def limit(section: str, key: str, value: float) -> float:
        if value > cap:
            adapted.append(f"{section}.{key}")
            return cap
        return value

    low = float(getattr(trigger, f"{kind}_band_low_hz"))
    high = limit("trigger", f"{kind}_band_high_hz", getattr(trigger, f"{kind}_band_high_hz"))
    hp = limit("processing", "highpass_hz", processing.highpass_hz)
    lp = limit("processing", "taup_lowpass_hz", processing.taup_lowpass_hz)
    min_ratio = 2.0**MIN_BAND_OCTAVES
    if not high >= low * min_ratio or low >= high:
        raise ChannelError(
            f"at {fs:g} Hz the trigger band would be {low:g}-{high:g} Hz "
            f"(high corner at most {MAX_CORNER_NYQUIST_FRACTION:g} x Nyquist), "
            f"narrower than {MIN_BAND_OCTAVES:g} octave"
        )
    if lp <= hp:
        raise ChannelError(
            f"at {fs:g} Hz the tau_p low-pass ({lp:g} Hz) would not lie above the "
            f"high-pass ({hp:g} Hz)"
        )
    return ChannelFilters(low, high, hp, lp, tuple(adapted))
