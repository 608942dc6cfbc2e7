"""DAgger rounds end to end on the tiny model: play, label, train on, export, measure, resume."""

from __future__ import annotations

import json

import pytest

from dramaturg.errors import ConfigError
from dramaturg.training import DaggerReporter, dagger_rounds, load_sft_data, train_tool_agent
from dramaturg.training import dagger as dagger_module
from dramaturg.training.lora import train_lora


class _Told(DaggerReporter):
    def __init__(self) -> None:
        self.said: list[tuple] = []

    def playing(self, round, games, beta):
        self.said.append(("playing", round, games, beta))

    def game_done(self, round, won):
        self.said.append(("game", round))

    def training(self, round, examples):
        self.said.append(("training", round, examples))

    def round_done(self, row):
        self.said.append(("done", row.round))


@pytest.fixture
def trained(tiny_base, tmp_path):
    """A tool-agent run on the tiny model: ALFWorld-style seen games, two training steps."""
    out = tmp_path / "run"
    train_tool_agent(
        ["alfworld/pick_and_place_simple"],
        out,
        games=5,
        splits=("seen",),
        steps=2,
        batch=2,
        base=tiny_base,
        register=False,
        workers=1,
        device="cpu",
    )
    return out


def test_a_round_plays_the_adapter_labels_it_trains_on_and_measures(trained, tiny_base):
    told = _Told()
    settings = {
        "games": 2,
        "beta": 0.5,
        "max_steps": 4,
        "temperature": 0.0,
        "batch": 2,
        "eval_limit": 1,
        "eval_steps": 3,
        "base": tiny_base,
        "device": "cpu",
    }
    rows = dagger_rounds(trained, rounds=1, reporter=told, **settings)
    assert [r.round for r in rows] == [0, 1]
    zero, one = rows
    assert zero.added == 0 and zero.heldout_games == 1 and zero.adapter.endswith("tool-agent.gguf")
    assert one.beta == 0.5 and one.games == 2 and 0 < one.added <= 8
    # the new examples and as many replayed from the round 0 data (replay 1.0)
    assert one.examples == 2 * one.added and one.valid_loss is not None
    assert one.heldout_games == 1 and one.adapter.endswith("round-1/tool-agent.gguf")
    here = trained / "dagger" / "round-1"
    added = load_sft_data(here / "examples.jsonl")
    assert len(added) == one.added and {e.source for e in added} == {"dagger"}
    train_games = set(json.loads((trained / "data.splits.json").read_text())["train"])
    assert {e.game for e in added} <= train_games  # never the held-out games
    assert json.loads((here / "train" / "train.json").read_text())["settings"]["init"]
    ledger = json.loads((trained / "dagger" / "rounds.json").read_text())["rounds"]
    assert [r["round"] for r in ledger] == [0, 1]
    assert told.said[0] == ("done", 0) and ("playing", 1, 2, 0.5) in told.said
    assert told.said.count(("game", 1)) == 2 and told.said[-1] == ("done", 1)

    # Again: the finished rounds are read back, nothing is played or trained.
    def never(*args, **kwargs):
        raise AssertionError("a finished round is not played again")

    import dramaturg.training.rounds as rounds_module

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dagger_module, "dagger_examples", never)
        mp.setattr(rounds_module, "_measure", never)
        again = dagger_rounds(trained, rounds=1, **settings)
    assert again == rows

    # Bad requests are refused before anything is played.
    with pytest.raises(ConfigError, match="not a trained tool-agent folder"):
        dagger_rounds(trained / "dagger")
    with pytest.raises(ConfigError, match="beta between 0 and 1"):
        dagger_rounds(trained, beta=1.5)

    # Training goes on from an adapter of the same base, with its rank and targets.
    start = trained / "train" / "adapter"
    data = trained / "data.jsonl"
    result = train_lora(
        data,
        out=trained / "on",
        base=tiny_base,
        steps=1,
        batch=2,
        init_adapter=start,
        progress=False,
        device="cpu",
    )
    before = json.loads((start / "adapter_config.json").read_text())
    after = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert after["r"] == before["r"]
    assert sorted(after["target_modules"]) == sorted(before["target_modules"])  # saved from a set
    with pytest.raises(ConfigError, match="not a trained adapter folder"):
        train_lora(data, out=trained / "x", base=tiny_base, steps=1, init_adapter=trained)
