"""The real records in ``waveforms_real/``: files, metadata and truth are complete and agree.

These tests check the data only (they load with obspy and with :func:`load_inventory`, the
truth has its keys and fits the records, ``tools/make_real.py`` regenerates them); running
the records through ``eew replay`` belongs to the pipeline's tests.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import obspy
import pytest

from eew.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "waveforms_real"
FOLDERS = ["kambarata_2009", "obspy_rjob", "obspy_uh", "obspy_tly", "obspy_knet"]
GENERATED = ["obspy_rjob", "obspy_uh", "obspy_tly", "obspy_knet"]
EVENT_KEYS = {"id", "origin_time", "lat", "lon", "depth_km", "mag", "mag_type", "event_type"}
TRUTH_KEYS = {"name", "source", "expect_alert", "expect_event", "events", "picks",
              "pick_source", "stations", "notes", "data_start", "data_end", "channels"}


def truth_of(name: str) -> dict:
    return json.loads((REAL / name / "truth.json").read_text(encoding="utf-8"))


def test_every_folder_is_listed_and_documented():
    assert sorted(p.name for p in REAL.iterdir() if p.is_dir()) == sorted(FOLDERS)
    table = (REAL / "README.md").read_text(encoding="utf-8")
    for name in FOLDERS:
        assert f"`{name}/`" in table
        assert (REAL / name / "README.md").is_file()


@pytest.mark.parametrize("name", FOLDERS)
def test_folder_is_small(name):
    size = sum(p.stat().st_size for p in (REAL / name).iterdir())
    assert size < 1_500_000


@pytest.mark.parametrize("name", FOLDERS)
def test_truth_has_its_keys(name):
    truth = truth_of(name)
    assert TRUTH_KEYS <= set(truth)
    assert truth["name"] == name
    assert truth["expect_alert"] is False
    assert truth["expect_event"] in (True, False, None)
    assert truth["events"]
    for event in truth["events"]:
        assert EVENT_KEYS <= set(event)
    assert truth["picks"]
    assert set(truth["picks"]) <= set(truth["stations"])
    for row in truth["stations"].values():
        assert -90 <= row["lat"] <= 90 and -180 <= row["lon"] <= 180
    for station, error in truth.get("pick_uncertainty_s", {}).items():
        assert station in truth["picks"] and 0 < error <= 0.3


@pytest.mark.parametrize("name", FOLDERS)
def test_picks_lie_in_the_records(name):
    truth = truth_of(name)
    start, end = obspy.UTCDateTime(truth["data_start"]), obspy.UTCDateTime(truth["data_end"])
    picks = dict(truth["picks"])
    for event in truth["events"]:
        if event["origin_time"] is not None and event.get("lat") is not None:
            assert obspy.UTCDateTime(event["origin_time"]) < min(
                obspy.UTCDateTime(t) for t in event.get("picks", picks).values())
        for station, t in event.get("picks", {}).items():
            picks[f"{station}@{t}"] = t
    for t in picks.values():
        assert start + 3.0 < obspy.UTCDateTime(t) < end


@pytest.mark.parametrize("name", FOLDERS)
def test_miniseed_is_512_byte_steim2_counts_one_file_per_channel(name):
    truth = truth_of(name)
    files = sorted((REAL / name).glob("*.mseed"))
    assert [f.name for f in files] == [f"{cid}.mseed" for cid in truth["channels"]]
    for f in files:
        stream = obspy.read(str(f), details=True)
        assert {tr.id for tr in stream} == {f.name.removesuffix(".mseed")}
        for tr in stream:
            assert tr.stats.mseed.encoding == "STEIM2"
            assert tr.stats.mseed.record_length == 512
            assert tr.data.dtype == np.int32
            assert obspy.UTCDateTime(truth["data_start"]) <= tr.stats.starttime
            assert tr.stats.endtime <= obspy.UTCDateTime(truth["data_end"])
            assert f"{tr.stats.network}.{tr.stats.station}" in truth["stations"]


@pytest.mark.parametrize("name", FOLDERS)
def test_stationxml_loads_and_covers_every_channel(name):
    truth = truth_of(name)
    inventory = load_inventory([REAL / name / "stations.xml"])
    start_ns = obspy.UTCDateTime(truth["data_start"]).ns
    for cid in truth["channels"]:
        info = inventory.get(cid, start_ns)
        assert info is not None, cid
        station = truth["stations"][f"{info.network}.{info.station}"]
        assert info.latitude_deg == pytest.approx(station["lat"], abs=1e-4)
        assert info.longitude_deg == pytest.approx(station["lon"], abs=1e-4)


def test_rjob_keeps_obspys_sample_rate_mismatch():
    inventory = load_inventory([REAL / "obspy_rjob" / "stations.xml"])
    stream = obspy.read(str(REAL / "obspy_rjob" / "*.mseed"))
    for tr in stream:
        assert tr.stats.sampling_rate == 100.0
        assert inventory.get(tr.id).sampling_rate_hz == 200.0


def test_rates_and_units_are_those_the_records_are_meant_to_test():
    rates = {tr.stats.sampling_rate
             for name in FOLDERS for tr in obspy.read(str(REAL / name / "*.mseed"), headonly=True)}
    assert {20.0, 40.0, 50.0, 100.0} <= rates
    knet = load_inventory([REAL / "obspy_knet" / "stations.xml"])
    assert knet.get("BO.AKT13..HNE").input_units == "M/S**2"


@pytest.fixture(scope="module")
def make_real():
    spec = importlib.util.spec_from_file_location("make_real", ROOT / "tools" / "make_real.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_real"] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("make_real", None)


@pytest.mark.parametrize("name", GENERATED)
def test_make_real_regenerates_the_folder(name, make_real, tmp_path):
    make_real.write_record(name, make_real.RECORDS[name](), tmp_path)
    assert json.loads((tmp_path / name / "truth.json").read_text(encoding="utf-8")) == truth_of(
        name)
    made = sorted(p.name for p in (tmp_path / name).glob("*.mseed"))
    assert made == sorted(p.name for p in (REAL / name).glob("*.mseed"))
    for file_name in made:
        new, old = obspy.read(str(tmp_path / name / file_name)), obspy.read(
            str(REAL / name / file_name))
        assert len(new) == len(old)
        for a, b in zip(new, old, strict=True):
            assert a.id == b.id and a.stats.starttime == b.stats.starttime
            np.testing.assert_array_equal(a.data, b.data)
    fresh = load_inventory([tmp_path / name / "stations.xml"])
    kept = load_inventory([REAL / name / "stations.xml"])
    assert [fresh[c] for c in fresh] == [kept[c] for c in kept]
