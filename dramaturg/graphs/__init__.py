"""Builders that return compiled LangGraph graphs wiring the roles together."""

from dramaturg.graphs.checkpoint import open_checkpointer
from dramaturg.graphs.workforce import Budget, WorkforceState, workforce

__all__ = ["Budget", "WorkforceState", "open_checkpointer", "workforce"]
