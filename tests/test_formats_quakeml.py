"""QuakeML 1.2: loads in obspy, validates, round-trips alerts and picks."""

from __future__ import annotations

import io
from pathlib import Path

import obspy
import pytest
from lxml import etree
from obspy.io.quakeml.core import _validate

from eew.errors import DataError
from eew.formats import native
from eew.formats.quakeml import (
    EXT_NS,
    alert_to_quakeml,
    messages_from_quakeml,
    picks_to_quakeml,
)

ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")
QML_XSD = Path(obspy.__path__[0]) / "io" / "quakeml" / "data" / "QuakeML-1.2.xsd"


def _load(datapath: Path, name: str) -> list:
    return native.loads((datapath / "formats" / name).read_bytes())


@pytest.fixture(scope="module")
def qml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(QML_XSD)))


@pytest.mark.parametrize("name", ALERTS)
def test_alert_loads_in_obspy_and_validates(datapath: Path, qml_schema, name: str) -> None:
    [alert] = _load(datapath, name)
    xml = alert_to_quakeml(alert)
    assert _validate(io.BytesIO(xml)) is True
    assert qml_schema.validate(etree.fromstring(xml)), qml_schema.error_log
    cat = obspy.read_events(io.BytesIO(xml))
    assert len(cat) == 1
    ev = cat[0]
    origin, mag = ev.preferred_origin(), ev.preferred_magnitude()
    assert origin.time.ns == alert.origin_time_ns
    assert origin.latitude == pytest.approx(alert.latitude_deg)
    assert origin.depth == pytest.approx(alert.depth_km * 1000)
    assert origin.depth_errors.uncertainty == pytest.approx(alert.depth_sigma_km * 1000)
    assert origin.origin_uncertainty.horizontal_uncertainty == pytest.approx(6500.0)
    assert origin.evaluation_mode == "automatic"
    assert mag.mag == pytest.approx(alert.magnitude)
    assert mag.mag_errors.uncertainty == pytest.approx(alert.magnitude_sigma)
    assert mag.magnitude_type == "Mpd"
    assert ev.creation_info.agency_id == "KZ-AEWS"
    assert ev.creation_info.version == str(alert.version)
    if alert.message_type == "delete":
        assert origin.evaluation_status == "rejected" and ev.event_type == "not existing"


@pytest.mark.parametrize("name", ALERTS)
def test_alert_round_trip(datapath: Path, name: str) -> None:
    [alert] = _load(datapath, name)
    [back] = messages_from_quakeml(alert_to_quakeml(alert))
    assert native.to_dict(back) == native.to_dict(alert)


def test_alert_without_extension_uses_standard_fields(datapath: Path) -> None:
    [alert] = _load(datapath, "alert_update.json")
    root = etree.fromstring(alert_to_quakeml(alert))
    for el in root.iter(f"{{{EXT_NS}}}alert"):
        el.getparent().remove(el)
    [back] = messages_from_quakeml(etree.tostring(root))
    assert back.message_type == "update" and back.version == 2
    assert back.likelihood == pytest.approx(0.87)  # from vs:likelihood
    assert back.horizontal_sigma_km == pytest.approx(6.5)
    assert back.magnitude == pytest.approx(6.1) and back.targets == ()


def test_picks_round_trip_and_load(datapath: Path) -> None:
    picks = _load(datapath, "picks.jsonl")
    xml = picks_to_quakeml(picks, agency="KZ-AEWS")
    assert _validate(io.BytesIO(xml)) is True
    cat = obspy.read_events(io.BytesIO(xml))
    qpicks = cat[0].picks
    assert [p.waveform_id.get_seed_string() for p in qpicks] == [p.channel_id for p in picks]
    assert qpicks[0].time.ns == picks[0].time_ns
    assert [p.evaluation_status for p in qpicks] == ["preliminary", "rejected"]
    back = messages_from_quakeml(xml)
    assert [native.to_dict(p) for p in back] == [native.to_dict(p) for p in picks]


@pytest.mark.parametrize(
    "xml",
    [
        b"<quakeml/>",
        b"<q:quakeml xmlns:q='http://quakeml.org/xmlns/quakeml/1.2'>",
        b"<q:quakeml xmlns:q='http://quakeml.org/xmlns/quakeml/1.2'/>",
    ],
)
def test_malformed_raises_data_error(xml: bytes) -> None:
    with pytest.raises(DataError):
        messages_from_quakeml(xml)


def test_event_without_magnitude_raises(datapath: Path) -> None:
    [alert] = _load(datapath, "alert_new.json")
    root = etree.fromstring(alert_to_quakeml(alert))
    bed = "http://quakeml.org/xmlns/bed/1.2"
    for tag in ("magnitude", "preferredMagnitudeID"):
        for el in root.iter(f"{{{bed}}}{tag}"):
            el.getparent().remove(el)
    with pytest.raises(DataError, match="magnitude"):
        messages_from_quakeml(etree.tostring(root))


def test_unknown_uncertainties_are_left_out(datapath: Path) -> None:
    [alert] = _load(datapath, "alert_update.json")
    nan = float("nan")
    unknown = alert.with_(
        origin_time_sigma_s=nan, horizontal_sigma_km=nan, depth_sigma_km=nan, magnitude_sigma=nan
    )
    xml = alert_to_quakeml(unknown)
    assert _validate(io.BytesIO(xml)) is True
    [back] = messages_from_quakeml(xml)
    assert native.to_dict(back) == native.to_dict(unknown)
