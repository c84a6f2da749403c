"""The batched replay (eew.detect.batch) gives what the packet-by-packet replay gives.

``Chain.run_windows`` feeds the common packet many at a time in one numba call and hands
every packet that needs a Python decision (new channel, gap, flat or dead channel, clip,
calibration flag, trigger, pick in progress) to ``Pipeline.feed``; the results, their
order, the counters and the event core's output must be those of ``Chain.run`` on the same
packets, however the records are cut into calls and windows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eew.acquisition.archive import index_archive, iter_packets
from eew.acquisition.windowed import scan_archive
from eew.assembly import Chain, Stages, build_chain
from eew.daemon.config import load_settings
from eew.detect import batch
from eew.inventory import load_inventory
from eew.model.clock import DataClock

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "waveforms_samples"


def _chain(folder: Path, out: list[object], events: bool = True) -> Chain:
    settings = load_settings(None)
    cfg = settings.config
    paths = [*map(str, cfg.stationxml_paths())]
    if (folder / "stationxml.xml").exists():
        paths.append(str(folder / "stationxml.xml"))
    return build_chain(
        cfg,
        settings.hash(),
        out.append,
        DataClock(),
        stages=Stages(channels=True, events=events),
        inventory=load_inventory(paths),
    )


def _text(values: list[object]) -> list[str]:
    return [
        json.dumps(v.to_dict(), sort_keys=True) if hasattr(v, "to_dict") else repr(v)
        for v in values
    ]


def _run_both(folder: Path, events: bool, window_records: int) -> tuple[Chain, Chain, list, list]:
    ref_out: list[object] = []
    ref = _chain(folder, ref_out, events)
    ref.run(iter_packets(index_archive([folder])))
    got_out: list[object] = []
    got = _chain(folder, got_out, events)
    got.run_windows(scan_archive([folder], window_records).windows())
    return ref, got, ref_out, got_out


@pytest.mark.parametrize(
    ("name", "events", "window_records", "rows_per_call"),
    [
        ("noise_30min", True, 65536, batch.ROWS_PER_CALL),  # calibration, dead, clip, gap
        ("noise_30min", False, 500, 37),
        ("small_m3", True, 65536, batch.ROWS_PER_CALL),  # picks, an event
        ("city_glitch", True, 300, 11),
        ("double_m5", True, 1000, 4096),
    ],
)
def test_batched_replay_is_the_packet_replay(
    name: str,
    events: bool,
    window_records: int,
    rows_per_call: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = SAMPLES / name
    monkeypatch.setattr(batch, "ROWS_PER_CALL", rows_per_call)
    ref, got, ref_out, got_out = _run_both(folder, events, window_records)
    assert got_out and _text(got_out) == _text(ref_out)
    assert got.packets == ref.packets
    rs, gs = ref.statistics(), got.statistics()
    assert rs is not None and gs is not None
    assert gs == rs and gs.per_channel == rs.per_channel
    assert got.event_statistics() == ref.event_statistics()
    assert got.clock.now_ns() == ref.clock.now_ns()
    assert got.router is not None and ref.router is not None
    assert got.router._station_end == ref.router._station_end
    for sid in ref.router.peaks.index:
        for span in ((0, 2**62), (ref.clock.now_ns() - 5 * 10**9, ref.clock.now_ns())):
            assert got.router.peaks.peak(sid, *span) == ref.router.peaks.peak(sid, *span)
