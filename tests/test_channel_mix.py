"""Any channel mix: every channel at its own rate, corners adapted to its Nyquist frequency.

The rule (:mod:`eew.detect.bands`): every corner at most 0.8 x Nyquist; a channel whose
trigger band would be narrower than an octave is set aside with one log line and a counter.
Band codes BH, HH, EH, SH, HN, HG, EN, BN; velocity and acceleration sensors.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from eew.config import Config, ProcessingConfig, TriggerConfig
from eew.detect.bands import channel_filters
from eew.errors import ChannelError
from eew.inventory import Inventory
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S

ONSET_S = 30.0


def onset_counts(fs: float, seed: int = 0, n_s: float = 60.0, freq_hz: float = 4.0) -> np.ndarray:
    """White noise, then from ONSET_S a decaying ``freq_hz`` wavelet 30 times stronger."""
    rng = np.random.default_rng(seed)
    n = round(n_s * fs)
    t = np.arange(n) / fs
    x = rng.normal(0.0, 200.0, n) + 1500.0
    after = t >= ONSET_S
    ta = t[after] - ONSET_S
    x[after] += 6000.0 * np.sin(2 * np.pi * freq_hz * ta) * np.exp(-ta / 3.0)
    return np.round(x).astype(np.int32)


def packets_of(cid: str, fs: float, counts: np.ndarray, t0_ns: int, size: int = 400) -> list:
    n = size
    return [
        Packet(cid, t0_ns + round(a * NS_PER_S / fs), fs, np.ascontiguousarray(counts[a : a + n]))
        for a in range(0, counts.shape[0], n)
    ]


# ---- the rule -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "fs", "band", "adapted"),
    [
        ("velocity", 1000.0, (1.0, 15.0), ()),
        ("velocity", 200.0, (1.0, 15.0), ()),
        ("velocity", 100.0, (1.0, 15.0), ()),
        ("velocity", 50.0, (1.0, 15.0), ()),
        ("velocity", 40.0, (1.0, 15.0), ()),
        ("velocity", 20.0, (1.0, 8.0), ("trigger.velocity_band_high_hz",)),
        ("velocity", 5.0, (1.0, 2.0), ("trigger.velocity_band_high_hz",)),
        ("acceleration", 100.0, (2.0, 20.0), ()),
        ("acceleration", 50.0, (2.0, 20.0), ()),
        ("acceleration", 40.0, (2.0, 16.0), ("trigger.acceleration_band_high_hz",)),
        ("acceleration", 20.0, (2.0, 8.0), ("trigger.acceleration_band_high_hz",)),
    ],
)
def test_rule_lowers_corners_above_0_8_nyquist(kind, fs, band, adapted) -> None:
    f = channel_filters(kind, fs, ProcessingConfig(), TriggerConfig())
    assert (f.band_low_hz, f.band_high_hz) == pytest.approx(band)
    assert f.adapted == adapted
    assert f.highpass_hz == 0.075
    assert f.taup_lowpass_hz == 1.8
    for corner in (f.band_high_hz, f.highpass_hz, f.taup_lowpass_hz):
        assert corner <= 0.8 * fs / 2 + 1e-12


def test_rule_lowers_the_taup_lowpass_at_very_low_rates() -> None:
    cfg = TriggerConfig(velocity_band_low_hz=0.5)
    f = channel_filters("velocity", 4.0, ProcessingConfig(), cfg)
    assert f.taup_lowpass_hz == pytest.approx(1.6)
    assert "processing.taup_lowpass_hz" in f.adapted


@pytest.mark.parametrize(
    ("kind", "fs", "text"),
    [
        ("velocity", 1.0, "trigger band"),
        ("velocity", 4.0, "trigger band"),
        ("acceleration", 8.0, "trigger band"),
        ("displacement", 100.0, "not supported"),
        ("velocity", 0.0, "not positive"),
    ],
)
def test_rule_refuses_channels_that_cannot_pick(kind, fs, text) -> None:
    with pytest.raises(ChannelError, match=text):
        channel_filters(kind, fs, ProcessingConfig(), TriggerConfig())


# ---- picks at every rate, every band code ---------------------------------------------------
@pytest.mark.parametrize(
    ("code", "kind", "fs"),
    [
        ("BHZ", "velocity", 20.0),
        ("BHZ", "velocity", 40.0),
        ("SHZ", "velocity", 50.0),
        ("EHZ", "velocity", 100.0),
        ("HHZ", "velocity", 200.0),
        ("BNZ", "acceleration", 20.0),
        ("ENZ", "acceleration", 50.0),
        ("HNZ", "acceleration", 100.0),
        ("HGZ", "acceleration", 200.0),
    ],
)
def test_every_rate_and_band_code_picks_the_onset(
    make_info, run_pipeline, t0_ns, code, kind, fs
) -> None:
    cid = f"XX.MIX..{code}"
    info = make_info(cid, kind=kind, sampling_rate_hz=fs)
    run = run_pipeline(packets_of(cid, fs, onset_counts(fs), t0_ns), Inventory([info]))
    picks = [p for p in run.picks if p.update == 0]
    assert len(picks) == 1, run.rejected
    assert abs((picks[0].time_ns - t0_ns) / NS_PER_S - ONSET_S) <= 0.1
    assert picks[0].sensor == kind
    assert run.pipeline.statistics().samples == round(60 * fs)


def test_mixed_rates_in_one_run(make_info, run_pipeline, t0_ns) -> None:
    """20, 40, 50, 100 and 200 Hz channels together, each picked; 1000 Hz runs too."""
    rates = {"BHZ": 20.0, "SHZ": 50.0, "HHZ": 200.0, "EHZ": 100.0, "CHZ": 1000.0}
    rates_40 = {"XX.K40..BHZ": 40.0}
    infos, pkts = [], []
    for i, (code, fs) in enumerate(rates.items()):
        cid = f"XX.S{i}..{code}"
        infos.append(make_info(cid, sampling_rate_hz=fs))
        pkts += packets_of(cid, fs, onset_counts(fs, seed=i), t0_ns)
    for cid, fs in rates_40.items():
        infos.append(make_info(cid, sampling_rate_hz=fs))
        pkts += packets_of(cid, fs, onset_counts(fs, seed=9), t0_ns)
    pkts.sort(key=lambda p: p.endtime_ns)
    run = run_pipeline(pkts, Inventory(infos))
    picked = {p.channel_id for p in run.picks if p.update == 0}
    assert picked == {i.channel_id for i in infos}
    assert run.pipeline.statistics().metadata.filters_adapted == 1  # the 20 Hz channel


# ---- channels set aside -------------------------------------------------------------------
def test_unprocessable_channels_are_set_aside_once(make_info, run_pipeline, t0_ns, caplog) -> None:
    good = make_info("XX.OK..HHZ")
    slow = make_info("XX.SLOW..LHZ", sampling_rate_hz=1.0)
    disp = make_info("XX.DISP..HHZ")
    disp = type(disp)(**{**{f: getattr(disp, f) for f in disp.__slots__}, "input_units": "M"})
    pkts = packets_of("XX.OK..HHZ", 100.0, onset_counts(100.0), t0_ns)
    pkts += packets_of("XX.SLOW..LHZ", 1.0, onset_counts(1.0), t0_ns, size=10)
    pkts += packets_of("XX.DISP..HHZ", 100.0, onset_counts(100.0, seed=2), t0_ns)
    pkts.sort(key=lambda p: p.endtime_ns)
    with caplog.at_level(logging.INFO, logger="eew"):
        run = run_pipeline(pkts, Inventory([good, slow, disp]))
    stats = run.pipeline.statistics()
    assert stats.metadata.set_aside == 2
    assert stats.metadata.set_aside_packets == 6 + 15
    assert set(stats.set_aside) == {"XX.SLOW..LHZ", "XX.DISP..HHZ"}
    assert "trigger band" in stats.set_aside["XX.SLOW..LHZ"]
    assert "displacement" in stats.set_aside["XX.DISP..HHZ"]
    for cid in stats.set_aside:
        lines = [r for r in caplog.records if cid in r.getMessage()]
        assert len(lines) == 1 and "set aside" in lines[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert [p.channel_id for p in run.picks if p.update == 0] == ["XX.OK..HHZ"]
    assert stats.channels == 1


# ---- which components trigger -------------------------------------------------------------
def test_horizontal_only_station_triggers_on_its_horizontals(
    make_info, run_pipeline, t0_ns
) -> None:
    knet = make_info("BO.AKT13..HNE", kind="acceleration")
    three = [make_info(f"XX.THREE..HH{c}") for c in "ZNE"]
    pkts = packets_of("BO.AKT13..HNE", 100.0, onset_counts(100.0), t0_ns)
    for i, info in enumerate(three):
        pkts += packets_of(info.channel_id, 100.0, onset_counts(100.0, seed=i + 1), t0_ns)
    run = run_pipeline(sorted(pkts, key=lambda p: p.endtime_ns), Inventory([knet, *three]))
    picked = sorted(p.channel_id for p in run.picks if p.update == 0)
    # the station with a vertical triggers on it only; the horizontal-only one on its HNE
    assert picked == ["BO.AKT13..HNE", "XX.THREE..HHZ"]


def test_components_setting_still_rules_stations_with_a_vertical(
    make_info, run_pipeline, t0_ns
) -> None:
    cfg = Config(trigger=TriggerConfig(components="ZNE"))
    three = [make_info(f"XX.THREE..HH{c}") for c in "ZNE"]
    pkts = []
    for i, info in enumerate(three):
        pkts += packets_of(info.channel_id, 100.0, onset_counts(100.0, seed=i + 1), t0_ns)
    run = run_pipeline(sorted(pkts, key=lambda p: p.endtime_ns), Inventory(three), cfg)
    assert len({p.channel_id for p in run.picks}) == 3


def test_a_spike_is_still_a_glitch_at_20_hz(make_info, run_pipeline, t0_ns) -> None:
    """Fewer differences weighed at low rates (eew.dsp.quality.glitch_top), spikes still caught."""
    fs = 20.0
    x = np.round(np.random.default_rng(3).normal(0.0, 200.0, 1200) + 1500.0).astype(np.int32)
    x[600] += 200_000
    info = make_info("XX.SPK..BHZ", sampling_rate_hz=fs)
    run = run_pipeline(packets_of(info.channel_id, fs, x, t0_ns), Inventory([info]))
    assert run.picks == []
    assert [r.reason for r in run.rejected] == ["spike"]
