"""The layering of the ``eew`` package, read from the source with :mod:`ast`.

Every ``import`` and ``from ... import`` of every module under ``eew/`` counts, wherever it
stands (module level, inside a function, under ``TYPE_CHECKING``), and so do modules named by
string in a module that imports lazily with :mod:`importlib` (``eew.bus``, ``eew.cli``). The
rules (issue 9):

* no import cycle between files, and none between packages (``eew.<name>``);
* :mod:`eew.model` imports nothing of ``eew`` but :mod:`eew.errors`;
* the stages (acquisition, dsp, detect, event) never import the bus, the daemon, the
  partner exchange or the command line;
* the formats and the bus never import detect or event (they speak :mod:`eew.model`);
* the partner exchange never imports the daemon (the daemon imports it);
* only the bus imports zmq;
* the web console (:mod:`eew.console`) speaks the model: it imports none of the stages,
  the bus, the daemon, the partner exchange or the command line (they hand it what it
  shows), and only it imports aiohttp.
* the broker bridges (:mod:`eew.bridge`) read the bus through its subscriber API and write
  with :mod:`eew.formats`: they import only the model, the formats, the bus and
  :mod:`eew.errors`, and nothing below the CLI imports them.

A known violation that other work will remove goes into :data:`ALLOWED`, with its reason;
an entry that no longer matches anything fails :func:`test_allowlist_is_not_stale`, so that
the list is emptied as the work lands.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "eew"

STAGES = ("eew.acquisition", "eew.dsp", "eew.detect", "eew.event")
ABOVE_STAGES = ("eew.bus", "eew.daemon", "eew.partner", "eew.cli", "eew.console", "eew.bridge")
SPEAK_MODEL = ("eew.formats", "eew.bus")
PROCESSING = ("eew.detect", "eew.event")
#: packages that may import zmq (the broker bridges use eew.bus's Subscriber instead)
ZMQ_ALLOWED = ("eew.bus",)
#: what the console must not import (issue 14)
CONSOLE_FORBIDDEN = (*STAGES, "eew.bus", "eew.daemon", "eew.partner", "eew.cli")
#: what the broker bridges may import of eew
BRIDGE_MAY_IMPORT = ("eew.bridge", "eew.bus", "eew.formats", "eew.model", "eew.errors")

#: (importing package, imported package) -> why it is still there; the edge is left out of
#: the package-cycle check. Empty this as the work named lands.
ALLOWED: Mapping[tuple[str, str], str] = {}


# ---- the import graph -------------------------------------------------------------------------
@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _owner(name: str) -> str | None:
    """The module of ``eew`` that ``name`` (a module or a name in one) resolves to."""
    mods = modules()
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports() -> dict[str, frozenset[str]]:
    """Module -> the modules of ``eew`` it imports; and ``"zmq"`` if it imports zmq."""
    mods = modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        dynamic = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets.add(alias.name)
                    dynamic |= alias.name == "importlib"
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # ``from pkg import submodule`` imports the submodule
                targets.update(f"{base}.{alias.name}" for alias in node.names)
                targets.add(base)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in mods:
                    targets.add("dynamic:" + node.value)
        edges: set[str] = set()
        for t in targets:
            if t.startswith("dynamic:"):
                if dynamic:
                    edges.add(t.removeprefix("dynamic:"))
            elif t == "zmq" or t.startswith("zmq."):
                edges.add("zmq")
            elif t == "aiohttp" or t.startswith("aiohttp."):
                edges.add("aiohttp")
            elif t == "eew" or t.startswith("eew."):
                owner = _owner(t)
                if owner is not None:
                    edges.add(owner)
        # ``from eew.x import y`` adds both eew.x and eew.x.y; keep the package only when
        # a plain name (not a submodule) was imported from it
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                subs = [f"{node.module}.{a.name}" for a in node.names]
                if node.module in mods and all(s in mods for s in subs):
                    edges.discard(node.module)
        edges.discard(name)
        graph[name] = frozenset(edges)
    return graph


def package_of(module: str) -> str:
    """``eew.<name>``: the top-level package (or module) that ``module`` belongs to."""
    return ".".join(module.split(".")[:2])


def _in(module: str, packages: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def package_graph(skip: Iterable[tuple[str, str]] = ()) -> dict[str, set[str]]:
    """Package -> packages it imports (``eew`` itself, which imports nothing, left out)."""
    skipped = set(skip)
    graph: dict[str, set[str]] = {}
    for mod, targets in imports().items():
        src = package_of(mod)
        graph.setdefault(src, set())
        for t in targets - {"zmq", "aiohttp"}:
            dst = package_of(t)
            if dst not in (src, "eew") and (src, dst) not in skipped:
                graph[src].add(dst)
    graph.pop("eew", None)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _path_in(graph: Mapping[str, Iterable[str]], component: list[str]) -> str:
    """One cycle through ``component``, as ``a -> b -> a`` (for messages)."""
    members = set(component)
    start = component[0]
    seen = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                return " -> ".join([*seen[v], start])
            if w in members and w not in seen:
                seen[w] = [*seen[v], w]
                todo.append(w)
    return " <-> ".join(component)


def violations(sources: Iterable[str], forbidden: Iterable[str]) -> Iterator[str]:
    """``module -> target`` for every import of a ``forbidden`` package by a ``sources`` one."""
    forbidden = tuple(forbidden)
    for mod, targets in sorted(imports().items()):
        if _in(mod, sources):
            for t in sorted(targets):
                if _in(t, forbidden):
                    yield f"{mod} -> {t}"


# ---- the rules ----------------------------------------------------------------------------------
def test_the_walker_sees_the_package() -> None:
    graph = imports()
    assert len(graph) > 100
    assert "eew.detect.picker" in graph["eew.detect.channel"]
    assert "zmq" in graph["eew.bus.publisher"]
    # lazy imports named by string count (eew.bus re-exports on first use)
    assert "eew.bus.publisher" in graph["eew.bus"]
    assert "eew.cli.replay" in graph["eew.cli"]


def test_no_import_cycle_between_files() -> None:
    graph = {m: set(t) - {"zmq", "aiohttp"} for m, t in imports().items()}
    found = cycles(graph)
    assert not found, "import cycles between files:\n" + "\n".join(
        _path_in(graph, c) for c in found
    )


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph(skip=ALLOWED)
    found = cycles(graph)
    assert not found, "import cycles between packages:\n" + "\n".join(
        _path_in(graph, c) for c in found
    )


def test_model_imports_only_errors() -> None:
    bad = [
        f"{mod} -> {t}"
        for mod, targets in sorted(imports().items())
        if _in(mod, ["eew.model"])
        for t in sorted(targets)
        if t != "eew.errors" and not _in(t, ["eew.model"])
    ]
    assert not bad, "eew.model must import only eew.errors:\n" + "\n".join(bad)


def test_stages_do_not_import_bus_daemon_partner_or_cli() -> None:
    bad = list(violations(STAGES, ABOVE_STAGES))
    assert not bad, "a processing stage imports what sits above it:\n" + "\n".join(bad)


def test_formats_and_bus_speak_the_model_not_the_stages() -> None:
    bad = list(violations(SPEAK_MODEL, PROCESSING))
    assert not bad, "formats/bus import detect or event:\n" + "\n".join(bad)


def test_partner_does_not_import_the_daemon() -> None:
    bad = list(violations(["eew.partner"], ["eew.daemon", "eew.cli"]))
    assert not bad, "the daemon may import the partner exchange, not the reverse:\n" + "\n".join(
        bad
    )


def test_only_the_bus_imports_zmq() -> None:
    bad = [
        mod
        for mod, targets in sorted(imports().items())
        if "zmq" in targets and not _in(mod, ZMQ_ALLOWED)
    ]
    assert not bad, "zmq imported outside eew.bus: " + ", ".join(bad)


def test_console_speaks_the_model() -> None:
    bad = list(violations(["eew.console"], CONSOLE_FORBIDDEN))
    assert not bad, "the console imports what should hand it its data:\n" + "\n".join(bad)


def test_only_the_console_imports_aiohttp() -> None:
    users = [mod for mod, targets in sorted(imports().items()) if "aiohttp" in targets]
    assert users and all(_in(m, ["eew.console"]) for m in users), users

def test_bridges_sit_on_the_bus_and_the_formats() -> None:
    bad = [
        f"{mod} -> {t}"
        for mod, targets in sorted(imports().items())
        if _in(mod, ["eew.bridge"])
        for t in sorted(targets)
        if t != "zmq" and not _in(t, BRIDGE_MAY_IMPORT)
    ]
    bad += [
        f"{mod} -> {t}"
        for mod, targets in sorted(imports().items())
        if not _in(mod, ["eew.bridge", "eew.cli"])
        for t in sorted(targets)
        if _in(t, ["eew.bridge"])
    ]
    assert not bad, (
        "eew.bridge imports beyond bus/formats/model, or is imported below the CLI:\n"
        + ("\n".join(bad))
    )


def test_allowlist_is_not_stale() -> None:
    graph = package_graph()
    stale = [f"{a} -> {b}" for a, b in ALLOWED if b not in graph.get(a, set())]
    assert not stale, "remove from ALLOWED (the import is gone): " + ", ".join(stale)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected
