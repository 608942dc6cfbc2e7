"""The package's layering, checked over its import graph (an ast walk, no imports run).

Bottom to top: models, worlds, memory, tools -> agents -> graphs -> drama, evals,
training, server -> the CLI. A module never imports a package above its own, and
the library never imports a CLI module (``dramaturg.cli`` and its modules).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dramaturg"
LAYER = {
    "models": 0,
    "worlds": 0,
    "memory": 0,
    "tools": 0,
    "agents": 1,
    "graphs": 2,
    "drama": 3,
    "evals": 3,
    "training": 3,
    "server": 3,
}


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every ``dramaturg.*`` module a file imports, lazily or not."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.startswith("dramaturg.")]
    return out


def is_cli(module: str) -> bool:
    return module == "dramaturg.cli" or module.startswith("dramaturg.cli.")


def test_no_module_imports_a_layer_above_its_own_or_a_cli_module():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        own = parts[0] if len(parts) > 1 else None
        if own not in LAYER:
            continue  # the top: the CLI modules and the package's own front door
        for line, module in imports(path):
            other = module.split(".")[1]
            if is_cli(module) or LAYER.get(other, -1) > LAYER[own]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


#: The package root's helpers that every layer may import: they import only each other.
ROOT_HELPERS = {"errors", "_files", "_paths", "_ids", "_untrusted", "_progress"}


def test_root_helpers_import_only_root_helpers():
    wrong = []
    for name in sorted(ROOT_HELPERS):
        path = PACKAGE / f"{name}.py"
        assert path.is_file(), f"{path} is gone: update ROOT_HELPERS"
        for line, module in imports(path):
            if module.split(".")[1] not in ROOT_HELPERS:
                wrong.append(f"dramaturg/{name}.py:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text(
        "def f():\n    from dramaturg.agents.tool_agent import ToolAgent\n", encoding="utf-8"
    )
    assert imports(bad) == [(2, "dramaturg.agents.tool_agent")]
    assert (
        is_cli("dramaturg.cli")
        and is_cli("dramaturg.cli.drama")
        and is_cli("dramaturg.cli._common")
        and not is_cli("dramaturg.drama.graph")
        and not is_cli("dramaturg.client")
    )


def module_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, lazily or not, leaving out imports
    under ``if TYPE_CHECKING:`` (those never run). ``from pkg import name`` counts as
    an import of ``pkg.name`` when that is a module, else of ``pkg``."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("dramaturg", *path.relative_to(PACKAGE).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                if base.startswith("dramaturg"):
                    found |= {
                        f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                        for a in node.names
                    }
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("dramaturg")}
        graph[name] = {m for m in map(known, found) if m and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_modules():
    """Lazy imports inside functions count too: a cycle hidden in a function is still a
    knot. Imports under ``if TYPE_CHECKING:`` do not (they never run)."""
    found = cycles(module_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_check_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
