"""`train_tool_agent`: the recipe's steps in order, each fed the last one's output.

The data is really built (from fake gold-plan play: one example per game); training
and export are replaced by fakes that record what they were given, so the test takes
well under a second. The real steps run end to end in ``test_cli.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaturg.errors import ConfigError
from dramaturg.models import assistant, user
from dramaturg.training import SFTExample, load_splits, pipeline
from dramaturg.training.lora import TrainResult
from dramaturg.training.pipeline import PipelineReporter, registry_keys, train_tool_agent

WORLDS = ["textworld/tw-simple", "alfworld/pick_and_place_simple"]


class Recorder(PipelineReporter):
    def __init__(self, events: list[tuple[str, object]]) -> None:
        self.events = events

    def data_built(self, data):
        self.events.append(("data_built", data.path))

    def trained(self, result):
        self.events.append(("trained", result.steps))

    def exported(self, adapter):
        self.events.append(("exported", adapter))

    def registered(self, keys):
        self.events.append(("registered", keys))


class FakeRegistry:
    def __init__(self) -> None:
        self.added: list[tuple[str, Path, object]] = []

    def add(self, key, adapter, *, base=None):
        self.added.append((key, Path(adapter), base))


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """Gold plans give one example per game; training and export record their arguments."""
    from dramaturg.training import _games

    events: list[tuple[str, object]] = []

    def play(case, commands, *, agent, source, goals=None, observations=None):
        record = SFTExample(
            messages=[user(f"in {case.id}"), assistant('{"command": "look"}')], game=case.id
        )
        return _games.PlayedGame(examples=[record.to_json()], won=True)

    def train(data, *, out, **options):
        events.append(("train", {"data": Path(data), "out": Path(out), **options}))
        return TrainResult(adapter_dir=Path(out) / "adapter", steps=options["steps"], examples=3)

    def export(peft_dir, out_path, **options):
        events.append(("export", {"peft_dir": peft_dir, **options}))
        Path(out_path).write_bytes(b"GGUF")
        return Path(out_path)

    monkeypatch.setattr(_games, "play_commands", play)
    monkeypatch.setattr(pipeline, "train_lora", train)
    monkeypatch.setattr(pipeline, "export_lora_gguf", export)
    return events


def test_each_step_gets_the_last_ones_output_and_the_reporter_hears_before_training(
    fakes, tmp_path
):
    registry = FakeRegistry()
    base = tmp_path / "base.gguf"
    run = train_tool_agent(
        WORLDS,
        tmp_path / "out",
        games=2,
        steps=5,
        seed=3,
        recap=4,
        base=base,
        dtype="f16",
        workers=1,  # the fake play lives in this process
        registry=registry,
        reporter=Recorder(fakes),
    )
    out = tmp_path / "out"
    data = out / "data.jsonl"
    assert [name for name, _ in fakes] == [
        "data_built",  # told before the long training starts
        "train",
        "trained",
        "export",
        "exported",
        "registered",
    ]
    events = dict(fakes)
    assert run.data.path == data == events["data_built"]
    # 2 TextWorld games + 2 ALFWorld-style games in each of two splits
    assert sum(map(len, load_splits(data).values())) == 6
    train = events["train"]
    assert (train["data"], train["out"], train["base"]) == (data, out / "train", base)
    assert (train["steps"], train["seed"], train["progress"]) == (5, 3, False)
    export = events["export"]
    assert export["peft_dir"] == out / "train" / "adapter" and export["dtype"] == "f16"
    assert export["base_gguf"] == base
    assert export["tool_agent"]["recap"] == 4  # the settings the data was written with
    assert run.adapter == out / "tool-agent.gguf" == events["exported"]
    assert run.registered and run.keys == WORLDS == events["registered"]
    assert registry.added == [(w, run.adapter, base) for w in WORLDS]
    assert run.train.steps == 5


def test_without_register_the_registry_is_untouched(fakes, tmp_path):
    registry = FakeRegistry()
    run = train_tool_agent(
        ["textworld/tw-simple"],
        tmp_path,
        games=2,
        steps=1,
        workers=1,
        register=False,
        registry=registry,
    )
    assert not run.registered and registry.added == []
    assert "registered" not in dict(fakes)


def test_a_bad_dtype_is_refused_before_any_game_is_played(fakes, tmp_path):
    with pytest.raises(ConfigError, match="dtype must be f32 or f16"):
        train_tool_agent(["textworld/tw-simple"], tmp_path, dtype="f8", registry=FakeRegistry())
    assert fakes == [] and not (tmp_path / "data.jsonl").exists()


def test_a_family_is_registered_by_its_prefix():
    assert registry_keys(["textworld", "alfworld/", "alfworld/pick_and_place_simple"]) == [
        "textworld/",
        "alfworld/",
        "alfworld/pick_and_place_simple",
    ]
