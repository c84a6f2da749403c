"""Static-typing guards that mypy itself cannot see (mypy runs in ``make test``)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import eew.bus


def _type_checking_imports(path: Path) -> dict[str, str]:
    """Name -> module of the ``from M import N`` lines under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module is not None
                out.update({alias.name: imp.module for alias in imp.names})
    return out


def test_bus_lazy_exports_are_visible_to_the_type_checker() -> None:
    # eew.bus imports its names on first use (PEP 562 __getattr__), which mypy types as Any;
    # the TYPE_CHECKING block gives them their real types and must list the same names
    seen = _type_checking_imports(Path(eew.bus.__file__))
    assert seen == eew.bus._EXPORTS
    assert sorted(seen) == sorted(eew.bus.__all__)
    for name, module in seen.items():
        assert getattr(importlib.import_module(module), name) is getattr(eew.bus, name)
