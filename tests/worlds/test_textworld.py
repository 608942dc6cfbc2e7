"""TextWorld games generated during the test run: gold plans win, crashes end episodes."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from dramaturg.errors import ConfigError
from dramaturg.worlds import check_world, make_world
from dramaturg.worlds.textworld import CHALLENGE_DEFAULTS, TextWorldWorld, generate_game

CHALLENGES = sorted(CHALLENGE_DEFAULTS)


@pytest.mark.parametrize("challenge", CHALLENGES)
def test_gold_plan_wins_on_a_freshly_generated_game(challenge):
    with make_world(f"textworld/{challenge}") as world:
        obs, info = world.reset(seed=1)
        assert obs and info["gold_plan"], "every challenge has a walkthrough"
        assert "$$" not in obs and obs[0].isalnum(), "the ASCII-art logo is left out"
        assert info["admissible_actions"] and info["max_score"] > 0
        total = 0.0
        for command in info["gold_plan"]:
            obs, reward, terminated, _truncated, info = world.step(command)
            total += reward
        assert terminated and info["won"] and not info["lost"]
        assert total == info["score"] == info["max_score"]
        assert "RESTART" not in obs


@pytest.mark.parametrize(
    "challenge",
    [
        "tw-coin_collector",
        *[pytest.param(c, marks=pytest.mark.slow) for c in CHALLENGES if c != "tw-coin_collector"],
    ],
)
def test_check_world(challenge):
    with make_world(f"textworld/{challenge}") as world:
        check_world(world)


def test_games_are_cached_by_challenge_options_and_seed():
    first = generate_game("tw-coin_collector", seed=1)
    mtime = first.stat().st_mtime_ns
    again = generate_game("tw-coin_collector", seed=1)
    assert again == first and again.stat().st_mtime_ns == mtime  # not regenerated
    other = generate_game("tw-coin_collector", {"level": 2}, seed=1)
    assert other != first and other.is_file()
    with pytest.raises(ConfigError, match="tw-cooking"):
        generate_game("tw-nope", seed=0)


def test_same_seed_same_game_different_seed_different_game():
    with make_world("textworld/tw-simple") as w:
        obs0, info0 = w.reset(seed=1)
        obs1, info1 = w.reset(seed=2)
        obs0b, info0b = w.reset(seed=1)
    assert (obs0, info0["gold_plan"]) == (obs0b, info0b["gold_plan"])
    assert (obs0, info0["gold_plan"]) != (obs1, info1["gold_plan"])


def test_bad_actions_return_reasons():
    with make_world("textworld/tw-coin_collector") as w:
        w.reset(seed=1)
        for action, reason in [
            (None, "text commands"),
            (3.5, "text commands"),
            ("  \x00 ", "Empty command"),
        ]:
            obs, reward, terminated, _, info = w.step(action)
            assert reason in obs and info["error"] == obs and not terminated and reward == 0
        obs, _, terminated, _, info = w.step("dance with the grue")
        assert not terminated and "not one of the admissible commands" in info["error"]
        assert obs  # the game's own answer
        for command in info["gold_plan"]:
            *_, terminated, _, info = w.step(command)
        assert terminated and info["won"]
        obs, _, terminated, _, info = w.step("look")
        assert terminated and "episode is over" in obs


def test_in_process_and_isolated_engines_play_the_same_episode():
    runs = []
    for isolate in (True, False):
        with TextWorldWorld("tw-simple", isolate=isolate) as w:
            obs, info = w.reset(seed=1)
            trace = [obs]
            for command in info["gold_plan"]:
                obs, reward, *_ = w.step(command)
                trace.append((obs, reward))
            runs.append(trace)
    assert runs[0] == runs[1]


def test_a_killed_game_process_ends_the_episode_as_an_error():
    with TextWorldWorld("tw-coin_collector") as w:
        _, info = w.reset(seed=1)
        pid = w._engine.pid
        os.kill(pid, signal.SIGKILL)
        obs, _reward, terminated, truncated, info = w.step("look")
        assert (
            terminated and not truncated and info["crashed"] and "crashed" in obs and info["error"]
        )
        # The world recovers on the next reset with a fresh engine.
        _, info = w.reset(seed=1)
        assert w._engine.pid != pid
        *_, terminated, _, info = w.step(info["gold_plan"][0])
        assert terminated and info["won"]


def test_a_hung_game_process_times_out_instead_of_hanging():
    with TextWorldWorld("tw-coin_collector", step_timeout=1.5) as w:
        w.reset(seed=1)
        proc = w._engine._proc
        os.kill(proc.pid, signal.SIGSTOP)
        start = time.perf_counter()
        obs, _, terminated, _, info = w.step("look")
        assert time.perf_counter() - start < 10
        assert terminated and info["crashed"] and "did not answer" in obs
        assert proc.poll() is not None  # the stuck engine was killed, not leaked


def test_close_stops_the_engine_process():
    w = TextWorldWorld("tw-coin_collector")
    w.reset(seed=1)
    proc = w._engine._proc
    w.close()
    assert proc.poll() is not None


def test_policy_commands_lead_to_a_win_from_the_current_state():
    with TextWorldWorld("tw-simple", policy_commands=True) as w:
        _, info = w.reset(seed=1)
        assert info["policy_commands"]
        *_, info = w.step(info["gold_plan"][0])
        for command in info["policy_commands"]:
            *_, terminated, _, info = w.step(command)
        assert terminated and info["won"]
    with TextWorldWorld("tw-simple") as w:
        _, info = w.reset(seed=1)
        assert info["policy_commands"] is None  # off by default: it replans every step


def test_a_saved_state_is_replayed_into_a_fresh_world():
    with TextWorldWorld("tw-simple") as world, TextWorldWorld("tw-simple") as fresh:
        _, info = world.reset(seed=1)
        plan = info["gold_plan"]
        half = len(plan) // 2
        for command in plan[:half]:
            world.step(command)
        state = json.loads(json.dumps(world.get_state()))
        assert state["seed"] == 1 and state["actions"] == plan[:half]
        fresh.set_state(state)
        assert fresh.get_state() == state
        for command in plan[half:]:
            *_, terminated, _, info = fresh.step(command)
        assert half and terminated and info["won"]
