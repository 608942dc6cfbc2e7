"""The adapter registry: keys to adapters, most specific first, checked when added."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dramaturg.errors import ConfigError
from dramaturg.models._weights import default_weights
from dramaturg.models.adapters import AdapterRegistry, registry_path
from dramaturg.models.loader import parse_spec

from ..training._tiny import write_lora_adapter, write_tiny_gemma3


@pytest.fixture(scope="module")
def real_base() -> Path:
    """The packaged Gemma 3 270M GGUF (from the real cache: it is large and read-only)."""
    return default_weights()


@pytest.fixture(scope="module")
def tiny_gguf(real_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Gemma 3 with the real vocabulary (see ``tests/training/_tiny``)."""
    return write_tiny_gemma3(
        tmp_path_factory.mktemp("tiny") / "tiny-gemma3.gguf", vocab_from=real_base
    )


@pytest.fixture
def adapter(tmp_path):
    return write_lora_adapter(tmp_path / "my adapter.gguf")


def test_the_most_specific_key_wins(adapter, tiny_gguf, tmp_path):
    registry = AdapterRegistry()
    assert registry.path == registry_path() and registry.path.parent.name == "dramaturg-home"
    assert registry.list() == []
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


def test_a_registered_spec_names_the_adapter_and_its_scale(adapter, tiny_gguf):
    registry = AdapterRegistry()
    assert registry.spec_for("textworld/tw-simple") is None
    registry.add("textworld/", adapter, scale=0.5, base=tiny_gguf)
    assert registry.spec_for("textworld/tw-simple") == registry.resolve("textworld/").model_spec()
    assert parse_spec(registry.spec_for("textworld/tw-simple"))[2]["lora_scale"] == 0.5
