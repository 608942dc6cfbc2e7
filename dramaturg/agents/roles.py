"""The planner, worker and critic roles.

Each role is a small class around a :class:`~dramaturg.models.ChatModel`
with its own Jinja prompts under ``dramaturg/prompts/<role>/``. Roles do
not know about graphs: graph builders (``dramaturg.graphs``) wire them into
LangGraph nodes, and users can call them from their own nodes.

Example:
    >>> planner = Planner(model=load_model())                       # doctest: +SKIP
    >>> plan = await planner.plan("Find the capital of Peru and its population")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dramaturg._untrusted import warn_if_injected
from dramaturg.agents._steps import MAX_STEPS, parse_steps, plan_steps
from dramaturg.agents.schemas import CriticVerdict, Plan, ReactStep, Subtask, WorkerResult
from dramaturg.errors import ModelError
from dramaturg.models import ChatModel, Message, assistant, model_kind, system, user
from dramaturg.prompts import render

__all__ = ["Critic", "Planner", "Worker", "plan_schema"]


def plan_schema(done_ids: Iterable[str] = ()) -> type[Plan]:
    """The plan schema, allowing dependencies on subtasks already done (for a replan)."""
    known = frozenset(done_ids)
    if not known:
        return Plan
    return type("Plan", (Plan,), {"done_ids": known})


@dataclass(kw_only=True)
class Planner:
    """Turns a task into a :class:`Plan` of subtasks with dependencies."""

    model: ChatModel
    name: str = "planner"

    async def plan(
        self,
        task: str,
        *,
        capabilities: Sequence[str] = ("general",),
        done: Sequence[dict[str, str]] = (),
        feedback: str | None = None,
    ) -> Plan:
        prompt = render(
            "planner",
            "plan.j2",
            task=task,
            capabilities=list(capabilities),
            done=list(done),
            feedback=feedback,
        )
        schema = plan_schema(d["id"] for d in done)
        if model_kind(self.model) == "base":
            return await self._plan_as_list(task, capabilities, done, feedback, schema)
        return await self.model.structured([system(prompt)], schema, caller=self.name)

    async def _plan_as_list(
        self,
        task: str,
        capabilities: Sequence[str],
        done: Sequence[dict[str, str]],
        feedback: str | None,
        schema: type[Plan],
    ) -> Plan:
        """On a base model: the plan is a numbered list it continues after two examples;
        code numbers, dedupes, chains and assigns the steps (see :mod:`~dramaturg.agents._steps`).
        A list with no usable step is one subtask: the task itself."""
        prompt = render(
            "planner", "steps.j2", task=task, done=list(done), feedback=feedback
        ).rstrip("\n")  # the model writes step 1 right after "1."
        out = await self.model.complete(
            [system(prompt)],
            raw=True,
            max_tokens=24 * MAX_STEPS,
            temperature=0.2,
            repeat_penalty=1.2,
            stop=["\n\n", "Task:"],
            caller=self.name,
        )
        steps = parse_steps(out.text) or [task]
        taken = [d["id"] for d in done]
        return schema.model_validate(plan_steps(steps, capabilities=capabilities, taken=taken))


@dataclass(kw_only=True)
class Worker:
    """Does subtasks. Keeps its conversation across retries of the same subtask.

    Args:
        name: the worker's name (also the caller its usage is billed to).
        model: its model.
        capabilities: the kinds of subtask it takes.
        tools: an object with ``describe() -> str`` and
            ``async call(name, arguments) -> result`` (``.ok``, ``.output``,
            ``.error``); see ``dramaturg.tools``. Without tools, one model
            call answers a subtask.
        max_steps: tool calls allowed per attempt.
    """

    name: str
    model: ChatModel
    capabilities: tuple[str, ...] = ("general",)
    tools: Any = None
    max_steps: int = 6

    async def attempt(
        self,
        subtask: Subtask,
        *,
        context: dict[str, str] | None = None,
        transcript: Sequence[Message] = (),
        feedback: str | None = None,
    ) -> tuple[WorkerResult, list[Message]]:
        """One attempt; returns the result and the conversation so far (for a retry)."""
        if transcript:
            messages = [
                *transcript,
                user(render("worker", "retry.j2", feedback=feedback or "try again")),
            ]
        elif self.tools is not None:
            messages = [
                system(
                    render(
                        "worker",
                        "tools.j2",
                        worker=self.name,
                        subtask=subtask,
                        context=context or {},
                        tools=self.tools.describe(),
                    )
                )
            ]
        else:
            messages = [
                system(
                    render(
                        "worker",
                        "attempt.j2",
                        worker=self.name,
                        subtask=subtask,
                        context=context or {},
                    )
                )
            ]
        if self.tools is not None:
            return await self._react(subtask, messages)
        try:
            out = await self.model.complete(messages, caller=self.name)
        except ModelError as exc:
            # A failed call is a failed attempt the critic can route, not a crash.
            result = WorkerResult(
                subtask_id=subtask.id, worker=self.name, output="", ok=False, error=str(exc)
            )
            return result, messages
        result = WorkerResult(subtask_id=subtask.id, worker=self.name, output=out.text.strip())
        return result, [*messages, assistant(out.text)]

    async def _react(
        self, subtask: Subtask, messages: list[Message]
    ) -> tuple[WorkerResult, list[Message]]:
        """Think, call a tool, read the observation; until an answer or ``max_steps`` tool calls.

        Unknown tools, bad arguments, failing tools and timeouts come back as
        observations (``ToolSet.call`` never raises for those), so the model
        can correct itself within the same attempt.
        """
        from dramaturg.tools import ToolCall

        for step in range(1, self.max_steps + 2):
            try:
                move = await self.model.structured(messages, ReactStep, caller=self.name)
            except ModelError as exc:
                result = WorkerResult(
                    subtask_id=subtask.id,
                    worker=self.name,
                    output="",
                    ok=False,
                    steps=step,
                    error=str(exc),
                )
                return result, messages
            messages = [*messages, assistant(move.model_dump_json(exclude_defaults=True))]
            if move.answer is not None:
                return WorkerResult(
                    subtask_id=subtask.id, worker=self.name, output=move.answer, steps=step
                ), messages
            if step > self.max_steps:
                break
            if not move.tool:
                messages.append(
                    user("Observation: Error: give a tool to call or your final answer.")
                )
                continue
            observed = await self.tools.call(ToolCall(name=move.tool, arguments=move.arguments))
            # Fenced and labelled: a fetched page may hold text written to steer the model.
            warn_if_injected(str(observed.text), f"the output of tool {move.tool!r}")
            messages.append(
                user(render("worker", "observation.j2", text=str(observed.text)).rstrip("\n"))
            )
        error = f"no answer after {self.max_steps} tool calls"
        return WorkerResult(
            subtask_id=subtask.id,
            worker=self.name,
            output="",
            ok=False,
            steps=self.max_steps,
            error=error,
        ), messages


@dataclass(kw_only=True)
class Critic:
    """Scores a result and picks a route: accept, retry, replan, decompose or reassign."""

    model: ChatModel
    name: str = "critic"
    workers: list[str] = field(default_factory=list)

    async def review(self, subtask: Subtask, result: WorkerResult) -> CriticVerdict:
        if not result.ok:
            # Nothing to judge: the attempt itself failed.
            return CriticVerdict(
                score=0, issues=[result.error or "the attempt failed"], route="retry"
            )
        prompt = render("critic", "review.j2", subtask=subtask, result=result, workers=self.workers)
        return await self.model.structured([system(prompt)], CriticVerdict, caller=self.name)
