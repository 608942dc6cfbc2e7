"""The general roles: planner, worker, critic and tool agent.

The drama roles (actor, director, blueprint designer, character cards) live
in :mod:`dramaturg.drama`."""

from dramaturg.agents.roles import Critic, Planner, Worker, plan_schema
from dramaturg.agents.schemas import (
    CriticVerdict,
    Plan,
    ReactStep,
    Route,
    Subtask,
    WorkerResult,
    topological_order,
)
from dramaturg.agents.tool_agent import ToolAgent, tool_agent_for

__all__ = [
    "Critic",
    "CriticVerdict",
    "Plan",
    "Planner",
    "ReactStep",
    "Route",
    "Subtask",
    "ToolAgent",
    "Worker",
    "WorkerResult",
    "plan_schema",
    "tool_agent_for",
    "topological_order",
]
