"""pass@k and standard errors, checked against brute force and textbook formulas."""

from __future__ import annotations

import itertools
import math

import pytest

from dramaturg.evals import pass_at_k, summarize


@pytest.mark.parametrize(
    ("n", "c", "k"), [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 5, 2), (4, 4, 4), (7, 1, 7)]
)
def test_pass_at_k_equals_the_chance_a_random_k_subset_holds_a_success(n, c, k):
    results = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(results[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError, match="at least 5 attempts"):
        pass_at_k(3, 1, 5)


def ep(case, attempt, success, task="t", status="done", steps=3):
    return {
        "case_id": case,
        "attempt": attempt,
        "success": success,
        "task_type": task,
        "status": status,
        "steps": steps,
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "cost_usd": 0.001,
        "latency_s": 1.0,
    }


def test_one_attempt_gives_the_binomial_standard_error():
    eps = [ep(f"c{i}", 0, i < 3) for i in range(10)]
    s = summarize(eps)["overall"]
    assert s["success_rate"] == 0.3 and s["pass_at_1"] == 0.3 == s["pass_at_k"]
    assert s["stderr"] == pytest.approx(math.sqrt(0.3 * 0.7 / 10))


def test_attempts_cluster_by_case_and_errors_are_failures_counted_apart():
    eps = [
        ep("a", 0, True),
        ep("a", 1, False),
        ep("b", 0, False),
        ep("b", 1, False, status="error"),
        ep("c", 0, True, task="u"),
        ep("c", 1, True, task="u"),
    ]
    out = summarize(eps, k=2)
    o = out["overall"]
    assert o["n"] == 3 and o["episodes"] == 6
    assert o["pass_at_1"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert o["pass_at_k"] == pytest.approx((1 + 0 + 1) / 3)
    rates = [0.5, 0.0, 1.0]
    mean = sum(rates) / 3
    assert o["stderr"] == pytest.approx(math.sqrt(sum((r - mean) ** 2 for r in rates) / 3 / 3))
    assert o["errors"] == 1 and o["prompt_tokens"] == 60 and o["cost_usd"] == pytest.approx(0.006)
    assert out["by_task_type"]["u"]["success_rate"] == 1.0 and out["by_task_type"]["t"]["n"] == 2
