"""End-to-end picking through :class:`eew.detect.router.Pipeline`.

Real data (obspy's bundled local earthquake on BW.RJOB) and synthetic onsets;
growing-window updates; packet-size independence; the data clock; and every
rejection case (spike, step, boxcar, calibration, clipping, dead channel,
monochromatic calibration sine).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math

import numpy as np
import pytest

from eew.acquisition.archive import index_archive, iter_packets, split_packet
from eew.config import Config
from eew.inventory import Inventory
from eew.model.packet import Packet
from eew.model.pick import Pick

CID = "BW.RJOB..EHZ"
ACC_CID = "XX.SYN..HNZ"
FS = 100.0
NS = 1_000_000_000
SENS = 2.5168e9
SIZES = [None, 512, 1, "random"]
INT24_MAX = 2**23 - 1


def with_trigger(**kwargs: object) -> Config:
    cfg = Config()
    return dataclasses.replace(cfg, trigger=dataclasses.replace(cfg.trigger, **kwargs))


def rel_s(t_ns: int, t0_ns: int) -> float:
    return (t_ns - t0_ns) / NS


def single_pick(picks: list[Pick]) -> list[Pick]:
    """The updates of the one pick in ``picks`` (asserting there is exactly one)."""
    ids = {p.pick_id for p in picks}
    assert len(ids) == 1, f"expected one pick, got {sorted(ids)}"
    return picks


def completing_packet_end(pkts: list[Packet], t_ns: float) -> int:
    """End time of the first packet that holds every sample before ``t_ns``."""
    return min(p.endtime_ns for p in pkts if p.endtime_ns >= t_ns - 1000)


# ---- real data: obspy's bundled local earthquake ---------------------------------------------
def test_real_earthquake_p_pick(rjob_stream, rjob_inventory, rjob_p_ns, run_pipeline, from_stream):
    run = run_pipeline(from_stream(rjob_stream), rjob_inventory)
    updates = single_pick(run.picks)
    assert {p.channel_id for p in updates} == {CID}  # horizontals never trigger (components Z)
    p0 = updates[0]
    assert abs(p0.time_ns - rjob_p_ns) <= 0.1 * NS
    assert p0.time_ns <= p0.trigger_time_ns < p0.time_ns + 0.5 * NS  # AIC refines backwards
    assert updates[-1].final and updates[-1].window_s == pytest.approx(4.0)
    assert p0.sensor == "velocity"
    assert (p0.latitude_deg, p0.longitude_deg) == pytest.approx((47.737167, 12.795714))
    last = updates[-1]
    for v in (last.pd_cm, last.pv_cm_s, last.pa_cm_s2, last.tau_c_s, last.tau_p_max_s):
        assert math.isfinite(v) and v > 0
    assert last.snr > Config().picker.min_snr
    stats = run.pipeline.statistics()
    assert stats.picks == 1
    assert stats.pick_messages == len(updates)
    assert stats.rejections == {}
    assert stats.channels == 3


def test_real_earthquake_from_bundled_miniseed(rjob_mseed, rjob_inventory, rjob_p_ns, run_pipeline):
    idx = index_archive([rjob_mseed])
    run = run_pipeline(iter_packets(idx), rjob_inventory)
    updates = single_pick(run.picks)
    assert abs(updates[0].time_ns - rjob_p_ns) <= 0.1 * NS
    assert [p.update for p in updates] == list(range(len(updates)))
    assert updates[-1].final


def test_real_earthquake_amplitudes_match_the_trace_in_cm(
    rjob_stream, rjob_inventory, run_pipeline, from_stream
):
    """Pv is the peak velocity in cm/s: counts / sensitivity * 100, band-limited."""
    run = run_pipeline(from_stream(rjob_stream), rjob_inventory)
    last = run.final_picks()[0]
    tr = rjob_stream.select(channel="EHZ")[0].copy()
    tr.data = tr.data / SENS * 100.0  # cm/s
    tr.filter("highpass", freq=0.075, corners=2, zerophase=False)
    t0 = tr.stats.starttime.ns
    i0 = round((last.time_ns - t0) / 1e7)
    peak = np.abs(tr.data[i0 : i0 + round(last.window_s * FS)]).max()
    assert last.pv_cm_s == pytest.approx(peak, rel=0.1)
    assert 1e-6 < last.pd_cm < 1e-3  # a small local event far away: micrometres
    assert last.pd_cm < last.pv_cm_s < last.pa_cm_s2  # dominant frequencies above 1/(2 pi) Hz


@pytest.mark.parametrize("sizes", ["random", 1, 300])
def test_real_earthquake_independent_of_packet_size(
    sizes, rjob_stream, rjob_inventory, run_pipeline, from_stream, packets, comparable
):
    whole = run_pipeline(from_stream(rjob_stream), rjob_inventory)
    pkts = []
    for tr in rjob_stream:
        pkts += packets(tr.id, tr.stats.starttime.ns, tr.data, sizes, seed=len(pkts))
    pkts.sort(key=lambda p: p.endtime_ns)
    cut = run_pipeline(pkts, rjob_inventory)
    assert [comparable(r) for r in cut.results] == [comparable(r) for r in whole.results]


# ---- synthetic onsets ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("snr", [10.0, 20.0, 50.0])
def test_synthetic_onset_picked_within_50_ms(
    seed, snr, onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, onset = onset_trace(snr=snr, seed=seed)
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory)
    updates = single_pick(run.picks)
    assert abs(updates[0].time_ns - (t0_ns + onset * NS // 100)) <= 0.05 * NS
    assert run.rejected == []


def test_synthetic_onset_on_an_accelerometer(
    burst, noise, syn_inventory, run_pipeline, packets, t0_ns
):
    sens = syn_inventory[ACC_CID].sensitivity  # counts per m/s^2
    n, onset = 6000, 3000
    x = np.round(noise(n, 20.0, seed=3, offset=-300.0) + burst(n, onset, 2000.0, seed=4))
    run = run_pipeline(packets(ACC_CID, t0_ns, x, 512), syn_inventory)
    updates = single_pick(run.picks)
    assert abs(rel_s(updates[0].time_ns, t0_ns) - onset / FS) <= 0.05
    assert updates[0].sensor == "acceleration"
    peak_acc_cm_s2 = 2000.0 / sens * 100.0
    assert updates[-1].pa_cm_s2 == pytest.approx(peak_acc_cm_s2, rel=0.15)


def test_pick_updates_grow_to_the_final_window(
    onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, _ = onset_trace()
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory)
    updates = single_pick(run.picks)
    cfg = Config().picker
    assert [p.update for p in updates] == list(range(len(updates)))
    assert updates[0].window_s == pytest.approx(cfg.decision_delay_s, abs=0.06)
    n_grid = round(cfg.window_max_s / cfg.update_interval_s)
    grid = [cfg.update_interval_s * (k + 1) for k in range(n_grid)]
    assert [p.window_s for p in updates[1 : n_grid + 1]] == pytest.approx(grid)
    assert [p.final for p in updates] == [False] * (len(updates) - 1) + [True]
    assert updates[-1].window_s <= cfg.extend_window_s + 1e-9
    assert len({(p.time_ns, p.trigger_time_ns, p.pick_id) for p in updates}) == 1
    # peaks over a growing window never shrink
    for a, b in itertools.pairwise(updates):
        assert b.pd_cm >= a.pd_cm and b.pv_cm_s >= a.pv_cm_s and b.pa_cm_s2 >= a.pa_cm_s2
    assert run.pipeline.statistics().pick_messages == len(updates)


def test_early_p_values_are_positive_and_in_cm(
    onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, onset = onset_trace(snr=30.0)
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory)
    last = run.final_picks()[0]
    for v in (last.pd_cm, last.pv_cm_s, last.pa_cm_s2, last.tau_c_s, last.tau_p_max_s, last.snr):
        assert math.isfinite(v) and v > 0
    signal_cm_s = (x[onset : onset + 400] - np.median(x[:onset])) / SENS * 100.0
    assert last.pv_cm_s == pytest.approx(np.abs(signal_cm_s).max(), rel=0.1)
    # a 5-10 Hz burst: Pd ~ Pv / (2 pi 7 Hz), Pa ~ Pv * 2 pi 7 Hz, tau_c well below 1 s
    assert 0.3 < last.pd_cm * 2 * np.pi * 7.0 / last.pv_cm_s < 3.0
    assert 0.3 < last.pa_cm_s2 / (2 * np.pi * 7.0 * last.pv_cm_s) < 3.0
    assert 0.05 < last.tau_c_s < 0.6
    assert last.snr > 10.0


def test_a_second_trigger_cuts_the_window(
    noise, burst, syn_inventory, run_pipeline, packets, t0_ns
):
    cfg = with_trigger(dead_time_s=1.0)
    n, on1, on2 = 8000, 3000, 3250
    x = noise(n, 200.0, offset=1500.0) + burst(n, on1, 12_000.0, duration_s=0.8, decay_s=0.3)
    x = np.round(x + burst(n, on2, 120_000.0, seed=5))
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory, cfg)
    ids = list(dict.fromkeys(p.pick_id for p in run.picks))
    assert len(ids) == 2
    first = [p for p in run.picks if p.pick_id == ids[0]]
    second = [p for p in run.picks if p.pick_id == ids[1]]
    assert abs(rel_s(first[0].time_ns, t0_ns) - on1 / FS) <= 0.05
    assert abs(rel_s(second[0].time_ns, t0_ns) - on2 / FS) <= 0.05
    assert first[-1].final and sum(p.final for p in first) == 1
    cut_ns = first[-1].time_ns + round(first[-1].window_s * NS)
    assert cut_ns == second[0].trigger_time_ns  # the window ends at the new trigger
    assert first[-1].window_s < Config().picker.window_max_s
    assert second[-1].final and second[-1].window_s == pytest.approx(4.0)


@pytest.mark.parametrize("sizes", ["random", 1, 512, 7])
def test_results_identical_for_any_packet_size(
    sizes, onset_trace, syn_inventory, run_pipeline, packets, comparable, t0_ns
):
    x, _ = onset_trace(seed=2)
    whole = run_pipeline(packets(CID, t0_ns, x), syn_inventory)
    cut = run_pipeline(packets(CID, t0_ns, x, sizes, seed=11), syn_inventory)
    cfg = Config().picker
    assert len(whole.picks) >= 1 + round(cfg.window_max_s / cfg.update_interval_s)
    assert [comparable(r) for r in cut.results] == [comparable(r) for r in whole.results]


def test_split_packet_gives_the_same_results(
    onset_trace, syn_inventory, run_pipeline, packets, comparable, t0_ns
):
    x, _ = onset_trace(seed=4)
    (whole,) = packets(CID, t0_ns, x)
    ref = run_pipeline([whole], syn_inventory)
    for n_max in (1, 13, 512):
        pieces = list(split_packet(whole, n_max))
        assert sum(p.n_samples for p in pieces) == whole.n_samples
        assert all(a.endtime_ns == b.starttime_ns for a, b in itertools.pairwise(pieces))
        run = run_pipeline(pieces, syn_inventory)
        assert [comparable(r) for r in run.results] == [comparable(r) for r in ref.results]


@pytest.mark.parametrize("sizes", ["random", 512, 1])
def test_sent_time_is_the_end_of_the_completing_packet(
    sizes, onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, _ = onset_trace(seed=5)
    pkts = packets(CID, t0_ns, x, sizes, seed=3)
    run = run_pipeline(pkts, syn_inventory)
    assert run.picks
    for p in run.picks:
        window_end_ns = p.time_ns + p.window_s * NS
        assert p.sent_time_ns == completing_packet_end(pkts, window_end_ns)
    whole = run_pipeline(packets(CID, t0_ns, x), syn_inventory)
    assert {p.sent_time_ns for p in whole.picks} == {t0_ns + x.shape[0] * NS // 100}


# ---- rejections ---------------------------------------------------------------------------
def scenario(name: str, noise, burst) -> tuple[np.ndarray, int]:
    """Counts and onset index of one artefact."""
    n, on = 6000, 3000
    x = noise(n, 200.0, seed=0, offset=1500.0)
    if name == "spike":
        x[on] += 2e5
    elif name == "step":
        x[on:] += 2e5
    elif name == "boxcar":
        x[on : on + 20] += 2e5
    elif name == "clipped":
        # an onset that saturates the digitizer (24 bit) right away
        x = np.clip(x + burst(n, on, 5e7), -INT24_MAX - 1, INT24_MAX)
    elif name == "dead":
        # a dead channel that suddenly shows a step
        x = np.full(n, 1500.0)
        x[on:] += 5e4
    return np.round(x), on


@pytest.mark.parametrize("sizes", [512, 1, None])
@pytest.mark.parametrize("name", ["spike", "step", "boxcar", "clipped"])
def test_artefacts_are_rejected_not_picked(
    name, sizes, noise, burst, syn_inventory, run_pipeline, packets, t0_ns, caplog
):
    x, on = scenario(name, noise, burst)
    with caplog.at_level(logging.WARNING, logger="eew"):
        run = run_pipeline(packets(CID, t0_ns, x, sizes), syn_inventory)
    assert run.picks == []
    assert [r.reason for r in run.rejected] == [name]
    rej = run.rejected[0]
    assert rej.channel_id == CID
    assert abs(rel_s(rej.trigger_time_ns, t0_ns) - on / FS) <= 0.1
    assert rej.detail
    stats = run.pipeline.statistics()
    assert stats.rejections == {name: 1}
    assert stats.picks == 0
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(lines) == 1
    assert name in lines[0] and CID in lines[0]


@pytest.mark.parametrize("sizes", [512, 1, None])
def test_dead_channel_with_a_sudden_step_gives_no_pick(
    sizes, noise, burst, syn_inventory, run_pipeline, packets, t0_ns
):
    x, _ = scenario("dead", noise, burst)
    run = run_pipeline(packets(CID, t0_ns, x, sizes), syn_inventory)
    assert run.picks == []
    stats = run.pipeline.statistics()
    assert stats.picks == 0
    # either the trigger is suppressed, or it is rejected as a dead-channel artefact
    assert set(stats.rejections) <= {"dead", "step"}
    assert sum(stats.rejections.values()) == len(run.rejected) <= 1


@pytest.mark.parametrize("sizes", [512, 1, None])
def test_calibration_flagged_records_are_rejected(
    sizes, onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, _ = onset_trace()
    flagged = packets(CID, t0_ns, x, sizes, calibration=True)
    run = run_pipeline(flagged, syn_inventory)
    assert run.picks == []
    assert [r.reason for r in run.rejected] == ["calibration"]
    assert run.pipeline.statistics().rejections == {"calibration": 1}
    # the same data without the flag is picked: the flag made the difference
    assert run_pipeline(packets(CID, t0_ns, x, sizes), syn_inventory).picks


def test_calibration_flag_only_around_the_onset(
    onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, onset = onset_trace()
    pkts = packets(CID, t0_ns, x, 100)
    onset_ns = t0_ns + onset * NS // 100
    pkts = [
        p.replace(calibration=p.starttime_ns <= onset_ns < p.endtime_ns) for p in pkts
    ]
    run = run_pipeline(pkts, syn_inventory)
    assert run.picks == []
    assert [r.reason for r in run.rejected] == ["calibration"]


def test_calibration_flag_can_be_disabled(onset_trace, syn_inventory, run_pipeline, packets, t0_ns):
    x, _ = onset_trace()
    cfg = Config()
    cfg = dataclasses.replace(
        cfg, rejection=dataclasses.replace(cfg.rejection, calibration_flag=False)
    )
    run = run_pipeline(packets(CID, t0_ns, x, 512, calibration=True), syn_inventory, cfg)
    assert len(run.final_picks()) == 1


@pytest.mark.parametrize("f_hz", [1.0, 5.0])
def test_calibration_sine_is_retracted(f_hz, noise, syn_inventory, run_pipeline, packets, t0_ns):
    n, on = 6000, 3000
    t = np.arange(n) / FS
    x = noise(n, 200.0, offset=1500.0)
    x[on:] += 1e4 * np.sin(2 * np.pi * f_hz * t[on:])
    run = run_pipeline(packets(CID, t0_ns, np.round(x), 512), syn_inventory)
    updates = single_pick(run.picks)
    assert updates[-1].final and updates[-1].retracted
    assert not any(p.retracted for p in updates[:-1])
    assert updates[-1].window_s < Config().picker.window_max_s
    assert [r.reason for r in run.rejected] == ["calibration"]
    assert "monochromatic" in run.rejected[0].detail
    assert run.pipeline.statistics().rejections == {"calibration": 1}


@pytest.mark.parametrize("other_has_sine", [True, False])
def test_calibration_needs_the_same_sine_on_the_other_component(
    other_has_sine, noise, syn_inventory, run_pipeline, packets, t0_ns
):
    """A calibration drives every component of a sensor; a sine on Z alone is not one."""
    n, on = 6000, 3000
    t = np.arange(n) / FS
    z = noise(n, 200.0, offset=1500.0)
    z[on:] += 1e4 * np.sin(2 * np.pi * 5.0 * t[on:])
    e = noise(n, 200.0, seed=7, offset=-900.0)
    if other_has_sine:
        e[on:] += 8e3 * np.sin(2 * np.pi * 5.0 * t[on:] + 0.4)
    else:
        e[on:] += 8e3 * noise(n - on, 1.0, seed=9)  # broadband shaking on the horizontal
    pkts = packets(CID, t0_ns, np.round(z), 100) + packets("BW.RJOB..EHN", t0_ns, np.round(e), 100)
    pkts.sort(key=lambda p: (p.endtime_ns, p.channel_id))
    run = run_pipeline(pkts, syn_inventory)
    reasons = [r.reason for r in run.rejected if r.channel_id == CID]
    assert (reasons == ["calibration"]) is other_has_sine
    assert run.final_picks()


def test_early_p_of_a_large_event_is_not_a_calibration_sine(
    noise, syn_inventory, run_pipeline, packets, t0_ns
):
    """Long periods dominate the first seconds of a large event's P wave on a broadband
    sensor: a steady half cycle is no sine (issue 11: M6 P waves rejected as calibration)."""
    n, on = 8000, 3000
    t = np.arange(n - on) / FS
    x = noise(n, 200.0, offset=1500.0)
    x[on:] += 2e5 * np.sin(2 * np.pi * 0.15 * t) + 2e4 * noise(n - on, 1.0, seed=3)
    run = run_pipeline(packets(CID, t0_ns, np.round(x), 100), syn_inventory)
    assert not run.rejected
    assert not any(p.retracted for p in run.picks)


@pytest.mark.parametrize("seed", range(3))
def test_noise_alone_gives_no_pick(seed, noise, syn_inventory, run_pipeline, packets, t0_ns):
    x = np.round(noise(18_000, 300.0, seed=seed, offset=-2500.0))
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory)
    assert run.picks == []
    assert run.pipeline.statistics().picks == 0


# ---- clipping: decisions must not depend on data after the decision --------------------------
@pytest.mark.parametrize("sizes", [None, 1, "random"])
def test_late_clipping_does_not_change_earlier_decisions(
    sizes, noise, burst, syn_inventory, run_pipeline, packets, comparable, t0_ns
):
    """A strong event that saturates 1 s after its onset: the pick is decided at 0.3 s.

    The decision (and the ``clipped`` flag of each update) may use only samples
    before the decision index, so the result must not depend on the packet size.
    """
    n, on = 6000, 3000
    x = noise(n, 200.0, offset=1500.0) + burst(n, on, 9e6)
    x = np.round(np.clip(x, -INT24_MAX - 1, INT24_MAX))
    assert np.flatnonzero(np.abs(x) >= Config().rejection.clip_counts)[0] > on + 50
    ref = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory)
    assert ref.picks and not ref.picks[0].clipped
    run = run_pipeline(packets(CID, t0_ns, x, sizes, seed=5), syn_inventory)
    assert [comparable(r) for r in run.results] == [comparable(r) for r in ref.results]


@pytest.mark.parametrize("sizes", [None, 512, 1])
def test_one_clipped_burst_is_one_clip_episode(
    sizes, noise, burst, syn_inventory, run_pipeline, packets, t0_ns, caplog
):
    x, _ = scenario("clipped", noise, burst)
    with caplog.at_level(logging.WARNING, logger="eew"):
        run = run_pipeline(packets(CID, t0_ns, x, sizes), syn_inventory)
    assert run.pipeline.statistics().data_problems.get("clip_episodes") == 1
    assert sum("clipped at" in r.getMessage() for r in caplog.records) == 1


def test_clipped_pick_window_stops_growing(
    noise, burst, syn_inventory, run_pipeline, packets, t0_ns
):
    n, on = 6000, 3000
    x = noise(n, 200.0, offset=1500.0) + burst(n, on, 9e6)
    x = np.round(np.clip(x, -INT24_MAX - 1, INT24_MAX))
    first_clip_ns = (
        t0_ns + np.flatnonzero(np.abs(x) >= Config().rejection.clip_counts)[0] * NS // 100
    )
    run = run_pipeline(packets(CID, t0_ns, x, 1), syn_inventory)
    updates = single_pick(run.picks)
    # an update is flagged clipped when its window holds a clipped sample
    assert [p.clipped for p in updates] == [
        first_clip_ns < p.time_ns + round(p.window_s * NS) for p in updates
    ]
    assert updates[-1].final and updates[-1].clipped
    # once clipped, the pick is final: no update beyond the first clipped window
    first_clipped = next(p for p in updates if p.clipped)
    assert updates[-1].window_s == pytest.approx(first_clipped.window_s)


def test_unknown_channels_are_ignored_by_the_picker(onset_trace, run_pipeline, packets, t0_ns):
    x, _ = onset_trace()
    run = run_pipeline(packets(CID, t0_ns, x, 512), Inventory([]))
    assert run.results == []
    assert run.pipeline.statistics().unknown_channels == 1


@pytest.mark.parametrize(("onset_s", "picked"), [(40.0, False), (60.0, True)])
def test_triggers_soon_after_clipping_are_rejected(
    onset_s, picked, noise, burst, syn_inventory, run_pipeline, packets, t0_ns
):
    """Within ``clip_hold_s`` (30 s) of a clipped sample, triggers are rejected as clipped."""
    cfg = Config()
    cfg = dataclasses.replace(cfg, rejection=dataclasses.replace(cfg.rejection, clip_counts=2e4))
    n, on = 9000, round(onset_s * FS)
    x = noise(n, 200.0, offset=1500.0) + burst(n, on, 12_000.0)  # the onset itself never clips
    x[2000:2005] = 2e4  # a short saturation at 20 s
    run = run_pipeline(packets(CID, t0_ns, np.round(x), 512), syn_inventory, cfg)
    reasons = [r.reason for r in run.rejected]
    assert reasons[0] == "clipped"  # the saturation itself
    if picked:
        assert reasons == ["clipped"]
        assert abs(single_pick(run.picks)[0].time_ns - (t0_ns + on * NS // 100)) <= 0.05 * NS
    else:
        assert reasons == ["clipped", "clipped"]
        assert run.picks == []


def test_low_snr_rejection(onset_trace, syn_inventory, run_pipeline, packets, t0_ns):
    cfg = Config()
    cfg = dataclasses.replace(cfg, picker=dataclasses.replace(cfg.picker, min_snr=1e6))
    x, _ = onset_trace()
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory, cfg)
    assert run.picks == []
    assert [r.reason for r in run.rejected] == ["low_snr"]
    assert run.pipeline.statistics().rejections == {"low_snr": 1}


@pytest.mark.parametrize(("components", "n_picks"), [("Z", 0), ("ZN", 1)])
def test_only_configured_components_trigger(
    components, n_picks, onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    x, _ = onset_trace()
    cfg = with_trigger(components=components)
    run = run_pipeline(packets("BW.RJOB..EHN", t0_ns, x, 512), syn_inventory, cfg)
    assert len(run.final_picks()) == n_picks
    assert run.pipeline.statistics().samples == x.shape[0]  # processed either way


def test_end_of_data_right_after_a_trigger(
    onset_trace, syn_inventory, run_pipeline, packets, t0_ns
):
    """flush() ends the run: an undecided trigger is reported, not silently lost or picked."""
    x, onset = onset_trace()
    x = x[: onset + 10]  # data stop 0.1 s after the onset: no time to decide
    run = run_pipeline(packets(CID, t0_ns, x, 512), syn_inventory)
    assert run.picks == []
    assert len(run.rejected) == 1


@pytest.mark.parametrize("sizes", [512, 700, 100, 1, None])
def test_dead_channel_that_comes_back_with_noise_gives_no_pick(
    sizes, noise, syn_inventory, run_pipeline, packets, t0_ns
):
    """20 s of constant samples, then ordinary noise again: nothing to pick."""
    x = np.round(noise(6000, 200.0, seed=8, offset=1500.0))
    x[2000:4000] = 1500.0
    run = run_pipeline(packets(CID, t0_ns, x, sizes), syn_inventory)
    assert run.picks == []
