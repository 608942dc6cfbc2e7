from __future__ import annotations

import pytest

from dramaturg.errors import ScriptError
from dramaturg.models import Reply, ScriptedModel, caller, user

from .schemas import VALID_BEAT, Beat


def test_replays_in_order_and_records_calls():
    model = ScriptedModel(["one", "two"])
    assert model.complete_sync([user("a")]).text == "one"
    assert model.complete_sync([user("b")]).text == "two"
    assert [c.messages[-1]["content"] for c in model.calls] == ["a", "b"]
    model.assert_consumed()


def test_unexpected_call_fails():
    model = ScriptedModel(["only"])
    model.complete_sync([user("a")])
    with pytest.raises(ScriptError, match="unexpected complete call #2"):
        model.complete_sync([user("b")])


def test_unconsumed_answers_fail():
    with pytest.raises(ScriptError, match="1 scripted answer"):
        with ScriptedModel(["a", "b"]) as model:
            model.complete_sync([user("x")])


def test_expectations_on_kind_caller_and_messages():
    model = ScriptedModel([Reply(VALID_BEAT, expect="structured", caller="actor")])
    with pytest.raises(ScriptError, match="expected structured"):
        model.complete_sync([user("x")])
    model = ScriptedModel([Reply(VALID_BEAT, caller="actor")])
    with caller("director"), pytest.raises(ScriptError, match="expected 'actor'"):
        model.structured_sync([user("x")], Beat)
    model = ScriptedModel([Reply("hi", check=lambda msgs: "secret" not in msgs[-1]["content"])])
    with pytest.raises(ScriptError, match="check"):
        model.complete_sync([user("the secret")])


def test_structured_from_dict_model_and_callable():
    beat = Beat.model_validate(VALID_BEAT)
    model = ScriptedModel(
        [VALID_BEAT, beat, lambda msgs, opts: VALID_BEAT | {"speaker": msgs[-1]["content"]}]
    )
    assert model.structured_sync([user("x")], Beat) == beat
    assert model.structured_sync([user("x")], Beat) == beat
    assert model.structured_sync([user("Ophelia")], Beat).speaker == "Ophelia"
    assert model.calls[0].kind == "structured"
    assert model.calls[0].opts["json_schema"]["title"] == "Beat"


def test_exception_answers_are_raised():
    model = ScriptedModel([TimeoutError("slow")])
    with pytest.raises(TimeoutError):
        model.complete_sync([user("x")])


async def test_async_api_and_caller_attribution():
    model = ScriptedModel(["a"])
    with caller("planner"):
        out = await model.complete([user("x")])
    assert out.text == "a" and model.calls[0].caller == "planner"
    assert out.usage.prompt_tokens > 0 and out.usage.completion_tokens > 0


async def test_sync_twin_inside_event_loop_is_a_clear_error():
    from dramaturg.errors import ConfigError

    model = ScriptedModel(["a"])
    with pytest.raises(ConfigError, match="await"):
        model.complete_sync([user("x")])
