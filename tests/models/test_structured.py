"""Structured output: parsing, retry with feedback, and a fuzz of malformed answers."""

from __future__ import annotations

import json
import random

import pytest
from pydantic import BaseModel

from dramaturg.errors import DramaturgError, ModelOutputError, RetryBudgetExceeded
from dramaturg.models import Reply, RetryingModel, ScriptedModel, user
from dramaturg.models._json import parse_structured, schema_outline

from .schemas import VALID_BEAT, Beat


def test_parse_accepts_fenced_and_prefixed_json():
    text = json.dumps(VALID_BEAT)
    assert parse_structured(text, Beat).speaker == "Hamlet"
    assert parse_structured(f"```json\n{text}\n```", Beat).mood.value == "angry"
    assert parse_structured(f"Sure! Here it is: {text} Hope that helps.", Beat).prop.held is True
    # A raw newline inside a string (llama.cpp's grammar allows it) is read as a newline.
    raw = text.replace('"Hamlet"', '"Ham\nlet"')
    assert parse_structured(raw, Beat).speaker == "Ham\nlet"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ('{"speaker": "Hamlet", "mood": ', "ends too early"),
        ('{"speaker": 3}', "does not match the schema"),
        (json.dumps(VALID_BEAT | {"extra": 1}), "extra"),
        (json.dumps(VALID_BEAT | {"mood": "bored"}), "mood"),
        ("no json here at all", "not valid JSON"),
    ],
)
def test_parse_errors_explain_themselves(raw, fragment):
    with pytest.raises(ModelOutputError) as info:
        parse_structured(raw, Beat)
    assert fragment in info.value.feedback


def test_truncation_is_reported_as_such():
    with pytest.raises(ModelOutputError, match="cut off"):
        parse_structured('{"speaker": "Ham', Beat, truncated=True)


def test_schema_outline_is_compact_and_complete():
    outline = schema_outline(Beat.model_json_schema())
    assert '"mood": "calm"|"angry"|"afraid"' in outline
    assert '"prop": {"name": string, "held": boolean}' in outline
    assert '"lines": [string, ...]' in outline


def test_retry_carries_the_error_back_to_the_model():
    inner = ScriptedModel(
        ['{"speaker": "Hamlet"', json.dumps(VALID_BEAT | {"mood": "bored"}), VALID_BEAT]
    )
    model = RetryingModel(inner, retries=2)
    beat = model.structured_sync([user("Who speaks?")], Beat)
    assert beat.speaker == "Hamlet"
    second, third = inner.calls[1].messages, inner.calls[2].messages
    assert second[-2] == {"role": "assistant", "content": '{"speaker": "Hamlet"'}
    assert "ends too early" in second[-1]["content"]
    assert "mood" in third[-1]["content"] and "ends too early" not in third[-1]["content"]
    # The original question is always there, retries do not pile up.
    assert second[1]["content"] == third[1]["content"] == "Who speaks?"
    assert "Answer with one JSON object" in second[0]["content"] and second[0]["role"] == "system"
    assert len(second) == len(third)


def test_retry_budget_exhaustion_lists_every_error():
    inner = ScriptedModel(["", "nope", "{}"])
    with pytest.raises(RetryBudgetExceeded) as info:
        RetryingModel(inner, retries=2).structured_sync([user("x")], Beat)
    assert len(info.value.errors) == 3
    assert "empty" in info.value.errors[0]
    inner.assert_consumed()


def _malformed(rng: random.Random) -> str:
    good = json.dumps(VALID_BEAT)
    kind = rng.randrange(9)
    if kind == 0:  # truncated JSON
        return good[: rng.randrange(0, len(good) - 1)]
    if kind == 1:  # wrong types
        bad = dict(VALID_BEAT)
        key = rng.choice(list(bad))
        bad[key] = rng.choice([1, 2.5, None, True, [], {"x": 1}, "text"]) if key != "speaker" else 7
        if bad == VALID_BEAT:
            bad["lines"] = 5
        return json.dumps(bad)
    if kind == 2:  # extra fields (the schema forbids them)
        return json.dumps(VALID_BEAT | {f"extra{rng.randrange(100)}": rng.random()})
    if kind == 3:  # empty or blank
        return rng.choice(["", " ", "\n\n", "\t"])
    if kind == 4:  # 1 MB of text
        return rng.choice(["a", "{", "[", '"', "lorem ipsum "]) * (1 << 20)
    if kind == 5:  # random bytes as text
        return "".join(chr(rng.randrange(0, 0x2FF)) for _ in range(rng.randrange(1, 200)))
    if kind == 6:  # deeply nested
        depth = rng.randrange(100, 5000)
        return "[" * depth + "]" * depth
    if kind == 7:  # wrong top-level type
        return json.dumps(rng.choice([[VALID_BEAT], "Hamlet", 3, None, True]))
    return json.dumps(VALID_BEAT | {"lines": []})  # violates min_length


def test_fuzz_malformed_answers_only_raise_typed_errors():
    rng = random.Random(20261122)
    answers = [_malformed(rng) for _ in range(1000)]
    inner = ScriptedModel(answers)
    model = RetryingModel(inner, retries=2)
    failures = 0
    while inner.remaining >= 3:
        before = len(inner.calls)
        try:
            model.structured_sync([user("Write the beat.")], Beat)
        except RetryBudgetExceeded as exc:
            assert len(exc.errors) == 3
            # Each retry showed the model the previous attempt's error.
            for attempt, error in zip(
                inner.calls[before + 1 : before + 3], exc.errors, strict=False
            ):
                assert error in attempt.messages[-1]["content"]
            failures += 1
        except DramaturgError as exc:  # pragma: no cover - would be a bug in the retry loop
            pytest.fail(f"unexpected typed error {exc!r}")
    assert failures == 333
    assert inner.remaining == 1  # 1000 = 333 * 3 + 1


def test_a_valid_answer_after_malformed_ones_is_accepted():
    inner = ScriptedModel(["x" * (1 << 20), Reply(VALID_BEAT, expect="structured")])
    assert RetryingModel(inner, retries=1).structured_sync([user("x")], Beat).speaker == "Hamlet"
    # The megabyte of text was shortened before being shown back to the model.
    assert len(inner.calls[1].messages[-2]["content"]) < 2000


def test_a_schema_can_carry_its_own_outline():
    from pydantic import ConfigDict

    class Pick(BaseModel):
        model_config = ConfigDict(json_schema_extra={"x-outline": '{"pick": one of the options}'})
        pick: str

    assert schema_outline(Pick.model_json_schema()) == '{"pick": one of the options}'
