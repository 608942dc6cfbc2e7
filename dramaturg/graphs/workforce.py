"""The workforce graph: plan -> coordinate -> parallel workers -> critic ->
accept / retry / replan / decompose / reassign, until the task is done or a
budget runs out.

::

    START -> plan -> (coordinator) --Send--> work (worker + critic), in parallel
                 ^          |                   |
                 |          +-> finish -> END   v
                 +------------------------- join

Independent subtasks go out together with ``Send`` and run concurrently in
one super-step; ``join`` routes once per super-step (it returns its route as
a ``Command``), so nothing is sent twice. Every super-step is checkpointed when a checkpointer is given, so a
run stopped at any point resumes where it was.

The nodes are the methods of :class:`WorkforceNodes` (in
:mod:`dramaturg.graphs._workforce_nodes`); :func:`workforce` only wires them.

Example:
    >>> graph = workforce(planner=Planner(model=m), workers=[Worker(name="w", model=m)],
    ...                   critic=Critic(model=m))                             # doctest: +SKIP
    >>> final = await graph.ainvoke({"task": "..."})                          # doctest: +SKIP
    >>> final["outcome"], final["answer"]                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from dramaturg.agents.roles import Critic, Planner, Worker
from dramaturg.graphs._route import Router
from dramaturg.graphs._workforce_nodes import Budget, WorkforceNodes, WorkforceState, WorkJob

__all__ = ["Budget", "WorkJob", "WorkforceNodes", "WorkforceState", "workforce"]

_ROUTES = ["work", "plan", "finish"]


def workforce(
    *,
    planner: Planner,
    workers: Sequence[Worker],
    critic: Critic,
    budget: Budget | None = None,
    checkpointer: Any = None,
    store: Any = None,
    approve_plans: bool = False,
) -> CompiledStateGraph[WorkforceState, None, WorkforceState, WorkforceState]:
    """Build and compile the workforce graph.

    Args:
        planner, workers, critic: the roles (see :mod:`dramaturg.agents`).
        budget: limits on retries, replans, depth, rounds and tokens.
        checkpointer: a LangGraph checkpointer (SQLite, Postgres, in-memory),
            needed to resume a stopped run.
        store: a LangGraph store (e.g. :class:`dramaturg.memory.MemoryStore`).
        approve_plans: pause after every plan for a person's approval (needs a
            checkpointer). Resume with ``Command(resume=True)`` to go on,
            ``Command(resume={"feedback": "..."})`` to have it replanned, or
            ``Command(resume=False)`` to stop the run.

    Returns:
        A compiled LangGraph graph. Its nodes are async (model calls overlap):
        run it with ``await graph.ainvoke({"task": "..."})`` or ``astream``.
    """
    nodes = WorkforceNodes(
        planner=planner, workers=workers, critic=critic, budget=budget or Budget()
    )
    critic.workers = list(nodes.by_name)  # the critic may name one of them for a reassign

    coordinate = Router(nodes.coordinate)
    builder = StateGraph(WorkforceState)
    builder.add_node("plan", nodes.plan)
    # `work` takes a WorkJob (a Send's argument), not the state. Naming the state schema as its
    # input keeps LangGraph from adding a channel per WorkJob key to every run's state.
    builder.add_node("work", nodes.work, input_schema=WorkforceState)  # type: ignore[arg-type]
    builder.add_node("join", nodes.join, destinations=tuple(_ROUTES))  # it routes itself
    builder.add_node("finish", nodes.finish)
    builder.add_edge(START, "plan")
    if approve_plans:
        builder.add_node("approve", nodes.approve)
        builder.add_edge("plan", "approve")
        builder.add_conditional_edges("approve", coordinate, _ROUTES)
    else:
        builder.add_conditional_edges("plan", coordinate, _ROUTES)
    builder.add_edge("work", "join")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, store=store, name="workforce")
