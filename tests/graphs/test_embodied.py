"""The embodied graph on real worlds, driven by ScriptedModels."""

from __future__ import annotations

import asyncio
import json

import pytest

from dramaturg.agents import Critic, Planner, ToolAgent
from dramaturg.errors import ConfigError
from dramaturg.graphs import Episode, embodied, open_checkpointer
from dramaturg.models import RetryingModel, ScriptedModel
from dramaturg.worlds import make_world

GOLD = ["open door", "wait", "poison cup", "move north", "wait", "wait", "give letter to ophelia"]


def commands(*cmds: str) -> list[dict]:
    return [{"command": c} for c in cmds]


@pytest.fixture
def stage():
    with make_world("theatre/elsinore") as world:
        yield world


async def test_following_the_gold_plan_wins(stage):
    model = ScriptedModel(commands(*GOLD))
    final = await embodied(stage, tool_agent=ToolAgent(model=model)).ainvoke({})
    assert final["outcome"] == "won" and final["won"]
    assert [s["action"] for s in final["steps"]] == GOLD
    model.assert_consumed()
    # The tool agent was shown the admissible commands, and its answers were constrained to them.
    first = model.calls[0]
    assert "Commands: " in first.messages[-1]["content"]
    command = first.opts["json_schema"]["properties"]["command"]
    exact = (
        command["anyOf"][0]["enum"] if "anyOf" in command else command["enum"]
    )  # templates: an anyOf
    assert "open door" in exact
    # Earlier turns are shown back as examples (observation -> command).
    assert json.loads(model.calls[2].messages[-2]["content"]) == {"command": "wait"}


async def test_one_compiled_graph_plays_many_worlds_at_once():
    def next_gold(messages, opts):  # earlier turns come back as assistant messages
        return {"command": GOLD[sum(m["role"] == "assistant" for m in messages)]}

    graph = embodied(tool_agent=ToolAgent(model=ScriptedModel([next_gold] * 21), history_turns=10))
    worlds = [make_world("theatre/elsinore") for _ in range(3)]
    try:
        # Runs interleave on one loop; each keeps to its own world.
        finals = await asyncio.gather(
            *(graph.ainvoke({}, context=Episode(w, seed=0)) for w in worlds)
        )
    finally:
        for w in worlds:
            w.close()
    assert [f["outcome"] for f in finals] == ["won"] * 3
    assert sorted(a for f in finals for a in (s["action"] for s in f["steps"])) == sorted(GOLD * 3)


async def test_a_graph_without_a_world_says_how_to_give_one():
    graph = embodied(tool_agent=ToolAgent(model=ScriptedModel(commands("wait"))))
    with pytest.raises(ConfigError, match="context=Episode"):
        await graph.ainvoke({})
    with pytest.raises(ConfigError, match="must be an Episode"):
        await graph.ainvoke({}, context={"world": "x"})


async def test_a_command_outside_the_admissible_list_is_sent_back(stage):
    model = ScriptedModel([{"command": "fly to the moon"}, {"command": "open door"}])
    graph = embodied(
        stage, tool_agent=ToolAgent(model=RetryingModel(model, retries=1)), max_steps=1
    )
    final = await graph.ainvoke({})
    assert [s["action"] for s in final["steps"]] == ["open door"]
    assert "command" in model.calls[1].messages[-1]["content"]  # the validation error went back
    assert final["outcome"] == "max_steps"


async def test_max_steps_cuts_the_episode(stage):
    final = await embodied(
        stage, tool_agent=ToolAgent(model=ScriptedModel(commands("wait", "wait"))), max_steps=2
    ).ainvoke({})
    assert final["outcome"] == "max_steps" and len(final["steps"]) == 2


async def test_unusable_tool_agent_output_ends_the_episode_as_failed_not_a_crash(stage):
    model = RetryingModel(ScriptedModel(["???", "nope"]), retries=1)
    final = await embodied(stage, tool_agent=ToolAgent(model=model)).ainvoke({})
    assert final["outcome"] == "failed" and "no command" in final["steps"][-1]["error"]


async def test_plan_and_critique_move_through_intents_and_replan(stage):
    planner = ScriptedModel(
        [
            {
                "subtasks": [
                    {"id": "a", "description": "open the way"},
                    {"id": "b", "description": "deliver", "depends_on": ["a"]},
                ]
            },
            {"subtasks": [{"id": "c", "description": "deliver the letter"}]},
        ]
    )
    critic = ScriptedModel(
        [
            {"score": 80, "route": "accept"},
            {"score": 10, "route": "replan", "issues": ["slow"]},
            {"score": 90, "route": "accept"},
        ]
    )
    tool = ScriptedModel(commands(*GOLD))
    graph = embodied(
        stage,
        tool_agent=ToolAgent(model=tool),
        planner=Planner(model=planner),
        critic=Critic(model=critic),
        critique_every=2,
    )
    final = await graph.ainvoke({})
    assert final["outcome"] == "won"
    assert [c["route"] for c in final["critiques"]] == ["accept", "replan", "accept"]
    # The tool agent worked on "open the way", then "deliver", then the replanned intent.
    goals = [call.messages[0]["content"] for call in tool.calls]
    assert "open the way" in goals[0] and "deliver" in goals[2] and "deliver the letter" in goals[4]
    assert "slow" in planner.calls[1].messages[0]["content"]
    assert final["replans"] == 1


async def test_a_resumed_episode_replays_the_world(tmp_path):
    """A fresh process (new world object) continues from the checkpoint by replaying the actions."""
    db = tmp_path / "cp.sqlite"
    config = {"configurable": {"thread_id": "ep-1"}}
    async with open_checkpointer(db) as saver:
        with make_world("theatre/elsinore") as world:
            graph = embodied(
                world,
                tool_agent=ToolAgent(model=ScriptedModel(commands(*GOLD[:3]))),
                checkpointer=saver,
            )
            # Stop after three actions, as if the process died there.
            async for _ in graph.astream({}, config, durability="sync", stream_mode="updates"):
                state = await graph.aget_state(config)
                if len(state.values.get("steps", [])) == 3:
                    break
    async with open_checkpointer(db) as saver:
        with make_world("theatre/elsinore") as world:
            graph = embodied(
                world,
                tool_agent=ToolAgent(model=ScriptedModel(commands(*GOLD[3:]))),
                checkpointer=saver,
            )
            final = await graph.ainvoke(None, config, durability="sync")
    assert final["outcome"] == "won"
    assert [s["action"] for s in final["steps"]] == GOLD


async def test_textworld_gold_plan_through_the_graph():
    with make_world("textworld/tw-coin_collector") as world:
        _, info = world.reset(seed=5)
        gold = info["gold_plan"]
        final = await embodied(
            world, tool_agent=ToolAgent(model=ScriptedModel(commands(*gold))), seed=5
        ).ainvoke({})
    assert final["outcome"] == "won"
