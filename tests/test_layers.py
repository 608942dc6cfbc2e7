"""The package's layering, checked over its import graph (an ast walk, no imports run).

Bottom to top: models, worlds, memory, tools -> agents -> graphs -> drama, evals,
training, server -> the CLI. A module never imports a package above its own, and
the library never imports a CLI module (``dramaturg.cli``, ``dramaturg._*_cli``).
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
    last = module.split(".")[1]
    return last == "cli" or (last.startswith("_") and last.endswith("_cli"))


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


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text(
        "def f():\n    from dramaturg.agents.tool_agent import ToolAgent\n", encoding="utf-8"
    )
    assert imports(bad) == [(2, "dramaturg.agents.tool_agent")]
    assert (
        is_cli("dramaturg._drama_cli")
        and is_cli("dramaturg.cli")
        and not is_cli("dramaturg.drama.graph")
    )
