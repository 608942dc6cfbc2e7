"""A real llama.cpp server on 127.0.0.1, reached through both remote backends."""

from __future__ import annotations

import socket
import threading
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from dramaturg.errors import ModelConnectionError
from dramaturg.models import LiteLLMModel, OpenAIModel, RetryingModel, load_model, user
from dramaturg.testing import llama_server

from .schemas import Mood


class Cue(BaseModel):
    """Small and bounded (an enum, a nested object, a list): the server has no fast path."""

    class Who(BaseModel):
        name: str = Field(max_length=12)

    mood: Mood
    who: Who
    props: list[str] = Field(max_length=2)


SERVER = pytest.mark.server  # the tests that start llama-cpp-python's server

PROMPT = [
    {"role": "system", "content": "A play's beats as JSON."},
    user("Hamlet holds a skull and speaks, angry."),
]


# The same server through each remote backend.
BOTH_BACKENDS = pytest.mark.parametrize(
    "spec_of",
    [
        lambda url: f"openai:{url}#gemma",
        lambda url: f"litellm:openai/gemma?api_base={url}&api_key=sk-local",
    ],
    ids=["openai", "litellm"],
)


@pytest.fixture(scope="module")
def server_url():
    with llama_server(n_ctx=2048, chat_format="gemma") as url:
        yield url


@BOTH_BACKENDS
@SERVER
def test_complete_and_structured_through_the_server(server_url, spec_of):
    model = load_model(spec_of(server_url), retries=2)
    backend = model.inner.inner
    assert isinstance(backend, OpenAIModel | LiteLLMModel)

    out = model.complete_sync([user("Once upon a time")], max_tokens=16, temperature=0, caller="t")
    assert out.text.strip()
    assert out.usage.prompt_tokens > 0 and 0 < out.usage.completion_tokens <= 16
    assert out.finish_reason in {"stop", "length"}

    cue = model.structured_sync(PROMPT, Cue, max_tokens=80, caller="t")
    assert isinstance(cue, Cue) and isinstance(cue.mood, Mood) and len(cue.props) <= 2
    # llama-cpp-python's server takes the json_object form; auto mode found that out.
    assert backend.structured_mode == "json_object"
    assert model.usage.by_caller["t"].calls >= 2


@BOTH_BACKENDS
@SERVER
def test_a_retry_and_a_time_budget_reach_the_server(server_url, spec_of):
    model = load_model(spec_of(server_url), retries=0)
    first = model.complete_sync(
        [user("Once upon a time")], max_tokens=12, temperature=0, timeout=60
    )
    again = model.complete_sync(
        [user("Once upon a time")], max_tokens=12, temperature=0, timeout=60
    )
    retry = model.complete_sync(
        [user("Once upon a time")], max_tokens=12, temperature=0, timeout=60, attempt=3
    )
    assert (
        first.text == again.text != retry.text
    )  # greedy repeats itself; the retry samples (seed, temperature)
    cue = model.structured_sync(PROMPT, Cue, max_tokens=80, timeout=60)
    assert isinstance(cue, Cue)


# ---------------------------------------------------------------- drama through the server, both kinds


async def _play(model, turns):
    from pathlib import Path

    from dramaturg.agents import ToolAgent
    from dramaturg.drama import Blueprint, drama
    from dramaturg.drama._bundled import resolve_play
    from dramaturg.drama.graph import actor_for, director_for

    graph = drama(
        Blueprint.load(resolve_play(Path("elsinore"))),
        actor=actor_for(model),
        director=director_for(model),
        tool_agent=ToolAgent(model=model),
        max_turns=turns,
    )
    final = await graph.ainvoke({}, {"recursion_limit": 200})
    return [t for t in final["transcript"] if t["kind"] == "turn"]


@SERVER
async def test_drama_on_the_instruct_path_through_the_server(server_url):
    """An openai: spec is an instruct model: structured decisions, the director's picks, end to end."""
    from dramaturg.drama.actor import Actor
    from dramaturg.drama.graph import actor_for
    from dramaturg.models import model_kind

    model = load_model(f"openai:{server_url}#gemma", retries=1)
    assert model_kind(model) == "instruct" and isinstance(actor_for(model), Actor)
    turns = await _play(
        model, 3
    )  # two authored opening lines, then a turn the director and the actor decide
    assert len(turns) == 3 and [t["by"] for t in turns] == ["script", "script", "agent"]
    assert all(t["public"] or t.get("error") for t in turns)
    assert not any("is silent" in t["public"] for t in turns)
    callers = model.usage.by_caller
    assert any(c.startswith("director:pick") for c in callers) and any(
        c.startswith("actor:") for c in callers
    )


@SERVER
async def test_drama_on_a_base_model_behind_the_server_continues_the_script(server_url):
    """?kind=base: the script path, through /v1/completions."""
    from dramaturg.drama.graph import actor_for
    from dramaturg.drama.script import ScriptActor
    from dramaturg.models import model_kind

    model = load_model(f"openai:{server_url}#gemma?kind=base")
    assert model_kind(model) == "base" and isinstance(actor_for(model), ScriptActor)
    turns = await _play(model, 5)
    spoken = [t for t in turns[2:] if t.get("line")]
    assert len(spoken) == 3, [t.get("public") or t.get("error") for t in turns]
    assert len({t["line"] for t in spoken}) == 3
    assert not any(c.startswith("director") for c in model.usage.by_caller)  # turns chosen in code


# ---------------------------------------------------------------- schemas the server's grammar converter breaks on


class Line(BaseModel):
    """Enum values with quotes and angle brackets: llama-cpp-python's converter made a grammar of
    them that crashed the server (a segfault in libllama)."""

    command: Literal["look", 'say "<line>"', 'whisper horatio "<line>"', 'aside "<line>"']


@SERVER
@BOTH_BACKENDS
def test_enum_values_with_quotes_get_a_valid_answer_and_the_server_lives(server_url, spec_of):
    model = load_model(spec_of(server_url), retries=1)
    asked = [user('Choose one command. Hamlet speaks: pick say "<line>".')]
    answer = model.structured_sync(asked, Line, max_tokens=40, temperature=0, timeout=60)
    assert (
        answer.command in Line.model_fields["command"].annotation.__args__
    )  # the caller's own values
    assert model.complete_sync(
        [user("Once upon a time")], max_tokens=4, timeout=60
    ).text.strip()  # still up


@SERVER
async def test_the_tool_agent_fills_a_template_through_the_server(server_url):
    from dramaturg.agents import ToolAgent

    model = load_model(f"openai:{server_url}#gemma", retries=2)
    admissible = ["wait", 'say "<line>"', 'whisper horatio "<line>"']
    agent = ToolAgent(model=model, temperature=0.0)
    command = await agent.command(
        goal="greet Horatio aloud", observation="A hall. Present: Horatio.", admissible=admissible
    )
    assert command == "wait" or (
        command.startswith(('say "', 'whisper horatio "'))
        and command.endswith('"')
        and "<line>" not in command
        and len(command) > len('say ""')
    ), command


# ---------------------------------------------------------------- a server that dies mid-request (no llama)


def _crashing_server() -> str:
    """A server on 127.0.0.1 that takes one request, stops listening and hangs up: a crash."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        listener.close()  # gone before the client hears of it: a retry is refused
        conn.recv(65536)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize(
    "backend",
    [
        lambda url: OpenAIModel(url, "gemma"),
        lambda url: LiteLLMModel("openai/gemma", api_base=url, api_key="sk-local"),
    ],
    ids=["openai", "litellm"],
)
@pytest.mark.parametrize("retried", [False, True], ids=["one-try", "retried"])
def test_a_server_that_hangs_up_mid_request_is_named_not_called_refused(backend, retried):
    url = _crashing_server()
    model = RetryingModel(backend(url), transport_retries=2 if retried else 0, backoff_s=0.01)
    with pytest.raises(ModelConnectionError) as info:
        model.complete_sync([user("Once upon a time")], max_tokens=4)
    message = str(info.value)
    assert "the model server closed the connection" in message and url in message
    assert "connection refused" not in message
    # A hang-up may be a glitch: retried. Refused after it, the server has stopped: not retried.
    assert info.value.transient is not retried
    assert ("now refuses connections" in message) is retried
