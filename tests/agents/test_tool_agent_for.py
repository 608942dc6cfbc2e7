"""`tool_agent_for`: the model a run chose for its tool agent, prompted as its adapter was trained."""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaturg.agents import ToolAgent, tool_agent_for
from dramaturg.agents.tool_agent import adapter_tool_agent, tool_model_spec
from dramaturg.errors import ConfigError
from dramaturg.models import ScriptedModel
from dramaturg.models.adapters import AdapterRegistry

from ..training._tiny import write_lora_adapter

DEFAULTS = ToolAgent(model=ScriptedModel([]))
TRAINED = {"recap": 12, "history_turns": 2}


@pytest.fixture
def trained(tmp_path) -> Path:
    """An adapter that records the tool agent settings it was trained with."""
    meta = {f"dramaturg.tool_agent.{k}": v for k, v in TRAINED.items()}
    return write_lora_adapter(tmp_path / "trained.gguf", meta=meta)


@pytest.fixture
def registry(tmp_path, trained) -> AdapterRegistry:
    registry = AdapterRegistry(tmp_path / "adapters.json")
    registry.add("textworld/", trained, check=False)  # the tiny adapter fits no real base
    return registry


def test_a_plain_model_gets_the_default_settings():
    model = ScriptedModel([])
    agent = tool_agent_for(model)
    assert agent.model is model
    assert (agent.recap, agent.history_turns) == (DEFAULTS.recap, DEFAULTS.history_turns)
    assert tool_agent_for("main", main=model).model is model
    with pytest.raises(ConfigError, match="pass main="):
        tool_agent_for("main")


def test_a_model_on_an_adapter_is_prompted_with_the_settings_it_was_trained_with(trained):
    agent = tool_agent_for(f"local?lora={trained}&lora_scale=0.5")
    assert "+trained" in agent.model.name  # loaded here (wrapped: the adapter is seen through)
    assert (agent.recap, agent.history_turns) == (12, 2)
    # the main model on an adapter too
    assert tool_agent_for(agent.model).recap == 12


def test_the_registry_picks_the_adapter_of_the_world_else_the_main_model(registry):
    main = ScriptedModel([])
    agent = tool_agent_for("registry", main=main, world="textworld/tw-simple", registry=registry)
    assert agent.model is not main and (agent.recap, agent.history_turns) == (12, 2)
    other = tool_agent_for("registry", main=main, world="alfworld/x", registry=registry)
    assert other.model is main and other.recap == DEFAULTS.recap
    assert tool_agent_for("registry", main=main, registry=registry).model is main  # no world
    assert tool_model_spec("registry", "textworld/x", registry=registry) == (
        registry.spec_for("textworld/")
    )
    assert tool_model_spec("main", "textworld/x") is None is tool_model_spec(None)
    assert tool_model_spec("local", "textworld/x") == "local"


def test_the_caller_overrides_win_over_the_adapter(trained):
    loaded: list[str] = []

    def load(spec: str) -> ScriptedModel:
        loaded.append(spec)
        model = ScriptedModel([])
        model.lora_path = str(trained)  # type: ignore[attr-defined]  # as LocalModel keeps it
        return model

    agent = tool_agent_for(
        f"local?lora={trained}", load=load, recap=3, temperature=0.0, name="stage"
    )
    assert loaded == [f"local?lora={trained}"]
    assert (agent.recap, agent.history_turns, agent.temperature, agent.name) == (
        3,
        2,
        0.0,
        "stage",
    )


def test_a_drama_session_prompts_the_stage_adapter_as_it_was_trained(tmp_path, trained):
    from dramaturg.drama.blueprint import Blueprint
    from dramaturg.drama.session import DramaSession
    from dramaturg.testing import SchemaModel
    from dramaturg.worlds.theatre import load_stage

    blueprint = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    session, _ = DramaSession.create(blueprint, player="hamlet", home=tmp_path / "home")
    assert session._tool_agent().recap == DEFAULTS.recap  # nothing registered
    AdapterRegistry().add("theatre/", trained, check=False)
    fresh = DramaSession.open(session.meta.id, home=tmp_path / "home")
    agent = fresh._tool_agent()
    assert "+trained" in agent.model.name and (agent.recap, agent.history_turns) == (12, 2)
    fresh.use_model(SchemaModel())  # a model handed in plays every part, with its own settings
    assert fresh._tool_agent().model is fresh._chat() and fresh._tool_agent().recap == 0


def test_an_adapter_records_the_tool_agent_settings_it_was_trained_with(tmp_path):
    plain = write_lora_adapter(tmp_path / "plain.gguf")
    recap = write_lora_adapter(tmp_path / "recap.gguf", meta={"dramaturg.tool_agent.recap": 12})
    assert adapter_tool_agent(f"local?lora={plain}") == {}  # another tool's adapter: the defaults
    assert adapter_tool_agent(f"local?lora={recap}&lora_scale=0.5") == {"recap": 12}
    assert adapter_tool_agent("local") == {} == adapter_tool_agent(None)
    newer = write_lora_adapter(tmp_path / "newer.gguf", meta={"dramaturg.tool_agent.colour": 3})
    with pytest.raises(ConfigError, match=r"newer.gguf: unknown tool agent setting.*colour"):
        adapter_tool_agent(f"local?lora={newer}")
    with pytest.raises(ConfigError, match=r"newer.gguf: unknown tool agent setting.*colour"):
        tool_agent_for(f"local?lora={newer}")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00")
    with pytest.raises(ConfigError, match="cannot read the adapter"):
        adapter_tool_agent(f"local?lora={broken}")
