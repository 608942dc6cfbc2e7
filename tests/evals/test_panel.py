"""The judge panel: agreement statistics, and judge_many's means, missing counts and pairs."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

from dramaturg.errors import ConfigError
from dramaturg.evals.judge import Judge
from dramaturg.evals.panel import JudgeItem, JudgeReport, agreement, judge_many
from dramaturg.evals.rubric import DEFAULT_DRAMA_RUBRIC
from dramaturg.models import BaseChatModel, Completion, ScriptedModel
from tests.evals._judging import CONTEXT, IDS, SCENE, answer


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
