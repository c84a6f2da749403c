"""Instrument and telemetry disturbances, digitiser clipping and quantisation.

Every disturbance is switched on by a ``[[disturbance]]`` table in the scenario and
recorded in ``truth.json``. ``target`` is a channel id ``NET.STA.LOC.CHA`` or a station
id ``NET.STA`` (all its channels); fnmatch patterns are allowed. Times are seconds after
the record start; amplitudes are counts.

========================  =============================================================
kind                      effect
========================  =============================================================
``spike``                 one sample + ``amplitude_counts`` at ``time_s``
``step``                  + ``amplitude_counts`` from ``time_s`` to the end (DC offset jump)
``calibration``           sine of ``frequency_hz`` and ``amplitude_counts`` for
                          ``duration_s``; miniSEED records holding it carry activity flag
                          bit 0 ("calibration signals present")
``gap``                   samples in [time_s, time_s + duration_s) are not transmitted
``dead``                  flat channel (constant value) from ``time_s`` to the end
``clip``                  a burst of ``amplitude_counts`` (default 2^24) at ``frequency_hz``
                          for ``duration_s``, saturating at the clip level
``clock_offset``          timestamps of the target shifted by ``offset_s`` (data are late
                          or early by that amount)
========================  =============================================================
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eew.errors import ConfigError
from eew.simulate.scenario import DisturbanceSpec, Scenario
from eew.simulate.stations import SimChannel


@dataclass
class ChannelData:
    """Counts of one channel and what happened to them.

    Attributes
    ----------
    counts : numpy.ndarray
        Float counts before :func:`apply`, int32 after it.
    segments : list of (int, int)
        Sample ranges [start, end) that are transmitted (gaps between them).
    calibration : list of (int, int)
        Sample ranges holding a calibration signal.
    time_offset_s : float
        Clock error added to every timestamp of the channel (s).
    """

    channel: SimChannel
    counts: np.ndarray
    sampling_rate_hz: float
    segments: list[tuple[int, int]] = field(default_factory=list)
    calibration: list[tuple[int, int]] = field(default_factory=list)
    time_offset_s: float = 0.0
    clipped_samples: int = 0
    disturbances: list[dict[str, Any]] = field(default_factory=list)


def _matches(spec: DisturbanceSpec, ch: SimChannel) -> bool:
    return fnmatch.fnmatchcase(ch.channel_id, spec.target) or fnmatch.fnmatchcase(
        ch.station_id, spec.target
    )


def _add(data: ChannelData, spec: DisturbanceSpec) -> None:
    fs = data.sampling_rate_hz
    n = data.counts.size
    i0 = min(max(round(spec.time_s * fs), 0), n)
    i1 = min(max(round((spec.time_s + spec.duration_s) * fs), i0), n)
    x = data.counts
    if spec.kind == "spike" and i0 < n:
        x[i0] += spec.amplitude_counts
    elif spec.kind == "step":
        x[i0:] += spec.amplitude_counts
    elif spec.kind in ("calibration", "clip"):
        amp = spec.amplitude_counts or (2.0**24 if spec.kind == "clip" else 1.0e5)
        t = np.arange(i1 - i0) / fs
        x[i0:i1] += amp * np.sin(2.0 * np.pi * spec.frequency_hz * t)
        if spec.kind == "calibration" and i1 > i0:
            data.calibration.append((i0, i1))


def apply(scn: Scenario, channels: list[ChannelData], clip_counts: int) -> None:
    """Apply the scenario's disturbances, clip at +-``clip_counts``, round to int32.

    Order: additive disturbances (spike, step, calibration, clip burst), clipping and
    rounding, dead channels, gaps, clock offsets.

    Raises
    ------
    eew.errors.ConfigError
        If a disturbance target matches no channel.
    """
    where = scn.path or "<scenario>"
    hits = {
        i: [c for c in channels if _matches(d, c.channel)] for i, d in enumerate(scn.disturbances)
    }
    for i, d in enumerate(scn.disturbances):
        if not hits[i]:
            raise ConfigError(
                f"{where}: disturbance #{i + 1} target {d.target!r} matches no simulated channel"
            )
    for data in channels:
        data.segments = [(0, data.counts.size)]
    for i, d in enumerate(scn.disturbances):
        if d.kind in ("spike", "step", "calibration", "clip"):
            for data in hits[i]:
                _add(data, d)
    for data in channels:
        over = np.abs(data.counts) > clip_counts
        data.clipped_samples = int(np.count_nonzero(over))
        data.counts = np.round(np.clip(data.counts, -clip_counts, clip_counts)).astype(np.int32)
    for i, d in enumerate(scn.disturbances):
        for data in hits[i]:
            fs = data.sampling_rate_hz
            n = data.counts.size
            i0 = min(max(round(d.time_s * fs), 0), n)
            i1 = min(max(round((d.time_s + d.duration_s) * fs), i0), n)
            if d.kind == "dead":
                data.counts[i0:] = data.counts[i0] if i0 < n else 0
            elif d.kind == "gap" and i1 > i0:
                data.segments = _cut(data.segments, i0, i1)
            elif d.kind == "clock_offset":
                data.time_offset_s += d.offset_s
            data.disturbances.append({"index": i + 1, **d.__dict__})


def _cut(segments: list[tuple[int, int]], i0: int, i1: int) -> list[tuple[int, int]]:
    out = []
    for a, b in segments:
        if b <= i0 or a >= i1:
            out.append((a, b))
            continue
        if a < i0:
            out.append((a, i0))
        if b > i1:
            out.append((i1, b))
    return out
