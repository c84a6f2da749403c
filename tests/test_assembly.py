"""The one assembly of the chain (:mod:`eew.assembly`) and the arrival time on the packet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eew.assembly import Stages, build_chain
from eew.config import Config
from eew.evaluate.run import replay_paths
from eew.model.clock import DataClock, ManualClock, ObservingClock, WallClock
from eew.model.packet import Packet

ROOT = Path(__file__).resolve().parents[1]


def test_packet_carries_its_arrival_time_outside_equality():
    data = np.arange(100, dtype=np.int32)
    replayed = Packet("KZ.ALM01..HHZ", 10**18, 100.0, data)
    assert replayed.arrival_ns is None and replayed.available_ns == replayed.endtime_ns
    live = replayed.replace(arrival_ns=replayed.endtime_ns + 250_000_000)
    assert live.available_ns == replayed.endtime_ns + 250_000_000
    assert live == replayed  # when it came is not part of the data
    assert live.replace(calibration=True).arrival_ns == live.arrival_ns


def test_only_data_clocks_observe():
    assert isinstance(DataClock(), ObservingClock)
    assert not isinstance(WallClock(), ObservingClock)
    assert not isinstance(ManualClock(), ObservingClock)


def test_stages_of_the_roles():
    assert Stages.for_role("station") == Stages(channels=True, events=False)
    assert Stages.for_role("central") == Stages(channels=False, events=True)
    assert Stages.for_role("all") == Stages()
    with pytest.raises(ValueError, match="at least one stage"):
        build_chain(Config(), "test", print, DataClock(), stages=Stages(False, False))
    with pytest.raises(ValueError, match="data_end_ns"):
        build_chain(Config(), "test", print, DataClock(), stages=Stages(channels=False))


def test_central_chain_takes_picks_with_their_arrival_and_follows_them_in_data_time():
    picks = replay_paths([ROOT / "waveforms_samples" / "local_m4.5"]).picks
    out: list[object] = []
    clock = DataClock()
    chain = build_chain(
        Config(), "test", out.append, clock, stages=Stages.for_role("central"),
        data_end_ns=lambda s: None,
    )
    assert chain.router is None and chain.core is not None and not chain.core.deferred
    with pytest.raises(RuntimeError, match="per-channel"):
        chain.feed(Packet("KZ.ALM01..HHZ", 0, 100.0, np.zeros(10, np.int32)))
    for k, pick in enumerate(picks):
        chain.feed_pick(pick, 1_000 + k)
    assert chain.arrival_ns == 1_000 + len(picks) - 1 and chain.picks == len(picks)
    assert clock.now_ns() == max(p.sent_time_ns for p in picks)
    assert any(type(v).__name__ == "Alert" for v in out)


def test_station_chain_has_no_event_stage():
    out: list[object] = []
    station = Stages.for_role("station")
    chain = build_chain(Config(), "test", out.append, DataClock(), stages=station)
    assert chain.core is None and chain.event_statistics() is None
    with pytest.raises(RuntimeError, match="event stage"):
        chain.feed_pick(object(), 0)  # type: ignore[arg-type]
