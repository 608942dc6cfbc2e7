"""The adapter registry: keys to adapters, most specific first, checked when added."""

from __future__ import annotations

import json

import pytest

from dramaturg.errors import ConfigError
from dramaturg.models.loader import parse_spec
from dramaturg.training import AdapterRegistry

from ._tiny import write_lora_adapter


@pytest.fixture
def adapter(tmp_path):
    return write_lora_adapter(tmp_path / "my adapter.gguf")


def test_the_most_specific_key_wins(adapter, tiny_gguf, tmp_path):
    registry = AdapterRegistry()
    assert registry.path.parent.name == "dramaturg-home" and registry.list() == []
    other = write_lora_adapter(tmp_path / "other.gguf", seed=1)
    registry.add("textworld/", adapter, base=tiny_gguf)
    registry.add("textworld/tw-cooking", other, scale=0.5, base=tiny_gguf)
    registry.add("file_reader", other, base=tiny_gguf)
    assert registry.resolve("textworld/tw-simple").path == adapter
    assert registry.resolve("textworld/tw-cooking").scale == 0.5
    assert registry.resolve("file_reader").path == other
    assert registry.resolve("alfworld/pick_and_place_simple") is None
    assert registry.resolve("textworld") is None  # a prefix key matches what is under it only
    assert [e.key for e in AdapterRegistry().list()] == [
        "file_reader",
        "textworld/",
        "textworld/tw-cooking",
    ]
    removed = registry.remove("textworld/tw-cooking")
    assert removed.path == other and registry.resolve("textworld/tw-cooking").path == adapter
    with pytest.raises(ConfigError, match="no adapter is registered for 'nope'"):
        registry.remove("nope")


def test_the_model_spec_round_trips_through_the_loader(adapter, tiny_gguf):
    entry = AdapterRegistry().add("textworld/", adapter, scale=0.75, base=tiny_gguf)
    backend, target, options = parse_spec(entry.model_spec())
    assert (backend, target) == ("local", "")
    assert options == {"lora": str(adapter), "lora_scale": 0.75}  # the space in the path survives


def test_a_wrong_adapter_is_refused_when_added(adapter, tiny_gguf, real_base, tmp_path):
    registry = AdapterRegistry()
    with pytest.raises(ConfigError, match="does not fit the base model"):
        registry.add("textworld/", adapter, base=real_base)
    with pytest.raises(ConfigError, match="is not a LoRA adapter"):
        registry.add("textworld/", tiny_gguf, base=real_base)
    with pytest.raises(ConfigError, match="not found"):
        registry.add("textworld/", tmp_path / "missing.gguf")
    with pytest.raises(ConfigError, match="without spaces"):
        registry.add("text world", adapter, base=tiny_gguf)
    assert registry.list() == []


def test_a_broken_registry_file_says_where(adapter, tmp_path):
    path = tmp_path / "adapters.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError, match=r"adapters\.json is not JSON"):
        AdapterRegistry(path).list()
    path.write_text(
        json.dumps({"adapters": {"textworld/": {"path": str(adapter), "colour": "red"}}})
    )
    with pytest.raises(ConfigError, match="unknown field"):
        AdapterRegistry(path).resolve("textworld/x")


def test_an_adapter_records_the_tool_agent_settings_it_was_trained_with(tmp_path):
    from dramaturg.agents.tool_agent import adapter_tool_agent

    plain = write_lora_adapter(tmp_path / "plain.gguf")
    recap = write_lora_adapter(tmp_path / "recap.gguf", meta={"dramaturg.tool_agent.recap": 12})
    assert adapter_tool_agent(f"local?lora={plain}") == {}  # another tool's adapter: the defaults
    assert adapter_tool_agent(f"local?lora={recap}&lora_scale=0.5") == {"recap": 12}
    newer = write_lora_adapter(tmp_path / "newer.gguf", meta={"dramaturg.tool_agent.colour": 3})
    with pytest.raises(ConfigError, match=r"newer.gguf: unknown tool agent setting.*colour"):
        adapter_tool_agent(f"local?lora={newer}")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00")
    with pytest.raises(ConfigError, match="cannot read the adapter"):
        adapter_tool_agent(f"local?lora={broken}")
