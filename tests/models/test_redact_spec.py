"""Model specs with their secrets masked, compared, and restored on resume."""

from __future__ import annotations

import pytest

from dramaturg.errors import ConfigError
from dramaturg.models._redact import MASK, is_secret_option, redact_spec, restore_spec, same_spec

KEY = "s3cr3t-Value-123"


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        (
            f"openai:http://127.0.0.1:8080/v1#gemma?api_key={KEY}",
            "openai:http://127.0.0.1:8080/v1#gemma?api_key=[REDACTED]",
        ),
        (
            f"litellm:openai/gpt-4o?api_base=http://h:1/v1&API_KEY={KEY}&max_tokens=64",
            "litellm:openai/gpt-4o?api_base=http://h:1/v1&API_KEY=[REDACTED]&max_tokens=64",
        ),
        (f"openai:http://user:{KEY}@h/v1#m", "openai:http://user:[REDACTED]@h/v1#m"),
        (f"openai:http://h/v1?token={KEY}#m", "openai:http://h/v1?token=[REDACTED]#m"),
        (
            f"litellm:x?apiKey={KEY}&X-Api-Key={KEY}&password={KEY}",
            "litellm:x?apiKey=[REDACTED]&X-Api-Key=[REDACTED]&password=[REDACTED]",
        ),
        ("litellm:x?api_key=sk-abcdefghijklmnopqrstuvwx", "litellm:x?api_key=[REDACTED]"),
        ("local?lora=/a/b.gguf&n_ctx=2048", "local?lora=/a/b.gguf&n_ctx=2048"),
        (None, None),
    ],
)
def test_redact_spec(spec, shown):
    assert redact_spec(spec) == shown
    assert redact_spec(shown) == shown  # idempotent: a stored spec stays as it is


def test_a_command_line_is_redacted_too():
    line = f"dramaturg eval run s.yaml --model 'openai:http://h/v1#g?api_key={KEY}' --n 2"
    assert (
        redact_spec(line)
        == "dramaturg eval run s.yaml --model 'openai:http://h/v1#g?api_key=[REDACTED]' --n 2"
    )


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("key", True),
        ("Token", True),
        ("client_secret", True),
        ("PASSWORD", True),
        ("access_token", True),
        ("max_tokens", False),
        ("lora", False),
        ("api_base", False),
        ("keep", False),
    ],
)
def test_secret_option_names(name, secret):
    assert is_secret_option(name) is secret


def test_same_spec_ignores_secrets_and_option_order():
    base = "openai:http://h/v1#g"
    assert same_spec(f"{base}?api_key=a&temperature=1", f"{base}?temperature=1&api_key=b")
    assert same_spec(f"{base}?api_key=a", base)
    assert not same_spec(f"{base}?api_key=a", "openai:http://h/v1#other?api_key=a")


def test_restore_spec_takes_the_secret_from_the_cli_or_the_environment(monkeypatch):
    monkeypatch.delenv("DRAMATURG_MODEL", raising=False)
    full = f"openai:http://h/v1#g?api_key={KEY}"
    stored = redact_spec(full)
    assert MASK in stored and KEY not in stored
    assert restore_spec(stored, full) == full
    assert (
        restore_spec(stored, "openai:http://h/v1#g") == "openai:http://h/v1#g"
    )  # key from OPENAI_API_KEY
    with pytest.raises(ConfigError, match="dramaturg run --resume x --model SPEC") as info:
        restore_spec(stored, None, how="dramaturg run --resume x --model SPEC")
    assert "DRAMATURG_MODEL" in str(info.value)
    with pytest.raises(ConfigError):
        restore_spec(stored, "openai:http://h/v1#another")  # not the same model
    monkeypatch.setenv("DRAMATURG_MODEL", full)
    assert restore_spec(stored, None) == full
    assert restore_spec("local", None) == "local" and restore_spec(None, None) is None


def test_same_spec_inside_a_label():
    assert same_spec(
        "react (openai:http://h/v1#g?api_key=[REDACTED])", "react (openai:http://h/v1#g)"
    )
