"""Coda re-trigger: a second onset in the coda of a strong first event is picked.

After a strong event the 20-s LTA stays inflated, so the ordinary STA/LTA
trigger misses a second event arriving in the coda; the STA/MTA re-trigger of
:class:`eew.detect.trigger.TriggerState` picks it, while a decaying coda alone
gives no extra trigger.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from eew.config import Config
from eew.detect.trigger import TriggerState

CID = "BW.RJOB..EHZ"
FS = 100.0
NS = 1_000_000_000
SIGMA = 200.0  # noise [counts]
T1_S = 20.0  # first onset [s after the start]


def config(**trigger: object) -> Config:
    cfg = Config()
    return dataclasses.replace(cfg, trigger=dataclasses.replace(cfg.trigger, **trigger))


def two_events(burst, delay_s: float | None, n_s: float = 60.0) -> tuple[np.ndarray, int | None]:
    """Noise, a strong event (SNR ~500, 4-s coda decay) and optionally a second onset.

    The second onset, ``delay_s`` after the first, has two thirds of the first event's
    peak (two similar events, as in ``waveforms_samples/double_m5``). Returns (counts,
    index of the second onset).
    """
    n = round(n_s * FS)
    rng = np.random.default_rng(3)
    x = 1500.0 + SIGMA * rng.standard_normal(n)
    x += burst(n, round(T1_S * FS), 3e5, band_hz=(2.0, 10.0), decay_s=4.0, seed=5)
    k2 = None
    if delay_s is not None:
        k2 = round((T1_S + delay_s) * FS)
        x += burst(n, k2, 2e5, band_hz=(3.0, 10.0), decay_s=1.5, seed=6)
    return np.round(x), k2


def first_updates(run) -> list:
    return sorted((p for p in run.picks if p.update == 0), key=lambda p: p.time_ns)


@pytest.mark.parametrize(("delay_s", "busy_s"), [(13.0, None), (18.0, 30.0)])
def test_second_onset_in_the_coda_is_picked(
    delay_s, busy_s, burst, syn_inventory, run_pipeline, packets, t0_ns
):
    x, k2 = two_events(burst, delay_s)
    cfg = config() if busy_s is None else config(retrigger_busy_s=busy_s)
    run = run_pipeline(packets(CID, t0_ns, x, 100), syn_inventory, cfg)
    picks = first_updates(run)
    assert len(picks) == 2, [(p.time_ns - t0_ns) / NS for p in picks]
    assert abs((picks[0].time_ns - t0_ns) / NS - T1_S) < 0.05
    assert abs((picks[1].time_ns - t0_ns) / NS - k2 / FS) < 0.05
    # the ordinary trigger alone misses it: the LTA is still inflated by the first event
    plain = run_pipeline(packets(CID, t0_ns, x, 100), syn_inventory, config(retrigger_ratio=0.0))
    assert len(first_updates(plain)) == 1


def test_coda_alone_gives_no_extra_trigger(burst, syn_inventory, run_pipeline, packets, t0_ns):
    x, _ = two_events(burst, None)
    run = run_pipeline(packets(CID, t0_ns, x, 100), syn_inventory, config(retrigger_busy_s=60.0))
    assert len(first_updates(run)) == 1
    assert run.pipeline.statistics().rejections == {}  # and no rejected re-trigger either


@pytest.mark.parametrize("sizes", [1, 7, 512, "random"])
def test_coda_retrigger_is_independent_of_packet_size(
    sizes, burst, syn_inventory, run_pipeline, packets, comparable, t0_ns
):
    x, _ = two_events(burst, 13.0)
    whole = run_pipeline(packets(CID, t0_ns, x), syn_inventory)
    cut = run_pipeline(packets(CID, t0_ns, x, sizes, seed=7), syn_inventory)
    assert len(first_updates(whole)) == 2
    assert [comparable(r) for r in cut.results] == [comparable(r) for r in whole.results]


def test_trigger_state_rearms_only_after_dead_time_and_within_the_busy_window() -> None:
    ratio = np.full(3000, 0.01)
    ratio[100:300] = 20.0  # first trigger at 100, ends at 300
    ratio[400] = 5.0  # a jump inside the dead time: ignored
    ratio[900:950] = 0.5  # a 50x jump after the dead time: re-trigger at 900
    ratio[2500:2550] = 0.5  # beyond the busy window (900 + 1500): nothing
    ts = TriggerState(4.0, 1.5, 500, jump_ratio=10.0, n_window=200, n_gap=50, n_busy=1500)
    ons: list[int] = []
    for a in range(0, 3000, 37):
        ons += ts.scan(ratio[a : a + 37], a)
    assert ons == [100, 900]
    assert not ts.busy(2400) and ts.busy(2399)
    # disabled: the ordinary trigger only
    ts = TriggerState(4.0, 1.5, 500)
    assert ts.scan(ratio, 0) == [100]
