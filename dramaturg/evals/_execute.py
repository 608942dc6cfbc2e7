"""One episode, start to finish, in whatever process runs it: the unit every backend ships.

:func:`play_case` picks how the case is played (a policy stepping a world, a
graph, a question, a drama); :func:`execute` wraps it with the trace file and
the record.

``execute(job)`` never raises for a failing episode: an exception becomes a
record with ``status="error"`` and the error text, so one bad episode cannot
stop a run. Its trace is written to ``<slug>.<attempt>.jsonl.part`` as it
goes and renamed when the episode ends, so a killed run leaves no trace that
looks finished.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import traceback
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dramaturg.evals._drama_case import play_drama_case
from dramaturg.evals.agents import (
    AgentSpec,
    EpisodeOutput,
    StepRecord,
    Tracer,
    _answer_question,
    _play_graph,
    _play_policy,
    model_for,
)
from dramaturg.evals.cases import Case
from dramaturg.models._redact import redact_spec

__all__ = ["Job", "attempt_seed", "error_record", "execute", "play_case", "trace_path"]


@dataclass(frozen=True, kw_only=True)
class Job:
    """One attempt of one case, with everything a worker process needs."""

    case: Case
    attempt: int
    agent: AgentSpec
    max_steps: int
    root: str | None
    traces: str
    base_seed: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.case.id, self.attempt)


def attempt_seed(job: Job) -> int:
    """The agent's seed for this attempt: fixed by the run's seed, the case and the attempt."""
    return (job.base_seed * 1_000_003 + job.case.seed * 9_973 + job.attempt) % 2**31


def trace_path(traces: str | Path, case: Case, attempt: int) -> Path:
    return Path(traces) / f"{case.slug}.{attempt}.jsonl"


def _base(job: Job) -> dict[str, Any]:
    c = job.case
    return {
        "case_id": c.id,
        "task_type": c.task_type,
        "split": c.split,
        "attempt": job.attempt,
        "seed": c.seed,
        "agent_seed": attempt_seed(job),
    }


def error_record(job: Job, status: str, error: str, *, latency_s: float = 0.0) -> dict[str, Any]:
    """The record of an episode that did not finish (``error`` or ``timeout``)."""
    return {
        **_base(job),
        "status": status,
        "success": False,
        "score": None,
        "steps": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "latency_s": round(latency_s, 6),
        "error": error[-2000:],
        "answer": None,
        "metrics": {},
    }


def play_case(
    case: Case, spec: AgentSpec, *, seed: int, max_steps: int, root: Path | None, tracer: Tracer
) -> EpisodeOutput:
    """Play one case with one agent; ``seed`` is this attempt's agent seed.

    Model-free play of a world runs right here (no event loop: the harness adds
    nothing to stepping the world); everything else runs in ``asyncio.run``.
    """
    spec.check_fits(case)
    steps = case.max_steps or max_steps
    if case.kind == "world" and spec.kind in ("random", "oracle"):
        return _play_policy(case, spec, seed=seed, max_steps=steps, tracer=tracer)
    coro: Coroutine[Any, Any, EpisodeOutput]
    if case.kind == "gaia":
        coro = _answer_question(case, spec, seed=seed, max_steps=steps, root=root, tracer=tracer)
    elif case.kind == "drama":
        coro = play_drama_case(case, spec, seed=seed, max_steps=steps, tracer=tracer)
    else:
        coro = _play_graph(case, spec, seed=seed, max_steps=steps, tracer=tracer)
    return asyncio.run(coro)


def execute(job: Job) -> dict[str, Any]:
    """Play the job's episode and return its record (see :mod:`dramaturg.evals.runner`)."""
    path = trace_path(job.traces, job.case, job.attempt)
    part = path.with_name(path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with part.open("w", encoding="utf-8") as out:

        def sink(step: StepRecord) -> None:
            out.write(json.dumps(asdict(step), ensure_ascii=False) + "\n")

        model = None
        try:
            model = model_for(job.agent) if job.agent.model or job.agent.model_factory else None
            tracer = Tracer(sink, model)
            result = play_case(
                job.case,
                job.agent,
                seed=attempt_seed(job),
                max_steps=job.max_steps,
                root=Path(job.root) if job.root else None,
                tracer=tracer,
            )
        except Exception as exc:  # one episode's failure is a result, not the run's end
            # An error may quote the model spec (a bad option, say): mask its secrets before writing.
            tb = redact_spec("".join(traceback.format_exception(exc))) or ""
            out.write(json.dumps({"error": tb[-4000:]}) + "\n")
            out.flush()
            os.replace(part, path)
            return error_record(
                job,
                "error",
                redact_spec(f"{type(exc).__name__}: {exc}") or "",
                latency_s=time.perf_counter() - started,
            )
        prompt, completion, cost = tracer.usage()
    os.replace(part, path)
    return {
        **_base(job),
        "status": "done",
        "success": bool(result.success),
        "score": result.score,
        "steps": result.steps,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": cost,
        "latency_s": round(time.perf_counter() - started, 6),
        "error": None,
        "answer": result.answer,
        "metrics": dict(result.metrics),
        **({"judgements": result.judgements} if result.judgements else {}),
    }
