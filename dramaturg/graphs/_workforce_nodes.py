"""The workforce graph's nodes, and the state and budget they work with.

:class:`WorkforceNodes` holds the roles and the budget; each of its methods is
one node of the graph (``coordinate`` is the router), takes a state and
returns a partial update (``join``: its route, as a ``Command``), so a test
calls one alone with a hand-built state.
:func:`dramaturg.graphs.workforce` wires them into a ``StateGraph``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langgraph.types import Command, Send, interrupt
from pydantic import Field

from dramaturg.agents.roles import Critic, Planner, Worker
from dramaturg.agents.schemas import CriticVerdict, Subtask, topological_order
from dramaturg.errors import ConfigError, ModelError

__all__ = ["Budget", "WorkJob", "WorkforceNodes", "WorkforceState"]


def _merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


def _requests(left: list[str] | None, right: list[str] | None) -> list[str]:
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
    subtasks: Annotated[dict[str, dict[str, Any]], _merge]  # id -> Subtask as a dict
    status: Annotated[dict[str, str], _merge]  # pending | done | failed | replaced
    assignee: Annotated[dict[str, str], _merge]
    attempts: Annotated[dict[str, int], _merge]
    results: Annotated[dict[str, dict[str, Any]], _merge]  # id -> WorkerResult as a dict
    # A worker's context, kept across retries.
    transcripts: Annotated[dict[str, list[Any]], _merge]
    feedback: Annotated[dict[str, str], _merge]
    replan_requests: Annotated[list[str], _requests]
    replans: int
    # One entry per decision, for live views and traces.
    log: Annotated[list[dict[str, Any]], operator.add]
    answer: str
    outcome: str  # done | failed | budget


class WorkJob(TypedDict):
    """What ``coordinate`` sends to ``work`` for one subtask (the ``Send`` argument)."""

    subtask: dict[str, Any]
    worker: str
    attempt: int
    context: dict[str, str]  # the outputs of the subtasks it depends on
    transcript: list[Any]  # the worker's conversation so far, on a retry
    feedback: str | None
    plan: dict[str, dict[str, Any]]  # every subtask, for a decomposition


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


_LIVE = frozenset({"pending", "done"})
_FINISHED = frozenset({"pending", "done", "failed"})


@dataclass(kw_only=True, frozen=True, eq=False)
class WorkforceNodes:
    """The workforce graph's nodes, bound to the roles and the budget.

    ``plan``, ``work``, ``join``, ``approve`` and ``finish`` are nodes and
    ``coordinate`` is the router: on the edge after ``plan`` (or ``approve``),
    and inside ``join``, which returns its route as a ``Command``. Each takes a
    state dict (``work``: a :class:`WorkJob`) and returns a partial update, or
    for ``coordinate`` where to go next.

    Args:
        planner, workers, critic: the roles.
        budget: the limits :meth:`coordinate` and :meth:`work` enforce.

    Raises:
        ConfigError: no workers, or two with one name.

    Example:
        >>> nodes = WorkforceNodes(planner=p, workers=[w], critic=c)              # doctest: +SKIP
        >>> await nodes.coordinate({"task": "t", "status": {"s1": "failed"}})     # doctest: +SKIP
        'finish'
    """

    planner: Planner
    workers: Sequence[Worker]
    critic: Critic
    budget: Budget = field(default_factory=Budget)
    by_name: dict[str, Worker] = field(init=False, repr=False)
    capabilities: list[str] = field(init=False, repr=False)
    _models: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        workers = tuple(self.workers)
        if not workers:
            raise ConfigError("workforce needs at least one worker")
        by_name = {w.name: w for w in workers}
        if len(by_name) != len(workers):
            raise ConfigError("worker names must be unique")
        models = [self.planner.model, self.critic.model, *(w.model for w in workers)]
        # frozen: the derived fields are set once, here
        object.__setattr__(self, "workers", workers)
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(
            self, "capabilities", sorted({c for w in workers for c in w.capabilities})
        )
        object.__setattr__(self, "_models", tuple({id(m): m for m in models}.values()))

    def pick_worker(self, capability: str, *, avoid: str | None = None) -> str:
        """The first worker with ``capability`` (any worker if none has it), other than ``avoid``."""
        able = [w.name for w in self.workers if capability in w.capabilities] or list(self.by_name)
        others = [n for n in able if n != avoid]
        return (others or able)[0]

    def tokens(self) -> int:
        """Tokens used so far by every role whose model counts usage."""
        total = 0
        for model in self._models:
            usage = getattr(model, "usage", None)
            if usage is not None:
                total += usage.total.usage.total_tokens
        return int(total)

    async def plan(self, state: WorkforceState) -> dict[str, Any]:
        """Plan the task, or replan it after replan requests, keeping the finished work."""
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
            new = await self.planner.plan(
                state["task"], capabilities=self.capabilities, done=done, feedback=feedback
            )
        except ModelError as exc:
            return {
                "outcome": "failed",
                "answer": f"planning failed: {exc}",
                "replans": replans,
                "log": [{"node": "plan", "error": str(exc)}],
            }
        # A replan replaces all unfinished work; its requests are consumed.
        stale = {i: "replaced" for i, s in status.items() if s != "done"}
        return {
            "subtasks": {t.id: t.model_dump() for t in new.subtasks},
            "status": {**stale, **{t.id: "pending" for t in new.subtasks}},
            "assignee": {t.id: self.pick_worker(t.capability) for t in new.subtasks},
            "replans": replans,
            "replan_requests": None,
            "log": [
                {"node": "plan", "subtasks": [t.id for t in new.subtasks], "replan": bool(requests)}
            ],
        }

    async def coordinate(self, state: WorkforceState) -> list[Send] | str:
        """Route: send every ready subtask to ``work``, or go to ``plan`` or ``finish``."""
        if state.get("outcome"):
            return "finish"
        if state.get("replan_requests"):
            return "finish" if state.get("replans", 0) >= self.budget.max_replans else "plan"
        status = state.get("status", {})
        if "failed" in status.values():
            return "finish"
        # Subtasks in the state were validated when planned; read them as dicts.
        subtasks = state.get("subtasks", {})
        live = {i: t for i, t in subtasks.items() if status.get(i) in _LIVE}
        done = frozenset(i for i, s in status.items() if s == "done")
        if live and done.issuperset(live):
            return "finish"
        log = state.get("log", [])
        max_attempts = self.budget.max_attempts
        # Each entry logs at most one attempt: count only when there may be enough.
        if len(log) >= max_attempts and (
            sum(1 for e in log if e.get("node") == "work") >= max_attempts
        ):
            return "finish"
        if self.budget.max_tokens is not None and self.tokens() >= self.budget.max_tokens:
            return "finish"
        ready = [
            i
            for i, t in live.items()
            if status[i] == "pending" and done.issuperset(t["depends_on"])
        ]
        if not ready:
            return "finish"
        if len(log) + len(ready) > max_attempts:
            # A round never starts more attempts than the budget has left: twelve ready
            # subtasks with five attempts left send five (the rest wait, and the run ends
            # on its budget).
            used = sum(1 for e in log if e.get("node") == "work")
            ready = ready[: max(0, max_attempts - used)]
        results = state.get("results", {})
        attempts = state.get("attempts", {})
        transcripts = state.get("transcripts", {})
        feedback = state.get("feedback", {})
        assignee = state["assignee"]
        sends = []
        for i in ready:
            job: WorkJob = {
                "subtask": subtasks[i],
                "worker": assignee[i],
                "attempt": attempts.get(i, 0),
                "context": {d: results[d]["output"] for d in live[i]["depends_on"] if d in results},
                "transcript": transcripts.get(i, []),
                "feedback": feedback.get(i),
                "plan": subtasks,
            }
            sends.append(Send("work", job))
        return sends

    async def work(self, job: WorkJob) -> dict[str, Any]:
        """One attempt at the subtask ``coordinate`` sent, then the critic's route."""
        subtask = _Kept.model_validate(job["subtask"])
        worker = self.by_name[job["worker"]]
        result, transcript = await worker.attempt(
            subtask, context=job["context"], transcript=job["transcript"], feedback=job["feedback"]
        )
        verdict: CriticVerdict | None
        try:
            verdict = await self.critic.review(subtask, result)
        except ModelError as exc:
            verdict, error = None, str(exc)
        sid, attempt = subtask.id, job["attempt"]
        entry: dict[str, Any] = {
            "node": "work",
            "subtask": sid,
            "worker": worker.name,
            "attempt": attempt,
        }
        update: dict[str, Any] = {"results": {sid: result.model_dump()}}
        feedback: str | None
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
            if attempt + 1 > self.budget.max_retries:
                update["status"] = {sid: "failed"}
                entry["route"] = f"{route} (retries exhausted)"
            else:
                update["attempts"] = {sid: attempt + 1}
                update["feedback"] = {sid: feedback or "try again"}
                if route == "reassign":
                    wanted = verdict.worker if verdict and verdict.worker in self.by_name else None
                    update["assignee"] = {
                        sid: wanted or self.pick_worker(subtask.capability, avoid=worker.name)
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
            if depth >= self.budget.max_depth or not parts:
                update["status"] = {sid: "failed"}
                entry["route"] = (
                    "decompose (depth budget exhausted)"
                    if parts
                    else "decompose (no subtasks given)"
                )
            else:
                update.update(_decompose(sid, parts, job["plan"], self.pick_worker))
        update["log"] = [entry]
        return update

    async def approve(self, state: WorkforceState) -> dict[str, Any]:
        """Pause for a person to approve, rework (``{"feedback": ...}``) or reject the plan."""
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

    async def join(self, state: WorkforceState) -> Command[str]:
        """Where a super-step's parallel work meets: route once, with ``coordinate``.

        Routing here rather than on a conditional edge spares LangGraph a fresh copy of
        every channel per routing: join changes nothing, so the state it is given is
        already the state to route on.
        """
        return Command(goto=await self.coordinate(state))

    async def finish(self, state: WorkforceState) -> dict[str, Any]:
        """Set the outcome and the answer: what the last subtasks produced, or why not."""
        if state.get("outcome"):
            return {}
        status = state.get("status", {})
        live = {
            i: _Kept.model_validate(t)
            for i, t in state.get("subtasks", {}).items()
            if status.get(i) in _FINISHED
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


def _decompose(
    sid: str,
    parts: Sequence[Subtask],
    plan: Mapping[str, dict[str, Any]],
    pick_worker: Callable[[str], str],
) -> dict[str, Any]:
    """Replace subtask ``sid`` by ``parts`` (ids ``sid.1``, ``sid.2``, ...); its dependents
    wait for all of them."""
    parent = plan[sid]
    rename = {p.id: f"{sid}.{n}" for n, p in enumerate(parts, 1)}
    new: dict[str, dict[str, Any]] = {}
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
