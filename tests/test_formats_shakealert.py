"""ShakeAlert event_message XML: schema validity, round trip, documented losses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from eew.errors import DataError
from eew.formats import native
from eew.formats.shakealert import alert_from_shakealert, alert_to_shakealert

ROOT = Path(__file__).resolve().parents[1]
#: never copied into the project (licence unclear): read from the shared reference folder
SHARED_SCHEMAS = ROOT.parent / "shared" / "reference" / "schemas"
XSD = SHARED_SCHEMAS / "ShakeAlert_Message_v10_20191004.xsd"
ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")


def _alert(datapath: Path, name: str):
    return native.loads((datapath / "formats" / name).read_bytes())[0]


@pytest.fixture(scope="module")
def sa_schema() -> etree.XMLSchema:
    if not XSD.is_file():
        pytest.skip(
            f"ShakeAlert XSD not found at {XSD}: its licence is unclear, so it is not shipped "
            "with the project; put the shared reference folder ../shared/reference/schemas "
            "beside the repository to run this check"
        )
    return etree.XMLSchema(etree.parse(str(XSD)))


def _lossy(d: dict) -> dict:
    """The native dict minus what ShakeAlert does not carry (see docs/formats.md)."""
    d = dict(d, stations=[])
    d["message_type"] = "update" if d["message_type"] == "final" else d["message_type"]
    d["targets"] = [dict(t, intensity_msk=None, intensity_sigma=None) for t in d["targets"]]
    return d


def _close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float) and isinstance(b[k], float):
            assert math.isclose(a[k], b[k], rel_tol=1e-4, abs_tol=1e-3), k
        elif isinstance(a[k], list) and a[k] and isinstance(a[k][0], dict):
            assert len(a[k]) == len(b[k])
            for x, y in zip(a[k], b[k], strict=True):
                _close(x, y)
        else:
            assert a[k] == b[k], k


@pytest.mark.parametrize("name", ALERTS)
def test_shakealert_validates_against_xsd(datapath: Path, sa_schema, name: str) -> None:
    xml = alert_to_shakealert(_alert(datapath, name))
    doc = etree.fromstring(xml)
    assert sa_schema.validate(doc), sa_schema.error_log


@pytest.mark.parametrize("name", ALERTS)
def test_shakealert_round_trip(datapath: Path, name: str) -> None:
    alert = _alert(datapath, name)
    back = alert_from_shakealert(alert_to_shakealert(alert))
    _close(_lossy(native.to_dict(alert)), native.to_dict(back))
    assert back.magnitude_is_lower_bound == alert.magnitude_is_lower_bound
    assert back.version == alert.version


def test_round_trip_is_schema_valid_native_json(datapath: Path) -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "eew.alert-1.schema.json").read_text())
    back = alert_from_shakealert(alert_to_shakealert(_alert(datapath, "alert_new.json")))
    jsonschema.validate(json.loads(native.dumps(back)), schema)


def test_message_content(datapath: Path) -> None:
    alert = _alert(datapath, "alert_update.json")
    root = etree.fromstring(alert_to_shakealert(alert, category="test"))
    assert root.get("message_type") == "update" and root.get("version") == "2"
    assert root.get("category") == "test" and root.get("orig_sys") == "KZ-AEWS"
    core = root.find("core_info")
    assert core.get("id") == alert.event_id
    assert core.findtext("orig_time") == "2024-01-22T18:08:58.120Z"
    assert core.find("mag_uncer").get("units") == "Mw"
    assert float(core.findtext("likelihood")) == pytest.approx(0.87)
    assert core.findtext("num_stations") == "4"
    preds = root.findall("gm_info/gmpoint_pred/pga_pred/pred")
    assert [p.findtext("SNCL") for p in preds] == [t.name for t in alert.targets]
    assert float(preds[1].findtext("value")) == pytest.approx(210.25)


def test_delete_message(datapath: Path) -> None:
    root = etree.fromstring(alert_to_shakealert(_alert(datapath, "alert_delete.json")))
    assert root.get("message_type") == "delete"
    assert root.find("gm_info") is None


def test_reads_shared_example(sa_schema) -> None:
    # sa_schema: skips (with the reason) when the shared reference folder is absent
    alert = alert_from_shakealert(
        (SHARED_SCHEMAS / "shakealert_example_2014_Haywired_M7.0.xml").read_bytes()
    )
    assert alert.event_id == "2014_Haywired_M7.0" and alert.message_type == "new"
    assert alert.magnitude == 7.0 and alert.agency == "dm" and alert.magnitude_type == "Mw"
    assert alert.horizontal_sigma_km == pytest.approx(0.5 * 111.19, rel=1e-3)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'message_type="update"', b'message_type="bogus"'),
        (b"<likelihood>", b"<likelihood_x>"),
        (b'version="2"', b'version="two"'),
        (b"<event_message", b"<eventmessage"),
        (b"2024-01-22T18:08:58.120Z", b"not-a-time"),
        (b"</event_message>", b""),
    ],
)
def test_malformed_raises_data_error(datapath: Path, old: bytes, new: bytes) -> None:
    xml = alert_to_shakealert(_alert(datapath, "alert_update.json"))
    assert old in xml
    bad = xml.replace(old, new).replace(
        b"</likelihood>", b"</likelihood_x>" if new == b"<likelihood_x>" else b"</likelihood>"
    )
    with pytest.raises(DataError):
        alert_from_shakealert(bad)
