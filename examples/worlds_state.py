"""A world's state kept in a checkpointed LangGraph graph, and resumed by a fresh world.

Every world has ``get_state()`` (JSON: for the web, TextWorld and ALFWorld
worlds, the seed and the actions since ``reset``) and ``set_state(state)``
(which replays them). The graph keeps that state like any other value, so a
run stopped half-way goes on in a new process with a new world. Here the
first run plays two actions of the shop task and stops; the second opens the
same SQLite file, brings a fresh world back with ``set_state`` and finishes
the task. No model; about two seconds.
"""

import asyncio
import tempfile
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from dramaturg.graphs import open_checkpointer
from dramaturg.worlds import WorldNotResetError, make_world


class Play(TypedDict, total=False):
    world: dict  # world.get_state(): JSON-ready, so it is checkpointed with the rest
    plan: list[str]
    won: bool


def at(world: Any, saved: dict) -> bool:
    """Whether this process's world is already where the checkpoint says."""
    try:
        return world.get_state() == saved
    except WorldNotResetError:  # a fresh world, never reset
        return False


def build(world: Any, checkpointer: Any) -> Any:
    def start(state: Play) -> Play:
        _, info = world.reset(seed=1)
        print("task:", info["objective"])
        return {"world": world.get_state(), "plan": info["gold_plan"], "won": False}

    def act(state: Play) -> Play:
        if not at(world, state["world"]):  # resumed in a new process: replay to the checkpoint
            world.set_state(state["world"])
            print(
                f"  (restored: seed {state['world']['seed']}, {len(state['world']['actions'])} actions replayed)"
            )
        action = state["plan"][len(state["world"]["actions"])]
        *_, info = world.step(action)
        print(">", action)
        return {"world": world.get_state(), "won": info["won"]}

    def next_step(state: Play) -> str:
        return (
            END if state["won"] or len(state["world"]["actions"]) == len(state["plan"]) else "act"
        )

    builder = StateGraph(Play)
    builder.add_node("start", start)
    builder.add_node("act", act)
    builder.add_edge(START, "start")
    builder.add_edge("start", "act")
    builder.add_conditional_edges("act", next_step, ["act", END])
    # Stop after every action, so this example can walk away half-way like a killed process.
    return builder.compile(checkpointer=checkpointer, interrupt_after=["act"])


async def main() -> None:
    db = Path(tempfile.mkdtemp()) / "play.sqlite"
    config = {"configurable": {"thread_id": "shop-1"}}

    print("-- first process: two actions, then it stops")
    async with open_checkpointer(db) as saver:
        with make_world("web/shop") as world:
            graph = build(world, saver)
            await graph.ainvoke({}, config)
            await graph.ainvoke(None, config)

    print("-- second process: a new world, resumed from the checkpoint")
    async with open_checkpointer(db) as saver:
        with make_world("web/shop") as world:
            graph = build(world, saver)
            while (await graph.aget_state(config)).next:
                await graph.ainvoke(None, config)
            final = (await graph.aget_state(config)).values
    print("won (judged by the new world's server):", final["won"])
    assert final["won"]


if __name__ == "__main__":
    asyncio.run(main())
