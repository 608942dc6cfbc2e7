"""Rendering tables and records as compact text for a model's prompt."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["render_records", "render_table"]


def _cell(value: Any, width: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())  # one line per row, whatever the cell holds
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(rows: Iterable[Sequence[Any]], *, max_rows: int = 200, max_cell: int = 80) -> str:
    """``header | row | ...`` lines; the first row is the header.

    Rows past ``max_rows`` are counted, not shown, and the text says so.
    Trailing empty cells and fully empty rows (common in spreadsheets) are dropped.
    """
    lines: list[str] = []
    skipped = 0
    total = 0
    for row in rows:
        cells = [_cell(v, max_cell) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        total += 1
        if len(lines) > max_rows:  # header + max_rows data rows
            skipped += 1
            continue
        lines.append(" | ".join(cells))
    if not lines:
        return "(empty table)"
    head = f"({total - 1} data rows)" if total > 1 else "(header only)"
    if skipped:
        lines.append(f"... [{skipped} more rows not shown]")
    return head + "\n" + "\n".join(lines)


def render_records(records: list[Any], *, max_rows: int = 200, max_cell: int = 80) -> str:
    """JSON records: a table when they are flat objects, else one JSON line each."""
    flat = records and all(
        isinstance(r, dict) and all(not isinstance(v, dict | list) for v in r.values())
        for r in records
    )
    if flat:
        keys: list[str] = []
        for record in records:
            keys.extend(k for k in record if k not in keys)
        rows = [keys] + [[r.get(k) for k in keys] for r in records]
        return render_table(rows, max_rows=max_rows, max_cell=max_cell)
    shown = [json.dumps(r, ensure_ascii=False, default=str) for r in records[:max_rows]]
    if len(records) > max_rows:
        shown.append(f"... [{len(records) - max_rows} more records not shown]")
    return f"({len(records)} records)\n" + "\n".join(shown)
