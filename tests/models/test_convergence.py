"""Structured calls that converge: bounded schemas, loops stopped early, retries that differ,
time budgets, and text no encoder accepts (lone surrogates)."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from dramaturg.errors import ModelOutputError, RetryBudgetExceeded
from dramaturg.models import DelayedModel, Reply, ScriptedModel, user, wrap
from dramaturg.models._bounds import Bounds, bound_schema
from dramaturg.models._json import JsonEnd, find_loop, parse_structured
from tests.models.schemas import Line


class Props(BaseModel):
    name: str
    tags: dict[str, str]
    items: list[str] = []  # a field called "items" is a property, not an array's items


def test_bounds_are_added_where_the_schema_sets_none_and_kept_where_it_does():
    schema = Line.model_json_schema()
    schema["properties"]["speaker"]["maxLength"] = 30
    bounded = bound_schema(schema, max_items=8, max_length=200)
    props = bounded["properties"]
    assert props["speaker"]["maxLength"] == 30  # the schema's own limit wins
    assert props["words"]["maxItems"] == 8
    assert props["words"]["items"]["maxLength"] == 200
    assert "maxLength" not in props["mood"]  # an enum needs none
    assert (
        schema["properties"]["words"].get("maxItems") is None
    )  # the caller's schema is not touched
    nested = bound_schema(Props.model_json_schema(), max_items=4, max_length=50)
    assert nested["properties"]["tags"]["maxProperties"] == 4
    assert nested["properties"]["items"]["maxItems"] == 4
    assert (
        "maxItems" not in nested["properties"]
    )  # "items" the property name is not an array keyword


def test_each_retry_halves_the_added_bounds():
    bounds = Bounds(max_items=8, max_length=200)
    assert bounds.tightened(0) == bounds
    assert bounds.tightened(1) == Bounds(max_items=4, max_length=100)
    assert bounds.tightened(5) == Bounds(max_items=2, max_length=16)
    with pytest.raises(ValueError):
        Bounds(max_items=0)


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        (
            '{"speaker": "Hamlet", "mood": "calm", "words": ["Hamlet", "Hamlet", "Hamlet", "Hamlet"',
            "words[3]",
            '"Hamlet"',
        ),
        (
            '{"moods": ["calm", "angry", "afraid", "calm", "angry", "afraid", "calm", "angry", "afraid", "calm"',
            "moods[9]",
            '"calm"',
        ),
        (
            '{"plan": {"subtasks": [{"id": "s1"}, {"id": "s1"}, {"id": "s1"}, {"id": "s1"}',
            "plan.subtasks[3]",
            '{"id": "s1"}',
        ),
        (
            '{"speaker": "to be or not to be or not to be or not to be or not',
            "speaker",
            "to be or not",
        ),
        ('{"note": "' + "!" * 40, "note", "!!!!!!!!"),
        ('{"owner": "John", "items": {"name": 1' + "0" * 40, "items.name", "00000000"),
    ],
)
def test_a_loop_is_stopped_early_and_named_by_its_field(text, field, value):
    scanner = JsonEnd()
    assert scanner.feed(text) is None
    assert scanner.invalid and scanner.loop is not None
    assert scanner.loop.field == field
    assert value in scanner.loop.value or scanner.loop.value in value
    assert find_loop(text) == scanner.loop


def test_repeats_that_are_not_loops_pass():
    filler = " ".join(f"word{i}" for i in range(60))  # 60 different words between the repeats
    fine = json.dumps(
        {
            "scores": [1, 1, 1, 1],
            "flags": [True, True, True],
            "names": ["a", "b", "c", "d"],
            "empty": ["", "", ""],
            "tags": ["bb", "bb", "bb"],
            "accents": "\u00e9" * 30,
            "text": "the cat sat on the mat and the dog sat on the rug",
            "speech": f"to be or not to be, that is the question; {filler} to be or not to be {filler} "
            "to be or not to be",
        }
    )
    scanner = JsonEnd(max_string=5000)  # the speech is longer than the default string limit
    assert scanner.feed(fine) == len(fine)
    assert scanner.loop is None and not scanner.invalid


def test_a_cut_off_loop_names_its_field_in_the_error():
    text = '{"speaker": "Hamlet", "mood": "calm", "words": ["Hamlet", "Hamlet", "Hamlet", "Hamlet", "Ham'
    with pytest.raises(ModelOutputError) as info:
        parse_structured(text, Line, truncated=True)
    assert info.value.kind == "loop" and info.value.field == "words[3]"
    assert "'words[3]'" in info.value.feedback


@pytest.mark.parametrize(
    "raw",
    [
        '{"speaker": "\\ud800", "mood": "calm", "words": []}',
        '{"speaker": "H", "mood": "calm", "words": ["ok", "\\udfff x"]}',
        '{"speaker": "H", "mood": "calm", "words": [], "\\ud834": 1}',
    ],
)
def test_a_lone_surrogate_is_a_model_error_not_a_crash(raw):
    with pytest.raises(ModelOutputError) as info:
        parse_structured(raw, Line)
    assert "surrogate" in info.value.feedback
    assert info.value.field


def test_surrogates_in_plain_answers_are_replaced_and_traces_still_written(tmp_path):
    trace = tmp_path / "trace.jsonl"
    model = wrap(ScriptedModel(["half a pair: \ud800 here"]), trace=trace)
    text = model.complete_sync([user("hi")]).text
    assert text == "half a pair: \ufffd here"
    text.encode("utf-8")  # encodable now
    record = json.loads(trace.read_text(encoding="utf-8"))
    assert (
        record["answer"] == "half a pair: \ud800 here"
    )  # the trace keeps what the model wrote, escaped


def test_retries_differ_and_a_loop_is_not_shown_back_to_the_model():
    loop = '{"speaker": "Hamlet", "mood": "calm", "words": ["Hamlet", "Hamlet", "Hamlet", "Hamlet", "Hamlet"'
    good = '{"speaker": "Hamlet", "mood": "calm", "words": ["Alas"]}'
    backend = ScriptedModel([Reply(loop, finish_reason="length"), Reply(good)])
    model = wrap(backend, retries=2)
    assert model.structured_sync([user("Speak.")], Line).words == ["Alas"]
    first, second = backend.calls
    assert "attempt" not in first.opts and second.opts["attempt"] == 1
    # The loop is not fed back to be continued (nor the complaint, which a base model copies):
    # the same question, sampled differently.
    assert second.messages == first.messages


def test_the_final_error_names_the_field_that_looped():
    loop = '{"speaker": "Hamlet", "mood": "calm", "words": ["Hamlet", "Hamlet", "Hamlet", "Hamlet", "Hamlet"'
    backend = ScriptedModel([Reply(loop, finish_reason="length")] * 3)
    with pytest.raises(RetryBudgetExceeded) as info:
        wrap(backend, retries=2).structured_sync([user("Speak.")], Line)
    assert info.value.fields == ["words[3]"]
    assert "field 'words[3]'" in str(info.value)
    assert info.value.kinds == ["loop", "loop", "loop"]
    assert [c.opts.get("attempt") for c in backend.calls] == [None, 1, 2]


def test_a_time_budget_ends_an_attempt_on_a_backend_that_cannot_stop_itself():
    good = '{"speaker": "Hamlet", "mood": "calm", "words": []}'
    slow = DelayedModel(ScriptedModel([good, good]), delay_s=5.0)
    model = wrap(slow, retries=0)

    async def run() -> None:
        with pytest.raises(RetryBudgetExceeded) as info:
            await model.structured([user("Speak.")], Line, timeout=0.05)
        assert info.value.kinds == ["timeout"]

    started = asyncio.run(_timed(run()))
    assert started < 3.0


async def _timed(coro) -> float:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await coro
    return loop.time() - t0


def test_remote_retries_send_another_seed_and_a_temperature():
    from dramaturg.models._remote import build_request

    first = build_request([], {"temperature": 0, "timeout": 5}, "json_schema")
    retry = build_request([], {"temperature": 0, "attempt": 2, "seed": 3}, "json_schema")
    assert first == {"messages": [], "temperature": 0, "timeout": 5.0}
    assert retry["seed"] == 3 + 2 * 1009 and retry["temperature"] > 0
