"""The adapters that ship with the package: the manifest, the files, the fallback in the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dramaturg.agents.tool_agent import (
    adapter_tool_agent,
    embedded_spec,
    tool_agent_for,
    tool_model_spec,
)
from dramaturg.errors import ConfigError
from dramaturg.models import adapters
from dramaturg.models._weights import sha256_file
from dramaturg.models.adapters import AdapterRegistry, check_shipped, shipped_adapters
from dramaturg.models.scripted import ScriptedModel

from ..training._tiny import write_lora_adapter


@pytest.fixture
def fake_shipped(tmp_path, monkeypatch):
    """A shipped folder holding one adapter (for the tiny model) for ``textworld/``."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    adapter = write_lora_adapter(folder / "textworld.gguf")
    manifest = {
        "version": 1,
        "base": {"sha256": "abc"},
        "adapters": [
            {
                "key": "textworld/",
                "file": "textworld.gguf",
                "sha256": sha256_file(adapter),
                "recipe": "dramaturg train tool-agent --world textworld",
                "measured": {"adapter": {"rows": {"overall": {"success": 0.5}}}},
            }
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(adapters, "SHIPPED_DIR", folder)
    monkeypatch.delenv("DRAMATURG_NO_SHIPPED_ADAPTERS")
    return folder


def test_the_registry_serves_shipped_adapters_where_the_user_registered_none(
    fake_shipped, tmp_path, monkeypatch
):
    registry = AdapterRegistry()
    found = registry.resolve("textworld/tw-cooking")
    assert found is not None and found.shipped and found.path == fake_shipped / "textworld.gguf"
    assert registry.resolve("alfworld/pick_and_place_simple") is None
    assert [(e.key, e.shipped) for e in registry.list()] == [("textworld/", True)]
    assert AdapterRegistry(shipped=False).resolve("textworld/tw-cooking") is None
    with pytest.raises(ConfigError, match="ships with dramaturg and cannot be removed"):
        registry.remove("textworld/")

    # The user's own adapter wins, even for a shorter key; the file never lists shipped ones.
    mine = write_lora_adapter(tmp_path / "mine.gguf", seed=1)
    registry.add("textworld/", mine, check=False)
    assert registry.resolve("textworld/tw-cooking").path == mine
    assert [(e.key, e.shipped) for e in registry.list()] == [("textworld/", False)]
    assert "shipped" not in registry.path.read_text()
    registry.remove("textworld/")
    assert registry.resolve("textworld/tw-cooking").shipped

    # A damaged install plays without the missing file, and says so.
    (fake_shipped / "textworld.gguf").rename(fake_shipped / "gone")
    with pytest.warns(UserWarning, match="are missing"):
        assert registry.resolve("textworld/tw-cooking") is None
    (fake_shipped / "gone").rename(fake_shipped / "textworld.gguf")

    # The switch for everything: no shipped adapter anywhere.
    monkeypatch.setenv("DRAMATURG_NO_SHIPPED_ADAPTERS", "1")
    assert registry.resolve("textworld/tw-cooking") is None


def test_a_broken_manifest_says_what_is_wrong(fake_shipped):
    manifest = fake_shipped / "manifest.json"
    manifest.write_text("{nope")
    with pytest.raises(ConfigError, match="reinstall dramaturg"):
        shipped_adapters()
    manifest.write_text(json.dumps({"adapters": [{"key": "textworld/", "colour": "red"}]}))
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['colour'\]; no file, sha256"):
        shipped_adapters()
    # A file name cannot leave the shipped folder.
    for name in ("../../etc/passwd", "..", "sub/x.gguf", ".gguf"):
        manifest.write_text(json.dumps({"adapters": [{"key": "x", "file": name, "sha256": "0"}]}))
        with pytest.raises(ConfigError, match=r"must be a \.gguf file name in the folder"):
            shipped_adapters()


def test_check_shipped_refuses_a_file_that_is_not_the_manifests(fake_shipped, tmp_path):
    from ..training._tiny import write_tiny_gemma3

    (adapter,) = shipped_adapters()
    tiny = write_tiny_gemma3(tmp_path / "tiny.gguf", vocab_from=adapters.default_weights())
    check_shipped(adapter, base=tiny)  # the hash and the shapes hold
    adapter.path.write_bytes(adapter.path.read_bytes() + b"\0")
    with pytest.raises(ConfigError, match="not the manifest's"):
        check_shipped(adapter, base=tiny)
    adapter.path.unlink()
    with pytest.raises(ConfigError, match="is missing; reinstall"):
        check_shipped(adapter, base=tiny)


def test_auto_uses_the_adapters_on_the_embedded_model_only(fake_shipped):
    assert embedded_spec("local") and embedded_spec(None)
    assert not embedded_spec("local?lora=/x.gguf") and not embedded_spec("local:/my/model.gguf")
    assert not embedded_spec("litellm:openai/gpt-4o-mini")
    world = "textworld/tw-simple"
    assert "textworld.gguf" in tool_model_spec("auto", world, embedded=True)
    assert tool_model_spec("auto", world, embedded=False) is None
    assert tool_model_spec("main", world, embedded=True) is None
    # A hosted or scripted main model keeps the tool agent: the small adapter would not help it.
    chat = ScriptedModel(["{}"])
    assert tool_agent_for("auto", main=chat, world=world).model is chat


def test_an_evaluation_on_the_embedded_model_uses_the_adapters_by_default():
    from dramaturg.evals import AgentSpec

    assert AgentSpec(kind="react").tool_model == "registry"
    assert AgentSpec(kind="embodied", model="local").tool_model == "registry"
    assert AgentSpec(kind="react", model="litellm:openai/gpt-4o-mini").tool_model is None
    assert AgentSpec(kind="react", tool_model="main").tool_model == "main"
    assert AgentSpec(kind="workforce").tool_model is None  # no tool agent in worlds


def test_no_adapter_conflicts_with_a_tool_model(tmp_path):
    from typer.testing import CliRunner

    from dramaturg.cli import app

    for args in (
        ["eval", "run", "textworld", "--no-adapter", "--tool-model", "local?lora=x.gguf"],
        ["run", "--world", "textworld/tw-simple", "--no-adapter", "--tool-model", "registry"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "--no-adapter plays the base model" in result.output


# --------------------------------------------------------- what really ships
def test_the_package_ships_adapters_that_match_their_manifest(shipped):
    found = shipped_adapters()
    assert {a.key for a in found} >= {"textworld/"}
    for adapter in found:
        check_shipped(adapter)  # the file's hash, the base model's hash, every tensor's shape
        assert adapter.path.stat().st_size < 8_000_000
        assert adapter.recipe.startswith("dramaturg train tool-agent ")
        assert adapter.data["games"]["train"] and adapter.data["examples"]["train"] > 0
        assert adapter.measured["adapter"]["rows"]["overall"]["games"] > 0
        assert adapter_tool_agent(adapter.entry().model_spec())  # its prompt settings, checked
    assert AdapterRegistry().resolve("textworld/tw-simple").path.name == "textworld.gguf"
    # tw-cooking has its own, which keeps the recipe it read on a prompt line
    cooking = AdapterRegistry().resolve("textworld/tw-cooking")
    assert cooking.shipped and cooking.path.name == "tw-cooking.gguf"
    assert adapter_tool_agent(cooking.model_spec())["notes"] > 0
    # ALFWorld-style games: one for every task type, prompted with the goal's focus line
    household = AdapterRegistry().resolve("alfworld/pick_heat_then_place_in_recep")
    assert household.shipped and household.path.name == "alfworld.gguf"
    assert adapter_tool_agent(household.model_spec())["focus"] > 0
    tracked = {p.name for p in Path(adapters.SHIPPED_DIR).iterdir()}
    assert tracked == {"manifest.json"} | {a.path.name for a in found}


@pytest.mark.model
def test_a_shipped_adapter_plays_on_the_embedded_model(shipped):
    import asyncio

    from dramaturg.models import load_model

    spec = AdapterRegistry().spec_for("textworld/tw-simple")
    agent = tool_agent_for(load_model(spec), temperature=0)
    command = asyncio.run(
        agent.command(
            goal="Take the key from the table, then go east.",
            observation="-= Kitchen =-\nYou see a table. On the table is a key. There is an exit to the east.",
            admissible=["take key from table", "go east", "look", "inventory"],
        )
    )
    assert command in {"take key from table", "go east"}


def test_cases_an_adapter_was_trained_on_are_named(shipped, tmp_path):
    from dramaturg.evals import AgentSpec, builtin_suite
    from dramaturg.evals.agents import trained_on

    # the shipped ALFWorld-style adapter trained on seen-split games: seen is not held out
    cases = builtin_suite("alfworld-style", n=8).cases
    found = trained_on(AgentSpec(kind="react"), cases)
    (alf,) = [a for a in shipped_adapters() if a.key == "alfworld/"]
    games = alf.data["games"]
    assert set(found) == {
        c.id for c in cases if f"{c.world}/{c.split}/{c.seed}" in games["train"] + games["valid"]
    }
    assert len(found) == 48 and set(found.values()) == {"alfworld.gguf"}
    assert not any("/unseen/" in c for c in found)
    assert trained_on(AgentSpec(kind="react", tool_model="main"), cases) == {}  # the base model
    # TextWorld: the shipped adapters trained on seeds 1000 and up
    tw = builtin_suite("textworld", n=3, seed=1000).cases
    assert trained_on(AgentSpec(kind="react"), builtin_suite("textworld", n=3).cases) == {}
    flagged = trained_on(AgentSpec(kind="react"), tw)
    assert "textworld/tw-cooking/2" in flagged  # seed 1002 is a tw-cooking training game
    # an adapter of a training run: its data.splits.json names the games
    run = tmp_path / "run"
    run.mkdir()
    write_lora_adapter(run / "tool-agent.gguf")
    (run / "data.splits.json").write_text(
        json.dumps({"train": ["alfworld/pick_and_place_simple/unseen/3"], "valid": [], "test": []})
    )
    spec = AgentSpec(kind="react", tool_model=f"local?lora={run / 'tool-agent.gguf'}")
    unseen = builtin_suite("alfworld-style", n=4, splits=("unseen",)).cases
    assert trained_on(spec, unseen) == {
        "alfworld/pick_and_place_simple/unseen/3": "tool-agent.gguf"
    }
    (run / "data.splits.json").write_text("{not json")
    assert trained_on(spec, unseen) == {}  # an unreadable record flags nothing
