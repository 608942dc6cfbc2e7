"""Structured output on the embedded model: any schema a user writes is answered, in seconds.

These run the real Gemma 3 270M. The schemas in ``USER_SCHEMAS`` bound nothing
(unbounded lists, nested objects, optional fields, a dict, Literal and Enum
values), which once made the model loop until the token limit.
"""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel

from dramaturg.errors import ConfigError, RetryBudgetExceeded
from dramaturg.models import LocalModel, system, user, wrap
from dramaturg.models._decode import heal as _heal
from dramaturg.models.base import json_schema_of

from .schemas import USER_SCHEMAS, Line

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def backend():
    return LocalModel(n_ctx=2048)


@pytest.mark.parametrize("schema", list(USER_SCHEMAS), ids=lambda s: s.__name__)
def test_every_user_schema_is_answered_five_times_of_five(backend, schema):
    model = wrap(backend)
    backend.engine.masks  # the one-off token table build is not part of any call  # noqa: B018
    for prompt in USER_SCHEMAS[schema]:
        started = time.perf_counter()
        answer = model.structured_sync([user(prompt)], schema)
        took = time.perf_counter() - started
        assert isinstance(answer, schema)
        # Not a speed target (benchmarks/bench_models.py --structured measures those: under 15 s on
        # an idle machine): a guard against the unbounded spin of minutes this once was.
        assert took < 60, f"{schema.__name__} took {took:.1f} s on {prompt!r}"


def test_token_masks_and_gbnf_both_hold_answers_to_the_schema_and_its_bounds(backend):
    gbnf = LocalModel(n_ctx=2048, constrained="gbnf", optimistic_json=False)
    schema = json_schema_of(Line)
    for line in ("Hamlet speaks line 1 to Gertrude.", "Ophelia speaks line 2 to Laertes."):
        msgs = [
            system("Answer with JSON."),
            user(line),
        ]  # no instruction: the model alone would not comply
        for model in (backend, gbnf):
            out = model.complete_sync(
                msgs, json_schema=schema, response_model=Line, temperature=0, max_tokens=400
            )
            if out.finish_reason == "stop":
                assert len(Line.model_validate_json(out.text).words) <= 8
            else:  # stopped early: it looped (the retry wrapper would sample again)
                assert out.finish_reason == "loop"
            assert out.constrained  # neither answer is the model's own


def test_a_retry_on_the_embedded_model_writes_something_else(backend):
    msgs = [user("Hamlet speaks line 1 to Gertrude.")]
    schema = json_schema_of(Line)
    first = backend.complete_sync(msgs, json_schema=schema, response_model=Line)
    again = backend.complete_sync(msgs, json_schema=schema, response_model=Line)
    retry = backend.complete_sync(msgs, json_schema=schema, response_model=Line, attempt=2)
    assert first.text == again.text  # greedy: the same prompt gives the same answer
    assert retry.text != first.text
    assert len(Line.model_validate_json(retry.text).words) <= 2  # bounds halved twice: 8 -> 2 items


def test_a_time_budget_stops_the_embedded_model_mid_answer(backend):
    class Saga(BaseModel):
        chapters: list[str]

    model = wrap(backend, retries=1)
    started = time.perf_counter()
    with pytest.raises(RetryBudgetExceeded) as info:
        model.structured_sync(
            [user("Tell the whole saga of Denmark, chapter by chapter.")], Saga, timeout=0.3
        )
    assert info.value.kinds == ["timeout", "timeout"]
    assert time.perf_counter() - started < 5


def test_token_healing_backs_off_a_token_the_examples_extend(backend):
    engine = backend.engine
    tokens, allowed, skip = _heal(engine, "Assistant: {")
    full = engine.llm.tokenize(b"Assistant: {", add_bos=True, special=True)
    assert tokens == full[:-1] and skip == len(engine.vocab.piece(full[-1]).decode())
    assert all(engine.vocab.piece(int(t)).startswith(engine.vocab.piece(full[-1])) for t in allowed)
    assert any(engine.vocab.piece(int(t)) == b' {"' for t in allowed)
    # A prompt that ends on a boundary nothing extends is left alone.
    assert _heal(engine, "Assistant: {", enabled=False)[1] is None


def test_constrained_is_checked():
    with pytest.raises(ConfigError):
        LocalModel(constrained="regex")  # type: ignore[arg-type]
