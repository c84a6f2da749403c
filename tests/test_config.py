"""Configuration: defaults, the embedded file, round trips, errors naming key and file."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from eew.cli import main
from eew.config import Config, default_config_path
from eew.daemon.config import SECTIONS, Settings, dump_settings, load_settings, settings_from_dict
from eew.detect.router import Pipeline
from eew.errors import ConfigError
from eew.inventory import Inventory
from eew.model.packet import Packet

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED = ROOT / "config" / "eew.toml"


def write(tmp_path: Path, text: str, name: str = "eew.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


#: the shipped file pins the location grid the event core was calibrated with; by
#: default (unset) the grid follows the inventory (eew.event.grid)
def test_defaults_load_and_are_consistent(shipped: Settings) -> None:
    cfg = Config()
    for section in ("processing", "trigger", "picker", "rejection", "event", "replay"):
        getattr(cfg, section).check()  # the defaults satisfy every invariant
    assert cfg.trigger.lta_s > cfg.trigger.sta_s
    assert cfg.trigger.off_ratio < cfg.trigger.on_ratio
    assert cfg.processing.highpass_hz == pytest.approx(0.075)
    assert load_settings().config == shipped.config
    assert load_settings() == shipped


def test_embedded_file_is_the_dump_of_the_defaults_with_the_pinned_grid(
    monkeypatch: pytest.MonkeyPatch, shipped: Settings
) -> None:
    monkeypatch.chdir(ROOT)  # ./config/eew.toml of the checkout comes before /etc and the package
    assert default_config_path() == EMBEDDED
    assert EMBEDDED.read_text(encoding="utf-8") == dump_settings(shipped)


def test_embedded_file_loads_to_defaults(shipped: Settings) -> None:
    s = load_settings(EMBEDDED)
    assert s == shipped
    assert s.config == shipped.config
    assert s.source == str(EMBEDDED)
    assert s.config.source == str(EMBEDDED)
    assert s.hash() == shipped.hash()


def test_file_sections_are_the_processing_sections_and_the_packages_sections() -> None:
    processing = {f.name for f in dataclasses.fields(Config)} - {"base_dir", "source", "set_keys"}
    own = {f.name for f in dataclasses.fields(Settings)} - {"config"}
    assert set(SECTIONS) == processing | own
    assert len(SECTIONS) == len(processing) + len(own)


def test_the_processing_configuration_imports_nothing_above_it() -> None:
    code = (
        "import sys, eew.config; "
        "bad = sorted(m for m in sys.modules if m.startswith('eew.') and m not in "
        "('eew.config', 'eew.configfile', 'eew.errors', 'eew.schemafields')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dump_load_round_trip_of_non_default_values(tmp_path: Path) -> None:
    defaults = Settings()
    cfg = dataclasses.replace(
        Config(),
        trigger=dataclasses.replace(Config().trigger, sta_s=0.7, components="ZNE", on_ratio=5.5),
        rejection=dataclasses.replace(Config().rejection, calibration_flag=False),
        replay=dataclasses.replace(Config().replay, max_packet_samples=17),
    )
    cfg = dataclasses.replace(
        cfg, inventory=dataclasses.replace(cfg.inventory, stationxml=('a "quoted".xml', "b\\c.xml"))
    )
    settings = dataclasses.replace(
        defaults,
        config=cfg,
        daemon=dataclasses.replace(defaults.daemon, role="station"),
        partner=dataclasses.replace(defaults.partner, agency="KG-X"),
    )
    for with_docs in (True, False):
        back = load_settings(write(tmp_path, dump_settings(settings, with_docs=with_docs)))
        assert back == settings
        assert back.hash() == settings.hash()
    assert settings.hash() != defaults.hash()
    assert dataclasses.replace(defaults, config=cfg).hash() != defaults.hash()


def test_partial_file_keeps_other_defaults_and_coerces_int_to_float(tmp_path: Path) -> None:
    cfg = load_settings(write(tmp_path, "[trigger]\nlta_s = 30\n")).config
    assert cfg.trigger.lta_s == 30.0
    assert isinstance(cfg.trigger.lta_s, float)
    assert cfg.picker == Config().picker
    assert cfg.trigger.sta_s == Config().trigger.sta_s


def test_relative_stationxml_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    absolute = tmp_path / "abs.xml"
    path = write(sub, f'[inventory]\nstationxml = ["st/x.xml", "../y.xml", "{absolute}"]\n')
    monkeypatch.chdir(ROOT)  # the current directory must not matter
    cfg = load_settings(path).config
    assert cfg.stationxml_paths() == [
        (sub / "st" / "x.xml").resolve(),
        (tmp_path / "y.xml").resolve(),
        absolute.resolve(),
    ]


def test_default_stationxml_paths_point_at_the_stations_folder() -> None:
    paths = load_settings().config.stationxml_paths()
    assert paths
    # the repository's stations/*.xml are links to the package data eew/data/stations/
    assert all(p.parent == (ROOT / "eew" / "data" / "stations").resolve() for p in paths)
    assert all(p == (ROOT / "stations" / p.name).resolve() for p in paths)
    assert all(p.is_file() for p in paths)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[bogus]\nx = 1\n", "bogus"),
        ("[trigger]\nsta_seconds = 1.0\n", "trigger.sta_seconds"),
        ("[trigger]\nsta_s = 'fast'\n", "trigger.sta_s"),
        ("[trigger]\nsta_s = true\n", "trigger.sta_s"),
        ("[picker]\nmin_snr = [3]\n", "picker.min_snr"),
        ("[replay]\nmax_packet_samples = 1.5\n", "replay.max_packet_samples"),
        ("[rejection]\ncalibration_flag = 1\n", "rejection.calibration_flag"),
        ("[trigger]\ncomponents = 3\n", "trigger.components"),
        ("[inventory]\nstationxml = 'one.xml'\n", "inventory.stationxml"),
        ("trigger = 3\n", "trigger"),
        # invariants
        ("[trigger]\nlta_s = 0.5\n", "trigger.lta_s"),
        ("[trigger]\nlta_s = 0.4\n", "trigger.lta_s"),
        ("[trigger]\noff_ratio = 4.0\n", "trigger.off_ratio"),
        ("[trigger]\noff_ratio = 5.0\n", "trigger.off_ratio"),
        ("[trigger]\nvelocity_band_high_hz = 1.0\n", "trigger.velocity_band_high_hz"),
        ("[trigger]\nacceleration_band_high_hz = 1.5\n", "trigger.acceleration_band_high_hz"),
        ("[trigger]\nwarmup_s = 0.2\n", "trigger.warmup_s"),
        ("[trigger]\nsta_s = -1.0\n", "trigger.sta_s"),
        ("[processing]\ntaup_lowpass_hz = 0.05\n", "processing.taup_lowpass_hz"),
        ("[picker]\nwindow_max_s = 0.1\n", "picker.window_max_s"),
        ("[rejection]\nglitch_concentration = 1.5\n", "rejection.glitch_concentration"),
        ("[replay]\nmax_packet_samples = -1\n", "replay.max_packet_samples"),
        # sections declared by the daemon, bus and partner packages
        ("[daemon]\nrol = 'all'\n", "daemon.rol"),
        ("[daemon]\nrole = 'edge'\n", "daemon.role"),
        ("[seedlink]\nservers = ['nohost']\n", "seedlink.servers"),
        ("[bus]\nendpoint = 'nowhere'\n", "bus.endpoint"),
        ("[partner]\nagencyy = 'X'\n", "partner.agencyy"),
    ],
)
def test_bad_files_raise_config_error_naming_key_and_file(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text, "bad_config.toml")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    msg = str(info.value)
    assert str(path) in msg
    assert key in msg


def test_toml_syntax_error_and_missing_file_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[trigger\nsta_s = 1\n", "broken.toml")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_settings(path)
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_settings(tmp_path / "missing.toml")


def test_settings_from_dict_checks_like_the_file_loader() -> None:
    with pytest.raises(ConfigError, match=r"<test>.*trigger\.lta_s"):
        settings_from_dict({"trigger": {"lta_s": 0.1}}, source="<test>")
    assert settings_from_dict({}) == Settings()


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.trigger.sta_s = 1.0  # type: ignore[misc]


def test_every_field_has_a_doc() -> None:
    for name in SECTIONS:
        for f in dataclasses.fields(Settings().section(name)):
            assert f.metadata.get("doc"), f"{name}.{f.name} has no doc"


@pytest.mark.parametrize(
    ("key", "value", "info_kwargs"),
    [
        ("acceleration_band_high_hz", 60.0, {"channel_id": "XX.SYN..HNZ", "kind": "acceleration"}),
        ("velocity_band_high_hz", 50.0, {"channel_id": "XX.SYN..HHZ", "kind": "velocity"}),
        ("velocity_band_high_hz", 25.0, {"channel_id": "XX.SYN..BHZ", "sampling_rate_hz": 40.0}),
    ],
)
def test_band_above_nyquist_is_adapted_per_channel(
    tmp_path: Path, make_info, t0_ns: int, key: str, value: float, info_kwargs: dict
) -> None:
    """A corner above a channel's Nyquist frequency is lowered for that channel only."""
    path = write(tmp_path, f"[trigger]\n{key} = {value}\n", "nyquist.toml")
    cfg = load_settings(path).config  # valid on its own: the rate is only known per channel
    info = make_info(**info_kwargs)
    pipe = Pipeline(cfg, Inventory([info]), lambda _r: None)
    pkt = Packet(info.channel_id, t0_ns, info.sampling_rate_hz, np.zeros(100, dtype=np.int32))
    pipe.feed(pkt)
    stats = pipe.statistics()
    assert stats.samples == 100
    assert stats.metadata.filters_adapted == 1
    assert pipe._channels[info.channel_id].filters.band_high_hz == 0.4 * info.sampling_rate_hz
    assert pipe._channels[info.channel_id].filters.adapted == (f"trigger.{key}",)


def test_trigger_defaults_are_usable_at_100_hz(make_info, t0_ns: int) -> None:
    info = make_info("XX.SYN..HNZ", kind="acceleration")
    pipe = Pipeline(Config(), Inventory([info]), lambda _r: None)
    pipe.feed(Packet(info.channel_id, t0_ns, 100.0, np.zeros(100, dtype=np.int32)))
    assert pipe.statistics().samples == 100


def test_config_dump_cli_parses_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "--dump"]) == 0
    out = capsys.readouterr().out
    assert settings_from_dict(tomllib.loads(out)) == load_settings()
    custom = write(tmp_path, "[trigger]\non_ratio = 6.0\n")
    assert main(["config", "--config", str(custom), "--dump"]) == 0
    back = settings_from_dict(tomllib.loads(capsys.readouterr().out))
    assert back.config.trigger.on_ratio == 6.0
    assert back == load_settings(custom)


def test_config_cli_check_reports_ok_and_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["config"]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, "[trigger]\nlta_s = 0.1\n", "bad.toml")
    assert main(["config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "trigger.lta_s" in err
    assert "bad.toml" in err
