"""The typed records that agents exchange: plans, subtasks, results, verdicts."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CriticVerdict",
    "Plan",
    "ReactStep",
    "Route",
    "Subtask",
    "WorkerResult",
    "topological_order",
]

Route = Literal["accept", "retry", "replan", "decompose", "reassign"]


class Subtask(BaseModel):
    """One step of a plan."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=24, description="short unique id, e.g. s1")
    description: str = Field(min_length=1, max_length=400)
    depends_on: list[str] = Field(default_factory=list, max_length=8)
    capability: str = Field(
        default="general", max_length=40, description="what kind of worker it needs"
    )
    done_when: str = Field(default="", max_length=200, description="how to tell it is done")


class Plan(BaseModel):
    """What the planner answers."""

    model_config = ConfigDict(extra="forbid")

    subtasks: list[Subtask] = Field(min_length=1, max_length=12)
    # Ids of work already done that a replan may depend on (see roles.plan_schema).
    done_ids: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _dependencies_form_a_dag(self) -> Plan:
        # A model error, phrased for the model: the retry wrapper shows it back.
        ids = [t.id for t in self.subtasks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"subtask ids must be unique; repeated: {dupes}")
        clash = sorted(set(ids) & self.done_ids)
        if clash:
            raise ValueError(f"ids {clash} are already used by finished work; pick new ids")
        known = set(ids) | self.done_ids
        for t in self.subtasks:
            missing = [d for d in t.depends_on if d not in known]
            if missing:
                raise ValueError(
                    f"subtask {t.id} depends on unknown ids {missing}; known ids: {ids}"
                )
            if t.id in t.depends_on:
                raise ValueError(f"subtask {t.id} depends on itself")
        order = topological_order(self.subtasks, done=self.done_ids)
        if order is None:
            raise ValueError(
                "the dependencies form a cycle; each subtask may only depend on earlier ones"
            )
        return self


class CriticVerdict(BaseModel):
    """What the critic answers about one result."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=0, le=100)
    issues: list[str] = Field(default_factory=list, max_length=6)
    route: Route
    revised: str | None = Field(
        default=None, max_length=400, description="a clearer subtask, for retry"
    )
    subtasks: list[Subtask] = Field(default_factory=list, max_length=6, description="for decompose")
    worker: str | None = Field(default=None, max_length=40, description="for reassign")


_MAX_ARGUMENT_DEPTH = 16  # how deep a tool call's arguments may nest (lists and objects)


def _nesting(value: Any, limit: int) -> int:
    """How deep lists and dicts nest in ``value`` (a scalar is 0), counted up to ``limit + 1``."""
    deepest, todo = 0, [(value, 1)]
    while todo and deepest <= limit:  # a loop, not recursion: the value may be thousands deep
        item, level = todo.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is not None:
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in children)
    return deepest


class ReactStep(BaseModel):
    """One turn of a worker with tools: think, then call a tool or answer."""

    model_config = ConfigDict(extra="forbid")

    thought: str = Field(default="", max_length=400)
    tool: str | None = Field(default=None, max_length=60)
    arguments: dict[str, Any] = Field(default_factory=dict)
    answer: str | None = Field(default=None, max_length=2000)

    @field_validator("arguments")
    @classmethod
    def _not_nested_too_deeply(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Pydantic and the checkpointer's msgpack give up at 255 levels, with errors
        # a graph cannot route; no tool wants arguments nested even a tenth that deep.
        if _nesting(value, _MAX_ARGUMENT_DEPTH) > _MAX_ARGUMENT_DEPTH:
            raise ValueError(
                f"the arguments are nested more than {_MAX_ARGUMENT_DEPTH} levels deep; "
                "pass plain values"
            )
        return value


class WorkerResult(BaseModel):
    """What a worker returns for a subtask (one attempt)."""

    subtask_id: str
    worker: str
    output: str
    ok: bool = True
    steps: int = 1
    error: str | None = None


def topological_order(
    subtasks: list[Subtask], *, done: frozenset[str] = frozenset()
) -> list[str] | None:
    """Ids in an order that respects ``depends_on`` (ids in ``done`` count as
    satisfied); ``None`` if there is a cycle."""
    deps = {t.id: set(t.depends_on) - done for t in subtasks}
    order: list[str] = []
    ready = [i for i, d in deps.items() if not d]
    while ready:
        current = ready.pop(0)
        order.append(current)
        for other, d in deps.items():
            if current in d:
                d.discard(current)
                if not d and other not in order and other not in ready:
                    ready.append(other)
    return order if len(order) == len(deps) else None
