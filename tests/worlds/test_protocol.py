"""The World protocol, the registry and check_world (which must catch broken worlds)."""

from __future__ import annotations

import json
import random
import re

import pytest

from dramaturg.errors import ConfigError, DramaturgError
from dramaturg.worlds import (
    INFO_KEYS,
    BaseWorld,
    Event,
    World,
    WorldCheckError,
    WorldError,
    WorldNotResetError,
    check_world,
    list_worlds,
    make_info,
    make_world,
    register_world,
)

EXPECTED = {
    "theatre/elsinore",
    "textworld/tw-simple",
    "textworld/tw-cooking",
    "textworld/tw-coin_collector",
    "textworld/tw-treasure_hunter",
    "textworld/custom",
    "alfworld/pick_and_place_simple",
    "alfworld/look_at_obj_in_light",
    "alfworld/pick_clean_then_place_in_recep",
    "alfworld/pick_heat_then_place_in_recep",
    "alfworld/pick_cool_then_place_in_recep",
    "alfworld/pick_two_obj_and_place",
    "web/shop",
    "web/wiki",
}


class Counter(BaseWorld):
    """A tiny correct world: count to three."""

    id = "test/counter"

    def __init__(self, *, flaw: str = "") -> None:
        super().__init__()
        self.flaw = flaw

    def reset(self, *, seed=None, options=None):
        self.n = 0
        self.rng = random.Random(seed if self.flaw != "unseeded" else None)
        self._running = True
        return "0", make_info(admissible_actions=["inc"], gold_plan=["inc"] * 3, max_score=3.0)

    def step(self, action):
        self._require_running()
        if action != "inc":
            if self.flaw == "raises":
                raise ValueError("boom")
            return (
                f"Unknown action {action!r}; try inc.",
                0.0,
                False,
                False,
                make_info(error="unknown action"),
            )
        self.n += 1
        noise = self.rng.random() if self.flaw == "unseeded" else 0.0
        info = make_info(
            admissible_actions=["inc"], score=float(self.n), max_score=3.0, won=self.n >= 3
        )
        if self.flaw == "missing_key":
            del info["gold_plan"]
        if self.flaw == "bad_reward":
            return str(self.n), "one", False, False, info
        info["events"] = [
            self._new_event(
                step=self.n,
                place=None,
                actor="agent",
                kind="inc",
                text=f"{self.n} {noise}",
                witnesses={"agent"},
            )
        ]
        return str(self.n), 1.0, self.n >= 3, False, info


def test_registry_lists_every_builtin_world():
    assert EXPECTED <= set(list_worlds())
    assert list_worlds("web") == ["web/shop", "web/wiki"]


def test_make_world_unknown_id_names_the_known_ones():
    with pytest.raises(ConfigError, match="theatre/elsinore"):
        make_world("theatre/nowhere")


def test_register_custom_world_and_duplicate_guard():
    register_world("test/counter", Counter, overwrite=True)
    world = make_world("test/counter")
    assert isinstance(world, World)
    check_world(world)
    with pytest.raises(ConfigError, match="already registered"):
        register_world("test/counter", Counter)
    with pytest.raises(ConfigError, match="family/name"):
        register_world("nofamily", Counter)


@pytest.mark.parametrize(
    ("flaw", "message"),
    [
        ("unseeded", "same seed, different episode"),
        ("raises", "raised ValueError"),
        ("missing_key", "lacks keys ['gold_plan']"),
        ("bad_reward", "reward must be a number"),
    ],
)
def test_check_world_catches_broken_worlds(flaw, message):
    with pytest.raises(WorldCheckError, match=re.escape(message)):
        check_world(Counter(flaw=flaw))
    assert issubclass(WorldCheckError, DramaturgError)


def test_make_info_has_every_key_and_events_are_hashable_records():
    info = make_info()
    assert set(INFO_KEYS) <= set(info)
    e = Event(
        id="e1",
        step=1,
        place="hall",
        actor="a",
        kind="say",
        text="hi",
        witnesses=frozenset({"a", "b"}),
        data={"line": "hi"},
    )
    assert {e: 1}[e] == 1  # usable as a key by the memory subsystem
    assert e.to_dict() == {
        "id": "e1",
        "step": 1,
        "place": "hall",
        "actor": "a",
        "kind": "say",
        "text": "hi",
        "witnesses": ["a", "b"],
        "data": {"line": "hi"},
    }
    assert Event.from_dict(e.to_dict()) == e


def test_a_base_world_saves_its_episode_and_a_fresh_one_replays_it():
    world = Counter()
    world.reset(seed=7)
    world.step("inc")
    world.step("jump")  # refused, but part of the episode
    state = world.get_state()
    assert json.loads(json.dumps(state)) == state  # JSON-ready
    assert (state["world"], state["seed"], state["actions"]) == ("test/counter", 7, ["inc", "jump"])
    fresh = Counter()
    fresh.set_state(state)
    assert fresh.n == 1 and fresh.get_state() == state
    assert fresh.step("inc")[0] == world.step("inc")[0] == "2"
    world.reset(seed=7)  # a reset starts a new record
    assert world.get_state()["actions"] == []


def test_set_state_refuses_a_foreign_state_and_one_that_replays_elsewhere():
    world = Counter()
    with pytest.raises(WorldNotResetError):
        world.get_state()
    world.reset(seed=1)
    state = world.get_state()
    with pytest.raises(WorldError, match="from 'test/other'"):
        world.set_state({**state, "world": "test/other"})
    with pytest.raises(WorldError, match="not a state from get_state"):
        world.set_state({"version": 2})
    noisy = Counter(flaw="unseeded")  # its events differ on every replay
    noisy.reset(seed=1)
    noisy.step("inc")
    with pytest.raises(WorldError, match="not deterministic"):
        Counter(flaw="unseeded").set_state(noisy.get_state())


class Forgetful(Counter):
    """set_state does nothing."""

    def set_state(self, state):
        pass


class Unsaveable(Counter):
    """get_state returns something JSON cannot hold."""

    def get_state(self):
        return {"n": {self.n}}


@pytest.mark.parametrize(
    ("world", "message"),
    [
        (Forgetful(), "after set_state(state), get_state() must return that state"),
        (Unsaveable(), "JSON-ready"),
    ],
)
def test_check_world_catches_a_state_that_does_not_round_trip(world, message):
    with pytest.raises(WorldCheckError, match=re.escape(message)):
        check_world(world)
