"""The package's import graph: no circles, and no import from a higher layer.

Every ``import`` and ``from ... import`` statement of every module under ``pgflow/`` counts,
wherever it stands: at the top, under ``if TYPE_CHECKING:``, or inside a function. An import
that runs late still ties the two modules together for the reader and for the type checker.

The layers are those of ARCHITECTURE.md, bottom to top. A module may import from a lower layer,
or sideways from its own package (``pgflow.worker.runner`` from ``pgflow.worker.poller``); the
few sideways imports between packages of one layer that the architecture allows are listed in
``ALLOWED_SIDEWAYS``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pgflow

ROOT = Path(pgflow.__file__).parent

# top-level module or package of pgflow -> its layer (1 is the bottom)
LAYERS: dict[str, int] = {
    "errors": 1, "telemetry": 1, "tracing": 1, "events": 1, "types": 1, "sql": 1, "textsafe": 1,
    "dsl": 2, "db": 2, "context": 2,
    "models": 3,  # what the client returns: built from rows, a schedule's Cron from dsl
    "migrate": 4, "ops": 4,
    "live": 5, "worker": 5, "client": 5, "testing": 5, "metrics": 5,
    "web": 6, "cli": 6, "__init__": 6, "__main__": 6, "pytest_plugin": 6, "contrib": 6,
}

# (importer, imported): imports between two packages of one layer, each a decision of the architecture
ALLOWED_SIDEWAYS = {
    ("events", "errors"), ("telemetry", "errors"), ("types", "errors"),  # the leaf of leaves
    ("telemetry", "textsafe"),  # log records print handlers' errors escaped
    ("telemetry", "tracing"), ("tracing", "errors"),  # attach_opentelemetry's bridge; MissingExtra
    ("client", "live"),  # AsyncClient.subscribe returns a live feed
    ("testing", "worker"),  # run_inline calls handlers as the worker does; drain runs a real Worker
    ("__main__", "cli"),  # python -m pgflow is the command
    ("cli", "web"),  # pgflow dashboard serves the web app
    ("contrib", "web"), ("contrib", "cli"),  # framework integrations mount the dashboard, wrap commands
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """The entry of ``LAYERS`` a module belongs to: ``pgflow.worker.runner`` -> ``worker``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a ``from`` import of a submodule names the submodule)."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in paths else base)
        graph[module] = {t for t in targets if t in paths and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected group of modules (Tarjan), as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [circle_in(graph, group) for group in groups]


def circle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest circle through the group's first module, for the failure message."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # pragma: no cover - Tarjan found one


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        source = package_of(module)
        for target in sorted(targets):
            dest = package_of(target)
            if dest == source or (source, dest) in ALLOWED_SIDEWAYS:
                continue
            if LAYERS[dest] >= LAYERS[source]:
                found.append(f"{module} (layer {LAYERS[source]}) imports {target} (layer {LAYERS[dest]})")
    return found


def test_every_package_has_a_layer() -> None:
    missing = sorted({package_of(m) for m in import_graph()} - set(LAYERS))
    assert not missing, f"add these modules of pgflow/ to LAYERS (and to ARCHITECTURE.md's layers): {missing}"


def test_no_import_circles() -> None:
    found = cycles(import_graph())
    assert not found, "import circles (break each by moving what both sides need into a lower module):\n" + "\n".join(
        " -> ".join(circle) for circle in found
    )


def test_no_import_from_a_higher_layer() -> None:
    found = upward_imports(import_graph())
    assert not found, "imports that go up a layer or sideways between packages (move the shared code down):\n" + (
        "\n".join(found)
    )


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c", "a"]]),
        ({"a": {"b"}, "b": set(), "c": {"a", "b"}}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b", "a"], ["c", "d", "c"]]),
    ],
)
def test_cycles_finds_every_circle(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(cycles(graph)) == expected


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "leaf.py").write_text("")
    (root / "other.py").write_text("")
    (root / "sub" / "__init__.py").write_text("from . import mod\n")
    (root / "sub" / "mod.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import pkg.leaf\n"
        "if TYPE_CHECKING:\n    from pkg.other import thing\n"
        "def late():\n    from .. import other\n    from ..sub import mod\n"
    )
    graph = import_graph(root)
    assert graph["pkg.sub.mod"] == {"pkg.leaf", "pkg.other"}  # itself left out
    assert graph["pkg.sub"] == {"pkg.sub.mod"}
    assert graph["pkg"] == set()
