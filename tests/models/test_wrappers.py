from __future__ import annotations

import asyncio
import json
import socket

import pytest

from dramaturg.errors import ModelConnectionError
from dramaturg.models import (
    OpenAIModel,
    RetryingModel,
    ScriptedModel,
    TracingModel,
    UsageModel,
    caller,
    user,
    wrap,
)

from .schemas import VALID_BEAT, Beat


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_usage_is_accounted_per_caller():
    model = UsageModel(ScriptedModel(["a", "bb", VALID_BEAT, RuntimeError("boom")]))
    with caller("planner"):
        model.complete_sync([user("x")])
        model.complete_sync([user("y")], caller="critic")
    model.structured_sync([user("z")], Beat, caller="actor")
    with pytest.raises(RuntimeError):
        model.complete_sync([user("w")], caller="actor")
    report = model.usage.as_dict()
    assert set(report) == {"planner", "critic", "actor"}
    assert report["planner"]["calls"] == 1 and report["critic"]["calls"] == 1
    assert report["actor"] == report["actor"] | {"calls": 2, "errors": 1}
    assert report["actor"]["completion_tokens"] > report["planner"]["completion_tokens"]
    assert model.usage.total.calls == 4


async def test_usage_is_correct_under_concurrency():
    model = UsageModel(ScriptedModel([str(i) for i in range(200)]))

    async def one(i: int) -> None:
        await model.complete([user("x")], caller=f"w{i % 4}")

    await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(c.calls for c in model.usage.by_caller.values()) == 200
    assert {c.calls for c in model.usage.by_caller.values()} == {50}


def test_trace_records_each_attempt(tmp_path):
    path = tmp_path / "trace.jsonl"
    inner = ScriptedModel(["not json", VALID_BEAT])
    model = wrap(inner, trace=path, retries=1)
    with caller("actor"):
        model.structured_sync([user("Who speaks?")], Beat)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2
    assert [x["answer"] for x in lines] == ["not json", json.dumps(VALID_BEAT)]
    assert all(x["caller"] == "actor" for x in lines)
    assert lines[0]["messages"][-1]["content"] == "Who speaks?"
    assert {"usage", "latency_s", "finish_reason", "ts", "model"} <= set(lines[0])
    assert model.usage.by_caller["actor"].calls == 2


def test_keys_never_reach_the_trace(tmp_path, monkeypatch):
    env_key = "sk-proj-ENVabcdefghijklmnopqrstuvwxyz0123"
    arg_key = 'my-custom-server-key-"quoted"-98765'
    monkeypatch.setenv("ANTHROPIC_API_KEY", env_key)
    path = tmp_path / "trace.jsonl"
    port = _closed_port()
    backend = OpenAIModel(f"http://127.0.0.1:{port}/v1", "gemma", api_key=arg_key)
    model = TracingModel(backend, path)
    with pytest.raises(ModelConnectionError):
        model.complete_sync(
            [user(f"my keys are {env_key} and {arg_key} and Bearer abcdefghijklmnopqrstuvwx")]
        )
    # A model that echoes a key back is scrubbed too.
    echo = TracingModel(ScriptedModel([f"the key is {env_key}"]), path)
    echo.complete_sync([user("what is the key?")])
    text = path.read_text()
    assert len(text.splitlines()) == 2
    assert env_key not in text
    assert arg_key not in text and json.dumps(arg_key)[1:-1] not in text
    assert "abcdefghijklmnopqrstuvwx" not in text
    assert text.count("[REDACTED]") >= 4


def test_connection_refused_names_the_endpoint():
    port = _closed_port()
    model = RetryingModel(
        OpenAIModel(f"http://127.0.0.1:{port}/v1", "gemma"), transport_retries=3, backoff_s=0.01
    )
    with pytest.raises(ModelConnectionError) as info:
        model.complete_sync([user("hello")])
    assert f"http://127.0.0.1:{port}/v1" in str(info.value)
    assert "connection refused" in str(info.value)
    assert info.value.transient is False  # refused: not retried


def test_transient_errors_are_retried_with_a_bound():
    flaky = ModelConnectionError("rate limited", endpoint="x", transient=True)
    inner = ScriptedModel([flaky, flaky, "ok"])
    assert (
        RetryingModel(inner, transport_retries=2, backoff_s=0.001).complete_sync([user("x")]).text
        == "ok"
    )
    inner = ScriptedModel([flaky, flaky, flaky])
    with pytest.raises(ModelConnectionError, match="rate limited"):
        RetryingModel(inner, transport_retries=2, backoff_s=0.001).complete_sync([user("x")])
    inner.assert_consumed()


def test_wrappers_reach_through_to_backend_attributes():
    model = wrap(ScriptedModel(["a"]), trace=None)
    assert model.remaining == 1  # a ScriptedModel attribute, through two wrappers
    assert model.name == "scripted"


def test_answers_forced_by_a_grammar_are_counted():
    from dramaturg.models.base import BaseChatModel, Completion

    class Half(BaseChatModel):
        name = "half"
        n = 0

        async def complete(self, messages, **opts):
            self.n += 1
            return Completion(text="x", constrained=self.n % 2 == 0)

    model = UsageModel(Half())
    for _ in range(5):
        model.complete_sync([user("x")], caller="tool-agent")
    assert model.usage.total.constrained == 2
    assert model.usage.as_dict()["tool-agent"]["constrained"] == 2
