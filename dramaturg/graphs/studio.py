"""Graphs for LangGraph's own tooling (``langgraph dev``, LangGraph Studio).

``langgraph.json`` at the repository root points here. The model comes from
``$DRAMATURG_MODEL`` (default: the embedded model) and the embodied graph's
world from ``$DRAMATURG_WORLD`` (default: ``theatre/elsinore``). The
platform supplies its own checkpointer, so none is set here.
"""

from __future__ import annotations

import os
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from dramaturg.agents import Critic, Planner, ToolAgent, Worker
from dramaturg.graphs.embodied import EmbodiedState, embodied
from dramaturg.graphs.react import ReactState, react
from dramaturg.graphs.workforce import WorkforceState, workforce
from dramaturg.models import load_model
from dramaturg.tools import ToolSet, file_reader, python_tool

__all__ = ["embodied_graph", "react_graph", "workforce_graph"]


def _tools() -> ToolSet:
    return ToolSet([python_tool(timeout_s=20), file_reader(os.environ.get("DRAMATURG_FILES", "."))])


def workforce_graph() -> CompiledStateGraph[WorkforceState, None, WorkforceState, WorkforceState]:
    model = load_model()
    workers = [
        Worker(name="analyst", model=model, tools=_tools()),
        Worker(name="writer", model=model),
    ]
    return workforce(planner=Planner(model=model), workers=workers, critic=Critic(model=model))


def react_graph() -> CompiledStateGraph[ReactState, None, ReactState, ReactState]:
    return react(worker=Worker(name="solo", model=load_model(), tools=_tools()))


def embodied_graph() -> CompiledStateGraph[EmbodiedState, Any, EmbodiedState, EmbodiedState]:
    from dramaturg.worlds import make_world

    model = load_model()
    world = make_world(os.environ.get("DRAMATURG_WORLD", "theatre/elsinore"))
    return embodied(
        world,
        tool_agent=ToolAgent(model=model),
        planner=Planner(model=model),
        critic=Critic(model=model),
    )
