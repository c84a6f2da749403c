"""A wheel install works like a service install: no checkout needed.

The test builds the wheel from a clean copy of the sources (``pip wheel --no-deps
--no-build-isolation``), installs it with ``--no-deps`` into a fresh virtual environment
created ``--without-pip``, and replays a bundled scenario from an unrelated directory.

Installing the dependencies from the registry would take minutes, so the new environment
gets them through one ``.pth`` line naming this interpreter's site-packages. A ``.pth``
line only appends that folder to ``sys.path``: the ``.pth`` files inside it (among them
the editable install of the checkout) are not processed, and the wheel's own ``eew`` in
the new site-packages comes first. The test checks that ``eew`` is imported from there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "waveforms_samples" / "local_m4.5"

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _env() -> dict[str, str]:
    """Our environment without what would point the new install at the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EEW_CONFIG")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel, install it into a fresh venv; return its paths."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = _env()
    # build from a copy: no build/ or egg-info in the checkout, nothing stale in the wheel
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "eew", src / "eew", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    )
    dist = tmp / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(dist), str(src)],
        cwd=tmp, env=env,
    )  # fmt: skip
    (wheel,) = dist.glob("almaty_eew-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, env=env)
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
             cwd=tmp, env=env).strip()
    )  # fmt: skip
    deps = sysconfig.get_paths()["purelib"]
    (site / "_eew_test_dependencies.pth").write_text(deps + "\n", encoding="utf-8")
    _run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        cwd=tmp, env=env,
    )  # fmt: skip
    work = tmp / "elsewhere"  # no config/ here: the packaged default must be found
    work.mkdir()
    return {"python": python, "eew": venv / "bin" / "eew", "site": site, "work": work}


def test_the_installed_eew_is_the_wheel_not_the_checkout(installed: dict[str, Path]) -> None:
    out = _run(
        [str(installed["python"]), "-c", "import eew; print(eew.__file__)"],
        cwd=installed["work"], env=_env(),
    )  # fmt: skip
    assert Path(out.strip()).is_relative_to(installed["site"])
    data = installed["site"] / "eew" / "data"
    for name in (
        "config/eew.toml",
        "config/targets.csv",
        "stations/almaty_aews.xml",
        "stations/kyrgyzstan_kn.xml",
        "traveltimes_alm1d_v0.npz",
    ):
        assert (data / name).is_file(), name


def test_the_installed_eew_finds_its_packaged_configuration(installed: dict[str, Path]) -> None:
    out = _run([str(installed["eew"]), "config"], cwd=installed["work"], env=_env())
    packaged = installed["site"] / "eew" / "data" / "config" / "eew.toml"
    assert f"using {packaged} (packaged default)" in out
    assert "OK" in out


def test_the_installed_eew_replays_a_scenario(installed: dict[str, Path]) -> None:
    out_file = installed["work"] / "picks.jsonl"
    _run(
        [str(installed["eew"]), "replay", str(SCENARIO), "--no-progress", "--out", str(out_file)],
        cwd=installed["work"], env=_env(),
    )  # fmt: skip
    kinds = [json.loads(line)["type"] for line in out_file.read_text().splitlines()]
    assert "pick" in kinds
    assert "alert" in kinds


REAL = ROOT / "waveforms_real"


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.iterdir() if p.is_dir()))
def test_the_installed_eew_replays_every_real_record_without_a_public_alert(
    installed: dict[str, Path], name: str
) -> None:
    """Issue 10: each real record runs through ``eew replay`` from a wheel install, exit 0."""
    folder = REAL / name
    out_file = installed["work"] / f"{name}.jsonl"
    inventory = str(folder / "stations.xml")
    cmd = [str(installed["eew"]), "replay", str(folder), "--inventory", inventory,
           "--no-progress", "--out", str(out_file)]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=installed["work"], env=_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    kinds = [json.loads(line)["type"] for line in out_file.read_text().splitlines()]
    assert "alert" not in kinds  # none of them is an earthquake Almaty must be warned of
