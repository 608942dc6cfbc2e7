"""The fenced Python blocks of the Markdown docs, and a runner that plays a doc as one session.

A README block is a whole script: it runs as a file of its own. The blocks of a
page under ``docs/`` continue one session (each builds on the names the ones
before it made, and a line may ``await`` at the top level, as in
``python -m asyncio``), so they run one after another in one namespace:

    python tests/_docs.py BLOCK.py [BLOCK.py ...]
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```([a-z]*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is and what it says."""

    path: Path
    line: int  # the line of its first line of code
    heading: str  # the section it is in
    code: str
    id: str  # "README.md#memory": the page and the section's anchor, "-2" for a second block there

    def script(self) -> str:
        """The code, preceded by blank lines so that a traceback's line numbers are the page's."""
        return "\n" * (self.line - 1) + self.code


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")


def python_blocks(path: Path, *, label: str | None = None) -> list[Block]:
    """Every ```python block of the Markdown file ``path``, in order; ``label`` names the page in ids."""
    text = path.read_text(encoding="utf-8")
    headings = [(m.start(), m.group(1)) for m in _HEADING.finditer(text)]
    blocks: list[Block] = []
    seen: dict[str, int] = {}
    for match in _FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        heading = next((h for start, h in reversed(headings) if start < match.start()), "")
        anchor = f"{label or path.name}#{_anchor(heading)}"
        seen[anchor] = seen.get(anchor, 0) + 1
        blocks.append(
            Block(
                path=path,
                line=text.count("\n", 0, match.start(2)) + 1,
                heading=heading,
                code=match.group(2),
                id=anchor if seen[anchor] == 1 else f"{anchor}-{seen[anchor]}",
            )
        )
    return blocks


def fenced(path: Path, lang: str, *, after: str = "") -> list[str]:
    """The text of every block fenced as ``lang`` ("" for none) in ``path``, past the first ``after``."""
    text = path.read_text(encoding="utf-8")
    text = text[text.index(after) :] if after else text
    return [m.group(2) for m in _FENCE.finditer(text) if m.group(1) == lang]


def run_session(files: list[str]) -> None:
    """Run each file's code in one shared namespace; top-level ``await`` runs on one event loop."""
    namespace: dict = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    try:
        for name in files:
            print(f"[docs] {name}", file=sys.stderr, flush=True)
            code = compile(
                Path(name).read_text(encoding="utf-8"),
                name,
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )
            result = eval(code, namespace)
            if inspect.iscoroutine(result):
                loop.run_until_complete(result)
    finally:
        loop.close()


if __name__ == "__main__":
    run_session(sys.argv[1:])
