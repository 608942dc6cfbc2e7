"""A real llama.cpp server on 127.0.0.1, reached through both remote backends."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from dramaturg.models import LiteLLMModel, OpenAIModel, load_model, user
from dramaturg.testing import llama_server

from .schemas import Mood


class Cue(BaseModel):
    """Small and bounded (an enum, a nested object, a list): the server has no fast path."""

    class Who(BaseModel):
        name: str = Field(max_length=12)

    mood: Mood
    who: Who
    props: list[str] = Field(max_length=2)

pytestmark = pytest.mark.server

PROMPT = [
    {"role": "system", "content": "A play's beats as JSON."},
    user("Hamlet holds a skull and speaks, angry."),
]


# The same server through each remote backend.
BOTH_BACKENDS = pytest.mark.parametrize("spec_of", [
    lambda url: f"openai:{url}#gemma",
    lambda url: f"litellm:openai/gemma?api_base={url}&api_key=sk-local",
], ids=["openai", "litellm"])


@pytest.fixture(scope="module")
def server_url():
    with llama_server(n_ctx=2048, chat_format="gemma") as url:
        yield url


@BOTH_BACKENDS
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
def test_a_retry_and_a_time_budget_reach_the_server(server_url, spec_of):
    model = load_model(spec_of(server_url), retries=0)
    first = model.complete_sync([user("Once upon a time")], max_tokens=12, temperature=0, timeout=60)
    again = model.complete_sync([user("Once upon a time")], max_tokens=12, temperature=0, timeout=60)
    retry = model.complete_sync([user("Once upon a time")], max_tokens=12, temperature=0, timeout=60, attempt=3)
    assert first.text == again.text != retry.text  # greedy repeats itself; the retry samples (seed, temperature)
    cue = model.structured_sync(PROMPT, Cue, max_tokens=80, timeout=60)
    assert isinstance(cue, Cue)


# ---------------------------------------------------------------- drama through the server, both kinds


async def _play(model, turns):
    from pathlib import Path

    from dramaturg.agents import ToolAgent
    from dramaturg.drama import Blueprint, drama
    from dramaturg.drama._bundled import resolve_play
    from dramaturg.drama.graph import actor_for, director_for

    graph = drama(Blueprint.load(resolve_play(Path("elsinore"))), actor=actor_for(model),
                  director=director_for(model), tool_agent=ToolAgent(model=model), max_turns=turns)
    final = await graph.ainvoke({}, {"recursion_limit": 200})
    return [t for t in final["transcript"] if t["kind"] == "turn"]


async def test_drama_on_the_instruct_path_through_the_server(server_url):
    """An openai: spec is an instruct model: structured decisions, the director's picks, end to end."""
    from dramaturg.drama.actor import Actor
    from dramaturg.drama.graph import actor_for
    from dramaturg.models import model_kind

    model = load_model(f"openai:{server_url}#gemma", retries=1)
    assert model_kind(model) == "instruct" and isinstance(actor_for(model), Actor)
    turns = await _play(model, 3)  # two authored opening lines, then a turn the director and the actor decide
    assert len(turns) == 3 and [t["by"] for t in turns] == ["script", "script", "agent"]
    assert all(t["public"] or t.get("error") for t in turns)
    assert not any("is silent" in t["public"] for t in turns)
    callers = model.usage.by_caller
    assert any(c.startswith("director:pick") for c in callers) and any(c.startswith("actor:") for c in callers)


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
