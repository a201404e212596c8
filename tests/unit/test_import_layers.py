"""The package's import graph keeps its floors: facts at the bottom, tools on top.

Layer 1 is ``config`` and the assets shipped to AWS, layer 2 the constructs, layer 3 the
checks pack and the stacks, layer 4 the tools (planner, cost, cli, diagram, preflight and the
dashboard picture). A module may import from its own layer or a lower one, never from a higher
one, and the top-level subpackages form no import circle. Every import counts: absolute and
relative, inside functions, and under ``if TYPE_CHECKING:``. The package root ``__init__``
re-exports the library and stands above the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import cdk_llm_training

PACKAGE = "cdk_llm_training"
PACKAGE_DIR = Path(cdk_llm_training.__file__).parent

LAYERS: dict[str, int] = {
    "config": 1,
    "runtime": 1,
    "training": 1,
    "merging": 1,
    "evaluation": 1,
    "lifecycle_scripts": 1,
    "labeling_templates": 1,
    "_version": 1,
    "constructs": 2,
    "checks": 3,
    "stacks": 3,
    "planner": 4,
    "cost": 4,
    "cli": 4,
    "completion": 4,
    "diagram": 4,
    "preflight": 4,
    "dashboard_layout": 4,
}

# Explicit bans named by the architecture rule, checked on top of the layer order.
FORBIDDEN: dict[str, frozenset[str]] = {
    "config": frozenset({"planner", "cost", "constructs", "stacks"}),
    "constructs": frozenset({"planner", "cost", "stacks", "cli"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _imported_modules(module: str, path: Path, modules: set[str]) -> Iterator[str]:
    """Every ``cdk_llm_training.*`` module named by an import statement anywhere in the file.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module and of
    ``pkg`` otherwise (the name then comes from the package's ``__init__``).
    """
    is_package = path.name == "__init__.py"
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules else base


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def _edges() -> set[tuple[str, str]]:
    """(importer, imported) pairs between modules of the package, imported module existing."""
    modules = _modules()
    edges: set[tuple[str, str]] = set()
    for module, path in modules.items():
        for target in _imported_modules(module, path, set(modules)):
            if target in modules and target != module:
                edges.add((module, target))
    return edges


EDGES = _edges()


def test_every_top_level_name_has_a_layer() -> None:
    tops = {_top(module) for module in _modules()} - {None}
    assert tops - LAYERS.keys() == set(), "give each new top-level module a layer"


def test_the_graph_sees_the_stacks_import_the_constructs() -> None:
    # Guards the parser itself: an empty graph would pass every rule below.
    assert any(_top(a) == "stacks" and _top(b) == "constructs" for a, b in EDGES)
    assert any(a.startswith(f"{PACKAGE}.planner") and _top(b) == "config" for a, b in EDGES)


def test_no_module_imports_names_from_the_package_root() -> None:
    # The root re-exports constructs and stacks: a name taken from it is an import of them all.
    found = sorted(f"{a} -> {b}" for a, b in EDGES if b == PACKAGE)
    assert found == []


def _upward_imports() -> list[str]:
    found = []
    for importer, imported in sorted(EDGES):
        source, target = _top(importer), _top(imported)
        if source is None or target is None or source == target:
            continue
        if LAYERS[target] > LAYERS[source] or target in FORBIDDEN.get(source, frozenset()):
            found.append(f"{importer} -> {imported}")
    return found


def test_no_import_reaches_a_higher_layer() -> None:
    assert _upward_imports() == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
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
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_top_level_subpackages_form_no_import_circle() -> None:
    graph: dict[str, set[str]] = {}
    for importer, imported in EDGES:
        source, target = _top(importer), _top(imported)
        if source and target and source != target:
            graph.setdefault(source, set()).add(target)
    assert _cycles(graph) == []


@pytest.mark.parametrize("subpackage", ["config"])
def test_modules_of_a_subpackage_form_no_import_circle(subpackage: str) -> None:
    prefix = f"{PACKAGE}.{subpackage}."
    graph: dict[str, set[str]] = {}
    for importer, imported in EDGES:
        inside = importer.startswith(prefix) and imported.startswith(prefix)
        # A package importing its own submodule (re-export) is not a circle.
        if inside and not imported.startswith(f"{importer}."):
            graph.setdefault(importer, set()).add(imported)
    assert _cycles(graph) == []


def test_cycle_finder_reports_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
