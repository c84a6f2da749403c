"""CAP 1.2: XSD validity, kk/ru/en texts, Update/Cancel references, areas, round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from eew.errors import DataError
from eew.formats import native
from eew.formats.cap import (
    CAP_NS,
    CapReference,
    alert_from_cap,
    alert_to_cap,
    cap_reference,
    cap_references,
)

SHARED_XSD = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "schemas" / "CAP-v1.2.xsd"
)
ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
N = {"c": CAP_NS}


def _alert(datapath: Path, name: str):
    return native.loads((datapath / "formats" / name).read_bytes())[0]


def _cap(datapath: Path, name: str, **kw) -> bytes:
    alert = _alert(datapath, name)
    first = _alert(datapath, "alert_new.json")
    refs = [] if alert.message_type == "new" else [cap_reference(first)]
    return alert_to_cap(alert, references=refs, **kw)


@pytest.fixture(scope="module")
def cap_schema(datapath: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(datapath / "formats" / "CAP-v1.2.xsd")))


def test_xsd_copy_is_verbatim(datapath: Path) -> None:
    ours = (datapath / "formats" / "CAP-v1.2.xsd").read_bytes()
    assert b"Copyright OASIS Open 2010 All Rights Reserved" in ours
    if not SHARED_XSD.is_file():
        pytest.skip(f"shared reference copy {SHARED_XSD} absent: cannot compare bytes")
    assert ours == SHARED_XSD.read_bytes()


@pytest.mark.parametrize("name", ALERTS)
def test_cap_validates_against_xsd(datapath: Path, cap_schema, name: str) -> None:
    doc = etree.fromstring(_cap(datapath, name))
    assert cap_schema.validate(doc), cap_schema.error_log


@pytest.mark.parametrize("status", ["Exercise", "Test"])
def test_cap_exercise_status_is_valid(datapath: Path, cap_schema, status: str) -> None:
    doc = etree.fromstring(_cap(datapath, "alert_new.json", status=status))
    assert cap_schema.validate(doc), cap_schema.error_log
    assert doc.findtext("c:status", namespaces=N) == status


@pytest.mark.parametrize("name", ALERTS)
def test_cap_round_trip(datapath: Path, name: str) -> None:
    alert = _alert(datapath, name)
    assert native.to_dict(alert_from_cap(_cap(datapath, name))) == native.to_dict(alert)


@pytest.mark.parametrize("name", ALERTS)
def test_date_times_have_the_cap_form(datapath: Path, name: str) -> None:
    doc = etree.fromstring(_cap(datapath, name))
    times = [
        el.text
        for tag in ("sent", "effective", "onset", "expires")
        for el in doc.iter(f"{{{CAP_NS}}}{tag}")
    ]
    assert times and all(CAP_TIME.match(t) and t.endswith("+00:00") for t in times), times


def test_sent_is_whole_seconds_with_numeric_offset(datapath: Path) -> None:
    doc = etree.fromstring(_cap(datapath, "alert_new.json"))  # sent 18:09:04.250Z
    assert doc.findtext("c:sent", namespaces=N) == "2024-01-22T18:09:04+00:00"
    assert doc.findtext("c:info/c:expires", namespaces=N) == "2024-01-22T18:19:04+00:00"


def test_info_blocks_in_three_languages(datapath: Path) -> None:
    alert = _alert(datapath, "alert_new.json")
    doc = etree.fromstring(_cap(datapath, "alert_new.json"))
    infos = doc.findall("c:info", N)
    assert [i.findtext("c:language", namespaces=N) for i in infos] == ["kk", "ru", "en"]
    for info in infos:
        for tag in ("headline", "description", "instruction"):
            assert info.findtext(f"c:{tag}", namespaces=N)
        assert info.findtext("c:category", namespaces=N) == "Geo"
        assert info.findtext("c:urgency", namespaces=N) == "Immediate"
        desc = info.findtext("c:description", namespaces=N)
        assert "5.6" in desc and "Almaty-Medeu" in desc and "Talgar" in desc
        assert "VII" in desc and "MSK-64" in desc
        assert len(info.findtext("c:headline", namespaces=N)) <= 160
    en = infos[2].findtext("c:description", namespaces=N)
    assert "at least 5.6" in en and "Almaty-Medeu — intensity VII (MSK-64), in 4 s" in en
    ru = infos[1].findtext("c:description", namespaces=N)
    assert "не менее 5.6" in ru and "через 4 с" in ru
    kk = infos[0].findtext("c:description", namespaces=N)
    assert "кемінде 5.6" in kk and "4 с кейін" in kk
    # one area per affected target; Kaskelen (MSK 1.5) is not affected
    for info in infos:
        areas = info.findall("c:area", N)
        names = [a.findtext("c:areaDesc", namespaces=N) for a in areas]
        assert names == [t.name for t in alert.targets[:3]]
        circle = areas[1].findtext("c:circle", namespaces=N)
        assert circle == "43.1575,77.0589 5"


def test_update_and_cancel_reference_the_previous_message(datapath: Path) -> None:
    first = _alert(datapath, "alert_new.json")
    update = etree.fromstring(_cap(datapath, "alert_update.json"))
    assert update.findtext("c:msgType", namespaces=N) == "Update"
    assert (
        update.findtext("c:references", namespaces=N)
        == "KZ-AEWS,kz2024bcxj-v0,2024-01-22T18:09:04+00:00"
    )
    assert cap_references(etree.tostring(update)) == (
        CapReference("KZ-AEWS", "kz2024bcxj-v0", first.sent_time_ns - 250_000_000),
    )
    cancel = etree.fromstring(_cap(datapath, "alert_delete.json"))
    assert cancel.findtext("c:msgType", namespaces=N) == "Cancel"
    assert cancel.findtext("c:references", namespaces=N)
    for info in cancel.findall("c:info", N):
        assert info.findtext("c:responseType", namespaces=N) == "AllClear"


def test_update_without_references_is_refused(datapath: Path) -> None:
    with pytest.raises(DataError, match="references"):
        alert_to_cap(_alert(datapath, "alert_update.json"))


def test_reads_sceewlog_style_cap() -> None:
    xml = f"""<alert xmlns="{CAP_NS}"><identifier>sc2024abc</identifier><sender>SED</sender>
    <sent>2024-01-22T18:09:04+00:00</sent><status>Actual</status><msgType>Alert</msgType>
    <scope>Public</scope><info><category>Geo</category><event>Earthquake</event>
    <urgency>Immediate</urgency><severity>Unknown</severity><certainty>Unknown</certainty>
    <parameter><valueName>magnitude</valueName><value>4.2</value></parameter>
    <parameter><valueName>latitude</valueName><value>43.1</value></parameter>
    <parameter><valueName>longitude</valueName><value>76.9</value></parameter>
    <parameter><valueName>depth</valueName><value>10</value></parameter>
    <parameter><valueName>originTime</valueName><value>2024-01-22T18:08:58.5Z</value></parameter>
    </info></alert>"""
    alert = alert_from_cap(xml)
    assert alert.event_id == "sc2024abc" and alert.magnitude == 4.2 and alert.agency == "SED"


@pytest.mark.parametrize(
    "xml",
    [
        b"not xml",
        b"<alert/>",
        f"<alert xmlns='{CAP_NS}'/>".encode(),
        f"<alert xmlns='{CAP_NS}'><info/></alert>".encode(),
    ],
)
def test_malformed_raises_data_error(xml: bytes) -> None:
    with pytest.raises(DataError):
        alert_from_cap(xml)


def test_bad_parameter_raises_data_error(datapath: Path) -> None:
    xml = _cap(datapath, "alert_new.json").replace(b"<value>5.6</value>", b"<value>big</value>")
    with pytest.raises(DataError):
        alert_from_cap(xml)
