"""Alert semantics across formats: one incident per earthquake, the drill flag, validation.

Issue 13: the onsite and the source alert of one earthquake are versions of one event id
(:mod:`eew.event.incident`); the status (actual, exercise, test) survives every format;
malformed input gives one line naming the field and exit status 2, at any size.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from lxml import etree

from eew.cli import main
from eew.event.incident import IncidentBook
from eew.event.shakemap import shaking_model
from eew.formats import native
from eew.formats.registry import FORMATS, read_messages, write_messages
from eew.model.alert import Alert
from eew.model.timeutil import NS_PER_S

S = NS_PER_S


def _alert(datapath: Path, name: str = "alert_new.json") -> Alert:
    return native.loads((datapath / "formats" / name).read_bytes())[0]


def _onsite(base: Alert, sent_ns: int, msk: float = 3.2, mag: float = 5.6) -> Alert:
    return base.with_(
        event_id="KZ-onsite-1",
        kind="onsite",
        sent_time_ns=sent_ns,
        magnitude=mag,
        magnitude_is_lower_bound=True,
        targets=tuple(
            t.with_(intensity_msk=msk, intensity_mmi=msk, intensity_is_lower_bound=True)
            for t in base.targets[:2]
        ),
    )


# ---- one incident per earthquake ---------------------------------------------------------
def test_source_alert_adopts_the_onsite_incident(datapath: Path) -> None:
    src = _alert(datapath)  # M5.6 lower bound, origin 18:08:58.12, sent 18:09:04.25
    book = IncidentBook("test")
    onset = src.origin_time_ns + 3 * S
    first = book.onsite(_onsite(src, src.sent_time_ns - S, msk=7.5, mag=5.9), onset)
    assert (first.version, first.message_type, first.kind) == (0, "new", "onsite")
    assert first.status == "test" and first.previous_sent_ns == ()
    inc = book.open_source("KZ-source-7", src.origin_time_ns)
    second = book.publish(inc, src)
    assert second.event_id == "KZ-onsite-1" and second.version == 1
    assert second.message_type == "update" and second.kind == "source"
    assert second.previous_sent_ns == (first.sent_time_ns,)
    # never contradicts what was observed: the floor stays, marked as a lower bound
    assert second.magnitude == 5.9 and second.magnitude_is_lower_bound
    medeu = {t.name: t for t in second.targets}["Almaty-Medeu"]  # forecast 6.9 < floor 7.5
    assert medeu.intensity_msk == 7.5 and medeu.intensity_is_lower_bound
    talgar = {t.name: t for t in second.targets}["Talgar"]  # no floor there
    assert talgar.intensity_msk == 5.0 and not talgar.intensity_is_lower_bound
    final = book.publish(inc, src.with_(message_type="final", sent_time_ns=src.sent_time_ns + S))
    assert final.version == 2 and final.message_type == "final"
    assert book.expire(src.sent_time_ns + 600 * S) == []


def test_onsite_alert_after_the_source_alert_is_a_version_of_it(datapath: Path) -> None:
    src = _alert(datapath)
    book = IncidentBook()
    inc = book.open_source("KZ-source-7", src.origin_time_ns)
    v0 = book.publish(inc, src)
    v1 = book.onsite(_onsite(src, src.sent_time_ns + S // 5), src.origin_time_ns + 2 * S)
    assert v1.event_id == v0.event_id == "KZ-source-7" and v1.version == 1
    assert v1.kind == "onsite" and v1.message_type == "update"
    # the source estimate supersedes: location and forecast of the source alert
    assert v1.latitude_deg == src.latitude_deg and v1.magnitude == src.magnitude
    assert [t.intensity_msk for t in v1.targets] == [t.intensity_msk for t in src.targets]
    v2 = book.publish(inc, src.with_(sent_time_ns=src.sent_time_ns + S))
    assert v2.version == 2 and v2.previous_sent_ns == (v0.sent_time_ns, v1.sent_time_ns)


def test_unrelated_onsite_alert_opens_its_own_incident_and_is_closed(datapath: Path) -> None:
    src = _alert(datapath)
    book = IncidentBook(onsite_final_s=60.0)
    inc = book.open_source("KZ-source-7", src.origin_time_ns)
    book.publish(inc, src)
    later = src.origin_time_ns + 300 * S
    onsite = book.onsite(_onsite(src, later), later)
    assert onsite.event_id == "KZ-onsite-1" and onsite.version == 0
    assert book.expire(later + 30 * S) == []
    [final] = book.expire(later + 61 * S)
    assert final.event_id == "KZ-onsite-1" and final.version == 1
    assert final.message_type == "final" and final.previous_sent_ns == (later,)


# ---- the drill flag ------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["actual", "exercise", "test"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_status_survives_every_format(datapath: Path, status: str, fmt: str) -> None:
    alert = _alert(datapath, "alert_update.json").with_(status=status)
    out = write_messages([alert], fmt, agency="KZ", shaking=shaking_model())
    [back] = read_messages(out)
    assert isinstance(back, Alert) and back.status == status
    if fmt == "cap":
        cap_status = {"actual": "Actual", "exercise": "Exercise", "test": "Test"}[status]
        assert f"<status>{cap_status}</status>".encode() in out
    if fmt == "shakealert":
        category = "live" if status == "actual" else "test"
        assert etree.fromstring(out).get("category") == category
    if fmt == "quakeml":
        assert f"<text>status: {status}".encode() in out


def test_convert_can_restate_the_status(datapath: Path, capsysbinary) -> None:
    src = datapath / "formats" / "alert_new.json"
    assert main(["convert", str(src), "--to", "cap", "--status", "exercise"]) == 0
    assert b"<status>Exercise</status>" in capsysbinary.readouterr().out


# ---- validation: one clear line, exit 2 ----------------------------------------------------
BAD_VALUES = [
    ("magnitude", float("nan"), "magnitude"),
    ("magnitude", float("inf"), "magnitude"),
    ("latitude_deg", None, "latitude_deg"),
    ("latitude_deg", 123.0, "latitude_deg"),
    ("likelihood", 7.0, "likelihood"),
    ("depth_km", None, "depth_km"),
    ("magnitude", "5.6", "magnitude"),
    ("status", "maybe", "status"),
]


def _bad_json(datapath: Path, key: str, value: object) -> bytes:
    text = (datapath / "formats" / "alert_update.json").read_text()
    d = json.loads(text)
    d[key] = value
    return json.dumps(d, allow_nan=True).encode()


@pytest.mark.parametrize(("key", "value", "field"), BAD_VALUES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_values_give_one_line_naming_the_field(
    datapath: Path, tmp_path: Path, capsys, key: str, value: object, field: str, fmt: str
) -> None:
    src = tmp_path / "bad.json"
    src.write_bytes(_bad_json(datapath, key, value))
    assert main(["convert", str(src), "--to", fmt]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eew convert: error:") and err.count("\n") == 1, err
    if not (isinstance(value, float) and not math.isfinite(value)):
        assert field in err, err
    else:
        assert "NaN" in err or "Infinity" in err or field in err, err


@pytest.mark.parametrize(
    ("fmt", "old", "new", "field"),
    [
        ("shakealert", b'<lat units="deg">42.9671', b'<lat units="deg">123', "latitude_deg"),
        ("shakealert", b"<likelihood>0.87", b"<likelihood>7", "likelihood"),
        ("cap", b"<value>42.9671</value>", b"<value>123</value>", "latitude_deg"),
        ("anss", b'"magnitudeData": [{"value": 6.1', b'"magnitudeData": [{"value": NaN', "NaN"),
        ("quakeml", b"<value>42.9671</value>", b"<value>123</value>", "latitude_deg"),
    ],
)
def test_bad_values_in_every_input_format(
    datapath: Path, tmp_path: Path, capsys, fmt: str, old: bytes, new: bytes, field: str
) -> None:
    good = write_messages([_alert(datapath, "alert_update.json")], fmt, agency="KZ")
    assert old in good, good[:2000]
    src = tmp_path / "bad"
    src.write_bytes(good.replace(old, new))
    assert main(["convert", str(src), "--to", "json"]) == 2
    err = capsys.readouterr().err
    assert field in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 200_000 + b"1" + b"}" * 200_000,
        b"<event_message>" + b"<a>" * 200_000 + b"</a>" * 200_000 + b"</event_message>",
    ],
    ids=["json-array", "json-object", "xml"],
)
def test_deep_nesting_is_refused_without_traceback(tmp_path: Path, capsys, content: bytes) -> None:
    src = tmp_path / "deep"
    src.write_bytes(content)
    assert main(["convert", str(src), "--to", "cap"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_50_mb_inputs_are_refused_or_converted_without_traceback(
    datapath: Path, tmp_path: Path, capsys
) -> None:
    d = json.loads((datapath / "formats" / "alert_update.json").read_text())
    d["config_hash"] = "x" * 50_000_000
    d["magnitude"] = None
    src = tmp_path / "big.json"
    src.write_text(json.dumps(d))
    assert main(["convert", str(src), "--to", "cap"]) == 2
    err = capsys.readouterr().err
    assert "magnitude" in err and err.count("\n") == 1 and len(err) < 1000
    xml = b"<event_message>" + b"<x>" + b"y" * 50_000_000 + b"</x></event_message>"
    src.write_bytes(xml)
    assert main(["convert", str(src), "--to", "json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 1000, err[:300]


def test_converted_alerts_are_schema_valid_native_json(datapath: Path) -> None:
    import jsonschema

    root = Path(__file__).resolve().parents[1]
    schema = json.loads((root / "docs" / "schemas" / "eew.alert-1.schema.json").read_text())
    for name in ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json"):
        alert = _alert(datapath, name).with_(status="exercise")
        jsonschema.validate(json.loads(native.dumps(alert)), schema)
    assert io.BytesIO  # keep the import list honest for the slow test below


# ---- every alert of every bundled scenario, every format ---------------------------------
@pytest.mark.slow
def test_every_scenario_alert_converts_and_validates(tmp_path: Path) -> None:
    from anssformats.detection import Detection
    from obspy.io.quakeml.core import _validate

    root = Path(__file__).resolve().parents[1]
    shared = next(
        (p / "shared" / "reference" / "schemas" for p in root.parents
         if (p / "shared" / "reference" / "schemas").is_dir()),
        None,
    )  # fmt: skip
    cap_xsd = etree.XMLSchema(
        etree.parse(str(root / "tests" / "data" / "formats" / "CAP-v1.2.xsd"))
    )
    sa_xsd = (
        etree.XMLSchema(etree.parse(str(shared / "ShakeAlert_Message_v10_20191004.xsd")))
        if shared is not None
        else None
    )
    model = shaking_model()
    n_alerts = 0
    incidents: dict[str, set[str]] = {}
    for folder in sorted(p for p in (root / "waveforms_samples").iterdir() if p.is_dir()):
        out = tmp_path / f"{folder.name}.jsonl"
        extra = (
            ["--inventory", str(folder / "stationxml.xml")]
            if (folder / "stationxml.xml").exists()
            else []
        )
        assert main(["replay", str(folder), *extra, "--no-progress", "--out", str(out)]) == 0
        chains: dict[str, list[int]] = {}
        for line in out.read_text().splitlines():
            if '"type":"alert"' not in line:
                continue
            [alert] = native.loads(line)
            n_alerts += 1
            assert alert.status == "test"  # a replay is a test unless said otherwise
            chain = chains.setdefault(alert.event_id, [])
            assert alert.version == len(chain) and list(alert.previous_sent_ns) == chain
            chain.append(alert.sent_time_ns)
            incidents.setdefault(folder.name, set()).add(alert.event_id)
            for fmt in FORMATS:
                data = write_messages([alert], fmt, agency="KZ-AEWS", shaking=model)
                if fmt == "cap":
                    assert cap_xsd.validate(etree.fromstring(data)), cap_xsd.error_log
                elif fmt == "shakealert" and sa_xsd is not None:
                    assert sa_xsd.validate(etree.fromstring(data)), sa_xsd.error_log
                elif fmt == "quakeml":
                    assert _validate(io.BytesIO(data))
                elif fmt == "anss":
                    Detection.model_validate_json(data)
                [back] = read_messages(data)
                assert back.status == "test" and back.version == alert.version
    assert n_alerts >= 60
    # one incident per earthquake: the blind-zone M7 and the Kemin M8.0 each have one id
    assert len(incidents["verny_m7.0"]) == 1 and len(incidents["kemin_m8.0"]) == 1
