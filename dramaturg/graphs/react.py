"""The ReAct baseline: one worker, its tools, no planner and no critic.

For a task: the worker thinks, calls tools and answers (``react``). For a
world, the same baseline is :func:`dramaturg.graphs.embodied` with only the
tool agent (no planner, no critic), which is what ``dramaturg run --graph
react`` builds.

Example:
    >>> graph = react(worker=Worker(name="solo", model=m, tools=ToolSet([...])))  # doctest: +SKIP
    >>> (await graph.ainvoke({"task": "What is 17 * 23?"}))["answer"]              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from dramaturg.agents.roles import Worker
from dramaturg.agents.schemas import Subtask

__all__ = ["ReactState", "react"]


class ReactState(TypedDict, total=False):
    task: str
    answer: str
    ok: bool
    steps: int
    error: str | None
    transcript: list[dict[str, Any]]


def react(
    *, worker: Worker, checkpointer: Any = None
) -> CompiledStateGraph[ReactState, None, ReactState, ReactState]:
    """Build the single-agent baseline graph for tasks; invoke with ``{"task": ...}``."""

    async def solve(state: ReactState) -> dict[str, Any]:
        result, transcript = await worker.attempt(
            Subtask(id="task", description=state["task"][:400])
        )
        return {
            "answer": result.output,
            "ok": result.ok,
            "steps": result.steps,
            "error": result.error,
            "transcript": [dict(m) for m in transcript],
        }

    builder = StateGraph(ReactState)
    builder.add_node("solve", solve)
    builder.add_edge(START, "solve")
    builder.add_edge("solve", END)
    return builder.compile(checkpointer=checkpointer, name="react")
