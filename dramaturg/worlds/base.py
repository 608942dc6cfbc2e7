"""The shape every world has: a Gymnasium-like ``reset``/``step`` and typed events.

A world is anything with ``reset(*, seed, options) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``. The ``info``
dict always carries the keys in :data:`INFO_KEYS` (``None`` where a world does
not know the value), so agents and evaluators never need to special-case a
world.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from dramaturg.errors import DramaturgError

__all__ = [
    "INFO_KEYS",
    "BaseWorld",
    "Event",
    "World",
    "WorldCrashedError",
    "WorldError",
    "WorldNotResetError",
    "make_info",
]

#: Keys present in every ``info`` dict a world returns.
INFO_KEYS: tuple[str, ...] = (
    "admissible_actions",  # list[str] | None: the actions the world knows to be legal now
    "events",  # list[Event]: what happened on this call, each with its witnesses
    "score",  # float: points so far
    "max_score",  # float | None: points available, where known
    "won",  # bool
    "lost",  # bool
    "gold_plan",  # list[str] | None: actions that win from the start of the episode
    "error",  # str | None: why the last action was rejected or the world failed
)


class WorldError(DramaturgError):
    """Base class for developer-facing world errors."""


class WorldNotResetError(WorldError, RuntimeError):
    """``step()`` was called before ``reset()``."""

    def __init__(self, world_id: str) -> None:
        super().__init__(
            f"{world_id}: no episode is running. Reset the world to start one with `world.reset(seed=...)`."
        )


class WorldCrashedError(WorldError, RuntimeError):
    """A world's engine (a game subprocess, a browser) died; the episode cannot go on."""


@dataclass(kw_only=True, frozen=True)
class Event:
    """Something that happened in a world, and who saw it.

    Attributes:
        id: unique within the episode (``"e12"``).
        step: the world step on which it happened.
        place: where it happened (a location id, a URL, a room), if known.
        actor: who did it (a character id, ``"player"``, ``"agent"``), if anyone.
        kind: a short tag (``"say"``, ``"take"``, ``"read_text"``, ``"left_origin"``...).
        text: a third-person sentence describing it.
        witnesses: the agents that perceived it. Memory records it for them only.
        data: extra structured fields (the target, the line spoken...).

    Example:
        >>> e = Event(id="e1", step=0, place="hall", actor="hamlet", kind="say",
        ...           text='Hamlet says: "To be."', witnesses=frozenset({"hamlet", "ophelia"}))
        >>> e.to_dict()["witnesses"]
        ['hamlet', 'ophelia']
    """

    id: str
    step: int
    place: str | None
    actor: str | None
    kind: str
    text: str
    witnesses: frozenset[str]
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)  # events stay hashable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (witnesses sorted)."""
        return {
            "id": self.id,
            "step": self.step,
            "place": self.place,
            "actor": self.actor,
            "kind": self.kind,
            "text": self.text,
            "witnesses": sorted(self.witnesses),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=data["id"],
            step=int(data["step"]),
            place=data.get("place"),
            actor=data.get("actor"),
            kind=data["kind"],
            text=data["text"],
            witnesses=frozenset(data.get("witnesses", ())),
            data=dict(data.get("data", {})),
        )


def make_info(**values: Any) -> dict[str, Any]:
    """An ``info`` dict with every key of :data:`INFO_KEYS`, defaults filled in."""
    info: dict[str, Any] = {
        "admissible_actions": None,
        "events": [],
        "score": 0.0,
        "max_score": None,
        "won": False,
        "lost": False,
        "gold_plan": None,
        "error": None,
    }
    info.update(values)
    return info


@runtime_checkable
class World(Protocol):
    """What every world implements (Gymnasium's ``Env`` shape, text in and out)."""

    id: str

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]: ...

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]: ...

    def close(self) -> None: ...


class BaseWorld:
    """Shared plumbing: context manager, event ids, the not-reset guard.

    Subclasses implement ``reset`` and ``step`` and call :meth:`_new_event`.
    """

    id: str = "world"
    #: ``True`` when ``reset`` and ``step`` are quick, in-process Python (no
    #: engine, server or browser behind them): async runners then call them
    #: directly instead of handing them to a thread.
    steps_inline: bool = False

    def __init__(self) -> None:
        self._event_counter = itertools.count(1)
        self._running = False
        self._closed = False

    def __enter__(self) -> BaseWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release engines, servers and browsers. Safe to call twice."""
        self._closed = True
        self._running = False

    def _require_running(self) -> None:
        if not self._running:
            raise WorldNotResetError(self.id)

    def _reset_events(self, start: int = 1) -> None:
        self._event_counter = itertools.count(start)

    def _new_event(
        self,
        *,
        step: int,
        place: str | None,
        actor: str | None,
        kind: str,
        text: str,
        witnesses: frozenset[str] | set[str] | tuple[str, ...],
        **data: Any,
    ) -> Event:
        return Event(
            id=f"e{next(self._event_counter)}",
            step=step,
            place=place,
            actor=actor,
            kind=kind,
            text=text,
            witnesses=frozenset(witnesses),
            data=data,
        )
