"""Native JSON (eew.alert/1, eew.pick/1): schemas, round trips, malformed input."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jsonschema
import pytest

from eew.errors import DataError
from eew.formats import native
from eew.model.alert import Alert
from eew.model.pick import Pick

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"
ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def alert_schema() -> jsonschema.Draft202012Validator:
    return _validator("eew.alert-1.schema.json")


@pytest.fixture(scope="module")
def pick_schema() -> jsonschema.Draft202012Validator:
    return _validator("eew.pick-1.schema.json")


@pytest.mark.parametrize("name", ALERTS)
def test_alert_samples_round_trip_and_validate(datapath: Path, alert_schema, name: str) -> None:
    text = (datapath / "formats" / name).read_text()
    [alert] = native.loads(text)
    assert isinstance(alert, Alert)
    d = native.to_dict(alert)
    alert_schema.validate(d)
    assert d == json.loads(text)
    assert native.loads(native.dumps(alert)) == [alert]


def test_sample_alerts_cover_required_cases(datapath: Path) -> None:
    alerts = [native.loads((datapath / "formats" / n).read_bytes())[0] for n in ALERTS]
    assert {a.message_type for a in alerts} == {"new", "update", "final", "delete"}
    assert any(a.magnitude_is_lower_bound for a in alerts)
    assert all(len(a.targets) >= 3 for a in alerts if a.message_type != "delete")


def test_pick_round_trip_and_schema(datapath: Path, pick_schema) -> None:
    picks = native.loads((datapath / "formats" / "picks.jsonl").read_text())
    assert len(picks) == 2 and all(isinstance(p, Pick) for p in picks)
    for p in picks:
        d = native.to_dict(p)
        pick_schema.validate(d)
        assert d["schema"] == native.PICK_SCHEMA
        back = native.from_dict(json.loads(native.dumps(p)))
        assert native.to_dict(back) == d
    assert math.isnan(picks[1].pd_cm)


def test_pick_without_schema_is_accepted(datapath: Path) -> None:
    d = json.loads((datapath / "formats" / "pick.json").read_text())
    d.pop("schema")
    assert native.from_dict(d).pick_id == d["pick_id"]


def test_nan_fields_are_written_as_null(datapath: Path, alert_schema) -> None:
    [alert] = native.loads((datapath / "formats" / "alert_new.json").read_bytes())
    t0 = dataclasses.replace(alert.targets[0], intensity_msk=math.nan, intensity_sigma=math.nan)
    unknown = alert.with_(likelihood=math.nan, targets=(t0,))
    d = json.loads(native.dumps(unknown))
    alert_schema.validate(d)
    assert d["likelihood"] is None and d["targets"][0]["intensity_msk"] is None
    back = native.from_dict(d)
    assert math.isnan(back.likelihood) and math.isnan(back.targets[0].intensity_sigma)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("magnitude"),
        lambda d: d.update(schema="eew.alert/2"),
        lambda d: d.update(message_type="bogus"),
        lambda d: d.update(origin_time="yesterday"),
        lambda d: d.update(targets=[{"name": "x"}]),
        lambda d: d.update(targets="Almaty"),
        lambda d: d.update(magnitude="big"),
        lambda d: d.update(magnitude_is_lower_bound="no"),
        lambda d: d.update(version=-1),
    ],
)
def test_malformed_alert_raises_data_error(datapath: Path, mutate) -> None:
    d = json.loads((datapath / "formats" / "alert_update.json").read_text())
    mutate(d)
    with pytest.raises(DataError):
        native.from_dict(d)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("time"),
        lambda d: d.update(channel_id="KZ.AAK.HHZ"),
        lambda d: d.update(update="first"),
        lambda d: d.update(final="maybe"),
        lambda d: d.update(schema="eew.pick/9"),
        lambda d: d.update(pd_cm=[1]),
    ],
)
def test_malformed_pick_raises_data_error(datapath: Path, mutate) -> None:
    d = json.loads((datapath / "formats" / "pick.json").read_text())
    mutate(d)
    with pytest.raises(DataError):
        native.from_dict(d)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"type": "quake"}', "{}\n{"])
def test_malformed_json_raises_data_error(text: str) -> None:
    with pytest.raises(DataError):
        native.loads(text)
