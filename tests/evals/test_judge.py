"""The LLM judge: rubrics, verdicts from scripted models, agreement statistics, judge_many."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

from dramaturg.drama.blueprint import Blueprint
from dramaturg.errors import ConfigError, ModelConnectionError, ScriptError
from dramaturg.evals.judge import (
    DEFAULT_DRAMA_RUBRIC,
    Criterion,
    Judge,
    JudgeContext,
    JudgeItem,
    JudgeReport,
    Rubric,
    RubricError,
    Turn,
    agreement,
    judge_many,
    turns_of,
)
from dramaturg.models import (
    BaseChatModel,
    Completion,
    Reply,
    RetryingModel,
    ScriptedModel,
    load_model,
)
from dramaturg.testing import SchemaModel
from dramaturg.worlds.theatre import load_stage

IDS = ["in_character", "coherence", "progress", "secrecy"]
SCENE = [
    ("Hamlet", "Who's there?"),
    ("Horatio", "Friends to this ground."),
    ("Hamlet", "What did you see last night, Horatio?"),
    ("Horatio", "My lord, I think I saw your father."),
]
CONTEXT = {
    "scene": "The battlements of Elsinore at midnight",
    "goal": "Horatio tells Hamlet he saw the ghost.",
    "personas": {"Hamlet": "the grieving prince", "Horatio": "Hamlet's sceptical friend"},
    "secrets": {"Horatio": ["He saw the ghost of the old king."]},
}


def answer(score: int, reason: str = "Because.") -> dict:
    return {"reason": reason, "score": score}


# ----------------------------------------------------------------------- rubric
def test_rubric_round_trips_through_yaml(tmp_path):
    path = DEFAULT_DRAMA_RUBRIC.save(tmp_path / "drama.yaml")
    assert Rubric.from_yaml(path) == DEFAULT_DRAMA_RUBRIC
    assert DEFAULT_DRAMA_RUBRIC.ids == IDS
    custom = Rubric(
        name="tiny",
        criteria=[Criterion(id="wit", question="Is it witty?", scale="1 = dull; 5 = sparkling.")],
    )
    assert Rubric.from_yaml(custom.save(tmp_path / "tiny.yaml")) == custom


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "criteria:\n  - id: wit\n    scale: '1 = dull; 5 = witty'\n",
            "criteria.0.question: Field required",
        ),
        (
            "criteria:\n  - {id: a, question: q, scale: s}\n  - {id: b, question: q, scale: s, weight: 2}\n",
            "criteria.1.weight: Extra inputs are not permitted",
        ),
        (
            "criteria:\n  - {id: Bad Id, question: q, scale: s}\n",
            "criteria.0.id: String should match pattern",
        ),
        (
            "criteria:\n  - {id: a, question: q, scale: s}\n  - {id: a, question: r, scale: s}\n",
            "'a' appears twice",
        ),
        ("criteria: []\n", "criteria: List should have at least 1 item"),
        ("- id: a\n", "the top level must be a mapping"),
        ("criteria: [unclosed\n", "is not valid YAML"),
    ],
)
def test_rubric_file_errors_name_the_field(tmp_path, text, expected):
    path = tmp_path / "rubric.yaml"
    path.write_text(text)
    with pytest.raises(RubricError) as info:
        Rubric.from_yaml(path)
    assert expected in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_a_missing_rubric_file_says_which(tmp_path):
    with pytest.raises(RubricError, match=r"rubric file .*nope\.yaml cannot read"):
        Rubric.from_yaml(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------ judge
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


# -------------------------------------------------------------------- agreement
def test_quadratic_kappa_matches_a_hand_computed_table():
    a, b = [1, 2, 3, 4], [1, 3, 3, 5]
    # Weights w = (i - j)**2 (the 1/(k-1)**2 normalisation cancels in the ratio).
    # Observed: pairs (1,1) (2,3) (3,3) (4,5) -> sum of w = 0 + 1 + 0 + 1 = 2, n = 4.
    # Expected: a's counts {1,2,3,4: 1 each}, b's counts {1: 1, 3: 2, 5: 1};
    #   sum over i, j of count_a[i] * count_b[j] * (i - j)**2, per i:
    #   i=1: 0 + 2*4 + 16 = 24;  i=2: 1 + 2*1 + 9 = 12;  i=3: 4 + 0 + 4 = 8;  i=4: 9 + 2*1 + 1 = 12  -> 56.
    # kappa = 1 - (observed / n) / (expected / n**2) = 1 - n * 2 / 56 = 1 - 8/56 = 6/7.
    result = agreement(a, b)
    assert result.n == 4 and result.exact == 0.5 and result.within_one == 1.0
    assert result.kappa == pytest.approx(6 / 7)
    # Spearman with a tie: ranks a = 1, 2, 3, 4; b = 1, 2.5, 2.5, 4 (the two 3s share 2.5).
    # Deviations from 2.5: a = -1.5 -.5 .5 1.5, b = -1.5 0 0 1.5; cov = 4.5, var a = 5, var b = 4.5.
    # rho = 4.5 / sqrt(5 * 4.5) = sqrt(0.9).
    assert result.spearman == pytest.approx(math.sqrt(0.9))
    assert result.note is None


def test_perfect_agreement_total_disagreement_and_chance():
    perfect = agreement([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert (perfect.kappa, perfect.spearman, perfect.exact) == (1.0, pytest.approx(1.0), 1.0)
    opposite = agreement([1, 5, 1, 5], [5, 1, 5, 1])
    # observed = 4 * 16 = 64; expected = (2*2*16) * 2 = 128; kappa = 1 - 4 * 64 / 128 = -1.
    assert opposite.kappa == pytest.approx(-1.0) and opposite.spearman == pytest.approx(-1.0)
    assert opposite.exact == 0.0 and opposite.within_one == 0.0


def test_constant_raters():
    same = agreement([3, 3, 3], [3, 3, 3])
    assert same.kappa == 1.0 and math.isnan(same.spearman)
    assert "one and the same score" in same.note and "spearman undefined" in same.note
    # One rater constant, the other varies: chance level exactly (expected == observed).
    assert agreement([3, 3, 3], [2, 3, 4]).kappa == pytest.approx(0.0)
    # Both constant but apart: observed 2*4 = 8, expected 2*2*4 = 16, kappa = 1 - 2*8/16 = 0.
    assert agreement([2, 2], [4, 4]).kappa == pytest.approx(0.0)


def test_none_pairs_are_skipped_and_bad_input_is_refused():
    result = agreement([1, None, 3, 5], [1, 2, None, 5])
    assert result.n == 2 and result.exact == 1.0 and result.kappa == 1.0
    empty = agreement([None, 2], [1, None])
    assert empty.n == 0 and math.isnan(empty.kappa) and math.isnan(empty.exact) and empty.note
    with pytest.raises(ConfigError, match="same items"):
        agreement([1, 2], [1])
    with pytest.raises(ConfigError, match=r"b\[1\] = 6"):
        agreement([1, 2], [1, 6])
    with pytest.raises(ConfigError, match="True"):
        agreement([True], [1])


# ------------------------------------------------------------------- judge_many
def scorer(table: dict[tuple[str, str], int | None]):
    """A model answer that looks up (item tag in the transcript, criterion question) in ``table``,
    so the answers do not depend on the order in which concurrent judgements call the model."""
    questions = {c.question: c.id for c in DEFAULT_DRAMA_RUBRIC.criteria}

    def respond(messages, opts):
        prompt = "\n".join(m["content"] for m in messages)
        item = re.search(r"Hamlet: (item\d)", prompt).group(1)
        # The last "Question:" is the criterion asked; the earlier ones belong to the example.
        cid = questions[re.findall(r"Question: (.*)", prompt)[-1]]
        score = table[item, cid]
        return RuntimeError("no score") if score is None else answer(score)

    return respond


async def test_judge_many_reports_means_missing_and_agreement():
    items = [
        JudgeItem(id=f"s{i}", transcript=[("Hamlet", f"item{i}")], context=CONTEXT)
        for i in range(3)
    ]
    a_scores = {
        "in_character": [5, 4, 2],
        "coherence": [1, 2, 3],
        "progress": [5, 5, 5],
        "secrecy": [3, 4, 5],
    }
    b_scores = {
        "in_character": [5, 4, 2],
        "coherence": [2, 3, 4],
        "progress": [5, 5, 5],
        "secrecy": [None, 4, 1],
    }
    tab_a = {(f"item{i}", c): s[i] for c, s in a_scores.items() for i in range(3)}
    tab_b = {(f"item{i}", c): s[i] for c, s in b_scores.items() for i in range(3)}
    judge_a = Judge(ScriptedModel([scorer(tab_a)] * 12), name="a")
    judge_b = Judge(ScriptedModel([scorer(tab_b)] * 12), name="b")
    report = await judge_many([judge_a, judge_b], items, concurrency=2)
    judge_a.model.assert_consumed()
    judge_b.model.assert_consumed()

    assert report.judges == ["a", "b"] and report.items == ["s0", "s1", "s2"]
    assert [v.scores["coherence"] for v in report.verdicts["b"]] == [2, 3, 4]
    assert report.means["a"] == {
        "in_character": 11 / 3,
        "coherence": 2.0,
        "progress": 5.0,
        "secrecy": 4.0,
    }
    assert report.means["b"]["secrecy"] == 2.5 and report.missing["b"]["secrecy"] == 1
    assert report.missing["a"] == dict.fromkeys(IDS, 0)

    pair = report.pair("b", "a")
    assert (pair.a, pair.b) == ("a", "b")
    assert pair.criteria["in_character"].kappa == 1.0 and pair.criteria["in_character"].exact == 1.0
    shifted = pair.criteria[
        "coherence"
    ]  # always one above: never exact, always within one, rank order kept
    assert (shifted.exact, shifted.within_one, shifted.spearman) == (0.0, 1.0, pytest.approx(1.0))
    assert pair.criteria["progress"].kappa == 1.0  # both gave 5 throughout
    assert pair.criteria["secrecy"].n == 2  # a None on b's side drops the pair
    flat_a = [a_scores[c][i] for i in range(3) for c in IDS]
    flat_b = [b_scores[c][i] for i in range(3) for c in IDS]
    assert pair.overall == agreement(flat_a, flat_b) and pair.overall.n == 11
    # A saved report reads back, NaN included (progress is 5 throughout on both sides: no Spearman).
    again = JudgeReport.model_validate_json(report.model_dump_json())
    assert math.isnan(again.pair("a", "b").criteria["progress"].spearman)
    assert again.verdicts == report.verdicts


async def test_judge_many_bounds_concurrency_and_needs_distinct_names():
    class Slow(BaseChatModel):
        name = "slow"

        def __init__(self):
            self.now = self.peak = 0

        async def complete(self, messages, **opts):
            self.now += 1
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(0.01)
            self.now -= 1
            return Completion(text='{"reason": "ok", "score": 3}')

    model = Slow()
    judges = [Judge(model, name=f"j{i}") for i in range(3)]
    report = await judge_many(judges, [(SCENE, None)] * 4, concurrency=2)
    assert model.peak == 2 and len(report.agreement) == 3  # three judges: three pairs
    assert report.items == ["0", "1", "2", "3"]
    with pytest.raises(ConfigError, match="distinct names"):
        await judge_many([Judge(model), Judge(model)], [(SCENE, None)])


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
