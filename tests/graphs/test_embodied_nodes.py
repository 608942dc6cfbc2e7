"""The embodied graph's nodes one at a time, each called with a hand-built state."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.runtime import Runtime

from dramaturg.agents import Critic, Planner, ToolAgent
from dramaturg.errors import ConfigError, ModelOutputError
from dramaturg.graphs import EmbodiedState, Episode
from dramaturg.graphs.embodied import EmbodiedNodes
from dramaturg.models import ScriptedModel


class Stairs:
    """A two-step world: ``up`` twice wins."""

    steps_inline = True

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.level = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        self.calls.append(("reset", seed))
        self.level = 0
        return "at 0", {"objective": "climb to 2", "admissible_actions": ["up", "wait"], "score": 0}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        self.calls.append(action)
        self.level += action == "up"
        won = self.level >= 2
        info = {"admissible_actions": ["up", "wait"], "won": won, "score": self.level}
        return f"at {self.level}", float(won), won, False, info


def tool(*answers: Any) -> ToolAgent:
    return ToolAgent(model=ScriptedModel(list(answers)))


def step(action: str, before: str = "at 0", observation: str = "at 0") -> dict[str, Any]:
    return {
        "action": action,
        "before": before,
        "observation": observation,
        "reward": 0.0,
        "error": None,
    }


def test_the_episode_is_the_runs_context_or_the_bound_one():
    bound, given = Episode(Stairs()), Episode(Stairs())
    n = EmbodiedNodes(tool_agent=tool(), bound=bound)
    assert n.episode(Runtime(context=given)) is given
    assert n.episode(Runtime(context=None)) is bound
    with pytest.raises(ConfigError, match="must be an Episode, not dict"):
        n.episode(Runtime(context={"world": "x"}))
    with pytest.raises(ConfigError, match="context=Episode"):
        EmbodiedNodes(tool_agent=tool()).episode(Runtime(context=None))


async def test_start_resets_the_world_with_the_episodes_seed():
    world = Stairs()
    update = await EmbodiedNodes(tool_agent=tool()).start({}, Runtime(context=Episode(world, 7)))
    assert world.calls == [("reset", 7)]
    assert update["goal"] == "climb to 2" and update["observation"] == "at 0"
    assert update["admissible"] == ["up", "wait"] and update["intents"] == []


async def test_act_plays_the_tool_agents_command_for_the_current_intent():
    world, agent = Stairs(), tool({"command": "up"})
    episode = Episode(world)
    episode.reset()
    state: EmbodiedState = {
        "goal": "climb to 2",
        "observation": "at 0",
        "admissible": ["up", "wait"],
        "intents": ["go up once", "go up again"],
        "intent": 1,
    }
    update = await EmbodiedNodes(tool_agent=agent).act(state, Runtime(context=episode))
    assert world.calls == [("reset", 0), "up"] and episode.played == 1
    assert update["steps"] == [
        {"action": "up", "before": "at 0", "observation": "at 1", "reward": 0.0, "error": None}
    ]
    assert update["score"] == 1.0 and not update["won"] and not update["terminated"]
    assert "go up again" in agent.model.calls[0].messages[0]["content"]


async def test_act_replays_the_steps_on_a_fresh_world_after_a_resume():
    world = Stairs()
    state: EmbodiedState = {
        "goal": "climb to 2",
        "observation": "at 1",
        "steps": [step("up", observation="at 1"), step("wait", "at 1", "at 1")],
    }
    update = await EmbodiedNodes(tool_agent=tool({"command": "up"})).act(
        state, Runtime(context=Episode(world))
    )
    assert world.calls == [("reset", 0), "up", "wait", "up"]
    assert update["won"] and update["terminated"] and update["observation"] == "at 2"


async def test_act_ends_the_episode_as_failed_when_the_tool_agent_has_no_command():
    episode = Episode(Stairs())
    episode.reset()
    n = EmbodiedNodes(tool_agent=tool(ModelOutputError("no JSON")))
    update = await n.act({"goal": "g", "observation": "at 0"}, Runtime(context=episode))
    assert update["outcome"] == "failed" and update["terminated"]
    assert update["steps"][0]["error"].startswith("no command: ")
    assert episode.played == 0


async def test_plan_orders_the_intents_and_counts_a_replan():
    plan = {
        "subtasks": [
            {"id": "b", "description": "second", "depends_on": ["a"]},
            {"id": "a", "description": "first"},
        ]
    }
    planner = Planner(model=ScriptedModel([plan, plan]))
    n = EmbodiedNodes(tool_agent=tool(), planner=planner)
    assert await n.plan({"goal": "g"}) == {
        "intents": ["first", "second"],
        "intent": 0,
        "replans": 0,
    }
    again = await n.plan({"goal": "g", "replans": 0, "critiques": [{"issues": ["slow", "lost"]}]})
    assert again["replans"] == 1
    assert "slow; lost" in planner.model.calls[1].messages[0]["content"]


async def test_plan_falls_back_to_the_goal_when_the_planner_fails():
    n = EmbodiedNodes(tool_agent=tool(), planner=Planner(model=ScriptedModel(["no"])))
    assert await n.plan({"goal": "g"}) == {"intents": [], "intent": 0}


async def test_critique_moves_to_the_next_intent_on_accept_and_records_a_failing_critic():
    critic = Critic(model=ScriptedModel([{"score": 80, "route": "accept"}, ModelOutputError("x")]))
    n = EmbodiedNodes(tool_agent=tool(), critic=critic, critique_every=2)
    state: EmbodiedState = {
        "goal": "g",
        "intents": ["first", "second"],
        "intent": 0,
        "steps": [step("wait"), step("up", observation="at 1"), step("up", observation="at 2")],
    }
    update = await n.critique(state)
    assert update == {
        "critiques": [{"route": "accept", "score": 80, "issues": [], "at": 3}],
        "intent": 1,
    }
    shown = critic.model.calls[0].messages[0]["content"]
    assert "> up\nat 1" in shown and "> wait" not in shown  # only the last two steps
    assert (await n.critique(state))["critiques"][0]["route"] == "retry"


@pytest.mark.parametrize(
    ("state", "route"),
    [
        ({"steps": [step("up")], "terminated": True}, "finish"),
        ({"steps": [step("up")], "outcome": "crashed"}, "finish"),
        ({"steps": [step("up")] * 3}, "finish"),  # max_steps=3
        ({"steps": [step("up")] * 2}, "critique"),  # critique_every=2
        ({"steps": [step("up")]}, "act"),
    ],
)
async def test_after_act(state: Any, route: str):
    critic = Critic(model=ScriptedModel())
    with_critic = EmbodiedNodes(tool_agent=tool(), critic=critic, max_steps=3, critique_every=2)
    assert await with_critic.after_act(state) == route
    if route == "critique":  # without a critic there is nothing to critique
        alone = EmbodiedNodes(tool_agent=tool(), max_steps=3, critique_every=2)
        assert await alone.after_act(state) == "act"


async def test_after_start_and_after_critique():
    planner = Planner(model=ScriptedModel())
    assert await EmbodiedNodes(tool_agent=tool()).after_start({}) == "act"
    n = EmbodiedNodes(tool_agent=tool(), planner=planner, max_replans=1)
    assert await n.after_start({}) == "plan"
    replan: Any = {"critiques": [{"route": "replan"}], "replans": 0}
    assert await n.after_critique(replan) == "plan"
    assert await n.after_critique({**replan, "replans": 1}) == "act"
    assert await n.after_critique({"critiques": [{"route": "retry"}]}) == "act"


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ({"won": True}, "won"),
        ({"lost": True}, "lost"),
        ({"terminated": True}, "ended"),
        ({}, "max_steps"),
    ],
)
async def test_finish_names_the_outcome(state: Any, outcome: str):
    assert await EmbodiedNodes(tool_agent=tool()).finish(state) == {"outcome": outcome}
    assert await EmbodiedNodes(tool_agent=tool()).finish({"outcome": "failed"}) == {}
