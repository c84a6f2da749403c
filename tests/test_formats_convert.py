"""``eew convert``: format detection, round trips through every format, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eew.cli import main
from eew.errors import DataError
from eew.formats import native
from eew.formats.registry import FORMATS, detect_format, read_messages

ALERTS = ("alert_new.json", "alert_update.json", "alert_final.json", "alert_delete.json")
LOSSLESS = ("json", "quakeml", "cap", "anss")


def _sample(datapath: Path, name: str) -> Path:
    return datapath / "formats" / name


def _convert(src: Path, fmt: str, out: Path, *extra: str) -> Path:
    assert main(["convert", str(src), "--to", fmt, "--out", str(out), *extra]) == 0
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ALERTS)
def test_alert_round_trips_through_cli(datapath: Path, tmp_path: Path, fmt: str, name: str) -> None:
    src = _sample(datapath, name)
    prev = ["--previous", str(_sample(datapath, "alert_new.json"))]
    mid = _convert(src, fmt, tmp_path / f"mid.{fmt}", *prev)
    assert detect_format(mid.read_bytes()) == fmt
    back = _convert(mid, "json", tmp_path / "back.json")
    [orig] = native.loads(src.read_bytes())
    [again] = native.loads(back.read_bytes())
    if fmt in LOSSLESS:
        assert native.to_dict(again) == native.to_dict(orig)
    else:  # ShakeAlert: documented losses only (target forecasts are not points of SNCL)
        assert again.event_id == orig.event_id and again.version == orig.version
        assert again.magnitude == orig.magnitude and again.targets == ()
        assert again.message_type == orig.message_type and again.status == orig.status


@pytest.mark.parametrize("fmt", ["json", "quakeml", "anss"])
def test_picks_round_trip_through_cli(datapath: Path, tmp_path: Path, fmt: str) -> None:
    src = _sample(datapath, "picks.jsonl")
    mid = _convert(src, fmt, tmp_path / "mid", "--agency", "KZ")
    back = _convert(mid, "json", tmp_path / "back.jsonl")
    assert [native.to_dict(p) for p in native.loads(back.read_bytes())] == [
        native.to_dict(p) for p in native.loads(src.read_bytes())
    ]


def test_cap_to_cap_keeps_references(datapath: Path, tmp_path: Path) -> None:
    prev = str(_sample(datapath, "alert_new.json"))
    cap1 = _convert(
        _sample(datapath, "alert_update.json"), "cap", tmp_path / "u.xml", "--previous", prev
    )
    cap2 = _convert(cap1, "cap", tmp_path / "u2.xml")
    assert cap2.read_bytes() == cap1.read_bytes()


def test_stdout_output(datapath: Path, capsysbinary) -> None:
    assert main(["convert", str(_sample(datapath, "alert_new.json")), "--to", "json"]) == 0
    out = capsysbinary.readouterr().out
    assert json.loads(out)["schema"] == "eew.alert/1"


def test_detects_every_format(datapath: Path, tmp_path: Path) -> None:
    src = _sample(datapath, "alert_new.json")
    for fmt in FORMATS:
        assert detect_format(_convert(src, fmt, tmp_path / fmt).read_bytes()) == fmt
    assert detect_format(b"\xef\xbb\xbf  " + src.read_bytes()) == "json"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello", "neither a JSON nor an XML"),
        (b"<html><body/></html>", "unknown XML message"),
        (b'{"type": "quake"}', "unknown JSON message"),
        (b"<event_message", "not well-formed"),
        (b'{"type": "alert", "schema": "eew.alert/1"}', "missing field 'version'"),
        (b'{"Type": "Pick", "ID": "1"}', "legacy"),
        (b"[1, 2]", "not an object"),
    ],
)
def test_unknown_or_malformed_input_exits_2(
    tmp_path: Path, capsys, content: bytes, message: str
) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(content)
    assert main(["convert", str(src), "--to", "json"]) == 2
    assert message in capsys.readouterr().err


def test_update_to_cap_needs_no_previous_file(datapath: Path, capsysbinary) -> None:
    # the alert carries its chain: a stateless gateway (eew subscribe --exec) works
    src = _sample(datapath, "alert_update.json")
    assert main(["convert", str(src), "--to", "cap"]) == 0
    assert b"<references>KZ-AEWS,kz2024bcxj-v0," in capsysbinary.readouterr().out


def test_update_to_cap_without_any_chain_exits_2(tmp_path: Path, datapath: Path, capsys) -> None:
    d = json.loads(_sample(datapath, "alert_update.json").read_text())
    d["previous_sent_times"] = []
    src = tmp_path / "u.json"
    src.write_text(json.dumps(d))
    assert main(["convert", str(src), "--to", "cap"]) == 2
    err = capsys.readouterr().err
    assert "no earlier versions" in err and err.count("\n") == 1


def test_picks_to_alert_only_format_exits_2(datapath: Path, capsys) -> None:
    src = _sample(datapath, "pick.json")
    assert main(["convert", str(src), "--to", "shakealert"]) == 2
    assert "exactly one alert" in capsys.readouterr().err


def test_missing_input_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["convert", str(tmp_path / "nope.json"), "--to", "json"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_read_messages_rejects_unknown_format() -> None:
    with pytest.raises(DataError):
        read_messages(b"{}", "yaml")
