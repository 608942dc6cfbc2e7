"""The records memory stores and returns.

An :class:`Event` is one thing that happened, recorded once, with the set of
agents that witnessed it. Worlds emit their own event objects (anything with
``id``, ``step``, ``place``, ``actor``, ``kind``, ``text`` and
``witnesses``); :func:`event_from` turns either such an object or plain
keyword fields into an :class:`Event`.
"""

from __future__ import annotations

import json
import time as _time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Event", "Retrieved", "event_from"]


@dataclass(kw_only=True, frozen=True, slots=True)
class Event:
    """One event in the episodic log.

    Attributes:
        id: the event's id, unique within its ``session`` (a world's own id,
            or a fresh uuid when none is given).
        session: the session (episode, drama, task) the event belongs to.
        step: the world step, when the world counts steps.
        time: wall-clock time in seconds since the epoch.
        place: where it happened, if anywhere.
        actor: who did it, if anyone.
        kind: what sort of event (``"say"``, ``"move"``, ``"observation"``,
            ``"reflection"``, ...).
        text: what happened, in words; this is what retrieval embeds.
        importance: 1-10, how much it matters (``None`` until scored).
        witnesses: the agents that saw or were told; only they can recall it.
        entities: the things it is about (the actor and place are added).
        data: extra JSON-serialisable fields (a reflection's evidence ids).
        seq: the position in the log, assigned when recorded (0 before).
    """

    id: str
    session: str = "default"
    step: int | None = None
    time: float = field(default_factory=_time.time)
    place: str | None = None
    actor: str | None = None
    kind: str = "event"
    text: str
    importance: float | None = None
    witnesses: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    data: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0

    @property
    def key(self) -> str:
        """The event's id in semantic memory: ``"<session>:<id>"`` (unique in one memory)."""
        return f"{self.session}:{self.id}"

    def with_(self, **changes: Any) -> Event:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (sets become sorted lists)."""
        return {
            "id": self.id,
            "session": self.session,
            "step": self.step,
            "time": self.time,
            "place": self.place,
            "actor": self.actor,
            "kind": self.kind,
            "text": self.text,
            "importance": self.importance,
            "witnesses": sorted(self.witnesses),
            "entities": sorted(self.entities),
            "data": json.loads(json.dumps(dict(self.data))),
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=str(d["id"]),
            session=d.get("session", "default"),
            step=d.get("step"),
            time=float(d["time"]),
            place=d.get("place"),
            actor=d.get("actor"),
            kind=d.get("kind", "event"),
            text=d["text"],
            importance=d.get("importance"),
            witnesses=frozenset(d.get("witnesses", ())),
            entities=frozenset(d.get("entities", ())),
            data=dict(d.get("data") or {}),
            seq=int(d.get("seq", 0)),
        )


_FIELDS = (
    "session",
    "step",
    "time",
    "place",
    "actor",
    "kind",
    "text",
    "importance",
    "entities",
    "data",
)


def event_from(obj: Any = None, /, **fields: Any) -> Event:
    """Build an :class:`Event` from a world's event object, a mapping, or keywords.

    Keywords override what the object carries. ``witnesses`` and
    ``entities`` may be any iterable of names.

    Example:
        >>> e = event_from(id="e1", text="Ophelia hands Hamlet a letter.", witnesses={"hamlet"})
        >>> e.kind, sorted(e.witnesses)
        ('event', ['hamlet'])
    """
    base: dict[str, Any] = {}
    if isinstance(obj, Event):
        base = {f: getattr(obj, f) for f in ("id", "witnesses", *_FIELDS)}
    elif isinstance(obj, Mapping):
        base = dict(obj)
    elif obj is not None:
        for name in ("id", "witnesses", *_FIELDS):
            if hasattr(obj, name):
                base[name] = getattr(obj, name)
        if not base and hasattr(obj, "to_dict"):
            base = dict(obj.to_dict())
    base.update(fields)
    if "text" not in base or base["text"] is None:
        raise TypeError("an event needs `text` (what happened, in words)")
    unknown = set(base) - {"id", "witnesses", "seq", *_FIELDS}
    if unknown:
        # A world may carry more than we store: keep it in `data`, never drop it.
        data = dict(base.get("data") or {})
        for key in sorted(unknown):
            data[key] = base.pop(key)
        base["data"] = data
    base.pop("seq", None)
    ev_id = base.pop("id", None)
    witnesses = base.pop("witnesses", None) or ()
    entities = set(base.pop("entities", None) or ())
    for key in ("actor", "place"):
        if base.get(key):
            entities.add(str(base[key]))
    step = base.get("step")
    if base.get("time") is None:
        base.pop("time", None)
    return Event(
        id=str(ev_id) if ev_id is not None else uuid.uuid4().hex,
        witnesses=frozenset(_names(witnesses)),
        entities=frozenset(entities),
        **{k: v for k, v in base.items() if k != "step"},
        step=int(step) if step is not None else None,
    )


def _names(items: Iterable[Any] | str) -> list[str]:
    if isinstance(items, str):
        return [items]
    return [str(x) for x in items]


@dataclass(kw_only=True, frozen=True, slots=True)
class Retrieved:
    """One memory returned by retrieval, with the parts of its score.

    ``score`` is the weighted sum of ``recency``, ``importance`` and
    ``relevance``, each normalised to [0, 1] over the candidates considered.
    """

    id: str
    text: str
    namespace: tuple[str, ...]
    score: float
    recency: float
    importance: float
    relevance: float
    event: Event | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
