from __future__ import annotations

import pytest

from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.models import LocalModel, OpenAIModel, load_model, parse_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local", ("local", "", {})),
        ("local?n_ctx=2048&lora=/a/b.gguf", ("local", "", {"n_ctx": 2048, "lora": "/a/b.gguf"})),
        ("local:/models/x.gguf?temperature=0.2", ("local", "/models/x.gguf", {"temperature": 0.2})),
        ("litellm:openai/gpt-4o-mini", ("litellm", "openai/gpt-4o-mini", {})),
        (
            "litellm:openai/gemma?api_base=http://127.0.0.1:8080/v1",
            ("litellm", "openai/gemma", {"api_base": "http://127.0.0.1:8080/v1"}),
        ),
        ("openai:http://127.0.0.1:8080/v1#gemma", ("openai", "http://127.0.0.1:8080/v1#gemma", {})),
        (
            "openai:https://h.example/v1#m?structured=json_object",
            ("openai", "https://h.example/v1#m", {"structured": "json_object"}),
        ),
    ],
)
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4o", "should start with one of"),
        ("openai:127.0.0.1:8080#x", "openai:<base_url>#<model>"),
        ("openai:http://127.0.0.1:8080/v1", "openai:<base_url>#<model>"),
        ("litellm:", "litellm:<provider>/<model>"),
    ],
)
def test_bad_specs_say_how_to_fix_them(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(spec)


def test_load_model_builds_the_wrapped_backend():
    model = load_model("openai:http://127.0.0.1:9/v1#gemma", retries=1)
    assert isinstance(model.inner.inner, OpenAIModel)
    assert model.retries == 1
    assert model.usage.total.calls == 0


def test_unknown_backend_option_is_a_config_error():
    with pytest.raises(ConfigError, match="bad option for the openai backend"):
        load_model("openai:http://127.0.0.1:9/v1#gemma?colour=blue")


def test_local_is_the_default(monkeypatch):
    monkeypatch.delenv("DRAMATURG_MODEL", raising=False)
    model = load_model()
    assert isinstance(model.inner.inner, LocalModel)  # nothing is loaded until the first call
    assert model.name == "local:gemma-3-270m-q4_k_m"


def test_missing_local_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="model file not found"):
        load_model(f"local:{tmp_path}/none.gguf")


def test_missing_extra_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "litellm":
            raise ImportError("no litellm")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingExtraError, match=r'pip install "dramaturg\[hosted\]"'):
        load_model("litellm:openai/gpt-4o-mini")
