"""Metadata against data: a metadata mistake never silences a station.

Each case is one warning per channel and a counter (:class:`eew.detect.router.MetadataCounts`),
shown in the replay summary and the daemon's heartbeat.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from eew.daemon.health import DaemonHealth
from eew.detect.router import MetadataCounts
from eew.inventory import Inventory
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S
from tests.test_channel_mix import ONSET_S, onset_counts, packets_of


def _run(caplog, run_pipeline, pkts, infos):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eew"):
        run = run_pipeline(sorted(pkts, key=lambda p: p.endtime_ns), Inventory(infos))
    return run, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _onset_error_s(run, t0_ns) -> list[float]:
    return [(p.time_ns - t0_ns) / NS_PER_S - ONSET_S for p in run.picks if p.update == 0]


def test_records_at_another_rate_are_processed_at_their_own(
    make_info, run_pipeline, t0_ns, caplog
) -> None:
    info = make_info("BW.RJOB..EHZ", sampling_rate_hz=200.0)  # the inventory says 200 Hz
    pkts = packets_of(info.channel_id, 100.0, onset_counts(100.0), t0_ns, size=300)
    run, lines = _run(caplog, run_pipeline, pkts, [info])
    stats = run.pipeline.statistics()
    assert stats.metadata == MetadataCounts(rate_mismatch=1)
    assert stats.data_problems == {"rate_mismatch": len(pkts)}  # every record counted
    assert stats.samples == 6000
    assert len(lines) == 1 and "100 Hz" in lines[0] and "200 Hz" in lines[0]
    (err,) = _onset_error_s(run, t0_ns)
    assert abs(err) <= 0.1


def test_records_outside_every_epoch_use_the_nearest(
    make_info, run_pipeline, t0_ns, caplog
) -> None:
    info = dataclasses.replace(make_info("BW.RJOB..EHZ"), end_ns=t0_ns - 86_400 * NS_PER_S)
    pkts = packets_of(info.channel_id, 100.0, onset_counts(100.0), t0_ns)
    run, lines = _run(caplog, run_pipeline, pkts, [info])
    assert run.pipeline.statistics().metadata == MetadataCounts(outside_epoch=1)
    assert len(lines) == 1 and "nearest" in lines[0]
    assert len(_onset_error_s(run, t0_ns)) == 1


def test_other_location_band_or_cut_station_code_is_matched(
    make_info, run_pipeline, t0_ns, caplog
) -> None:
    vel = make_info("XX.STA..HHZ")
    acc = make_info("BO.AKT013..HNE", kind="acceleration")  # 6 characters: StationXML allows it
    pkts = packets_of("XX.STA.00.BHZ", 100.0, onset_counts(100.0), t0_ns)
    pkts += packets_of("BO.AKT01..HNE", 100.0, onset_counts(100.0, seed=1), t0_ns)  # cut to 5
    run, lines = _run(caplog, run_pipeline, pkts, [vel, acc])
    stats = run.pipeline.statistics()
    assert stats.metadata == MetadataCounts(alias=2)
    assert len(lines) == 2 and all("metadata and id of" in line for line in lines)
    # picks carry the inventory's ids (the event core knows the stations by them)
    assert sorted(p.channel_id for p in run.picks if p.update == 0) == [
        "BO.AKT013..HNE",
        "XX.STA..HHZ",
    ]
    assert run.pipeline.data_end_ns("BO.AKT013") is not None


def test_a_six_character_station_code_runs_as_it_is(make_info, run_pipeline, t0_ns) -> None:
    info = make_info("BO.AKT013..HNE", kind="acceleration")
    pkts = packets_of(info.channel_id, 100.0, onset_counts(100.0), t0_ns)
    run = run_pipeline(pkts, Inventory([info]))
    assert [p.channel_id for p in run.picks if p.update == 0] == ["BO.AKT013..HNE"]


def test_unmatched_channel_is_ignored_once(make_info, run_pipeline, t0_ns, caplog) -> None:
    info = make_info("XX.STA..HHZ")
    pkts = packets_of("XX.STA..HHN", 100.0, onset_counts(100.0), t0_ns)  # another component
    run, lines = _run(caplog, run_pipeline, pkts, [info])
    assert run.pipeline.statistics().unknown_channels == 1
    assert len(lines) == 1 and "not in the inventory" in lines[0]


def test_heartbeat_shows_the_metadata_counters() -> None:
    h = DaemonHealth(time_ns=0, role="station", metadata={"rate_mismatch": 3, "set_aside": 1})
    fields = h.log_fields()
    assert fields["metadata_rate_mismatch"] == 3
    assert fields["metadata_set_aside"] == 1


def test_daemon_health_carries_router_metadata(make_info, t0_ns) -> None:
    from eew.config import Config
    from eew.detect.router import Pipeline

    info = make_info("BW.RJOB..EHZ", sampling_rate_hz=200.0)
    pipe = Pipeline(Config(), Inventory([info]), lambda _r: None)
    pipe.feed(Packet(info.channel_id, t0_ns, 100.0, np.zeros(100, dtype=np.int32)))
    assert pipe.metadata_counts().as_dict() == {"rate_mismatch": 1}
