"""ShakeAlert event_message XML: schema validity, round trip, documented losses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from lxml import etree

from eew.errors import DataError
from eew.event.shakemap import shaking_model
from eew.formats import native
from eew.formats.shakealert import alert_from_shakealert, alert_to_shakealert, contours

ROOT = Path(__file__).resolve().parents[1]
#: never copied into the project (licence unclear): read from the shared reference folder
SHARED_SCHEMAS = next(
    (p / "shared" / "reference" / "schemas" for p in Path(__file__).resolve().parents
     if (p / "shared" / "reference" / "schemas").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "schemas",
)  # fmt: skip
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
    return dict(d, stations=[], targets=[], previous_sent_times=[])


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
@pytest.mark.parametrize("with_map", [False, True])
def test_shakealert_validates_against_xsd(
    datapath: Path, sa_schema, name: str, with_map: bool
) -> None:
    shaking = shaking_model() if with_map else None
    xml = alert_to_shakealert(_alert(datapath, name), shaking=shaking)
    doc = etree.fromstring(xml)
    assert sa_schema.validate(doc), sa_schema.error_log


def test_line_source_validates_against_xsd(datapath: Path, sa_schema) -> None:
    from eew.model.alert import LineSource

    line = LineSource(42.8, 76.4, 42.9, 78.2, 20.0, 148.5, 85.0)
    alert = _alert(datapath, "alert_update.json").with_(line_source=line, magnitude_type="Mfd")
    doc = etree.fromstring(alert_to_shakealert(alert, shaking=shaking_model()))
    assert sa_schema.validate(doc), sa_schema.error_log
    assert doc.find("fault_info/finite_fault/segment/vertices") is not None


@pytest.mark.parametrize("name", ALERTS)
def test_shakealert_round_trip(datapath: Path, name: str) -> None:
    alert = _alert(datapath, name)
    back = alert_from_shakealert(alert_to_shakealert(alert, shaking=shaking_model()))
    _close(_lossy(native.to_dict(alert)), native.to_dict(back))
    assert back.magnitude_is_lower_bound == alert.magnitude_is_lower_bound
    assert back.version == alert.version


def test_round_trip_is_schema_valid_native_json(datapath: Path) -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "eew.alert-1.schema.json").read_text())
    back = alert_from_shakealert(alert_to_shakealert(_alert(datapath, "alert_new.json")))
    jsonschema.validate(json.loads(native.dumps(back)), schema)


def test_message_content(datapath: Path) -> None:
    alert = _alert(datapath, "alert_update.json")
    root = etree.fromstring(alert_to_shakealert(alert, shaking=shaking_model()))
    assert root.get("message_type") == "update" and root.get("version") == "2"
    assert root.get("category") == "live" and root.get("orig_sys") == "KZ-AEWS"
    core = root.find("core_info")
    assert core.get("id") == alert.event_id
    assert core.findtext("orig_time") == "2024-01-22T18:08:58.120Z"
    assert core.findtext("lat") == "42.9671" and core.findtext("lon") == "77.2514"
    assert core.find("mag_uncer").get("units") == "Mw"
    assert float(core.findtext("likelihood")) == pytest.approx(0.87)
    assert core.findtext("num_stations") == "4"
    # our targets are places, not stations: no gmpoint_pred with names as SNCL
    assert root.find("gm_info/gmpoint_pred") is None
    extras = dict(
        kv.split("=", 1)
        for kv in root.find("contributors/contributor").get("alg_instance").split(";")
    )
    assert extras["magnitude_type"] == "Mpd" and extras["magnitude_is_lower_bound"] == "false"
    assert extras["status"] == "actual" and extras["message_type"] == "update"


def test_contours_and_grid_follow_the_forecast_model(datapath: Path) -> None:
    alert = _alert(datapath, "alert_update.json")  # M6.1
    shaking = shaking_model()
    root = etree.fromstring(alert_to_shakealert(alert, shaking=shaking))
    levels = [float(c.findtext("MMI")) for c in root.iterfind("gm_info/gmcontour_pred/contour")]
    assert levels == [float(x) for x in range(int(levels[0]), int(levels[-1]) + 1)]
    assert 1 <= len(levels) <= 10 and levels[0] >= 2.0
    # the lowest level drawn is reached within 300 km; the one below it is not
    assert shaking(alert.magnitude, np.array([300.0]))[1][0] < levels[0]
    assert root.find("gm_info/gmcontour_pred").get("number") == str(len(levels))
    # each ring is closed, centred on the epicentre; higher MMI is a smaller ring
    radii = []
    for c in root.iterfind("gm_info/gmcontour_pred/contour"):
        pts = [tuple(map(float, p.split(","))) for p in c.findtext("polygon").split()]
        assert pts[0] == pts[-1] and int(c.find("polygon").get("number")) == len(pts) - 1
        radii.append(max(abs(p[0] - alert.latitude_deg) for p in pts))
        pga, _mmi = shaking(alert.magnitude, np.array([0.0]))
        assert float(c.findtext("PGA")) <= float(pga[0]) + 1e-6
    assert radii == sorted(radii, reverse=True)
    gmmap = root.find("gm_info/gmmap_pred")
    names = [f.get("name") for f in gmmap.iterfind("grid_field")]
    assert names == ["LAT", "LON", "PGA", "MMI"]
    rows = [r.split() for r in gmmap.findtext("grid_data").split("\n") if r.strip()]
    assert len(rows) == int(gmmap.get("number")) == 21 * 21
    # the grid node at the epicentre has the model's MMI at distance 0
    centre = min(
        rows,
        key=lambda r: (
            abs(float(r[0]) - alert.latitude_deg) + abs(float(r[1]) - alert.longitude_deg)
        ),
    )
    assert float(centre[3]) == pytest.approx(
        float(shaking(alert.magnitude, np.array([0.0]))[1][0]), abs=0.01
    )
    assert len(contours(alert, shaking)) == len(levels)


def test_final_status_and_orig_sys(datapath: Path) -> None:
    alert = _alert(datapath, "alert_final.json").with_(status="exercise")
    xml = alert_to_shakealert(alert, orig_sys="kz-dm")
    root = etree.fromstring(xml)
    assert root.get("message_type") == "update" and root.get("orig_sys") == "kz-dm"
    assert root.get("category") == "test"
    assert root.find("contributors/contributor").get("category") == "test"
    back = alert_from_shakealert(xml)
    assert back.message_type == "final" and back.status == "exercise"


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
