"""Checkpointers by setting: SQLite by default, Postgres by URL, memory for tests.

Example:
    >>> async with open_checkpointer("runs/checkpoints.sqlite") as saver:   # doctest: +SKIP
    ...     graph = workforce(..., checkpointer=saver)
    ...     await graph.ainvoke({"task": "..."}, {"configurable": {"thread_id": "run-1"}}, durability="sync")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dramaturg._paths import home_dir
from dramaturg.errors import MissingExtraError

__all__ = ["open_checkpointer"]


@contextlib.asynccontextmanager
async def open_checkpointer(where: str | os.PathLike[str] | None = None) -> AsyncIterator[Any]:
    """An async LangGraph checkpointer.

    Args:
        where: ``None`` (``<home>/checkpoints.sqlite``), a SQLite file path,
            ``postgresql://...`` (needs ``langgraph-checkpoint-postgres``) or
            ``memory`` (in-process, lost on exit).
    """
    spec = str(where) if where is not None else str(home_dir() / "checkpoints.sqlite")
    if spec == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
        return
    if spec.startswith(("postgres://", "postgresql://")):
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError:
            raise MissingExtraError(
                "langgraph-checkpoint-postgres", "postgres", "A Postgres checkpointer"
            ) from None
        async with AsyncPostgresSaver.from_conn_string(spec) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    Path(spec).parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(spec) as saver:
        yield saver
