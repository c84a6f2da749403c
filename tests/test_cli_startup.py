"""Fast start: the light commands import neither numba nor scipy (lazy subcommand imports).

Each command runs in a fresh interpreter that lists ``sys.modules`` when it exits; the
tests assert on that list, not on the time (timings are in benchmarks/README.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eew.cli import SUBCOMMANDS, chosen_command

ROOT = Path(__file__).resolve().parents[1]
#: numba and scipy are the slow ones (about 1 s); numpy alone costs 0.1 s of the 0.3 s budget
HEAVY = ("numba", "scipy", "numpy", "obspy", "matplotlib")
ALERT = ROOT / "tests" / "data" / "formats" / "alert_new.json"


#: run the command line in a fresh interpreter and list sys.modules when it exits
RUNNER = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules))))\n"
    "from eew.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)


def imported_modules(*args: str) -> set[str]:
    """Every module loaded by ``eew ARGS`` (full dotted names)."""
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stderr.rsplit("\nMODULES ", 1)[1]
    names = set(line.split())
    assert "eew.cli" in names
    return names


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("convert", "--help"),
        ("convert", str(ALERT), "--to", "cap"),
        ("convert", str(ALERT), "--to", "shakealert"),
        ("convert", str(ALERT), "--to", "quakeml"),
        ("subscribe", "--help"),
        ("subscribe", "tcp://127.0.0.1:9", "--insecure", "--duration-s", "0.01"),
        ("keys", "--help"),
        ("config", "--help"),
    ],
    ids=lambda a: " ".join(a).replace(str(ALERT), "ALERT"),
)
def test_light_commands_import_neither_numba_nor_scipy(args: tuple[str, ...]) -> None:
    # QuakeML is read and written with obspy (which needs numpy, but neither numba nor scipy);
    # ShakeAlert's gmcontour_pred/gmmap_pred are drawn from the forecast model with numpy
    allowed = {"obspy", "numpy"} if "quakeml" in args else set()
    if "shakealert" in args:
        allowed = {"numpy"}
    top = {name.split(".")[0] for name in imported_modules(*args)}
    heavy = sorted((set(HEAVY) - allowed) & top)
    assert not heavy, f"`eew {' '.join(args)}` imported {heavy}"


def test_the_check_sees_heavy_imports() -> None:
    # control: the processing commands do load numba (so an empty list above means something)
    assert "numba" in imported_modules("replay", "--help")


def test_only_the_chosen_subcommand_module_is_imported() -> None:
    names = imported_modules("convert", "--help")
    assert {n for n in names if n.startswith("eew.cli.")} == {"eew.cli.convert"}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["--help"], None),
        (["-v", "replay", "x"], "replay"),
        (["-vv", "convert", "--to", "cap", "f"], "convert"),
        (["nosuch"], None),
        ([], None),
        (["--", "replay"], None),
    ],
)
def test_chosen_command(argv: list[str], command: str | None) -> None:
    assert chosen_command(argv) == command


def test_every_subcommand_module_has_setup_and_run() -> None:
    import importlib

    for name, (modname, summary) in SUBCOMMANDS.items():
        mod = importlib.import_module(modname)
        assert callable(mod.setup) and callable(mod.run), name
        assert summary and "\n" not in summary
