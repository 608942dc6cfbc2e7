"""A drama case: a bundled play (or blueprint file) played by agents alone, then measured.

Success means the play reached its end with every planned beat done and no
character speaking a secret it could not know; the drama metrics and the
judges' rubric scores go in the episode's ``metrics``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dramaturg.evals.agents import AgentSpec, EpisodeOutput, Tracer
from dramaturg.evals.cases import Case

__all__ = ["play_drama_case"]


async def play_drama_case(
    case: Case, spec: AgentSpec, *, seed: int, max_steps: int, tracer: Tracer
) -> EpisodeOutput:
    from dramaturg.agents.tool_agent import tool_agent_for
    from dramaturg.drama import Blueprint, drama
    from dramaturg.drama._bundled import resolve_play
    from dramaturg.drama.graph import actor_for, director_for
    from dramaturg.drama.metrics import drama_metrics

    model = tracer.model
    blueprint = Blueprint.load(resolve_play(Path(str(case.data["play"]))))
    graph = drama(
        blueprint,
        actor=actor_for(model, seed=seed),
        director=director_for(model),
        tool_agent=tool_agent_for(model, seed=seed, temperature=spec.temperature),
        max_turns=max_steps,
        max_scene_steps=int(case.data.get("scene_steps", 6)),
    )
    final = await graph.ainvoke({}, {"recursion_limit": 20 * max_steps + 100})
    transcript = final.get("transcript", [])
    for entry in transcript:
        if entry.get("kind") == "turn":
            tracer.step(
                str(entry.get("public") or entry.get("action") or ""),
                str(entry.get("observation") or ""),
                reasoning=str(entry.get("thought") or ""),
                error=entry.get("error"),
            )
    calls = model.usage.total.calls if model is not None else None
    m = drama_metrics(transcript, blueprint, model_calls=calls)
    metrics: dict[str, Any] = {
        k: float(v)
        for k, v in m.model_dump().items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None
    }
    judgements: dict[str, dict[str, int | None]] = {}
    judges = spec.options.get("judges") or ()
    if judges:
        from dramaturg.evals._drama_judging import judge_transcript

        scores, judgements = await judge_transcript(transcript, blueprint, judges)
        metrics.update(scores)
    success = m.beat_completion >= 1.0 and m.knowledge_leaks == 0
    return EpisodeOutput(
        success=success,
        score=m.beat_completion,
        steps=m.steps,
        metrics=metrics,
        judgements=judgements,
    )
