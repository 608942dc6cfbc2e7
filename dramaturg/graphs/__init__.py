"""Builders that return compiled LangGraph graphs wiring the roles together.

Graph nodes are async: run a graph with ``await graph.ainvoke(...)`` or
``graph.astream(...)``.
"""

from dramaturg.graphs.checkpoint import open_checkpointer
from dramaturg.graphs.drama import DramaState, drama
from dramaturg.graphs.embodied import EmbodiedState, Episode, embodied
from dramaturg.graphs.react import ReactState, react
from dramaturg.graphs.workforce import Budget, WorkforceState, workforce

__all__ = [
    "Budget",
    "DramaState",
    "EmbodiedState",
    "Episode",
    "ReactState",
    "WorkforceState",
    "drama",
    "embodied",
    "open_checkpointer",
    "react",
    "workforce",
]
