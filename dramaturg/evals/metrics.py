"""Success rates with standard errors, and pass@k from independent attempts.

Every case is attempted ``k`` times. With ``c`` successes among ``n``
attempts of a case:

* ``pass_at_1`` is the mean over cases of ``c / n``: the chance one attempt
  succeeds. It is also the reported ``success_rate``.
* ``pass_at_k`` is the mean over cases of ``1 - C(n - c, k) / C(n, k)`` (the
  unbiased estimator of Chen et al., 2021): the chance at least one of ``k``
  attempts succeeds. It never peeks at the key to stop early: all ``n``
  attempts run, and a case counts once.
* ``stderr`` is the standard error of ``success_rate`` over cases (cases are
  the independent units; attempts of one case are not). With one attempt per
  case it is the binomial ``sqrt(p (1 - p) / n)``.

Errors and timeouts count as failures, and are also counted on their own.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["group_stats", "pass_at_k", "summarize"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of ``k`` attempts out of ``n`` (``c`` correct) succeeds."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} attempts per case, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def group_stats(episodes: Iterable[Mapping[str, Any]], *, k: int | None = None) -> dict[str, Any]:
    """Statistics of one group of episodes (see the module docstring for each figure)."""
    by_case: dict[str, list[bool]] = defaultdict(list)
    eps = list(episodes)
    for ep in eps:
        by_case[ep["case_id"]].append(bool(ep.get("success")))
    if not by_case:
        return {"n": 0, "episodes": 0}
    attempts = min(len(v) for v in by_case.values())
    k = min(k or attempts, attempts)
    rates = [sum(v) / len(v) for v in by_case.values()]
    n = len(rates)
    mean = sum(rates) / n
    var = sum((r - mean) ** 2 for r in rates) / n
    metric_sums: dict[str, list[float]] = defaultdict(list)
    for ep in eps:
        for name, value in (ep.get("metrics") or {}).items():
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                metric_sums[name].append(float(value))
    return {
        "n": n,
        "episodes": len(eps),
        "successes": sum(bool(ep.get("success")) for ep in eps),
        "success_rate": mean,
        "stderr": math.sqrt(var / n),
        "pass_at_1": mean,
        "pass_at_k": sum(pass_at_k(len(v), sum(v), k) for v in by_case.values()) / n,
        "k": k,
        "errors": sum(ep.get("status") == "error" for ep in eps),
        "timeouts": sum(ep.get("status") == "timeout" for ep in eps),
        "mean_steps": sum(ep.get("steps") or 0 for ep in eps) / len(eps),
        "prompt_tokens": sum(ep.get("prompt_tokens") or 0 for ep in eps),
        "completion_tokens": sum(ep.get("completion_tokens") or 0 for ep in eps),
        "cost_usd": sum(ep.get("cost_usd") or 0.0 for ep in eps),
        "mean_latency_s": sum(ep.get("latency_s") or 0.0 for ep in eps) / len(eps),
        "metrics": {name: sum(v) / len(v) for name, v in sorted(metric_sums.items())},
    }


def summarize(
    episodes: Iterable[Mapping[str, Any]],
    *,
    head: Mapping[str, Any] | None = None,
    k: int | None = None,
) -> dict[str, Any]:
    """Overall, per task type and per split statistics (the ``summary.json`` of a run)."""
    eps = sorted(episodes, key=lambda e: (e["case_id"], e.get("attempt", 0)))
    by_type: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_split: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for ep in eps:
        by_type[ep.get("task_type") or "-"].append(ep)
        if ep.get("split"):
            by_split[ep["split"]].append(ep)
    return {
        **dict(head or {}),
        "overall": group_stats(eps, k=k),
        "by_task_type": {t: group_stats(v, k=k) for t, v in by_type.items()},
        "by_split": {s: group_stats(v, k=k) for s, v in sorted(by_split.items())},
    }
