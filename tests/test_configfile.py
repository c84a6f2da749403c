"""Where the configuration and the packaged data come from (eew.configfile)."""

from __future__ import annotations

import fnmatch
import os
import tomllib
from pathlib import Path

import pytest

from eew.cli import main
from eew.configfile import (
    ENV_VAR,
    data_dir,
    find_config,
    packaged_config,
    packaged_config_dir,
    packaged_stations_dir,
)
from eew.daemon.config import Settings, dump_settings, load_settings
from eew.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(folder: Path, text: str = "[trigger]\non_ratio = 6.0\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "eew.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def nowhere(tmp_path: Path) -> dict[str, Path]:
    """A current directory without config/ and a system path that does not exist."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return {"cwd": cwd, "system": tmp_path / "etc" / "eew.toml"}


# ---- lookup order ---------------------------------------------------------------------------
def test_explicit_path_wins_over_everything(tmp_path: Path, nowhere: dict[str, Path]) -> None:
    env_file = write(tmp_path / "env")
    write(nowhere["cwd"] / "config")
    found = find_config("given.toml", environ={ENV_VAR: str(env_file)}, **nowhere)
    assert found is not None
    assert (found.path, found.origin) == (Path("given.toml"), "--config")


def test_environment_variable_comes_next(tmp_path: Path, nowhere: dict[str, Path]) -> None:
    env_file = write(tmp_path / "env")
    write(nowhere["cwd"] / "config")
    write(nowhere["system"].parent)
    found = find_config(environ={ENV_VAR: str(env_file)}, **nowhere)
    assert found is not None
    assert (found.path, found.origin) == (env_file, "$EEW_CONFIG")


def test_environment_variable_naming_no_file_is_an_error(
    tmp_path: Path, nowhere: dict[str, Path]
) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml.*EEW_CONFIG"):
        find_config(environ={ENV_VAR: str(missing)}, **nowhere)


def test_local_config_folder_then_system_file(nowhere: dict[str, Path]) -> None:
    system = write(nowhere["system"].parent)
    local = write(nowhere["cwd"] / "config")
    found = find_config(environ={}, **nowhere)
    assert found is not None
    assert (found.path, found.origin) == (local, "./config/eew.toml")
    local.unlink()
    found = find_config(environ={ENV_VAR: ""}, **nowhere)
    assert found is not None
    assert (found.path, found.origin) == (system, str(system))


def test_packaged_default_comes_last(nowhere: dict[str, Path]) -> None:
    found = find_config(environ={}, **nowhere)
    assert found is not None
    assert (found.path, found.origin) == (packaged_config(), "packaged default")


def test_loading_without_path_uses_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(write(tmp_path)))
    assert load_settings().config.trigger.on_ratio == 6.0


def test_loading_in_a_folder_without_config_reads_the_packaged_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: Settings
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("eew.configfile.SYSTEM_CONFIG", tmp_path / "no" / "eew.toml")
    settings = load_settings()
    assert settings == shipped
    assert settings.source == str(packaged_config())
    cfg = settings.config
    assert cfg == shipped.config
    assert all(p.parent == packaged_stations_dir() for p in cfg.stationxml_paths())
    assert cfg.targets_path() == packaged_config_dir() / "targets.csv"


def test_config_cli_says_which_file_on_stderr_and_dumps_valid_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    custom = write(tmp_path / "env")
    monkeypatch.setenv(ENV_VAR, str(custom))
    assert main(["config", "--dump"]) == 0
    captured = capsys.readouterr()
    assert f"using {custom} ($EEW_CONFIG)" in captured.err
    assert tomllib.loads(captured.out)["trigger"]["on_ratio"] == 6.0
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(ROOT)
    assert main(["config"]) == 0
    assert f"using {ROOT / 'config' / 'eew.toml'} (./config/eew.toml)" in capsys.readouterr().err


def test_relative_paths_resolve_against_the_file_folder_not_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "etc",
        '[inventory]\nstationxml = ["st/a.xml"]\n[alert]\ntargets_file = "../t.csv"\n',
    )
    monkeypatch.chdir(ROOT)
    cfg = load_settings(path).config
    assert cfg.stationxml_paths() == [(tmp_path / "etc" / "st" / "a.xml").resolve()]
    assert cfg.targets_path() == (tmp_path / "t.csv").resolve()


# ---- packaged data and the repository folders ----------------------------------------------
def test_packaged_default_and_checkout_config_are_the_dump_of_the_shipped_defaults(
    shipped: Settings,
) -> None:
    dump = dump_settings(shipped)
    for path in (packaged_config(), ROOT / "config" / "eew.toml"):
        assert path.read_text(encoding="utf-8") == dump, (
            f"{path} is out of date: regenerate it with `eew config --dump > {path}`"
        )


def test_repository_data_paths_are_links_to_the_package_data() -> None:
    pairs = {
        ROOT / "stations" / "almaty_aews.xml": packaged_stations_dir() / "almaty_aews.xml",
        ROOT / "stations" / "kyrgyzstan_kn.xml": packaged_stations_dir() / "kyrgyzstan_kn.xml",
        ROOT / "config" / "targets.csv": packaged_config_dir() / "targets.csv",
    }
    for link, target in pairs.items():
        assert link.is_symlink(), f"{link} should be a symbolic link to {target}"
        assert link.resolve() == target.resolve()
        assert not os.path.isabs(os.readlink(link))  # relative: works in any checkout


def test_every_file_under_eew_data_is_declared_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["eew"]
    package = data_dir().parent
    files = [
        p.relative_to(package).as_posix()
        for p in data_dir().rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert len(files) >= 5
    undeclared = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not undeclared, f"add to [tool.setuptools.package-data] in pyproject.toml: {undeclared}"
