"""The observation-only ALFWorld-style expert, and DAgger data labelled by it.

Measured on generated games (2 CPU cores; the expert's own commands from the
reset, or after k random admissible commands, seeded; ``-m slow`` below
re-measures seeds 0-7), every task type alike:

* unseen split, seeds 0-9 (59 games: the planner never finished building
  pick_two_obj_and_place/unseen/8, a world problem): 59 of 59 won from the
  reset (11.2 commands on average, at most 32), 59 of 59 after 5 random
  commands, 59 of 59 after 15;
* seen split, seeds 0-9: 60 of 60 from the reset, 60 of 60 after 10 random commands;
* with ``prior=False`` (no idea where things are kept): unseen 59 of 59 from
  the reset, in 15.1 commands on average, at most 48 (the worlds stop at 50).

Every game played here also checks the tool agent's guards: no command the
expert plays is one :func:`goal_strays` or :func:`search_strays` keeps off the grammar
(12 games from the reset and after 5 random commands by default; the 96 games of
both splits, seeds 0-7, with ``-m slow``: 7 minutes, passed 2026-12-04).
"""

from __future__ import annotations

import json
import random
from typing import Any, ClassVar

import pytest

from dramaturg.agents.tool_agent import goal_strays, search_strays
from dramaturg.errors import ConfigError
from dramaturg.evals import agents as eval_agents
from dramaturg.training._games import case_for_game, prompt_agent, tool_agent_messages
from dramaturg.training.dagger import dagger_examples
from dramaturg.training.data import SFTExample
from dramaturg.training.expert import AlfworldTask, alfworld_expert, alfworld_task
from dramaturg.worlds.alfworld import TASK_TYPES

#: Unseen games whose planner (run once per game at its first reset) answers in seconds.
SEEDS = (0, 1)


def _play(task: str, seed: int, *, detour: int = 0, split: str = "unseen") -> tuple[bool, int]:
    """Play a game with ``detour`` random admissible commands, then the expert's;
    ``(won, expert commands)``. Every expert command must be admissible."""
    case = case_for_game(f"alfworld/{task}/{split}/{seed}")
    rng = random.Random(f"{task}/{seed}")
    with eval_agents.make_case_world(case) as world:
        obs, info = world.reset(seed=case.seed)
        goal = info["objective"]
        history: list[tuple[str, str]] = []
        by_expert = 0
        while True:
            admissible = info["admissible_actions"]
            if len(history) < detour:
                command = rng.choice([c for c in admissible if c != "help"])
            else:
                command = alfworld_expert(goal, history, obs, admissible)
                assert command is not None, (goal, history, obs)
                assert command in admissible
                # the tool agent's guard never keeps what the expert plays off the grammar
                assert command not in goal_strays(goal, admissible, history), (goal, command)
                assert command not in search_strays(goal, admissible, history, obs), (
                    goal,
                    command,
                )
                by_expert += 1
            history.append((obs, command))
            obs, _, terminated, truncated, info = world.step(command)
            if terminated or truncated:
                return bool(info["won"]), by_expert


@pytest.mark.parametrize(
    ("goal", "task"),
    [
        ("put a mug in cabinet.", AlfworldTask(kind="place", thing="mug", where="cabinet")),
        ("put some cloth on bathtubbasin.", AlfworldTask(kind="place", thing="cloth", where="bathtubbasin")),
        ("put a clean mug in microwave.", AlfworldTask(kind="clean", thing="mug", where="microwave")),
        ("clean some soapbar and put it in toilet.", AlfworldTask(kind="clean", thing="soapbar", where="toilet")),
        ("put a hot mug in diningtable.", AlfworldTask(kind="heat", thing="mug", where="diningtable")),
        ("heat some egg and put it in countertop.", AlfworldTask(kind="heat", thing="egg", where="countertop")),
        ("put a cool winebottle in countertop.", AlfworldTask(kind="cool", thing="winebottle", where="countertop")),
        ("cool some bread and put it in garbagecan.", AlfworldTask(kind="cool", thing="bread", where="garbagecan")),
        ("put two cellphone in sidetable.", AlfworldTask(kind="two", thing="cellphone", where="sidetable")),
        ("find two cloth and put them in sinkbasin.", AlfworldTask(kind="two", thing="cloth", where="sinkbasin")),
        ("look at keychain under the floorlamp.", AlfworldTask(kind="look", thing="keychain", where="floorlamp")),
        ("examine the pen with the desklamp.", AlfworldTask(kind="look", thing="pen", where="desklamp")),
        ("Your task is to: put a hot mug in diningtable.", AlfworldTask(kind="heat", thing="mug", where="diningtable")),
        ("go north", None),
    ],
)  # fmt: skip
def test_goal_templates_of_the_six_task_types(goal, task):
    assert alfworld_task(goal) == task


ROOM = (
    "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly "
    "around you, you see a cabinet 2, a cabinet 1, a countertop 1, a diningtable 1, a fridge 1, "
    "a microwave 1, and a sinkbasin 1.\n\nYour task is to: put a hot mug in diningtable."
)
GOTOS = [
    f"go to {p}"
    for p in (
        "cabinet 1",
        "cabinet 2",
        "countertop 1",
        "diningtable 1",
        "fridge 1",
        "microwave 1",
        "sinkbasin 1",
    )
]


def test_the_expert_puts_a_wrong_thing_back_and_goes_on_searching():
    goal = "put a hot mug in diningtable."
    history = [(ROOM, "go to countertop 1")]
    at_counter = "You arrive at countertop 1. On the countertop 1, you see a apple 1, and a cup 1."
    admissible = [*GOTOS, "take apple 1 from countertop 1", "take cup 1 from countertop 1"]
    # The room shows no mug: on to the next place a mug may be, in a fixed order.
    assert alfworld_expert(goal, history, at_counter, admissible) == "go to cabinet 1"
    history.append((at_counter, "take cup 1 from countertop 1"))
    holding = "You pick up the cup 1 from the countertop 1."
    admissible = [*GOTOS, "move cup 1 to countertop 1", "examine cup 1"]
    assert alfworld_expert(goal, history, holding, admissible) == "move cup 1 to countertop 1"
    # Walked away with it: go back to put it down (a failed command changes nothing).
    history.append((holding, "go to cabinet 1"))
    closed = "You arrive at cabinet 1. The cabinet 1 is closed."
    history.append((closed, "move cup 1 to cabinet 1"))
    back = alfworld_expert(goal, history, "Nothing happens.", [*GOTOS, "open cabinet 1"])
    assert back == "go to countertop 1"
    again = "You arrive at countertop 1. On the countertop 1, you see a apple 1."
    history += [("Nothing happens.", back), (again, "move cup 1 to countertop 1")]
    put = "You move the cup 1 to the countertop 1."
    # Then on with the search: cabinet 1 was shut, so it was not looked into.
    assert alfworld_expert(goal, history, put, GOTOS) == "go to cabinet 1"


def test_the_expert_heats_what_it_found_on_the_way_and_puts_it_where_the_goal_says():
    goal = "put a hot mug in diningtable."
    open_cab = "You open the cabinet 1. The cabinet 1 is open. In it, you see a mug 3."
    history = [
        (ROOM, "go to cabinet 1"),
        ("You arrive at cabinet 1. The cabinet 1 is closed.", "open cabinet 1"),
        (open_cab, "go to countertop 1"),  # walked past it (an agent's mistake)
    ]
    at_counter = "You arrive at countertop 1. On the countertop 1, you see nothing."
    assert alfworld_expert(goal, history, at_counter, GOTOS) == "go to cabinet 1"
    history += [
        (at_counter, "go to cabinet 1"),
        ("You arrive at cabinet 1. The cabinet 1 is open. In it, you see a mug 3.", "take mug 3 from cabinet 1"),
    ]  # fmt: skip
    took = "You pick up the mug 3 from the cabinet 1."
    assert alfworld_expert(goal, history, took, GOTOS) == "go to microwave 1"
    history.append((took, "go to microwave 1"))
    at_oven = "You arrive at microwave 1. The microwave 1 is closed."
    heat = "heat mug 3 with microwave 1"
    assert alfworld_expert(goal, history, at_oven, [*GOTOS, heat, "open microwave 1"]) == heat
    history.append((at_oven, heat))
    heated = "You heat the mug 3 using the microwave 1."
    assert alfworld_expert(goal, history, heated, [*GOTOS, heat]) == "go to diningtable 1"
    history.append((heated, "go to diningtable 1"))
    at_table = "You arrive at diningtable 1. On the diningtable 1, you see a egg 1."
    put = "move mug 3 to diningtable 1"
    assert alfworld_expert(goal, history, at_table, [*GOTOS, put]) == put
    # It never names a command the world does not accept now.
    assert alfworld_expert(goal, history, at_table, GOTOS) is None
    assert alfworld_expert("go north", [], ROOM.rsplit("\n", 1)[0], GOTOS) is None


@pytest.mark.parametrize("task", TASK_TYPES)
def test_the_expert_wins_every_task_type_from_reset_and_after_random_commands(task):
    for seed in SEEDS:
        won, _ = _play(task, seed)
        assert won, f"{task} unseen/{seed} from reset"
    # After five random admissible commands (a take, a walk, an open...), it wins from there.
    wins = [_play(task, seed, detour=5)[0] for seed in SEEDS]
    assert sum(wins) >= len(SEEDS) - 1, wins


class _WatchedInfo(dict):
    """An info dict that notes the keys read from it."""

    read: ClassVar[set[str]] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


class _Watched:
    """A world whose infos note the keys read from them, and are kept."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.infos: list[_WatchedInfo] = []

    def __enter__(self) -> _Watched:
        self.world.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.world.__exit__(*exc)

    def reset(self, **kw: Any) -> Any:
        obs, info = self.world.reset(**kw)
        self.infos.append(_WatchedInfo(info))
        return obs, self.infos[-1]

    def step(self, command: str) -> Any:
        *rest, info = self.world.step(command)
        self.infos.append(_WatchedInfo(info))
        return (*rest, self.infos[-1])


def test_dagger_labels_the_states_the_policy_reaches_with_the_expert_command(monkeypatch):
    real = eval_agents.make_case_world
    monkeypatch.setattr(eval_agents, "make_case_world", lambda case: _Watched(real(case)))
    _WatchedInfo.read = set()
    asked: list[tuple[str, list[tuple[str, str]], str, list[str], str]] = []
    rng = random.Random(0)

    def wander(goal, history, observation, admissible):
        command = rng.choice(admissible)
        asked.append((goal, list(history), observation, list(admissible), command))
        return command

    games = [
        "alfworld/pick_heat_then_place_in_recep/unseen/0",
        "alfworld/look_at_obj_in_light/unseen/1",
    ]
    data = dagger_examples(games, wander, max_steps=12, history_turns=4, recap=8)
    assert "gold_plan" not in _WatchedInfo.read and "policy_commands" not in _WatchedInfo.read

    assert [g.game for g in data.games] == games and all(g.error is None for g in data.games)
    assert len(asked) == sum(g.steps for g in data.games) == sum(g.asked for g in data.games)
    assert len(data.examples) == sum(g.labelled for g in data.games) == len(asked)
    agent = prompt_agent(history_turns=4, recap=8)
    disagreed = 0
    for record, (goal, history, observation, admissible, played) in zip(
        data.examples, asked, strict=True
    ):
        assert set(record) == {"messages", "game", "world", "source", "step"}
        assert record["source"] == "dagger" and record["step"] == len(history)
        example = SFTExample(**record)  # the shape build_sft_data writes
        assert example.prompt == tool_agent_messages(
            agent, goal=goal, observation=observation, history=history, admissible=admissible
        )
        label = alfworld_expert(goal, history, observation, admissible)
        assert example.answer == json.dumps({"command": label}) and label in admissible
        disagreed += label != played
    assert disagreed > len(asked) // 2  # prompts follow the wandering, labels the expert
    assert sum(g.agreed for g in data.games) == len(asked) - disagreed

    # beta=1: the expert plays every step (the policy is never asked) and wins.
    def never(*args):
        raise AssertionError("the policy is not asked when beta is 1")

    sure = dagger_examples(games, never, beta=1.0)
    assert sure.success == 1.0 and sure.agreement == 0.0
    assert [r["messages"][-1] for r in sure.examples] == [
        r["messages"][-1] for r in dagger_examples(games, never, beta=1.0).examples
    ]


def test_dagger_mixes_the_expert_in_with_probability_beta():
    calls = 0

    def wander(goal, history, observation, admissible):
        nonlocal calls
        calls += 1
        return sorted(admissible)[-1]

    game = "alfworld/pick_and_place_simple/unseen/0"
    data = dagger_examples([game], wander, beta=0.5, seed=3, max_steps=20)
    again = dagger_examples([game], wander, beta=0.5, seed=3, max_steps=20)
    assert data.examples == again.examples  # seeded
    steps = data.games[0].steps
    assert 0 < data.games[0].asked < steps and calls == 2 * data.games[0].asked


class _LastAdmissible:
    """A picklable policy (worker processes get a copy)."""

    def __call__(self, goal, history, observation, admissible):
        return sorted(admissible)[-1]


def test_dagger_plays_games_side_by_side_as_it_does_in_turn():
    games = [f"alfworld/pick_and_place_simple/unseen/{i}" for i in range(3)]
    ended: list[str] = []
    apart = dagger_examples(
        games,
        _LastAdmissible(),
        beta=0.5,
        max_steps=8,
        workers=2,
        on_game=lambda g: ended.append(g.game),
    )
    in_turn = dagger_examples(games, _LastAdmissible(), beta=0.5, max_steps=8)
    assert apart.examples == in_turn.examples and apart.games == in_turn.games
    assert ended == games  # told in the cases' order
    with pytest.raises(ConfigError, match="picklable policy"):
        dagger_examples(games, lambda *a: "look", workers=2)


def test_dagger_refuses_worlds_without_an_expert_and_bad_beta():
    with pytest.raises(ConfigError, match="no expert"):
        dagger_examples(["theatre/hamlet/0"], lambda *a: "look")
    with pytest.raises(ConfigError, match="beta"):
        dagger_examples(["alfworld/pick_and_place_simple/unseen/0"], lambda *a: "look", beta=2)


def test_dagger_on_textworld_labels_with_the_replanning_policy(monkeypatch):
    real = eval_agents.make_case_world
    worlds: list[_Watched] = []

    def watched(case):
        worlds.append(_Watched(real(case)))
        return worlds[-1]

    monkeypatch.setattr(eval_agents, "make_case_world", watched)
    rng = random.Random(1)
    data = dagger_examples(["textworld/tw-simple/0"], lambda g, h, o, a: rng.choice(a), max_steps=6)
    assert data.games[0].labelled == data.games[0].steps == 6
    infos = worlds[0].infos  # the info of each state the wandering reached
    assert [json.loads(r["messages"][-1]["content"])["command"] for r in data.examples] == [
        info["policy_commands"][0] for info in infos[:6]
    ]
    sure = dagger_examples(["textworld/tw-simple/0"], lambda *a: "look", beta=1.0)
    assert sure.games[0].won and sure.games[0].asked == 0


@pytest.mark.slow
@pytest.mark.parametrize("split", ["unseen", "seen"])
def test_expert_win_rate(split):
    """The figures in the module docstring: at least 90% of each task type."""
    for task in TASK_TYPES:
        fresh = [_play(task, seed, split=split)[0] for seed in range(8)]
        detour = [_play(task, seed, split=split, detour=5)[0] for seed in range(8)]
        assert sum(fresh) >= 7 and sum(detour) >= 7, (task, fresh, detour)


def test_the_recipe_guard_never_keeps_a_winning_command_off_the_grammar():
    """The gold plans of real cooking games (a cut and a cooking, a bought fried one, both)."""
    from dramaturg.agents.tool_agent import read_notes, recipe_strays

    for seed in (2, 3, 6):  # dice + roast; an ingredient bought fried; slice + fry
        case = case_for_game(f"textworld/tw-cooking/{seed}")
        with eval_agents.make_case_world(case) as world:
            obs, info = world.reset(seed=case.seed)
            history: list[tuple[str, str]] = []
            for command in info["gold_plan"]:
                notes = read_notes(history, obs, 4000) if history else ""
                strays = recipe_strays(notes, info["admissible_actions"], history, obs)
                assert command not in strays
                history.append((obs, command))
                obs, _, _, _, info = world.step(command)
            assert info["won"] and "Directions:" in notes
