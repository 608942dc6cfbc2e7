"""ALFWorld-style games: generated PDDL problems on the wheel's domain, won by the planner's plan."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from dramaturg.errors import ConfigError
from dramaturg.worlds import check_world, make_world
from dramaturg.worlds.alfworld import TASK_TYPES, game_file, make_game, split_of_object


def _play_gold(task_type: str, split: str, seed: int) -> dict:
    with make_world(f"alfworld/{task_type}", split=split) as world:
        obs, info = world.reset(seed=seed)
        assert "Your task is to:" in obs and info["objective"]
        plan = info["gold_plan"]
        assert plan, "the planner found a plan"
        assert not info["won"]
        for command in plan:
            assert command in info["admissible_actions"], command
            obs, reward, terminated, _truncated, info = world.step(command)
        assert terminated and info["won"] and reward == 1.0 and info["score"] == 1.0
        return info


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_gold_plan_wins_every_task_type(task_type):
    info = _play_gold(task_type, "seen", 0)
    assert info["game"]["task_type"] == task_type


def test_gold_plan_wins_unseen_split():
    info = _play_gold("pick_heat_then_place_in_recep", "unseen", 0)
    assert info["game"]["split"] == "unseen"


@pytest.mark.slow
@pytest.mark.parametrize("split", ["seen", "unseen"])
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_gold_plan_wins_more_seeds(task_type, split):
    for seed in (1, 2, 3):
        _play_gold(task_type, split, seed)


@pytest.mark.parametrize(
    "task_type",
    [
        "pick_clean_then_place_in_recep",
        *[
            pytest.param(t, marks=pytest.mark.slow)
            for t in TASK_TYPES
            if t != "pick_clean_then_place_in_recep"
        ],
    ],
)
def test_check_world(task_type):
    with make_world(f"alfworld/{task_type}") as world:
        check_world(world)


def test_the_gold_plan_is_stored_in_the_game_after_the_first_reset():
    with make_world("alfworld/pick_two_obj_and_place") as world:
        _, info = world.reset(seed=0)
    path, _ = game_file("pick_two_obj_and_place", seed=0)
    assert json.loads(path.read_text())["walkthrough"] == info["gold_plan"]
    with make_world("alfworld/pick_two_obj_and_place", isolate=False) as world:
        _, again = world.reset(seed=0)
    assert again["gold_plan"] == info["gold_plan"]


def test_game_is_the_alfworld_json_on_the_wheels_domain_and_grammar():
    game, spec = make_game("pick_two_obj_and_place", seed=4)
    assert set(game) == {"pddl_domain", "grammar", "pddl_problem"}
    assert (
        game["pddl_domain"]
        == resources.files("alfworld").joinpath("data", "alfred.pddl").read_text()
    )
    assert f"Your task is to: {spec.goal_text}." in game["grammar"]
    objects = re.findall(r"^\s+(\S+) - object$", game["pddl_problem"], re.M)
    assert objects and all(
        re.match(
            r"^[A-Z][A-Za-z]+_bar__(plus|minus)_\d\d_dot_\d\d(_bar__(plus|minus)_\d\d_dot_\d\d){2}$",
            o,
        )
        for o in objects
    )
    # Two instances of the target at least, for the two-object task.
    assert sum(o.startswith(spec.target + "_bar_") for o in objects) >= 2


def test_generation_is_seeded():
    a, _ = make_game("pick_cool_then_place_in_recep", seed=7)
    b, _ = make_game("pick_cool_then_place_in_recep", seed=7)
    c, _ = make_game("pick_cool_then_place_in_recep", seed=8)
    assert a == b and a != c
    path, spec = game_file("pick_cool_then_place_in_recep", seed=7)
    stored = json.loads(path.read_text())
    assert {k: stored[k] for k in a} == a and spec.seed == 7


def test_unseen_split_has_other_rooms_and_other_target_objects():
    specs = {
        split: [make_game(t, seed=s, split=split)[1] for t in TASK_TYPES for s in range(6)]
        for split in ("seen", "unseen")
    }
    seen_plans = {s.floor_plan for s in specs["seen"]}
    unseen_plans = {s.floor_plan for s in specs["unseen"]}
    assert seen_plans and unseen_plans and not seen_plans & unseen_plans
    seen_targets = {s.target for s in specs["seen"]}
    unseen_targets = {s.target for s in specs["unseen"]}
    assert not seen_targets & unseen_targets
    assert all(split_of_object(t) == "unseen" for t in unseen_targets)


def test_bad_arguments_and_actions():
    with pytest.raises(ConfigError, match="pick_and_place_simple"):
        make_game("juggle", seed=0)
    with pytest.raises(ConfigError, match="split"):
        make_game("pick_and_place_simple", seed=0, split="train")
    with make_world("alfworld/pick_and_place_simple") as world:
        world.reset(seed=0)
        obs, reward, terminated, _, info = world.step("fly to the moon")
        assert (
            obs == "Nothing happens."
            and "admissible" in info["error"]
            and not terminated
            and reward == 0
        )


def test_a_killed_engine_ends_the_episode_as_an_error():
    import os
    import signal

    with make_world("alfworld/pick_and_place_simple") as world:
        _, info = world.reset(seed=0)
        os.kill(world._engine.pid, signal.SIGKILL)
        obs, reward, terminated, _, info = world.step(info["gold_plan"][0])
        assert terminated and info["crashed"] and "crashed" in obs and reward == 0
        _, info = world.reset(seed=0)  # a fresh engine
        assert info["gold_plan"] and not info["won"]


def test_a_saved_state_is_replayed_into_a_fresh_world():
    with (
        make_world("alfworld/pick_and_place_simple") as world,
        make_world("alfworld/pick_and_place_simple") as fresh,
    ):
        _, info = world.reset(seed=0)
        plan = info["gold_plan"]
        for command in plan[:2]:
            world.step(command)
        state = json.loads(json.dumps(world.get_state()))
        assert state["world"] == "alfworld/pick_and_place_simple" and state["actions"] == plan[:2]
        fresh.set_state(state)
        for command in plan[2:]:
            *_, terminated, _, info = fresh.step(command)
        assert terminated and info["won"]
