"""judge/'s import graph has no cycles.

The graph is read from the source with :mod:`ast` (nothing is imported): one node per
module of ``judge/``, one edge per import of another ``judge`` module. Imports are
split by where they run: *module-level* ones (at import time, class bodies included)
and *function-level* ones (deferred into a function body). ``if TYPE_CHECKING:`` blocks
never run and are skipped. A deferred import hides a cycle from Python, not from the
design, so both graphs must be acyclic; the module-level one is asserted separately so
a failure says which kind of import closes the loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "judge"

Level = Literal["module", "function"]
Graph = dict[str, dict[str, list[tuple[Level, int]]]]
"""module -> imported module -> [(level, line)]."""


def module_name(path: Path, root: Path) -> str:
    """``root/judge/analysis/frame.py`` -> ``judge.analysis.frame``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, Level]]:
    """Every import statement with where it runs, skipping ``if TYPE_CHECKING:`` bodies."""

    def walk(node: ast.AST, level: Level) -> Iterator[tuple[ast.Import | ast.ImportFrom, Level]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    yield from walk(sub, level)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, level
            inner: Level = (
                "function"
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                else level
            )
            yield from walk(child, inner)

    yield from walk(tree, "module")


def _targets(
    node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: set[str]
) -> set[str]:
    """The ``judge`` modules an import statement loads (the deepest known module of each name)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = importer.split(".")
            if not is_package:
                base.pop()
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        # `from package import submodule` loads the submodule
        names = [f"{prefix}.{alias.name}" for alias in node.names]
    found = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def import_graph(package: Path = PACKAGE) -> Graph:
    """The import graph of every module under ``package``."""
    paths = {module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}
    modules = set(paths)
    graph: Graph = {name: {} for name in paths}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, level in _imports(tree):
            for target in _targets(node, name, path.name == "__init__.py", modules):
                if target != name:
                    graph[name].setdefault(target, []).append((level, node.lineno))
    return graph


def edges(graph: Graph, levels: set[Level]) -> dict[str, set[str]]:
    """Importer -> imported, keeping imports of the given levels."""
    return {
        source: {t for t, uses in targets.items() if any(lv in levels for lv, _ in uses)}
        for source, targets in graph.items()
    }


def cycles(adjacency: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted.

    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    >>> cycles({"a": {"b"}, "b": set()})
    []
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(adjacency.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(adjacency):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(graph: Graph, component: list[str]) -> str:
    """The imports inside one cycle, one per line, with their level and line number."""
    members = set(component)
    lines = []
    for source in component:
        for target, uses in sorted(graph[source].items()):
            if target in members:
                where = ", ".join(f"{lv}-level line {line}" for lv, line in uses)
                lines.append(f"  {source} -> {target} ({where})")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph()


def test_graph_sees_the_package(graph: Graph) -> None:
    # a graph that missed modules or edges would pass trivially
    assert {"judge.records", "judge.store", "judge.analysis.frame", "judge.cli"} <= set(graph)
    assert graph["judge.store"]["judge.records"][0][0] == "module"
    levels = {lv for targets in graph.values() for uses in targets.values() for lv, _ in uses}
    assert levels == {"module", "function"}  # both kinds are found and told apart


def test_no_cycles_among_module_level_imports(graph: Graph) -> None:
    found = cycles(edges(graph, {"module"}))
    assert not found, "import cycles at module level:\n" + "\n".join(
        describe(graph, c) for c in found
    )


def test_no_cycles_counting_deferred_imports(graph: Graph) -> None:
    found = cycles(edges(graph, {"module", "function"}))
    assert not found, "import cycles closed by function-level imports:\n" + "\n".join(
        describe(graph, c) for c in found
    )


def test_a_cycle_is_found(tmp_path: Path) -> None:
    package = tmp_path / "judge"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from judge.sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from judge import a\n"
        "def f():\n    from .. import a\n"
    )
    (package / "c.py").write_text("from . import a\n")
    found = import_graph(package)
    assert found["judge.sub.b"] == {"judge.a": [("function", 5)]}
    assert found["judge.c"] == {"judge.a": [("module", 1)]}
    assert cycles(edges(found, {"module"})) == []
    assert cycles(edges(found, {"module", "function"})) == [["judge.a", "judge.sub.b"]]


BACKEND_INTERFACE = "judge.backends.base"
"""The one backend module core code may import: the interface (Backend, requests,
completions, batch records)."""

FACTORY = "judge.factory"
"""The one module outside ``judge/backends/`` that may import a backend module (it
builds plugins by name; ``judge.backends.stored`` is the stand-in backend it builds)."""


MODEL_PLUGINS = {
    "judge.reward": "judge.backends.local",
    "judge.reward_http": "judge.backends.http_common",
}
"""Judge plugins that call a model themselves: the in-process reward model may use the
local backends' shared helpers (:mod:`judge.backends.local`), the served one the HTTP
backends' (:mod:`judge.backends.http_common`: keys, status errors), nothing else."""


def backend_imports(graph: Graph) -> list[str]:
    """Imports of a backend implementation module from outside ``judge/backends/`` and
    the factory, at any level."""
    found = []
    for source, targets in sorted(graph.items()):
        if source.startswith("judge.backends") or source == FACTORY:
            continue
        if source in MODEL_PLUGINS:
            targets = {t: u for t, u in targets.items() if t != MODEL_PLUGINS[source]}
        for target, uses in sorted(targets.items()):
            if target.startswith("judge.backends.") and target != BACKEND_INTERFACE:
                where = ", ".join(f"{lv}-level line {line}" for lv, line in uses)
                found.append(f"  {source} -> {target} ({where})")
    return found


def test_core_never_imports_a_backend_module(graph: Graph) -> None:
    # a backend is reached by name through the registry, built by judge.factory
    assert {"judge.backends.openai", "judge.backends.llamacpp", FACTORY} <= set(graph)
    found = backend_imports(graph)
    assert not found, "backend modules imported outside the factory:\n" + "\n".join(found)


def test_backend_import_rule_is_checked(tmp_path: Path) -> None:
    package = tmp_path / "judge"
    (package / "backends").mkdir(parents=True)
    for name in ("__init__.py", "backends/__init__.py", "backends/base.py", "backends/x.py"):
        (package / name).write_text("")
    (package / "core.py").write_text(
        "from judge.backends.base import Backend\ndef f():\n    from judge.backends import x\n"
    )
    (package / "factory.py").write_text("from judge.backends.x import X\n")
    assert backend_imports(import_graph(package)) == [
        "  judge.core -> judge.backends.x (function-level line 3)"
    ]


REGISTRY_CONSTRUCTION = {"judge.registry", "judge.describe"}
"""Modules besides the factory that may import the judges, backends or benchmarks
registries: the registry itself (it only holds them) and ``judge describe``, which reads
a plugin class's Options model and builds nothing."""


def _registry_users(root: Path = PACKAGE) -> list[str]:
    """Modules other than the factory that import the judges, backends or benchmarks
    registry object from ``judge.registry``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root.parent)
        if name in (FACTORY, *REGISTRY_CONSTRUCTION):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, _ in _imports(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "judge.registry":
                names = {a.name for a in node.names} & {"judges", "backends", "benchmarks"}
                if names:
                    found.append(f"  {name} line {node.lineno}: {', '.join(sorted(names))}")
    return found


def test_judges_backends_and_benchmarks_are_built_in_one_place() -> None:
    found = _registry_users()
    assert not found, "judge/backend/benchmark registries used outside judge.factory:\n" + (
        "\n".join(found)
    )
