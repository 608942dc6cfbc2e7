"""What the drama graph needs of a play and of a memory: its two typed seams.

:func:`dramaturg.drama.graph.drama` reads a play through
:class:`BlueprintLike` (a :class:`~dramaturg.drama.blueprint.Blueprint` is
one) and, when given one, records and retrieves through :class:`MemoryLike`
(a :class:`dramaturg.memory.Memory` is one). Anything with these members can
stand in: a test double, a play read from another format, a remote memory.

Example:
    >>> from dramaturg.memory import HashingEmbedder, Memory
    >>> memory: MemoryLike = Memory(tmp / "m", embedder=HashingEmbedder())  # doctest: +SKIP
    >>> play: BlueprintLike = Blueprint.load("ghost.yaml")                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dramaturg.drama.blueprint import CastMember, Scene, StageSpec
    from dramaturg.worlds.theatre.schema import Stage

__all__ = ["BlueprintLike", "MemoryLike", "Recalled"]


class BlueprintLike(Protocol):
    """The play as the drama graph reads it: title, cast, set, scenes, and a stage per scene.

    The graph only reads; it never changes the play.
    """

    @property
    def title(self) -> str: ...

    @property
    def premise(self) -> str: ...

    @property
    def cast(self) -> Mapping[str, CastMember]: ...

    @property
    def stage(self) -> StageSpec: ...

    @property
    def scenes(self) -> Sequence[Scene]: ...

    def to_stage(self, scene_id: str | None = None) -> Stage:
        """A theatre stage for the whole play (``None``) or for the scene ``scene_id``."""
        ...


class Recalled(Protocol):
    """One memory retrieved for an actor: the graph puts its text in the actor's view."""

    @property
    def text(self) -> str: ...


class MemoryLike(Protocol):
    """Where the drama graph records what happened, and what each actor recalls from.

    ``record`` gets each theatre event as the world returned it (its
    ``witnesses`` say who may recall it) with the scene as ``session``;
    ``aretrieve`` answers for one character, who must only ever get back
    what they witnessed.
    """

    def record(self, event: Any, /, *, session: str) -> Any:
        """Record one event seen by its witnesses."""
        ...

    async def aretrieve(self, agent: str, query: str, *, k: int) -> Sequence[Recalled]:
        """The ``k`` memories of ``agent`` that best fit ``query``."""
        ...
