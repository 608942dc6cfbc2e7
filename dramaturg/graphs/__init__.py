"""Builders that return compiled LangGraph graphs wiring the roles together.

The drama graph lives in :mod:`dramaturg.drama`.

Each graph's nodes are the methods of one class (:class:`WorkforceNodes`,
:class:`EmbodiedNodes`) that holds its roles and limits; the builders only
wire them, and a test (or your own ``StateGraph``) can use a node alone.

:class:`GraphRun` records a run of one of them in its own folder (checkpoints,
trace, steps, usage) so it can be resumed: what ``dramaturg run`` shows live.

Graph nodes are async: run a graph with ``await graph.ainvoke(...)`` or
``graph.astream(...)``.
"""

from dramaturg.graphs.checkpoint import open_checkpointer
from dramaturg.graphs.embodied import EmbodiedNodes, EmbodiedState, Episode, embodied
from dramaturg.graphs.react import ReactState, react
from dramaturg.graphs.runs import GraphRun
from dramaturg.graphs.workforce import Budget, WorkforceNodes, WorkforceState, workforce

__all__ = [
    "Budget",
    "EmbodiedNodes",
    "EmbodiedState",
    "Episode",
    "GraphRun",
    "ReactState",
    "WorkforceNodes",
    "WorkforceState",
    "embodied",
    "open_checkpointer",
    "react",
    "workforce",
]
