"""``eew keys``: key files, permissions and loading."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from eew.bus import KeyFileError, Signer, Verifier
from eew.bus.keys import load_curve_keypair, load_curve_public_key, load_trusted_keys
from eew.cli import main


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_eew_keys_writes_pairs_with_safe_permissions(tmp_path: Path, capsys) -> None:
    d = tmp_path / "keys"
    assert main(["keys", str(d), "--name", "KZ-AEWS"]) == 0
    out = capsys.readouterr().out
    assert "KZ-AEWS.key_secret" in out and "KZ-AEWS.ed25519_secret" in out
    assert mode(d) == 0o700
    assert sorted(p.name for p in d.iterdir()) == [
        "KZ-AEWS.ed25519",
        "KZ-AEWS.ed25519_secret",
        "KZ-AEWS.key",
        "KZ-AEWS.key_secret",
    ]
    assert mode(d / "KZ-AEWS.key_secret") == 0o600
    assert mode(d / "KZ-AEWS.ed25519_secret") == 0o600
    assert mode(d / "KZ-AEWS.key") == 0o644 and mode(d / "KZ-AEWS.ed25519") == 0o644
    pair = load_curve_keypair(d / "KZ-AEWS.key_secret")
    assert load_curve_public_key(d / "KZ-AEWS.key") == pair.public_key
    signer = Signer.from_file(d / "KZ-AEWS.ed25519_secret")
    assert signer.agency == "KZ-AEWS"
    [key] = load_trusted_keys(d)["KZ-AEWS"]
    assert key.encode() == signer.public_key


def test_eew_keys_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    assert main(["keys", str(tmp_path), "--name", "siren", "--curve-only"]) == 0
    before = (tmp_path / "siren.key_secret").read_bytes()
    assert main(["keys", str(tmp_path), "--name", "siren", "--curve-only"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "siren.key_secret").read_bytes() == before
    assert not (tmp_path / "siren.ed25519").exists()
    assert main(["keys", str(tmp_path), "--name", "siren", "--curve-only", "--force"]) == 0
    assert (tmp_path / "siren.key_secret").read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left


def test_existing_open_directory_is_tightened(tmp_path: Path) -> None:
    d = tmp_path / "open"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    assert main(["keys", str(d), "--sign-only", "--name", "KG-MES"]) == 0
    assert mode(d) == 0o700


def test_readable_secret_is_refused(tmp_path: Path) -> None:
    assert main(["keys", str(tmp_path), "--name", "X"]) == 0
    for name in ("X.key_secret", "X.ed25519_secret"):
        os.chmod(tmp_path / name, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_curve_keypair(tmp_path / "X.key_secret")
    with pytest.raises(KeyFileError, match="chmod 600"):
        Signer.from_file(tmp_path / "X.ed25519_secret")


@pytest.mark.parametrize(
    "text",
    ["garbage", 'agency = "KZ"\npublic_key = "abcd"\n', 'agency = "a b"\npublic_key = "00"\n'],
)
def test_malformed_public_key_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.ed25519").write_text(text)
    with pytest.raises(KeyFileError):
        Verifier.from_dir(tmp_path)


def test_bad_names_and_missing_dirs(tmp_path: Path, capsys) -> None:
    assert main(["keys", str(tmp_path), "--name", "a.b"]) == 2
    assert "invalid agency code" in capsys.readouterr().err
    with pytest.raises(KeyFileError):
        Verifier.from_dir(tmp_path / "missing")
    with pytest.raises(KeyFileError):
        Verifier.from_dir(tmp_path)  # exists but holds no key
