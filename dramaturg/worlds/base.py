"""The shape every world has: a Gymnasium-like ``reset``/``step`` and typed events.

A world is anything with ``reset(*, seed, options) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``. The ``info``
dict always carries the keys in :data:`INFO_KEYS` (``None`` where a world does
not know the value), so agents and evaluators never need to special-case a
world.

Every world's episode can be saved and restored with ``get_state()`` and
``set_state(state)``. :class:`BaseWorld` gives each subclass both by replay
(the seed, the options and the actions since ``reset``); a world with a
snapshot of its own (the theatre) overrides them.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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
    """What every world implements (Gymnasium's ``Env`` shape, text in and out).

    Worlds built on :class:`BaseWorld` also have ``get_state()`` and
    ``set_state(state)``; they are not required here, so a world written from
    scratch still conforms (``check_world`` checks them where they exist).
    """

    id: str

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]: ...

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]: ...

    def close(self) -> None: ...


class BaseWorld:
    """Shared plumbing: context manager, event ids, the not-reset guard, state by replay.

    Subclasses implement ``reset`` and ``step`` and call :meth:`_new_event`.
    Each one gets :meth:`get_state` and :meth:`set_state` for free: the
    episode is recorded as it is played, and restored by resetting with the
    same seed and replaying the same actions.

    Example:
        >>> from dramaturg.worlds import make_world
        >>> with make_world("web/shop") as world, make_world("web/shop") as fresh:
        ...     _ = world.reset(seed=0)
        ...     _ = world.step("scroll down")
        ...     fresh.set_state(world.get_state())
        ...     fresh.get_state() == world.get_state()
        True
    """

    id: str = "world"
    #: ``True`` when ``reset`` and ``step`` are quick, in-process Python (no
    #: engine, server or browser behind them): async runners then call them
    #: directly instead of handing them to a thread.
    steps_inline: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Recording wraps each subclass's own reset and step, so every world (a user's
        # included) can be saved without remembering to call a hook; a class with its
        # own get_state has a snapshot and needs no record.
        if cls.get_state is not BaseWorld.get_state:
            return
        for name, wrap in (("reset", _recording_reset), ("step", _recording_step)):
            if name in cls.__dict__ and not getattr(cls.__dict__[name], "_records", False):
                setattr(cls, name, wrap(cls.__dict__[name]))

    if TYPE_CHECKING:  # each subclass defines these; declared here for set_state's calls

        def reset(
            self, *, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[str, dict[str, Any]]: ...

        def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]: ...

    def __init__(self) -> None:
        self._event_counter = itertools.count(1)
        self._running = False
        self._closed = False
        self._replay: dict[str, Any] | None = None  # seed, options, actions, digest
        self._recording = 0  # depth of reset/step calls (a subclass calls super())

    def __enter__(self) -> BaseWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release engines, servers and browsers. Safe to call twice."""
        self._closed = True
        self._running = False

    def get_state(self) -> dict[str, Any]:
        """The episode so far, JSON-ready: the seed, the options and every action since ``reset``.

        The world's engine (a game process, a browser) has no snapshot to
        take, so the state is how to get back here: :meth:`set_state` replays
        it. ``digest`` fingerprints the last observation, so a replay that
        ends somewhere else is caught rather than trusted.
        """
        self._require_running()
        if self._replay is None:
            raise WorldError(
                f"{self.id}: this world has no record of its episode; reset it through its own "
                "reset() (or give the class get_state/set_state of its own)"
            )
        return {"version": 1, "kind": "replay", "world": self.id, **_copy_replay(self._replay)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Bring this world to ``state`` from :meth:`get_state` (also a fresh world of the same kind).

        Resets with the recorded seed and options and replays the actions;
        each replayed step costs what a step costs. Raises :class:`WorldError`
        for another world's state, or when the replay ends on a different
        observation (a world that is not deterministic for its seed).
        """
        if state.get("version") != 1 or state.get("kind") != "replay":
            raise WorldError(
                f"{self.id}: not a state from get_state() (version {state.get('version')!r}, "
                f"kind {state.get('kind')!r})"
            )
        if state.get("world") != self.id:
            raise WorldError(
                f"{self.id}: this state is from {state.get('world')!r}; restore it into that world"
            )
        self.reset(seed=state["seed"], options=state.get("options"))
        for action in state["actions"]:
            self.step(action)
        if self._replay is None or self._replay["digest"] != state.get("digest"):
            raise WorldError(
                f"{self.id}: replaying {len(state['actions'])} actions from seed {state['seed']!r} "
                "did not lead to the saved observation; the world is not deterministic for "
                "its seed, so this state cannot be restored"
            )

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


# ---------------------------------------------------------------- state by replay
def _digest(result: tuple[Any, ...]) -> str:
    """A fingerprint of what a reset or a step showed: the observation and the events' texts."""
    obs, info = result[0], result[-1]
    events = info.get("events", ()) if isinstance(info, dict) else ()
    text = "\n".join([str(obs), *(getattr(e, "text", "") for e in events)])
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def _copy_replay(replay: dict[str, Any]) -> dict[str, Any]:
    for action in replay["actions"]:
        if not isinstance(action, str | int | float | bool | type(None)):
            raise WorldError(
                f"action {action!r} is not text, so the episode cannot be saved; "
                "step the world with text commands"
            )
    options = replay["options"]
    return {
        **replay,
        "options": dict(options) if options is not None else None,
        "actions": list(replay["actions"]),
    }


def _recording_reset(reset: Any) -> Any:
    @functools.wraps(reset)
    def wrapper(self: BaseWorld, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(self, "_recording", 0)
        self._recording = depth + 1
        try:
            result = reset(self, *args, **kwargs)
        finally:
            self._recording = depth
        if not depth:  # the outermost call: a subclass's super().reset() is not a second reset
            options = kwargs.get("options")
            self._replay = {
                "seed": kwargs.get("seed"),
                "options": dict(options) if options is not None else None,
                "actions": [],
                "digest": _digest(result),
            }
        return result

    wrapper._records = True  # type: ignore[attr-defined]
    return wrapper


def _recording_step(step: Any) -> Any:
    @functools.wraps(step)
    def wrapper(self: BaseWorld, action: Any) -> Any:
        depth = getattr(self, "_recording", 0)
        self._recording = depth + 1
        try:
            result = step(self, action)
        finally:
            self._recording = depth
        replay = getattr(self, "_replay", None)
        if not depth and replay is not None:
            replay["actions"].append(action)
            replay["digest"] = _digest(result)
        return result

    wrapper._records = True  # type: ignore[attr-defined]
    return wrapper
