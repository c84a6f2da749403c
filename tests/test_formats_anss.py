"""ANSS Pick and Detection JSON: published field names, round trips, foreign messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eew.errors import DataError
from eew.formats import native
from eew.formats.anss import alert_to_anss, from_anss, pick_to_anss

SHARED = next(
    (p / "shared" / "reference" / "schemas" for p in Path(__file__).resolve().parents
     if (p / "shared" / "reference" / "schemas").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "schemas",
)  # fmt: skip
ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")

# Field names published by anss-formats 0.1.3 (shared/reference/schemas/anss_formats.md)
PICK_KEYS = {
    "type", "id", "channel", "source", "time", "phase", "polarity", "onset", "method",
    "filterInfo", "amplitudeInfo", "associationInfo", "locationInfo", "analyticsInfo",
}  # fmt: skip
DETECTION_KEYS = {
    "type", "id", "source", "hypocenter", "detectionType", "detectionTime", "eventType",
    "minimumDistance", "rms", "maximumGap", "method", "pickData", "magnitudeData",
    "analyticsInfo",
}  # fmt: skip
SOURCE_KEYS = {"agencyID", "author"}
CHANNEL_PROPS = {"station", "network", "channel", "location"}
HYPO_PROPS = {"originTime", "latitudeError", "longitudeError", "depthError", "timeError"}
AMPLITUDE_KEYS = {"amplitude", "period", "snr", "units", "method"}
MAGNITUDE_KEYS = {"value", "type", "error", "probability", "id", "source", "method"}
ANALYTICS_KEYS = {"predictions", "extensions"}
ANSS_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def _load(datapath: Path, name: str) -> list:
    return native.loads((datapath / "formats" / name).read_bytes())


def test_pick_uses_published_field_names(datapath: Path) -> None:
    for pick in _load(datapath, "picks.jsonl"):
        d = pick_to_anss(pick, agency="KZ")
        assert set(d) <= PICK_KEYS and {"type", "id", "channel", "source", "time"} <= set(d)
        assert d["type"] == "Pick" and set(d["source"]) == SOURCE_KEYS
        assert set(d["channel"]) == {"type", "geometry", "properties"}
        assert set(d["channel"]["properties"]) == CHANNEL_PROPS
        assert d["channel"]["geometry"] == {
            "type": "Point",
            "coordinates": [pick.longitude_deg, pick.latitude_deg, pick.elevation_m],
        }
        assert set(d.get("amplitudeInfo", {})) <= AMPLITUDE_KEYS
        assert set(d["analyticsInfo"]) <= ANALYTICS_KEYS
        assert re.match(ANSS_TIME, d["time"])
    first = pick_to_anss(_load(datapath, "pick.json")[0], agency="KZ")
    assert first["channel"]["properties"]["location"] == "--"
    assert first["amplitudeInfo"] == {
        "amplitude": 0.0123,
        "units": "cm",
        "method": "Pd",
        "snr": 35.2,
    }


@pytest.mark.parametrize("name", ALERTS)
def test_detection_uses_published_field_names(datapath: Path, name: str) -> None:
    [alert] = _load(datapath, name)
    d = alert_to_anss(alert)
    assert set(d) <= DETECTION_KEYS and {"type", "id", "source", "hypocenter"} <= set(d)
    assert d["type"] == "Detection" and set(d["source"]) == SOURCE_KEYS
    hypo = d["hypocenter"]
    assert hypo["geometry"]["coordinates"] == [alert.longitude_deg, alert.latitude_deg, 12.0]
    assert set(hypo["properties"]) <= HYPO_PROPS and "originTime" in hypo["properties"]
    assert all(set(m) <= MAGNITUDE_KEYS for m in d["magnitudeData"])
    assert (
        d["detectionType"]
        == {
            "new": "New",
            "update": "Update",
            "final": "Final",
            "delete": "Retract",
        }[alert.message_type]
    )
    assert d["eventType"] == {"type": "Earthquake", "certainty": "Suspected"}


@pytest.mark.parametrize("name", [*ALERTS, "pick.json", "picks.jsonl"])
def test_round_trip(datapath: Path, name: str) -> None:
    for msg in _load(datapath, name):
        d = alert_to_anss(msg) if name.startswith("alert") else pick_to_anss(msg, agency="KZ")
        back = from_anss(json.loads(json.dumps(d, allow_nan=False)))
        assert native.to_dict(back) == native.to_dict(msg)


@pytest.mark.parametrize("name", ["anss_pick_example.json", "anss_detection_example.json"])
def test_reads_published_examples(name: str) -> None:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"shared reference example {path} absent")
    msg = from_anss(json.loads(path.read_text()))
    if name.startswith("anss_pick"):
        assert msg.channel_id == "CI.PAS..BHZ" and msg.pd_cm != msg.pd_cm  # units cm/s: no Pd
        assert msg.snr == 12.5 and msg.elevation_m == 295.0
    else:
        assert msg.event_id == "eew-2014_Haywired_M7.0-v0" and msg.magnitude == 7.0
        assert msg.horizontal_sigma_km == 5.0 and msg.depth_km == 8.0
        assert msg.message_type == "new" and msg.agency == "US"


def test_validates_with_anss_formats_if_installed(datapath: Path) -> None:
    pick_mod = pytest.importorskip("anssformats.pick")
    det_mod = pytest.importorskip("anssformats.detection")
    for pick in _load(datapath, "picks.jsonl"):
        pick_mod.Pick.model_validate_json(json.dumps(pick_to_anss(pick, agency="KZ")))
    for name in ALERTS:
        det_mod.Detection.model_validate_json(json.dumps(alert_to_anss(_load(datapath, name)[0])))


@pytest.mark.parametrize(
    "d",
    [
        {"type": "Pick", "id": "x"},
        {"type": "Pick", "id": "x", "channel": {"properties": {"station": "A"}}, "time": "t"},
        {"type": "Detection", "id": "x", "source": {"agencyID": "US", "author": "a"}},
        {"Type": "Pick", "ID": "x"},
        {"type": "Retraction", "id": "x"},
        {"type": "Quake"},
        [1, 2],
    ],
)
def test_malformed_raises_data_error(d) -> None:
    with pytest.raises(DataError):
        from_anss(d)


def test_bad_detection_type_raises(datapath: Path) -> None:
    d = alert_to_anss(_load(datapath, "alert_update.json")[0])
    d["detectionType"] = "Maybe"
    d["analyticsInfo"] = {}
    with pytest.raises(DataError):
        from_anss(d)
