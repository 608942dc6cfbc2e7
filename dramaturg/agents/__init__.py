"""The roles: planner, worker, critic, tool agent; for drama, the actor, the
director and the blueprint designer; character cards."""

from dramaturg.agents.actor import Actor, ActorDecision, ActorView
from dramaturg.agents.blueprint import Blueprint, BlueprintError, design_blueprint
from dramaturg.agents.cards import CardError, CharacterCard, load_card
from dramaturg.agents.director import Director, Reflection, apply_reflection
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
from dramaturg.agents.tool_agent import ToolAgent

__all__ = [
    "Actor",
    "ActorDecision",
    "ActorView",
    "Blueprint",
    "BlueprintError",
    "CardError",
    "CharacterCard",
    "Critic",
    "CriticVerdict",
    "Director",
    "Plan",
    "Planner",
    "ReactStep",
    "Reflection",
    "Route",
    "Subtask",
    "ToolAgent",
    "Worker",
    "WorkerResult",
    "apply_reflection",
    "design_blueprint",
    "load_card",
    "plan_schema",
    "topological_order",
]
