"""Builders that return compiled LangGraph graphs wiring the roles together.

The drama graph lives in :mod:`dramaturg.drama`.

Graph nodes are async: run a graph with ``await graph.ainvoke(...)`` or
``graph.astream(...)``.
"""

from dramaturg.graphs.checkpoint import open_checkpointer
from dramaturg.graphs.embodied import EmbodiedState, Episode, embodied
from dramaturg.graphs.react import ReactState, react
from dramaturg.graphs.workforce import Budget, WorkforceState, workforce

__all__ = [
    "Budget",
    "EmbodiedState",
    "Episode",
    "ReactState",
    "WorkforceState",
    "embodied",
    "open_checkpointer",
    "react",
    "workforce",
]
