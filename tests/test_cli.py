"""The ``eew`` command line: help, version, ``replay`` end to end, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import obspy
import pytest

import eew
from eew.cli import main
from eew.config import Config

ROOT = Path(__file__).resolve().parents[1]
CID = "BW.RJOB..EHZ"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def replay(args: list[str], rjob_xml: Path, capsys) -> tuple[int, str, str]:
    rc = main(["replay", *args, "--inventory", str(rjob_xml), "--no-progress"])
    out, err = capsys.readouterr()
    return rc, out, err


def picks_of(objs: list[dict]) -> list[dict]:
    return [o for o in objs if o["type"] == "pick"]


def without_sent_time(objs: list[dict]) -> list[dict]:
    return [{k: v for k, v in o.items() if k != "sent_time"} for o in objs]


@pytest.fixture
def spike_file(tmp_path, mseed_writer, noise, t0_ns) -> Path:
    x = noise(6000, 200.0, offset=1500.0)
    x[3000] += 2e5
    return mseed_writer(tmp_path / "spike.mseed", [(CID, t0_ns, np.round(x).astype(np.int32))])


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("replay", "config"):
        assert name in out


def test_replay_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["replay", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--speed", "--config", "--inventory", "--out", "--with-rejections"):
        assert opt in out


def test_module_version():
    proc = subprocess.run(
        [sys.executable, "-m", "eew", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"eew {eew.__version__}"


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_replay_writes_picks_and_a_summary(tmp_path, rjob_mseed, rjob_xml, rjob_p_ns, capsys):
    out_file = tmp_path / "picks.jsonl"
    rc, out, err = replay([str(rjob_mseed), "--out", str(out_file)], rjob_xml, capsys)
    assert rc == 0
    assert out == ""  # results go to --out
    everything = read_jsonl(out_file)
    assert {o["type"] for o in everything} <= {"pick", "event", "alert"}
    objs = picks_of(everything)
    assert objs
    assert {o["channel_id"] for o in objs} == {CID}
    first = objs[0]
    assert abs(obspy.UTCDateTime(first["time"]).ns - rjob_p_ns) <= 100_000_000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert [o["update"] for o in objs] == list(range(len(objs)))
    assert objs[-1]["final"] is True and objs[-1]["window_s"] == pytest.approx(4.0)
    assert (first["network"], first["station"], first["channel"]) == ("BW", "RJOB", "EHZ")
    assert first["pd_cm"] > 0 and first["sensor"] == "velocity"
    # strict JSON: values not measurable yet are null, never NaN
    assert "NaN" not in out_file.read_text(encoding="utf-8")
    assert first["window_s"] < 0.5 and first["tau_p_max_s"] is None
    assert objs[-1]["tau_p_max_s"] > 0
    # the summary on stderr
    for pattern in (
        r"channels 3",
        r"packets 21",
        rf"picks 1 \({len(objs)} messages\)",
        r"wall time [\d.]+ s",
        r"speed \d+x real time",
        r"data span 30\.0 s",
    ):
        assert re.search(pattern, err), pattern


def test_replay_to_stdout(rjob_mseed, rjob_xml, capsys):
    rc, out, _ = replay([str(rjob_mseed)], rjob_xml, capsys)
    assert rc == 0
    objs = [json.loads(line) for line in out.splitlines()]
    cfg = Config().picker
    assert len(picks_of(objs)) >= 1 + round(cfg.window_max_s / cfg.update_interval_s)
    assert picks_of(objs)[-1]["final"]


def test_replay_of_a_folder(tmp_path, rjob_mseed, rjob_xml, capsys):
    sub = tmp_path / "archive" / "2009" / "BW"
    sub.mkdir(parents=True)
    (sub / "data.mseed").write_bytes(rjob_mseed.read_bytes())
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert replay([str(tmp_path / "archive"), "--out", str(a)], rjob_xml, capsys)[0] == 0
    assert replay([str(rjob_mseed), "--out", str(b)], rjob_xml, capsys)[0] == 0
    assert read_jsonl(a) == read_jsonl(b)


def test_with_rejections_adds_rejected_triggers(tmp_path, spike_file, rjob_xml, capsys):
    plain, full = tmp_path / "plain.jsonl", tmp_path / "full.jsonl"
    rc, _, err = replay([str(spike_file), "--out", str(plain)], rjob_xml, capsys)
    assert rc == 0
    assert [o for o in read_jsonl(plain) if o["type"] == "rejected_trigger"] == []
    assert "spike 1" in err
    rc, _, _ = replay([str(spike_file), "--out", str(full), "--with-rejections"], rjob_xml, capsys)
    assert rc == 0
    objs = [o for o in read_jsonl(full) if o["type"] != "pick"]
    assert [(o["type"], o["reason"], o["channel_id"]) for o in objs] == [
        ("rejected_trigger", "spike", CID)
    ]
    assert objs[0]["detail"]


@pytest.mark.parametrize("speed", ["fast", "0", "-3", "nan", ""])
def test_bad_speed_is_a_usage_error(speed, rjob_mseed, rjob_xml, capsys):
    rc, out, err = replay([str(rjob_mseed), "--speed", speed], rjob_xml, capsys)
    assert rc == 2
    assert "--speed" in err
    assert out == ""


def test_missing_input_is_an_error(tmp_path, rjob_xml, capsys):
    rc, _, err = replay([str(tmp_path / "nothing.mseed")], rjob_xml, capsys)
    assert rc == 2
    assert "nothing.mseed" in err


def test_bad_config_is_an_error(tmp_path, rjob_mseed, rjob_xml, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[trigger]\non_ratio = 1.0\n", encoding="utf-8")
    rc, _, err = replay([str(rjob_mseed), "--config", str(cfg)], rjob_xml, capsys)
    assert rc == 2
    assert "trigger.off_ratio" in err and "bad.toml" in err


class FakeTime:
    """Stands in for the ``time`` module of the replay command: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now_s = 1000.0
        self.slept_s: list[float] = []

    def perf_counter(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept_s.append(seconds)
        self.now_s += seconds


def test_results_do_not_depend_on_speed(tmp_path, rjob_mseed, rjob_xml, capsys, monkeypatch):
    import eew.cli.replay as replay_mod

    fast, paced = tmp_path / "max.jsonl", tmp_path / "paced.jsonl"
    assert replay([str(rjob_mseed), "--out", str(fast)], rjob_xml, capsys)[0] == 0
    rc = replay([str(rjob_mseed), "--speed", "1000", "--out", str(paced)], rjob_xml, capsys)[0]
    assert rc == 0
    assert paced.read_text() == fast.read_text()
    for speed in (1.0, 10.0):
        fake = FakeTime()
        monkeypatch.setattr(replay_mod, "time", fake)
        slow = tmp_path / f"slow{speed}.jsonl"
        rc, _, err = replay(
            [str(rjob_mseed), "--speed", str(speed), "--out", str(slow)], rjob_xml, capsys
        )
        assert rc == 0
        assert slow.read_text() == fast.read_text()
        # the 21 records end between 00:20:08.05 and 00:20:33.00: paced over 24.95 s / speed
        assert sum(fake.slept_s) == pytest.approx(24.95 / speed)
        assert re.search(rf"speed {30.0 / (24.95 / speed):.0f}x real time", err)


def test_results_do_not_depend_on_packet_size(tmp_path, rjob_mseed, rjob_xml, capsys):
    ref = tmp_path / "ref.jsonl"
    assert replay([str(rjob_mseed), "--out", str(ref)], rjob_xml, capsys)[0] == 0
    for n in (1, 37):
        cfg = tmp_path / f"p{n}.toml"
        cfg.write_text(f"[replay]\nmax_packet_samples = {n}\n", encoding="utf-8")
        out = tmp_path / f"p{n}.jsonl"
        rc, _, err = replay(
            [str(rjob_mseed), "--config", str(cfg), "--out", str(out)], rjob_xml, capsys
        )
        assert rc == 0
        assert "picks 1" in err
        assert without_sent_time(picks_of(read_jsonl(out))) == without_sent_time(
            picks_of(read_jsonl(ref))
        )


def test_replay_survives_bad_input(
    tmp_path, rjob_mseed, rjob_xml, mseed_writer, noise, t0_ns, capsys
):
    folder = tmp_path / "mess"
    folder.mkdir()
    good = rjob_mseed.read_bytes()
    (folder / "a_good.mseed").write_bytes(good)
    (folder / "b_empty.mseed").write_bytes(b"")
    corrupt = bytearray(good)
    corrupt[2 * 512 : 2 * 512 + 48] = b"\xee" * 48
    (folder / "c_corrupt.mseed").write_bytes(bytes(corrupt))
    (folder / "d_truncated.mseed").write_bytes(good[:-200])
    (folder / "e_text.mseed").write_text("no waveforms here\n", encoding="utf-8")
    counts = np.round(noise(3000, 100.0)).astype(np.int32)
    mseed_writer(folder / "f_unknown.mseed", [("XX.NONE..HHZ", t0_ns, counts)])
    out = tmp_path / "out.jsonl"
    rc, _, err = replay([str(folder), "--out", str(out)], rjob_xml, capsys)
    assert rc == 0
    picks = picks_of(read_jsonl(out))
    assert {p["pick_id"] for p in picks}  # the good data still give their pick
    problems = re.search(r"data problems: (.*)", err)
    assert problems is not None
    for word in (
        "empty_files 1",
        "truncated_records 1",
        "corrupt_records",
        "duplicates",
        "channels_not_in_inventory 1",
    ):
        assert word in problems.group(1), word


def test_missing_station_files_are_errors(tmp_path, rjob_mseed, rjob_xml, capsys):
    rc = main(["replay", str(rjob_mseed), "--inventory", str(tmp_path / "none.xml")])
    assert rc == 2
    assert "none.xml" in capsys.readouterr().err
    cfg = tmp_path / "conf" / "eew.toml"
    cfg.parent.mkdir()
    cfg.write_text('[inventory]\nstationxml = ["meta/st.xml"]\n', encoding="utf-8")
    assert main(["replay", str(rjob_mseed), "--config", str(cfg), "--no-progress"]) == 2
    assert str(tmp_path / "conf" / "meta" / "st.xml") in capsys.readouterr().err
    # the configured files, resolved against the config folder, are used when present
    (cfg.parent / "meta").mkdir()
    (cfg.parent / "meta" / "st.xml").write_bytes(rjob_xml.read_bytes())
    out = tmp_path / "out.jsonl"
    assert main(["replay", str(rjob_mseed), "--config", str(cfg), "--out", str(out)]) == 0
    assert picks_of(read_jsonl(out))[-1]["final"]
