"""The LLM judge: verdicts from scripted models, transcripts and contexts, and the embedded model."""

from __future__ import annotations

import re

import pytest

from dramaturg.drama.blueprint import Blueprint
from dramaturg.errors import ConfigError, ModelConnectionError, ScriptError
from dramaturg.evals.judge import Judge, JudgeContext, Turn, turns_of
from dramaturg.evals.rubric import DEFAULT_DRAMA_RUBRIC, Rubric
from dramaturg.models import Reply, RetryingModel, ScriptedModel, load_model
from dramaturg.testing import SchemaModel
from dramaturg.worlds.theatre import load_stage
from tests.evals._judging import CONTEXT, IDS, SCENE, answer


async def test_a_scripted_judge_returns_one_score_per_criterion_and_asks_each_question_last():
    model = ScriptedModel(
        [
            Reply(answer(s, f"r{s}"), expect="structured", caller=f"judge:{cid}")
            for s, cid in zip([5, 4, 3, 2], IDS, strict=True)
        ]
    )
    with model:
        verdict = await Judge(model).judge(SCENE, context=CONTEXT)
    assert verdict.scores == dict(zip(IDS, [5, 4, 3, 2], strict=True))
    assert [r.reason for r in verdict.results] == ["r5", "r4", "r3", "r2"]
    assert (
        verdict.missing == []
        and verdict.errors == {}
        and (verdict.turns_shown, verdict.turns_cut) == (4, 0)
    )
    for call, criterion in zip(model.calls, DEFAULT_DRAMA_RUBRIC.criteria, strict=True):
        prompt = call.prompt
        assert call.opts["temperature"] == 0.0 and call.opts["responder"] == "Answer"
        # The scene, the personas with their secrets, then this criterion's question as the last thing.
        assert "Horatio: My lord, I think I saw your father." in prompt
        assert (
            "- Horatio: Hamlet's sceptical friend. Secret: He saw the ghost of the old king."
            in prompt
        )
        assert "Goal: Horatio tells Hamlet he saw the ghost." in prompt
        assert prompt.rstrip().endswith(f"Question: {criterion.question}\nScale: {criterion.scale}")
    # The stable prefix (instructions, example) is identical on every call: prompt caches can reuse it.
    assert len({c.messages[0]["content"] for c in model.calls}) == 1


async def test_a_schema_model_gives_valid_integer_scores():
    verdict = await Judge(SchemaModel(), name="stub").judge(SCENE)
    assert verdict.judge == "stub"
    assert verdict.scores == {
        "in_character": 1,
        "coherence": 2,
        "progress": 3,
        "secrecy": 4,
    }  # it rotates 1..5
    assert all(type(s) is int for s in verdict.scores.values())


async def test_a_failing_model_marks_criteria_missing_with_the_error_and_never_raises():
    inner = ScriptedModel(
        [
            answer(4),
            ModelConnectionError("the server at 127.0.0.1:9 refused the connection"),
            answer(7),  # off the scale: invalid ...
            "no JSON here",  # ... and so is the retry: the criterion is given up
            RuntimeError("llama.cpp crashed"),
        ]
    )
    with inner:
        verdict = await Judge(RetryingModel(inner, retries=1, transport_retries=0)).judge(SCENE)
    assert verdict.scores == {
        "in_character": 4,
        "coherence": None,
        "progress": None,
        "secrecy": None,
    }
    assert verdict.missing == ["coherence", "progress", "secrecy"]
    assert verdict.errors["coherence"].startswith(
        "ModelConnectionError: the server at 127.0.0.1:9 refused"
    )
    assert verdict.errors["progress"].startswith(
        "RetryBudgetExceeded: no valid answer after 2 attempt(s)"
    )
    assert verdict.errors["secrecy"] == "RuntimeError: llama.cpp crashed"
    # The retry showed the model its mistake (the score 7) before giving up.
    assert (
        "That answer was not usable" in inner.calls[3].prompt
        and '"score": 7' in inner.calls[3].prompt
    )


async def test_a_developer_error_is_not_swallowed_as_a_missing_score():
    model = ScriptedModel(
        [answer(3)]
    )  # one answer for a four-criterion rubric: the test script is wrong
    with pytest.raises(ScriptError, match="unexpected structured call #2"):
        await Judge(model).judge(SCENE)
    with pytest.raises(ConfigError, match="sceen"):
        await Judge(SchemaModel()).judge(SCENE, context={"sceen": "typo"})


async def test_the_transcript_is_capped_to_the_last_turns_and_says_how_many_were_cut():
    turns = [(f"Speaker{i}", f"line number {i}") for i in range(20)]
    turns[-1] = ("Speaker19", "word " * 200)
    model = ScriptedModel([answer(3)])
    verdict = await Judge(
        model, Rubric(criteria=[DEFAULT_DRAMA_RUBRIC.criteria[1]]), max_turns=5, max_chars=50
    ).judge(turns)
    assert (verdict.turns_shown, verdict.turns_cut) == (5, 15)
    prompt = model.calls[0].prompt
    assert "(the first 15 lines are left out)" in prompt
    assert (
        "Speaker15: line number 15" in prompt
        and "Speaker14" not in prompt
        and "Speaker0:" not in prompt
    )
    long_line = re.search(r"Speaker19: (.*)", prompt).group(1)
    assert len(long_line) == 50 and long_line.endswith("...")


def test_turns_of_reads_pairs_dicts_and_drama_transcript_entries():
    drama = [
        {"kind": "scene", "scene": 0, "title": "The hall"},
        {
            "kind": "turn",
            "actor": "hamlet",
            "action": "speak",
            "line": "Words, words.",
            "public": "...",
        },
        {
            "kind": "turn",
            "actor": "claudius",
            "action": "act",
            "line": None,
            "public": "Claudius takes the cup.",
        },
        {"kind": "turn", "actor": "ophelia", "by": "player", "input": "I return your letters."},
        {"kind": "turn", "actor": None, "action": "silent", "public": ""},
        {"kind": "scene_end", "scene": 0},
    ]
    assert turns_of(drama) == [
        Turn("hamlet", "Words, words."),
        Turn("claudius", "Claudius takes the cup."),
        Turn("ophelia", "I return your letters."),
    ]
    assert turns_of([Turn("a", "x"), ("b", "y"), {"speaker": "c", "text": "z"}]) == [
        Turn("a", "x"),
        Turn("b", "y"),
        Turn("c", "z"),
    ]
    with pytest.raises(ConfigError, match="transcript item 0"):
        turns_of(["just a string"])


def test_context_from_a_blueprint_keeps_personas_and_secrets_by_character_id():
    data = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore").model_dump()
    data["cast"]["claudius"]["secrets"] = [
        {"id": "murder", "text": "He poisoned the king.", "known_by": []}
    ]
    bp = Blueprint.model_validate(data)
    scene = bp.scenes[0]
    ctx = JudgeContext.from_blueprint(bp, scene.id)
    assert ctx == JudgeContext.from_blueprint(bp, 0)
    assert set(ctx.personas) == set(scene.cast) and scene.title in ctx.scene
    assert scene.beats[0].text in ctx.goal
    assert ctx.secrets == {"claudius": ["He poisoned the king."]}  # only characters with secrets
    assert ctx.personas["claudius"] == "Claudius, The king."


# ------------------------------------------------------------------- real model
@pytest.fixture(scope="module")
def local_model():
    # The embedded model: loaded once per module (llama.cpp contexts are shared per process anyway).
    return load_model("local")


@pytest.mark.model
async def test_the_embedded_model_judges_without_crashing(local_model):
    verdict = await Judge(local_model).judge(SCENE, context=CONTEXT)
    assert list(verdict.scores) == IDS and verdict.turns_shown == 4
    for r in verdict.results:
        if r.score is None:
            assert r.error
        else:
            assert type(r.score) is int and 1 <= r.score <= 5 and r.error is None
