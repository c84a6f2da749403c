"""CAP 1.2: XSD validity, kk/ru/en texts, Update/Cancel references, areas, round trip."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from lxml import etree

from eew.errors import DataError
from eew.formats import native
from eew.formats._common import cap_time
from eew.formats.cap import (
    CAP_NS,
    CapReference,
    alert_from_cap,
    alert_to_cap,
    cap_reference,
    cap_references,
    cap_sent_times,
    severity,
)
from eew.formats.cap_text import instruction, wording

SHARED_XSD = next(
    (p / "shared" / "reference" / "schemas" for p in Path(__file__).resolve().parents
     if (p / "shared" / "reference" / "schemas").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "schemas",
) / "CAP-v1.2.xsd"  # fmt: skip
ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
N = {"c": CAP_NS}


def _alert(datapath: Path, name: str):
    return native.loads((datapath / "formats" / name).read_bytes())[0]


def _cap(datapath: Path, name: str, **kw) -> bytes:
    return alert_to_cap(_alert(datapath, name), **kw)


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


@pytest.mark.parametrize(("status", "cap"), [("exercise", "Exercise"), ("test", "Test")])
def test_cap_status_follows_the_alert(datapath: Path, cap_schema, status: str, cap: str) -> None:
    alert = _alert(datapath, "alert_new.json").with_(status=status)
    doc = etree.fromstring(alert_to_cap(alert))
    assert cap_schema.validate(doc), cap_schema.error_log
    assert doc.findtext("c:status", namespaces=N) == cap
    for info in doc.findall("c:info", N):
        assert info.findtext("c:headline", namespaces=N).startswith("[")
    assert alert_from_cap(etree.tostring(doc)).status == status


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


def test_info_blocks_in_four_languages(datapath: Path) -> None:
    alert = _alert(datapath, "alert_new.json")
    doc = etree.fromstring(_cap(datapath, "alert_new.json"))
    infos = doc.findall("c:info", N)
    assert [i.findtext("c:language", namespaces=N) for i in infos] == ["kk", "ru", "en", "ky"]
    for info in infos:
        for tag in ("headline", "description", "instruction"):
            assert info.findtext(f"c:{tag}", namespaces=N)
        assert info.findtext("c:category", namespaces=N) == "Geo"
        assert info.findtext("c:urgency", namespaces=N) == "Immediate"
        desc = info.findtext("c:description", namespaces=N)
        assert "5.6" in desc and "MSK-64" in desc
        assert len(info.findtext("c:headline", namespaces=N)) <= 160
    en = infos[2].findtext("c:description", namespaces=N)
    # Medeu: MSK 6.9 + sigma 0.7 = 7.6 -> VIII (the upper end), S in 4 s
    assert "at least 5.6" in en and "Almaty, Medeu district — intensity VIII (MSK-64), in 4 s" in en
    ru = infos[1].findtext("c:description", namespaces=N)
    assert "не менее 5.6" in ru and "через 4 с" in ru and "Медеуский район" in ru
    kk = infos[0].findtext("c:description", namespaces=N)
    assert "кемінде 5.6" in kk and "4 с кейін" in kk and "Медеу ауданы" in kk
    ky = infos[3].findtext("c:description", namespaces=N)
    assert "кеминде 5.6" in ky and "4 секунддан кийин" in ky
    # target names in the script of each language: no Latin letters in kk, ru, ky texts
    for info in (infos[0], infos[1], infos[3]):
        for tag in ("headline", "description", "instruction"):
            text = info.findtext(f"c:{tag}", namespaces=N)
            latin = set(re.findall(r"[A-Za-z]{2,}", text)) - {"MSK", "UTC", "MMI"}
            assert not {w for w in latin if not set(w) <= set("IVX")}, text
    # one area per affected target (public level >= 2); radius from the target's extent
    for info in infos:
        areas = info.findall("c:area", N)
        assert len(areas) == len(
            [t for t in alert.targets if t.intensity_msk + t.intensity_sigma >= 2]
        )
    en_areas = infos[2].findall("c:area", N)
    assert en_areas[1].findtext("c:areaDesc", namespaces=N) == "Almaty, Medeu district"
    assert en_areas[1].findtext("c:circle", namespaces=N) == "43.1575,77.0589 9"


def test_severity_and_headline_use_the_same_level(datapath: Path) -> None:
    for name in ("alert_new.json", "alert_update.json", "alert_final.json"):
        alert = _alert(datapath, name)
        doc = etree.fromstring(alert_to_cap(alert))
        top = max(alert.targets, key=lambda t: t.intensity_msk + t.intensity_sigma)
        level = round(top.intensity_msk + top.intensity_sigma)
        roman = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")[level]
        expected = {
            8: "Extreme",
            9: "Extreme",
            6: "Severe",
            7: "Severe",
            4: "Moderate",
            5: "Moderate",
        }
        for info in doc.findall("c:info", N):
            assert info.findtext("c:headline", namespaces=N).endswith(f" {roman}")
            assert info.findtext("c:severity", namespaces=N) == expected.get(level, "Minor")


def test_severity_table() -> None:
    assert [severity(x) for x in range(1, 13)] == (
        ["Minor"] * 3 + ["Moderate"] * 2 + ["Severe"] * 2 + ["Extreme"] * 5
    )


def test_instructions_by_level_in_four_languages() -> None:
    assert instruction(3, "en") != instruction(5, "en") != instruction(7, "en")
    assert instruction(8, "en") != instruction(7, "en")
    assert "Drop, cover and hold on" in instruction(4, "en")
    for lang in ("kk", "ru", "en", "ky"):
        assert len({instruction(lvl, lang) for lvl in (2, 4, 6, 8)}) == 4
    for entry in wording()["instruction"]:
        assert entry["source"] and entry["review"]


def test_lower_bound_intensity_is_marked_and_never_means_no_action(datapath: Path) -> None:
    alert = _alert(datapath, "alert_new.json")
    onsite = alert.with_(
        kind="onsite",
        targets=tuple(
            t.with_(intensity_is_lower_bound=True, intensity_msk=3.2) for t in alert.targets
        ),
    )
    doc = etree.fromstring(alert_to_cap(onsite))
    en = doc.findall("c:info", N)[2]
    assert en.findtext("c:headline", namespaces=N).endswith("≥ III")
    assert "intensity ≥ III" in en.findtext("c:description", namespaces=N)
    assert en.findtext("c:severity", namespaces=N) == "Moderate"
    assert en.findtext("c:certainty", namespaces=N) == "Observed"
    assert "Drop, cover and hold on" in en.findtext("c:instruction", namespaces=N)


def test_update_and_cancel_reference_the_earlier_versions(datapath: Path) -> None:
    update = etree.fromstring(_cap(datapath, "alert_update.json"))
    assert update.findtext("c:msgType", namespaces=N) == "Update"
    assert update.findtext("c:references", namespaces=N) == (
        "KZ-AEWS,kz2024bcxj-v0,2024-01-22T18:09:04+00:00 "
        "KZ-AEWS,kz2024bcxj-v1,2024-01-22T18:09:05+00:00"
    )
    assert cap_references(etree.tostring(update))[0] == CapReference(
        "KZ-AEWS", "kz2024bcxj-v0", _alert(datapath, "alert_new.json").sent_time_ns - 250_000_000
    )
    cancel = etree.fromstring(_cap(datapath, "alert_delete.json"))
    assert cancel.findtext("c:msgType", namespaces=N) == "Cancel"
    assert len(cancel.findtext("c:references", namespaces=N).split()) == 3
    for info in cancel.findall("c:info", N):
        assert info.findtext("c:responseType", namespaces=N) == "AllClear"
        assert info.findtext("c:severity", namespaces=N) == "Unknown"


def test_sent_strictly_increases_along_the_chain(datapath: Path) -> None:
    # versions 2 and 3 were sent within the same second (06.250, 06.900)
    final = _alert(datapath, "alert_final.json")
    sent = cap_sent_times(final)
    assert all(b > a for a, b in itertools.pairwise(sent))
    assert [cap_time(t)[11:19] for t in sent] == [
        "18:09:04", "18:09:05", "18:09:06", "18:09:07", "18:09:09", "18:09:13",
    ]  # fmt: skip
    doc = etree.fromstring(alert_to_cap(final))
    assert doc.findtext("c:sent", namespaces=N) == "2024-01-22T18:09:13+00:00"
    assert cap_reference(final).sent_ns == sent[-1]


def test_update_without_chain_or_references_is_refused(datapath: Path) -> None:
    with pytest.raises(DataError, match="no earlier versions"):
        alert_to_cap(_alert(datapath, "alert_update.json").with_(previous_sent_ns=()))


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
