"""Training data: broken lines are named, games never cross splits, prompts match inference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dramaturg.errors import ConfigError
from dramaturg.evals import DatasetError
from dramaturg.models import assistant, system, user
from dramaturg.training import SFTExample, build_sft_data, check_splits, load_sft_data, load_splits
from dramaturg.training._splits import assign_games, dedupe, split_cases, splits_path

GOOD = {
    "messages": [
        system("Goal: eat"),
        user("You see an apple.\nCommands: eat apple, look"),
        assistant('{"command": "eat apple"}'),
    ],
    "game": "tw/0",
}


def _with(**changes) -> dict:
    line = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            line.pop(key)
        else:
            line[key] = value
    return line


def _msgs(*items) -> list[dict]:
    return [{"role": r, "content": c} for r, c in items]


BROKEN = [
    ("not json", "{oops", None),
    ("an array", [1, 2], None),
    ("no messages", _with(messages=None), "messages"),
    ("empty messages", _with(messages=[]), "messages"),
    (
        "unknown role",
        _with(messages=_msgs(("system", "s"), ("robot", "hi"), ("assistant", '{"command": "x"}'))),
        "messages[1].role",
    ),
    (
        "content not text",
        _with(messages=[{"role": "user", "content": 5}, {"role": "assistant", "content": "{}"}]),
        "messages[0].content",
    ),
    (
        "last is the user's",
        _with(messages=_msgs(("user", "hi"), ("assistant", '{"command": "x"}'), ("user", "?"))),
        "messages[2].role",
    ),
    (
        "no user message",
        _with(messages=_msgs(("system", "s"), ("assistant", '{"command": "x"}'))),
        "messages",
    ),
    (
        "answer not JSON",
        _with(messages=_msgs(("user", "hi"), ("assistant", "go north"))),
        "messages[1].content",
    ),
    (
        "answer not a command",
        _with(messages=_msgs(("user", "hi"), ("assistant", '{"cmd": "x"}'))),
        "messages[1].content",
    ),
    (
        "answer not canonical",
        _with(messages=_msgs(("user", "hi"), ("assistant", '{"command":"x"}'))),
        "messages[1].content",
    ),
    ("no game", _with(game=None), "game"),
    ("unknown field", _with(label="x"), "label"),
    ("step not a number", _with(step="3"), "step"),
]


@pytest.mark.parametrize(("what", "line", "field"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_line_is_named_with_its_field(tmp_path, what, line, field):
    path = tmp_path / "data.jsonl"
    text = line if isinstance(line, str) else json.dumps(line)
    path.write_text(json.dumps(GOOD) + "\n\n" + text + "\n")
    with pytest.raises(DatasetError) as err:
        load_sft_data(path)
    assert err.value.line == 3 and err.value.field == field, what
    assert f"{path} line 3" in str(err.value)
    if field:
        assert repr(field) in str(err.value)


def test_a_good_file_loads_and_names_its_command(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    [example] = load_sft_data(path)
    assert example.command == "eat apple" and example.prompt == GOOD["messages"][:2]


def test_splits_that_share_a_game_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="'tw/0' is in both the train and the test split"):
        check_splits({"train": ["tw/0", "tw/1"], "test": ["tw/0"]})
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(GOOD) + "\n" + json.dumps(_with(game="tw/9")) + "\n")
    splits_path(data).write_text(json.dumps({"train": ["tw/0"], "test": ["tw/0"]}))
    with pytest.raises(ConfigError, match="both"):
        load_sft_data(data, split="train")
    splits_path(data).write_text(json.dumps({"train": ["tw/0"], "test": ["tw/1"]}))
    with pytest.raises(DatasetError) as err:  # a game in no split cannot be trusted either way
        load_sft_data(data, split="test")
    assert err.value.line == 2 and err.value.field == "game"


def test_games_are_assigned_to_exactly_one_split():
    games = [f"g/{i}" for i in range(20)]
    splits = assign_games(games, test_frac=0.2, valid_frac=0.1, seed=3)
    assert sorted(g for part in splits.values() for g in part) == sorted(games)
    assert (len(splits["test"]), len(splits["valid"])) == (4, 2)
    assert splits == assign_games(list(reversed(games)), test_frac=0.2, valid_frac=0.1, seed=3)
    assert splits != assign_games(games, test_frac=0.2, valid_frac=0.1, seed=4)
    two = assign_games(["a", "b"], test_frac=0.2, valid_frac=0.1, seed=0)
    assert len(two["test"]) == 1 and len(two["train"]) == 1 and not two["valid"]


def test_duplicates_are_kept_once_and_held_out_copies_leave_train():
    def ex(game: str, obs: str, cmd: str) -> SFTExample:
        return SFTExample(messages=[user(obs), assistant(json.dumps({"command": cmd}))], game=game)

    kept, duplicates, leaks = dedupe(
        {
            "train": [
                ex("a", "room", "look"),
                ex("b", "room", "look"),
                ex("a", "hall", "go"),
                ex("a", "door", "open"),
            ],
            "valid": [ex("v", "hall", "go")],
            "test": [ex("t", "door", "open"), ex("u", "door", "open")],
        }
    )
    assert [e.answer for e in kept["train"]] == ['{"command": "look"}']
    assert len(kept["test"]) == 1 and len(kept["valid"]) == 1
    assert (duplicates, leaks) == (2, 2)


def _fake_games(monkeypatch) -> None:
    """Gold-plan play replaced by one example per game (the split logic is what is tested)."""
    from dramaturg.training import _games

    def play(case, commands, *, agent, source, goals=None, observations=None):
        record = SFTExample(
            messages=[user(f"in {case.id}"), assistant('{"command": "look"}')], game=case.id
        )
        return _games.PlayedGame(examples=[record.to_json()], won=True)

    monkeypatch.setattr(_games, "play_commands", play)


def test_a_held_out_split_goes_to_test_whole(monkeypatch, tmp_path):
    _fake_games(monkeypatch)
    out = tmp_path / "alf.jsonl"
    summary = build_sft_data(
        ["alfworld/pick_and_place_simple", "alfworld/look_at_obj_in_light"],
        range(5),
        out,
        test_split="unseen",
        valid_frac=0.2,
        workers=1,  # the fake lives in this process
    )
    games = load_splits(out)
    assert games == summary.games
    assert games["test"] and all("/unseen/" in g for g in games["test"])
    assert len(games["test"]) == 10  # every unseen game, whatever test_frac says
    assert all("/seen/" in g for g in games["train"] + games["valid"]) and len(games["valid"]) == 2
    assert split_cases(out, "test").cases[0].world_kwargs == {"split": "unseen"}
    few = build_sft_data(
        ["alfworld/pick_and_place_simple", "alfworld/look_at_obj_in_light"],
        range(5),
        out,
        test_split="unseen",
        valid_frac=0.2,
        test_games=3,
        workers=1,
    )
    assert [g.split("/")[1] for g in few.games["test"]] == [
        "look_at_obj_in_light",
        "pick_and_place_simple",
        "pick_and_place_simple",
    ]
    assert len(few.games["train"] + few.games["valid"]) == 10  # only the held-out games are capped
    with pytest.raises(ConfigError, match="no game of the 'unseen' split"):
        build_sft_data(
            ["alfworld/pick_and_place_simple"],
            range(2),
            out,
            splits=("seen",),
            test_split="unseen",
            workers=1,
        )


def test_repeat_writes_the_deciding_train_examples_more_often(monkeypatch, tmp_path):
    from dramaturg.training.build import repeated

    def ex(game: str, command: str) -> SFTExample:
        return SFTExample(
            messages=[user(f"in {game}"), assistant(json.dumps({"command": command}))], game=game
        )

    plain = [
        ex("a", "go east"),
        ex("a", "cook carrot with oven"),
        ex("a", "slice carrot with knife"),
    ]
    import re

    rules = [(re.compile("^cook "), 3), (re.compile("^(slice|cook) "), 2)]
    assert [e.command for e in repeated(plain, rules)] == [
        "go east",
        *["cook carrot with oven"] * 3,  # the most of the rules it matches
        *["slice carrot with knife"] * 2,
    ]
    assert repeated(plain, []) == plain
    # through the build: train only (valid and test measure the plain games)
    _fake_games(monkeypatch)
    out = tmp_path / "tw.jsonl"
    summary = build_sft_data(
        ["textworld/tw-simple"], range(6), out, repeat={"^look$": 3}, workers=1, test_frac=0.2
    )
    assert summary.examples == {
        "train": 3 * len(summary.games["train"]),
        "valid": len(summary.games["valid"]),
        "test": len(summary.games["test"]),
    }
    assert len(load_sft_data(out, split="train")) == summary.examples["train"]
    for bad, match in (({"(": 2}, "not a regular expression"), ({"^cook ": 0}, "from 1 to 100")):
        with pytest.raises(ConfigError, match=match):
            build_sft_data(["textworld/tw-simple"], range(2), out, repeat=bad, workers=1)


def test_a_renamed_game_gives_every_object_it_can_take_a_made_up_word_of_its_own():
    from dramaturg.training.augment import NONCE_WORDS, rename_targets

    game = [
        SFTExample(
            messages=[
                system("Goal: put a mug in cabinet."),
                user(
                    "You see a mug 1, an egg 2 and a mugful 2.\n"
                    "Commands: go to cabinet 1, take egg 2 from table 1, take mug 1 from table 1"
                ),
                assistant('{"command": "take mug 1 from table 1"}'),
            ],
            game="g1",
        ),
        SFTExample(
            messages=[user("You pick up the mug 1."), assistant('{"command": "go to cabinet 1"}')],
            game="g1",
            step=1,
        ),
    ]
    plain = [SFTExample(messages=[user("A room."), assistant('{"command": "look"}')], game="g2")]
    renamed = rename_targets(game + plain, 1.0, seed=0)
    text = " ".join(m["content"] for e in renamed[:2] for m in e.messages)
    mug = renamed[0].command.split()[1]
    egg = text.split("take ")[1].split()[0]
    assert mug in NONCE_WORDS and egg in NONCE_WORDS and mug != egg
    assert "mug " not in text and "egg" not in text and "mugful 2" in text  # whole words only
    assert text.count(mug) == 5 and text.count(egg) == 2 and renamed[1].command == "go to cabinet 1"
    assert f"Goal: put a {mug} in cabinet." in text
    assert renamed[2] == plain[0]  # nothing to take: nothing to rename
    assert rename_targets(game, 1.0, seed=0) == renamed[:2]  # the same words for the same seed
    assert rename_targets(game, 0.0, seed=0) == game


def test_a_limited_eval_takes_every_task_type_in_turn():
    from dramaturg.evals.cases import Case
    from dramaturg.training._splits import round_robin

    cases = [Case(id=f"{t}/{i}", task_type=t, world="w") for t in ("a", "b", "c") for i in range(4)]
    assert [c.id for c in round_robin(cases, 5)] == ["a/0", "b/0", "c/0", "a/1", "b/1"]


def test_step_stats_tell_the_models_own_valid_commands_from_forced_ones(tmp_path):
    from dramaturg.training import step_stats

    steps = [
        {"step": 1, "action": "look", "completion_tokens": 6, "constrained": 0, "latency_s": 1.0},
        {
            "step": 2,
            "action": "go east",
            "completion_tokens": 30,
            "constrained": 1,
            "latency_s": 3.0,
        },
        {"step": 3, "action": "", "error": "model failed", "constrained": 1, "latency_s": 2.0},
        {"step": 4, "action": "open door", "completion_tokens": 8, "latency_s": 2.0},
    ]
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "g.jsonl").write_text(
        "".join(json.dumps(s) + "\n" for s in steps) + '{"crashed": true}\n'
    )
    stats = step_stats(tmp_path)
    assert stats["steps"] == 4 and stats["valid_rate"] == 0.75 and stats["free_valid_rate"] == 0.5
    assert stats["completion_tokens"] == 11.0 and stats["latency_s"] == 2.0


# ------------------------------------------------------------------ real games
def _build_tw(tmp_path_factory, **settings) -> tuple[Path, object]:
    pytest.importorskip("textworld")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRAMATURG_CACHE", str(tmp_path_factory.getbasetemp() / "training-cache"))
        out = tmp_path_factory.mktemp("data") / "tw.jsonl"
        summary = build_sft_data(
            ["textworld/tw-simple"], range(3), out, test_frac=0.34, valid_frac=0.0, **settings
        )
    return out, summary


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, object]:
    return _build_tw(tmp_path_factory)


@pytest.fixture(scope="module")
def built_with_recap(tmp_path_factory) -> tuple[Path, object]:
    return _build_tw(tmp_path_factory, recap=5, history_turns=4, focus=3)


def test_games_played_in_one_process_or_several_give_the_same_file(built, tmp_path):
    path, _ = built  # built with one worker process per core
    summary = build_sft_data(
        ["textworld/tw-simple"],
        range(3),
        tmp_path / "one.jsonl",
        test_frac=0.34,
        valid_frac=0.0,
        workers=1,
    )
    assert summary.path.read_bytes() == path.read_bytes()


def test_a_game_whose_world_fails_is_left_out_with_the_reason(built, tmp_path, monkeypatch):
    from dramaturg.training import _games
    from dramaturg.worlds.base import WorldError

    real = _games.play_commands

    def engine_hangs_on_game_1(case, *args, **kwargs):
        if case.id == "textworld/tw-simple/1":
            raise WorldError(
                "the game engine did not answer within 60s while running reset; it was stopped"
            )
        return real(case, *args, **kwargs)

    monkeypatch.setattr(_games, "play_commands", engine_hangs_on_game_1)
    summary = build_sft_data(
        ["textworld/tw-simple"],
        range(3),
        tmp_path / "d.jsonl",
        test_frac=0.34,
        valid_frac=0.0,
        workers=1,
    )
    assert summary.failed_games == [
        "textworld/tw-simple/1 (world failed: the game engine did not answer within 60s while running "
        "reset; it was stopped)"
    ]
    kept = sorted(g for games in summary.games.values() for g in games)
    assert kept == ["textworld/tw-simple/0", "textworld/tw-simple/2"]
    assert {e.game for e in load_sft_data(summary.path)} == set(kept)


def test_real_games_split_by_game_with_nothing_shared(built):
    path, summary = built
    splits = load_splits(path)
    assert splits == summary.games and not summary.failed_games
    assert sorted(splits["train"] + splits["test"]) == [
        f"textworld/tw-simple/{i}" for i in range(3)
    ]
    assert len(splits["test"]) == 1 and not splits["valid"]
    train, test = load_sft_data(path, split="train"), load_sft_data(path, split="test")
    assert len(train) == summary.examples["train"] > 0 and len(test) == summary.examples["test"] > 0
    assert {e.game for e in train}.isdisjoint({e.game for e in test})
    assert {e.key() for e in train}.isdisjoint({e.key() for e in test})
    assert len({e.key() for e in train}) == len(train)  # deduplicated
    for example in train + test:  # every answer is a command the world offered at that step
        assert "Commands: " in example.prompt[-1]["content"]
        assert example.command in example.prompt[-1]["content"].split("\nCommands: ")[1].split(", ")
    stored = json.loads(splits_path(path).read_text())["cases"]
    assert stored[splits["test"][0]]["world"] == "textworld/tw-simple"


class _Capture:
    """A model that records every structured call and answers with the next gold command."""

    def __init__(self, commands: list[str]) -> None:
        from dramaturg.models.base import BaseChatModel, Completion

        outer = self

        class Model(BaseChatModel):
            name = "capture"

            async def complete(self, messages, **opts):
                outer.calls.append(list(messages))
                return Completion(text=json.dumps({"command": outer.commands.pop(0)}))

        self.calls: list[list[dict]] = []
        self.commands = list(commands)
        self.model = Model()


@pytest.mark.parametrize("data", ["built", "built_with_recap"])
def test_the_training_prompt_is_exactly_what_the_tool_agent_sends(data, request):
    """Play a game with the react graph (the tool agent alone, with the settings the data
    file keeps) and compare its model calls with the data."""
    import asyncio

    from dramaturg.agents import ToolAgent
    from dramaturg.agents.tool_agent import DONE, FOCUS
    from dramaturg.graphs import embodied
    from dramaturg.training._base import inference_prompt
    from dramaturg.training._splits import tool_agent_settings
    from dramaturg.worlds import make_world

    path, _ = request.getfixturevalue(data)
    settings = tool_agent_settings(path)
    if data == "built_with_recap":
        assert settings == {
            "history_turns": 4,
            "max_observation_chars": 600,
            "recap": 5,
            "focus": 3,
            "notes": 0,
        }
        assert any(DONE in e.prompt[-1]["content"] for e in load_sft_data(path))
        assert all(FOCUS in e.prompt[-1]["content"] for e in load_sft_data(path))
    else:
        assert settings["recap"] == settings["focus"] == 0
        assert all(
            DONE not in e.prompt[-1]["content"] and FOCUS not in e.prompt[-1]["content"]
            for e in load_sft_data(path)
        )
    by_game: dict[str, list[SFTExample]] = {}
    for example in load_sft_data(path):
        by_game.setdefault(example.game, []).append(example)
    game, examples = next(iter(sorted(by_game.items())))
    seed = int(game.rsplit("/", 1)[1])
    capture = _Capture([e.command for e in examples])
    with make_world("textworld/tw-simple") as world:
        graph = embodied(
            world,
            tool_agent=ToolAgent(model=capture.model, temperature=0.0, **settings),
            seed=seed,
            max_steps=50,
        )
        final = asyncio.run(graph.ainvoke({}))
    assert final["outcome"] == "won"
    assert len(capture.calls) == len(examples) > 2
    for sent, example in zip(capture.calls, examples, strict=True):
        assert sent == example.prompt
        assert inference_prompt(sent) == inference_prompt(example.prompt)


def test_the_local_backend_tokenizes_exactly_the_training_text(built):
    """LocalModel's own prompt text (seen through a stand-in llama.cpp) is the training prompt."""
    from dramaturg.agents.tool_agent import _command_schema
    from dramaturg.models import LocalModel
    from dramaturg.models._engine import Engine as _Engine
    from dramaturg.training._base import inference_prompt

    path, _ = built
    example = load_sft_data(path)[3]

    class FakeLlama:
        def __init__(self) -> None:
            self.texts: list[str] = []
            self._input_ids, self.n_tokens = [], 0

        def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
            assert add_bos and special
            self.texts.append(text.decode())
            return [2, 3]

        def create_completion(self, tokens, **kwargs):
            yield {"choices": [{"text": example.answer[1:], "finish_reason": None}]}

    fake = FakeLlama()
    # As with an adapter (which never heals: it learnt its answers after this very prompt).
    model = LocalModel(n_ctx=4096, token_healing=False, constrained="gbnf")
    model._engine = _Engine(fake, 0.0, Path("unused.gguf"))
    admissible = example.prompt[-1]["content"].split("\nCommands: ")[1].split(", ")
    schema = _command_schema(admissible)
    messages = [m for m in example.prompt if not m["content"].startswith("Answer with one JSON")]
    answer = model.structured_sync(messages, schema, temperature=0.0)
    assert answer.command == example.command
    assert inference_prompt(example.prompt) in fake.texts  # the free (first) decoding's prompt


def test_successful_runs_become_the_same_examples_as_gold_plans(built, tmp_path):
    """An oracle run's won episodes, replayed from their traces, give exactly the gold examples."""
    from dramaturg.evals import AgentSpec, run_eval
    from dramaturg.training import from_traces, split_cases

    path, _ = built
    suite = split_cases(path, "test")
    run_eval(suite, AgentSpec(kind="oracle"), out=tmp_path / "run", backend="seq", progress=False)
    run_eval(
        suite,
        AgentSpec(kind="random"),
        out=tmp_path / "lost",
        backend="seq",
        max_steps=2,
        progress=False,
    )
    examples = from_traces(tmp_path / "run", suite=suite)
    gold = load_sft_data(path, split="test")
    assert [e.messages for e in examples] == [e.messages for e in gold]
    assert {e.source for e in examples} == {"trace"}
    assert from_traces(tmp_path / "lost", suite=suite) == []  # lost episodes teach nothing
    with pytest.raises(ConfigError, match="pass suite="):
        from_traces(tmp_path / "run")


def _replay(case, plan):
    """Each command's observation, asserting each was admissible; and whether the game was won."""
    from dramaturg.evals.agents import make_case_world

    with make_case_world(case) as world:
        _, info = world.reset(seed=case.seed)
        gold, views = info["gold_plan"], []
        for command in plan:
            assert command in info["admissible_actions"], command
            obs, _, _, _, info = world.step(command)
            views.append(obs)
        return gold, views, info["won"]


def test_a_search_visits_new_places_until_it_sees_the_thing_and_goes_on_with_that_one(tmp_path):
    from dramaturg.training._games import case_for_game, play_commands, prompt_agent, searching_plan

    case = case_for_game("alfworld/pick_cool_then_place_in_recep/seen/2")
    plan = searching_plan(case, detours=30, seed=2)
    assert plan is not None
    gold, views, won = _replay(case, plan)
    assert won
    take = next(i for i, c in enumerate(plan) if c.startswith("take "))
    assert all(c.startswith(("go to ", "open ")) for c in plan[:take])
    places = [c.removeprefix("go to ") for c in plan[:take] if c.startswith("go to ")]
    assert len(places) == len(set(places)) > 2  # several places, none twice
    last = plan.index(f"go to {places[-1]}")
    assert not any("apple" in v for v in views[:last])  # nothing sought was in view before...
    assert any("apple 2" in v for v in views[last:take])  # ...the place it is taken from
    # Not the gold plan's apple: the rest of the plan goes on with the one found.
    assert (
        "take apple 1 from countertop 2" in gold and plan[take] == f"take apple 2 from {places[-1]}"
    )
    assert not any("apple 1" in c for c in plan) and any(
        c.startswith("cool apple 2 with ") for c in plan
    )
    played = play_commands(case, plan, agent=prompt_agent(), source="search")
    assert played.won and not played.skipped and len(played.examples) == len(plan)
    # At most `detours` places, then to where the gold plan's instance lies.
    short = searching_plan(case, detours=1, seed=2)
    assert short is not None and _replay(case, short)[2]
    before = [
        c
        for c in short[: next(i for i, c in enumerate(short) if c.startswith("take "))]
        if c.startswith("go to ")
    ]
    assert len(before) <= 2 and (len(before) == 1 or before[-1] == "go to countertop 2")
    summary = build_sft_data(
        ["alfworld/pick_cool_then_place_in_recep"],
        range(2),
        tmp_path / "d.jsonl",
        splits=("seen",),
        search=3,
        test_frac=0.5,
        valid_frac=0.0,
    )
    sources = {e.source for e in load_sft_data(tmp_path / "d.jsonl")}
    assert "search" in sources and not summary.failed_games


def test_a_second_thing_seen_during_the_first_search_is_gone_back_to_without_searching():
    from dramaturg.training._games import case_for_game, searching_plan

    case = case_for_game("alfworld/pick_two_obj_and_place/seen/1")
    plan = searching_plan(case, detours=30, seed=1)
    assert plan is not None
    gold, _, won = _replay(case, plan)
    takes = [i for i, c in enumerate(plan) if c.startswith("take ")]
    assert won and len(takes) == 2
    assert [plan[i] for i in takes] == [
        "take cellphone 2 from bed 1",
        "take cellphone 1 from bed 1",
    ]
    assert [c for c in gold if c.startswith("take ")] == [
        "take cellphone 3 from desk 1",
        "take cellphone 2 from bed 1",
    ]
    assert plan[takes[1] - 1] == "go to bed 1" and plan[takes[1] - 2].startswith(
        "move cellphone 2 "
    )
    assert plan[-1].startswith("move cellphone 1 ")


def test_the_lamp_is_searched_for_too_and_a_place_already_seen_is_not():
    from dramaturg.training._games import _finds, case_for_game, searching_plan

    lamp = case_for_game("alfworld/look_at_obj_in_light/seen/0")
    plan = searching_plan(lamp, detours=2, seed=0)
    assert plan is not None
    use = next(i for i, c in enumerate(plan) if c.startswith("use "))
    take = next(i for i, c in enumerate(plan) if c.startswith("take "))
    between = [c for c in plan[take + 1 : use - 1] if c.startswith("go to ")]
    assert between and plan[use - 1] not in between  # other places first, then the lamp's
    # Two objects in one place: the second find goes straight back there.
    gold = [
        "go to shelf 1",
        "take vase 1 from shelf 1",
        "go to table 1",
        "move vase 1 to table 1",
        "go to shelf 1",
        "take vase 2 from shelf 1",
        "go to table 1",
        "move vase 2 to table 1",
    ]
    assert _finds(gold) == {0: ("vase", "shelf 1"), 4: ("vase", "shelf 1")}
    assert _finds(["go to drawer 1", "open drawer 1", "take pen 2 from drawer 1"]) == {
        0: ("pen", "drawer 1")
    }
    # From what stands beside the place gone to: the place it is taken from is the one sought.
    assert _finds(["go to cabinet 4", "open cabinet 3", "take cloth 1 from cabinet 3"]) == {
        0: ("cloth", "cabinet 3")
    }
    assert _finds(["go to desk 1", "use desklamp 1"]) == {0: ("desklamp", "desk 1")}
    assert _finds(["go to sinkbasin 1", "clean mug 1 with sinkbasin 1"]) == {}
    two = searching_plan(case_for_game("alfworld/pick_two_obj_and_place/seen/0"), detours=2, seed=0)
    assert two is not None
    takes = [i for i, c in enumerate(two) if c.startswith("take ")]
    first_source = two[takes[0]].split(" from ", 1)[1]
    assert len(takes) == 2 and two[takes[1]].endswith(f"from {first_source}")  # both lay there
    assert two[takes[1] - 1] == f"go to {first_source}" and two[takes[1] - 2].startswith("move ")
