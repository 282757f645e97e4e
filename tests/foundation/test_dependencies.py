"""The package layering, read from the source with ``ast`` (no import runs, so nothing is hidden by a
module that happens to be imported already).

Every import counts: module level, inside functions and methods, under ``try``/``if``. Only imports
under ``if TYPE_CHECKING:`` are skipped, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("worker", "integrations", "models", "sandboxes")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(*packages: str) -> dict[str, Path]:
    return {_module_name(path): path for package in packages for path in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(nodes: list[ast.stmt], module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(imported dotted name, line) for every import that can run, at any depth."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse, module, is_package)
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            yield from ((f"{base}.{alias.name}" if base else alias.name, node.lineno) for alias in node.names)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None) or []
            for child in children:
                if isinstance(child, ast.stmt):
                    yield from _imports([child], module, is_package)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from _imports(child.body, module, is_package)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module a dotted import name lands in (``from a.b import c`` is module ``a.b.c`` or ``a.b``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(*packages: str) -> dict[str, dict[str, int]]:
    """module → {imported module of these packages → first line importing it}."""
    known = _sources(*packages)
    graph: dict[str, dict[str, int]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges: dict[str, int] = {}
        for name, line in _imports(tree.body, module, path.name == "__init__.py"):
            target = _resolve(name, known)
            if target is not None and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def test_integrations_and_models_import_nothing_of_the_worker() -> None:
    offenders = [
        f"{_sources(package)[module].relative_to(ROOT)}:{line} imports {name}"
        for package in ("integrations", "models")
        for module, path in _sources(package).items()
        for name, line in _imports(ast.parse(path.read_text()).body, module, path.name == "__init__.py")
        if name == "worker" or name.startswith("worker.")
    ]
    assert not offenders, "integrations/ and models/ must not depend on worker/:\n" + "\n".join(offenders)


def test_the_layering_check_sees_imports_inside_functions() -> None:
    source = "import typing\nif typing.TYPE_CHECKING:\n    import worker.a\ndef f():\n    from worker.b import c\n"
    names = [name for name, _ in _imports(ast.parse(source).body, "integrations.x", False)]
    assert names == ["typing", "worker.b.c"]


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component: list[str] = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    return "; ".join(
        f"{module} → {target} (line {line})"
        for module in component
        for target, line in sorted(graph[module].items())
        if target in members
    )


def test_no_import_cycles() -> None:
    graph = import_graph(*PACKAGES)
    cycles = _cycles(graph)
    assert not cycles, "import cycles (move what both sides need into a module of its own):\n" + "\n".join(
        _describe(component, graph) for component in cycles
    )


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _describe(["a", "b", "c"], graph) == "a → b (line 1); b → c (line 2); c → a (line 3)"
