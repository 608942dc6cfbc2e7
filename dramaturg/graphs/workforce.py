"""The workforce graph: plan -> coordinate -> parallel workers -> critic ->
accept / retry / replan / decompose / reassign, until the task is done or a
budget runs out.

::

    START -> plan -> (coordinator) --Send--> work (worker + critic), in parallel
                 ^          |                   |
                 |          +-> finish -> END   v
                 +------------------------- join

Independent subtasks go out together with ``Send`` and run concurrently in
one super-step; ``join`` routes once per super-step, so nothing is sent
twice. Every super-step is checkpointed when a checkpointer is given, so a
run stopped at any point resumes where it was.

Example:
    >>> graph = workforce(planner=Planner(model=m), workers=[Worker(name="w", model=m)],
    ...                   critic=Critic(model=m))                             # doctest: +SKIP
    >>> final = await graph.ainvoke({"task": "..."})                          # doctest: +SKIP
    >>> final["outcome"], final["answer"]                                     # doctest: +SKIP
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt
from pydantic import Field

from dramaturg.agents.roles import Critic, Planner, Worker
from dramaturg.agents.schemas import Subtask, topological_order
from dramaturg.errors import ConfigError, ModelError

__all__ = ["Budget", "WorkforceState", "workforce"]


def _merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


def _requests(left: list | None, right: list | None) -> list:
    """Append; ``None`` clears (the planner consumes the requests)."""
    return [] if right is None else [*(left or []), *right]


class _Kept(Subtask):
    """A subtask as the graph keeps it. Decomposition makes ids (``s1.2``) and dependency
    lists longer than a model may write them: the graph must still read back its own records."""

    id: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)


class WorkforceState(TypedDict, total=False):
    """The graph's state. Per-subtask maps merge, so parallel workers never clash."""

    task: str
    subtasks: Annotated[dict[str, dict], _merge]  # id -> Subtask as a dict
    status: Annotated[dict[str, str], _merge]  # pending | done | failed | replaced
    assignee: Annotated[dict[str, str], _merge]
    attempts: Annotated[dict[str, int], _merge]
    results: Annotated[dict[str, dict], _merge]  # id -> WorkerResult as a dict
    transcripts: Annotated[dict[str, list], _merge]  # a worker's context, kept across retries
    feedback: Annotated[dict[str, str], _merge]
    replan_requests: Annotated[list[str], _requests]
    replans: int
    log: Annotated[list[dict], operator.add]  # one entry per decision, for live views and traces
    answer: str
    outcome: str  # done | failed | budget


@dataclass(kw_only=True, frozen=True)
class Budget:
    """Limits that end a run cleanly (``outcome="budget"`` or ``"failed"``).

    Args:
        max_retries: attempts after the first for one subtask (retry and reassign count).
        max_replans: how often the plan may be redone.
        max_depth: how deep decomposition may nest.
        max_attempts: worker attempts in the whole run, all subtasks together.
        max_tokens: total tokens across every role, if the model reports usage.
    """

    max_retries: int = 3
    max_replans: int = 2
    max_depth: int = 2
    max_attempts: int = 50
    max_tokens: int | None = None


def _tokens(models: Sequence[Any]) -> int:
    total = 0
    for model in {id(m): m for m in models}.values():
        usage = getattr(model, "usage", None)
        if usage is not None:
            t = usage.total
            total += t.usage.total_tokens
    return total


def workforce(
    *,
    planner: Planner,
    workers: Sequence[Worker],
    critic: Critic,
    budget: Budget | None = None,
    checkpointer: Any = None,
    store: Any = None,
    approve_plans: bool = False,
):
    """Build and compile the workforce graph.

    Args:
        planner, workers, critic: the roles (see :mod:`dramaturg.agents`).
        budget: limits on retries, replans, depth, rounds and tokens.
        checkpointer: a LangGraph checkpointer (SQLite, Postgres, in-memory),
            needed to resume a stopped run.
        store: a LangGraph store (e.g. :class:`dramaturg.memory.MemoryStore`).
        approve_plans: pause after every plan for a person's approval (needs a
            checkpointer). Resume with ``Command(resume=True)`` to go on,
            ``Command(resume={"feedback": "..."})`` to have it replanned, or
            ``Command(resume=False)`` to stop the run.

    Returns:
        A compiled LangGraph graph. Its nodes are async (model calls overlap):
        run it with ``await graph.ainvoke({"task": "..."})`` or ``astream``.
    """
    budget = budget or Budget()
    if not workers:
        raise ConfigError("workforce needs at least one worker")
    by_name = {w.name: w for w in workers}
    if len(by_name) != len(workers):
        raise ConfigError("worker names must be unique")
    critic.workers = list(by_name)
    capabilities = sorted({c for w in workers for c in w.capabilities})
    models = [planner.model, critic.model, *(w.model for w in workers)]

    def pick_worker(capability: str, *, avoid: str | None = None) -> str:
        able = [w.name for w in workers if capability in w.capabilities] or [
            w.name for w in workers
        ]
        others = [n for n in able if n != avoid]
        return (others or able)[0]

    async def plan(state: WorkforceState) -> dict:
        status = state.get("status", {})
        done = [
            {
                "id": i,
                "description": state["subtasks"][i]["description"],
                "output": state["results"][i]["output"],
            }
            for i, s in status.items()
            if s == "done"
        ]
        requests = state.get("replan_requests", [])
        feedback = "; ".join(requests) if requests else None
        replans = state.get("replans", 0) + (1 if requests else 0)
        try:
            new = await planner.plan(
                state["task"], capabilities=capabilities, done=done, feedback=feedback
            )
        except ModelError as exc:
            return {
                "outcome": "failed",
                "answer": f"planning failed: {exc}",
                "replans": replans,
                "log": [{"node": "plan", "error": str(exc)}],
            }
        update: dict[str, Any] = {
            "subtasks": {t.id: t.model_dump() for t in new.subtasks},
            "status": {t.id: "pending" for t in new.subtasks},
            "assignee": {t.id: pick_worker(t.capability) for t in new.subtasks},
            "replans": replans,
            "replan_requests": None,
            "log": [
                {"node": "plan", "subtasks": [t.id for t in new.subtasks], "replan": bool(requests)}
            ],
        }
        # A replan replaces all unfinished work; its requests are consumed.
        stale = {i: "replaced" for i, s in status.items() if s not in {"done"}}
        update["status"] = {**stale, **update["status"]}
        return update

    async def coordinate(state: WorkforceState) -> list[Send] | str:
        if state.get("outcome"):
            return "finish"
        status = state.get("status", {})
        if state.get("replan_requests"):
            return "finish" if state.get("replans", 0) >= budget.max_replans else "plan"
        if any(s == "failed" for s in status.values()):
            return "finish"
        # Subtasks in the state were validated when planned; read them as dicts.
        live = {
            i: t
            for i, t in state.get("subtasks", {}).items()
            if status.get(i) in {"pending", "done"}
        }
        if live and all(status[i] == "done" for i in live):
            return "finish"
        if sum(1 for e in state.get("log", []) if e.get("node") == "work") >= budget.max_attempts:
            return "finish"
        if budget.max_tokens is not None and _tokens(models) >= budget.max_tokens:
            return "finish"
        done = frozenset(i for i, s in status.items() if s == "done")
        ready = [
            i
            for i, t in live.items()
            if status[i] == "pending" and all(d in done for d in t["depends_on"])
        ]
        if not ready:
            return "finish"
        return [
            Send(
                "work",
                {
                    "subtask": state["subtasks"][i],
                    "worker": state["assignee"][i],
                    "attempt": state.get("attempts", {}).get(i, 0),
                    "context": {
                        d: state["results"][d]["output"]
                        for d in live[i]["depends_on"]
                        if d in state["results"]
                    },
                    "transcript": state.get("transcripts", {}).get(i, []),
                    "feedback": state.get("feedback", {}).get(i),
                    "plan": state["subtasks"],
                },
            )
            for i in ready
        ]

    async def work(job: dict) -> dict:
        subtask = _Kept.model_validate(job["subtask"])
        worker = by_name[job["worker"]]
        result, transcript = await worker.attempt(
            subtask, context=job["context"], transcript=job["transcript"], feedback=job["feedback"]
        )
        try:
            verdict = await critic.review(subtask, result)
        except ModelError as exc:
            verdict = None
            error = str(exc)
        sid, attempt = subtask.id, job["attempt"]
        entry: dict[str, Any] = {
            "node": "work",
            "subtask": sid,
            "worker": worker.name,
            "attempt": attempt,
        }
        update: dict[str, Any] = {"results": {sid: result.model_dump()}}
        if verdict is None:  # the critic could not judge: treat as a retry
            route, feedback = "retry", f"the critic failed: {error}"
        else:
            route = verdict.route
            feedback = (
                "; ".join([*verdict.issues, *([verdict.revised] if verdict.revised else [])])
                or None
            )
            entry["score"] = verdict.score
        entry["route"] = route
        if route == "accept":
            update["status"] = {sid: "done"}
        elif route in {"retry", "reassign"}:
            if attempt + 1 > budget.max_retries:
                update["status"] = {sid: "failed"}
                entry["route"] = f"{route} (retries exhausted)"
            else:
                update["attempts"] = {sid: attempt + 1}
                update["feedback"] = {sid: feedback or "try again"}
                if route == "reassign":
                    wanted = verdict.worker if verdict and verdict.worker in by_name else None
                    update["assignee"] = {
                        sid: wanted or pick_worker(subtask.capability, avoid=worker.name)
                    }
                    update["transcripts"] = {sid: []}  # a new worker starts fresh
                else:
                    update["transcripts"] = {sid: transcript}  # the same worker keeps its context
                    if verdict and verdict.revised:
                        update["subtasks"] = {
                            sid: {**job["subtask"], "description": verdict.revised}
                        }
        elif route == "replan":
            update["replan_requests"] = [f"{sid}: {feedback or 'the plan does not work'}"]
        elif route == "decompose":
            depth = sid.count(".")
            parts = verdict.subtasks if verdict else []
            if depth >= budget.max_depth or not parts:
                update["status"] = {sid: "failed"}
                entry["route"] = (
                    "decompose (depth budget exhausted)"
                    if parts
                    else "decompose (no subtasks given)"
                )
            else:
                update.update(_decompose(sid, parts, job["plan"], pick_worker))
        update["log"] = [entry]
        return update

    async def approve(state: WorkforceState) -> dict:
        if state.get("outcome"):
            return {}
        live = [t for i, t in state["subtasks"].items() if state["status"].get(i) == "pending"]
        answer = interrupt({"question": "Approve this plan?", "subtasks": live})
        if answer is False or answer == "reject":
            return {
                "outcome": "failed",
                "answer": "the plan was rejected",
                "log": [{"node": "approve", "route": "rejected"}],
            }
        if isinstance(answer, dict) and answer.get("feedback"):
            return {
                "replan_requests": [f"reviewer: {answer['feedback']}"],
                "log": [{"node": "approve", "route": "replan"}],
            }
        return {"log": [{"node": "approve", "route": "approved"}]}

    async def join(state: WorkforceState) -> dict:
        return {}

    async def finish(state: WorkforceState) -> dict:
        if state.get("outcome"):
            return {}
        status = state.get("status", {})
        live = {
            i: _Kept.model_validate(t)
            for i, t in state.get("subtasks", {}).items()
            if status.get(i) in {"pending", "done", "failed"}
        }
        if live and all(status[i] == "done" for i in live):
            # The answer is what the last subtasks (those nothing depends on) produced.
            needed = {d for t in live.values() for d in t.depends_on}
            sinks = [
                i for i in (topological_order(list(live.values())) or list(live)) if i not in needed
            ]
            answer = "\n".join(state["results"][i]["output"] for i in sinks)
            return {"outcome": "done", "answer": answer}
        failed = [i for i, s in status.items() if s == "failed"]
        if failed:
            return {"outcome": "failed", "answer": f"subtasks failed: {failed}"}
        return {"outcome": "budget", "answer": "a budget ran out before the task was done"}

    builder = StateGraph(WorkforceState)
    builder.add_node("plan", plan)
    builder.add_node("work", work)
    builder.add_node("join", join)
    builder.add_node("finish", finish)
    builder.add_edge(START, "plan")
    if approve_plans:
        builder.add_node("approve", approve)
        builder.add_edge("plan", "approve")
        builder.add_conditional_edges("approve", coordinate, ["work", "plan", "finish"])
    else:
        builder.add_conditional_edges("plan", coordinate, ["work", "plan", "finish"])
    builder.add_edge("work", "join")
    builder.add_conditional_edges("join", coordinate, ["work", "plan", "finish"])
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, store=store, name="workforce")


def _decompose(sid: str, parts: Sequence[Subtask], plan: dict[str, dict], pick_worker) -> dict:
    """Replace subtask ``sid`` by ``parts`` (ids ``sid.1``, ``sid.2``, ...); its dependents wait for all of them."""
    parent = plan[sid]
    rename = {p.id: f"{sid}.{n}" for n, p in enumerate(parts, 1)}
    new: dict[str, dict] = {}
    for p in parts:
        deps = [rename.get(d, d) for d in p.depends_on if rename.get(d, d) in rename.values()]
        new[rename[p.id]] = {
            **p.model_dump(),
            "id": rename[p.id],
            "depends_on": deps or list(parent["depends_on"]),
        }
    changed = {
        i: {**t, "depends_on": [d for d in t["depends_on"] if d != sid] + list(rename.values())}
        for i, t in plan.items()
        if sid in t["depends_on"]
    }
    return {
        "subtasks": {**new, **changed},
        "status": {sid: "replaced", **{i: "pending" for i in new}},
        "assignee": {i: pick_worker(t["capability"]) for i, t in new.items()},
    }
