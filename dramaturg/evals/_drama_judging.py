"""Rubric judging of a played drama, and the agreement between two judges over a run.

Each scene of the play is judged on its own (the judge sees that scene's
personas, secrets and beats). An episode keeps every judge's score per scene
and criterion (``judgements``); its ``metrics`` carry each judge's mean per
criterion. Over a whole run, :func:`judge_agreement` pairs the two judges'
scores on the same (episode, scene, criterion) items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["judge_agreement", "judge_transcript"]


async def judge_transcript(
    transcript: Sequence[dict], blueprint: Any, judges: Sequence[Any]
) -> tuple[dict[str, float], dict[str, dict[str, int | None]]]:
    """Judge every scene with every judge; returns (metrics, judgements).

    A judge is a model spec (``local``, ``litellm:...``) or a module-level
    function returning a model (tests use scripted ones).
    """
    from dramaturg.evals.agents import AgentSpec, model_for
    from dramaturg.evals.judge import Judge, JudgeContext
    from dramaturg.evals.panel import JudgeItem, judge_many

    scenes: dict[int, list[dict]] = {}
    current: int | None = None
    for entry in transcript:
        if entry.get("kind") == "scene":
            current = int(entry["scene"])
        elif entry.get("kind") == "turn" and current is not None:
            scenes.setdefault(current, []).append(entry)
    items = [
        JudgeItem(
            id=f"scene{i}", transcript=turns, context=JudgeContext.from_blueprint(blueprint, i)
        )
        for i, turns in sorted(scenes.items())
        if turns
    ]
    if not items:
        return {}, {}
    panel = [
        Judge(
            model_for(
                AgentSpec(kind="drama", model=spec)
                if isinstance(spec, str)
                else AgentSpec(kind="drama", model_factory=spec)
            ),
            name=f"judge{n}",
        )
        for n, spec in enumerate(judges, 1)
    ]
    report = await judge_many(panel, items, concurrency=1)
    metrics: dict[str, float] = {}
    judgements: dict[str, dict[str, int | None]] = {}
    for name, verdicts in report.verdicts.items():
        judgements[name] = {
            f"{item}.{c}": score
            for item, v in zip(report.items, verdicts, strict=True)
            for c, score in v.scores.items()
        }
        for criterion, mean in report.means[name].items():
            if mean is not None:
                metrics[f"{name}.{criterion}"] = float(mean)
    return metrics, judgements


def judge_agreement(episodes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Agreement of ``judge1`` and ``judge2`` over all judged items of a run, per criterion and overall."""
    from dramaturg.evals.panel import agreement

    a_all: dict[str, list[int | None]] = {}
    b_all: dict[str, list[int | None]] = {}
    for ep in sorted(episodes, key=lambda e: (e["case_id"], e.get("attempt", 0))):
        marks = ep.get("judgements") or {}
        one, two = marks.get("judge1"), marks.get("judge2")
        if not one or not two:
            continue
        for key in sorted(set(one) & set(two)):
            criterion = key.rsplit(".", 1)[-1]
            a_all.setdefault(criterion, []).append(one[key])
            b_all.setdefault(criterion, []).append(two[key])
    if not a_all:
        return None
    by = {c: agreement(a_all[c], b_all[c]).model_dump(mode="json") for c in sorted(a_all)}
    flat_a = [s for c in sorted(a_all) for s in a_all[c]]
    flat_b = [s for c in sorted(b_all) for s in b_all[c]]
    return {
        "judges": ["judge1", "judge2"],
        "by_criterion": by,
        "overall": agreement(flat_a, flat_b).model_dump(mode="json"),
    }
