"""One look for every long run's progress bar (evals, training): rich, on stderr's terminal.

Example:
    >>> with progress_bar(enabled=False) as bar:
    ...     task = bar.add_task("eval", total=3, stats="")
    ...     bar.update(task, advance=1, stats="1 won")
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(*, enabled: bool = True, field: str = "stats", label: str = "") -> Any:
    """A ``rich.progress.Progress``: description, bar, done/total, one free text field
    (``task.fields[field]``, prefixed by ``label``), elapsed and remaining time.

    Disabled, it draws nothing (``add_task``/``update`` still work), so callers need no
    second code path for logs, CI and ``--quiet``.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{label}{{task.fields[{field}]}}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
