"""Target-site files."""

from __future__ import annotations

import pytest

from eew.daemon.config import load_settings
from eew.errors import ConfigError
from eew.event.targets import COLUMNS, Target, load_targets


def test_configured_targets_load():
    targets = load_targets(load_settings().config.targets_path())
    names = [t.name for t in targets]
    assert len(names) == len(set(names)) >= 8
    for want in ("Talgar", "Esik", "Kaskelen", "Konaev", "Uzynagash", "Bishkek"):
        assert want in names
    assert all(isinstance(t, Target) and t.vs30_m_s > 0 for t in targets)
    assert sum(n.startswith("Almaty-") for n in names) >= 5


def _write(tmp_path, text: str):
    p = tmp_path / "targets.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_comments_blank_lines_and_column_order(tmp_path):
    p = _write(
        tmp_path, "# sites\n\nvs30_m_s,name,longitude_deg,latitude_deg\n  # x\n400,A,76.9,43.2\n"
    )
    assert load_targets(p) == (Target("A", 43.2, 76.9, 400.0),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,latitude_deg,longitude_deg\nA,43,76\n", "columns must be"),
        (",".join(COLUMNS) + ",extra\nA,43,76,400,1\n", "columns must be"),
        (",".join(COLUMNS) + "\nA,north,76,400\n", "data line 2"),
        (",".join(COLUMNS) + "\nA,43,76,400\nA,44,77,400\n", "duplicate target 'A'"),
        (",".join(COLUMNS) + "\nA,95,76,400\n", "impossible value"),
        (",".join(COLUMNS) + "\nA,43,76,0\n", "impossible value"),
        (",".join(COLUMNS) + "\n", "no target sites"),
    ],
)
def test_bad_files_raise_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_targets(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read target sites"):
        load_targets(tmp_path / "nope.csv")
