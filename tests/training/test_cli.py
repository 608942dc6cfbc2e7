"""`dramaturg train`: the whole pipeline on a tiny model and real games, then the comparison."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dramaturg.cli.train import train_app
from dramaturg.errors import ConfigError
from dramaturg.models.adapters import AdapterRegistry
from dramaturg.training import load_splits, tool_agent_settings

from ._tiny import write_lora_adapter

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_cli(tmp_path_factory, tiny_gguf, _tiny_loaded):
    """`train tool-agent` on three TextWorld games and the tiny model (loaded once per session)."""
    import copy

    from dramaturg.training import _base

    pytest.importorskip("textworld")
    out = tmp_path_factory.mktemp("cli") / "tw"
    home = tmp_path_factory.mktemp("cli-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            _base,
            "load_base_model",
            lambda gguf, device="cpu", progress=False: copy.deepcopy(_tiny_loaded),
        )
        mp.setenv("DRAMATURG_CACHE", str(tmp_path_factory.getbasetemp() / "training-cache"))
        mp.setenv("DRAMATURG_HOME", str(home))
        result = runner.invoke(
            train_app,
            [
                "tool-agent",
                "--world",
                "textworld/tw-simple",
                "--games",
                "3",
                "--out",
                str(out),
                "--steps",
                "2",
                "--base",
                str(tiny_gguf),
                "--test-frac",
                "0.34",
                "--valid-frac",
                "0",
                "--recap",
                "8",
                "--focus",
                "4",
                "--notes",
                "120",
                "--no-progress",
            ],
        )
        registry = AdapterRegistry()
    return out, result, registry


def test_tool_agent_builds_trains_exports_and_registers(trained_cli, monkeypatch):
    out, result, registry = trained_cli
    assert result.exit_code == 0, result.output
    assert (
        "trained 2 steps" in result.output and "registered for textworld/tw-simple" in result.output
    )
    adapter = out / "tool-agent.gguf"
    assert registry.resolve("textworld/tw-simple").path == adapter.resolve()
    # the adapter records the tool agent settings its data was written with; an eval spec's own win
    from dramaturg.agents.tool_agent import adapter_tool_agent
    from dramaturg.evals import AgentSpec, Case
    from dramaturg.evals.agents import tool_agent_settings_for

    recorded = {
        "history_turns": 6,
        "max_observation_chars": 600,
        "recap": 8,
        "focus": 4,
        "notes": 120,
    }
    assert adapter_tool_agent(f"local?lora={adapter}") == recorded
    assert adapter_tool_agent("local") == {} == adapter_tool_agent(None)
    case = Case(id="g", task_type="tw", world="textworld/tw-simple")
    assert (
        tool_agent_settings_for(AgentSpec(kind="react", model=f"local?lora={adapter}"), case)
        == recorded
    )
    spec = AgentSpec(
        kind="react", tool_model=f"local?lora={adapter}", options={"tool_agent": {"recap": 2}}
    )
    assert tool_agent_settings_for(spec, case) == {**recorded, "recap": 2}
    monkeypatch.setenv("DRAMATURG_HOME", str(registry.path.parent))
    assert tool_agent_settings_for(AgentSpec(kind="react", tool_model="registry"), case) == recorded
    unregistered = Case(
        id="a", task_type="alf", world="alfworld/pick_and_place_simple"
    )  # the main model's
    shared = AgentSpec(kind="react", model=f"local?lora={adapter}", tool_model="registry")
    assert tool_agent_settings_for(shared, unregistered) == recorded
    with pytest.raises(ConfigError, match=r"nowhere\.splits\.json not found"):
        tool_agent_settings(out / "nowhere.jsonl")
    assert len(load_splits(out / "data.jsonl")["test"]) == 1
    assert json.loads((out / "train" / "train.json").read_text())["result"]["steps"] == 2


def test_eval_plays_the_held_out_games_with_and_without_the_adapter(trained_cli, tiny_gguf):
    out, result, _ = trained_cli
    assert result.exit_code == 0, result.output
    compared = runner.invoke(
        train_app,
        [
            "eval",
            str(out),
            "--base",
            str(tiny_gguf),
            "--max-steps",
            "2",
            "--backend",
            "seq",
            "--no-progress",
        ],
    )
    assert compared.exit_code == 0, compared.output
    assert "base" in compared.output and "adapter" in compared.output
    for label in ("base", "adapter"):
        [episode] = [
            json.loads(line)
            for line in (out / "eval" / label / "episodes.jsonl").read_text().splitlines()
        ]
        assert episode["status"] == "done" and episode["steps"] == 2
    compare = json.loads((out / "eval" / "compare.json").read_text())
    assert compare["tool_agent"]["recap"] == 8  # both runs play with the data's tool agent settings
    rows = compare["rows"]
    assert set(rows) == {"base", "adapter"} and rows["adapter"]["steps"] == 2
    assert 0.0 <= rows["adapter"]["free_valid_rate"] <= rows["adapter"]["valid_rate"] <= 1.0
    # another seed is another sample of play, kept beside the first
    again = runner.invoke(
        train_app,
        [
            "eval",
            str(out),
            "--base",
            str(tiny_gguf),
            "--max-steps",
            "1",
            "--backend",
            "seq",
            "--temperature",
            "0.7",
            "--seed",
            "1",
            "--no-progress",
        ],
    )
    assert again.exit_code == 0, again.output
    sampled = json.loads((out / "eval-seed1" / "compare.json").read_text())
    assert (sampled["seed"], sampled["temperature"], sampled["rows"]["base"]["steps"]) == (
        1,
        0.7,
        1,
    )
    assert json.loads((out / "eval" / "compare.json").read_text())["seed"] == 0
    # one side again: the other side's row is kept from the same games and settings ...
    adapter_only = ["eval", str(out), "--base", str(tiny_gguf), "--max-steps", "2"]
    adapter_only += ["--backend", "seq", "--only", "adapter", "--no-progress"]
    only = runner.invoke(train_app, adapter_only)
    assert only.exit_code == 0, only.output
    kept = json.loads((out / "eval" / "compare.json").read_text())["rows"]
    assert kept["base"] == rows["base"] and kept["adapter"]["steps"] == 2
    # ... and dropped when they differ (a compare.json of other prompt settings)
    path = out / "eval" / "compare.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "tool_agent": {"recap": 0}}))
    other = runner.invoke(train_app, adapter_only)
    assert other.exit_code == 0, other.output
    assert set(json.loads(path.read_text())["rows"]) == {"adapter"}
    bad = runner.invoke(train_app, ["eval", str(out), "--only", "both", "--no-progress"])
    assert bad.exit_code == 1 and "base and/or adapter" in bad.output


def test_adapters_commands(tiny_gguf, tmp_path):
    adapter = write_lora_adapter(tmp_path / "a.gguf")
    added = runner.invoke(
        train_app, ["adapters", "add", "alfworld/", str(adapter), "--base", str(tiny_gguf)]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(train_app, ["adapters", "list"])
    assert "alfworld/" in listed.output and AdapterRegistry().resolve("alfworld/x").path == adapter
    assert runner.invoke(train_app, ["adapters", "remove", "alfworld/"]).exit_code == 0
    gone = runner.invoke(train_app, ["adapters", "remove", "alfworld/"])
    assert gone.exit_code == 1 and "no adapter is registered" in gone.output


@pytest.mark.model
def test_run_gives_the_tool_agent_the_adapter_registered_for_its_world(_isolated_home, tmp_path):
    """`dramaturg run` on the embedded model uses the registry by default ("auto"): the tool agent
    runs with the world's adapter (sharing the base), and its usage is reported under that model."""
    from dramaturg.cli import app

    # An adapter in the real model's shape (a tool of ours did not make it: no identity keys),
    # trained with a recap of what the tool agent did.
    adapter = write_lora_adapter(
        tmp_path / "stagehand.gguf",
        hidden=640,
        heads=4,
        head_dim=256,
        layers=18,
        meta={"dramaturg.tool_agent.recap": 8},
    )
    AdapterRegistry().add("theatre/", adapter, scale=0.02)
    result = runner.invoke(app, ["run", "--world", "theatre/elsinore", "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    run_dir = next((_isolated_home / "runs").iterdir())
    assert json.loads((run_dir / "run.json").read_text())["tool_model"] == "auto"
    usage = json.loads((run_dir / "usage.json").read_text())
    [key] = [k for k in usage if k.startswith("tool-agent")]
    assert "+stagehand" in key and usage[key]["calls"] >= 2
    # the tool agent prompts the adapter as it was trained: with the recap, from the second call on
    calls = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    tool_calls = [c for c in calls if str(c.get("caller", "")).startswith("tool-agent")]
    assert len(tool_calls) >= 2 and "Done so far: " in json.dumps(tool_calls[-1])
    plain = runner.invoke(
        app, ["run", "--world", "theatre/elsinore", "--max-steps", "1", "--no-adapter"]
    )
    assert plain.exit_code == 0, plain.output
    newest = max((_isolated_home / "runs").iterdir(), key=lambda p: p.name)
    plain_usage = json.loads((newest / "usage.json").read_text())
    assert "tool-agent" in plain_usage and not any("+stagehand" in k for k in plain_usage)


def test_train_dagger_says_what_a_run_folder_needs(tmp_path):
    from dramaturg.cli import app

    result = runner.invoke(app, ["train", "dagger", str(tmp_path)])
    assert result.exit_code == 1 and "not a trained tool-agent folder" in result.output
    result = runner.invoke(app, ["train", "dagger", str(tmp_path), "--dtype", "f8"])
    assert result.exit_code == 1 and "--dtype must be f32 or f16" in result.output


def test_train_tool_agent_says_how_to_write_a_repeat(tmp_path):
    from dramaturg.cli import app

    for bad in ("^cook ", "^cook =x", "=3"):
        result = runner.invoke(
            app, ["train", "tool-agent", "--world", "textworld/tw-cooking", "--repeat", bad,
                  "--out", str(tmp_path / "run")]
        )  # fmt: skip
        assert result.exit_code == 1 and "write PATTERN=N" in result.output, result.output
    assert not (tmp_path / "run").exists()  # refused before any game is played
