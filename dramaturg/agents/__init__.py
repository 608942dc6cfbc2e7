"""The roles: planner, worker, critic (and, in later modules, coordinator
policies, actors, director and the tool agent)."""

from dramaturg.agents.roles import Critic, Planner, Worker, plan_schema
from dramaturg.agents.schemas import (
    CriticVerdict,
    Plan,
    Route,
    Subtask,
    WorkerResult,
    topological_order,
)
from dramaturg.agents.tool_agent import ToolAgent

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
    "topological_order",
]
