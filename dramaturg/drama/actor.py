"""The actor: one character's mind on stage.

An actor perceives only what its character witnessed (the events of the
scene it was present for, plus memories retrieved for it) and decides one
thing to do: speak, act on a prop, move, or stay silent. Its private thought
is kept apart from its public action; only the action reaches the world.

In ``ensemble`` mode one call decides for every non-player character at
once (fewer calls, less individual depth): :meth:`Actor.ensemble`.

Example:
    >>> actor = Actor(model=load_model())                                        # doctest: +SKIP
    >>> d = await actor.decide(ActorView(character="hamlet", persona="...", ...))  # doctest: +SKIP
    >>> d.kind, d.line                                                           # doctest: +SKIP
    ('speak', 'Who is there?')
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from dramaturg._ids import reserved_id
from dramaturg.errors import ConfigError
from dramaturg.models import ChatModel, system, user
from dramaturg.prompts import render

__all__ = ["Actor", "ActorDecision", "ActorView", "EnsembleTurn"]

Kind = Literal["speak", "act", "move", "silent"]


class ActorDecision(BaseModel):
    """One character's choice. ``thought`` is private; the rest is public."""

    model_config = ConfigDict(extra="forbid")

    thought: str = Field(
        max_length=400, description="private: what the character thinks, never shown to others"
    )
    kind: Kind
    to: str | None = Field(
        default=None, max_length=40, description="speak: whom to address, or null for all"
    )
    line: str | None = Field(
        default=None, max_length=400, description="speak: the words said aloud"
    )
    intent: str | None = Field(
        default=None, max_length=200, description="act/move: what to do, in words"
    )


class EnsembleTurn(ActorDecision):
    character: str


@functools.lru_cache(maxsize=64)
def _ensemble_schema(ids: tuple[str, ...]) -> type[BaseModel]:
    for cid in ids:  # blueprints and stages refuse these ids already; views built in code may not
        if why := reserved_id(cid):
            raise ConfigError(f"character id {why}; the ensemble answers with one field per id")
    fields: dict[str, Any] = {cid: (ActorDecision, ...) for cid in ids}
    return create_model("Ensemble", __config__=ConfigDict(extra="forbid"), **fields)


@dataclass(kw_only=True)
class ActorView:
    """Everything one character may know when it decides (and nothing more)."""

    character: str
    name: str
    persona: str  # background, goals, emotional state, relationships, own secrets
    scene: str  # the scene's title and place
    beat: str | None  # the live beat, as the director set it
    perceived: Sequence[str] = ()  # witnessed events, oldest first
    memories: Sequence[str] = ()  # retrieved memories
    surroundings: str = ""  # what the character sees now
    others: Sequence[str] = ()  # ids of the characters present


@dataclass(kw_only=True)
class Actor:
    """Decides for characters. One instance serves the whole cast.

    Args:
        model: the model that plays the characters.
        temperature: some variety keeps scenes from looping.
        max_perceived: how many recent witnessed events go into the prompt.
    """

    model: ChatModel
    name: str = "actor"
    temperature: float = 0.8
    max_perceived: int = 12
    _schemas: dict = field(default_factory=dict, repr=False)

    def prompt(self, view: ActorView) -> list:
        # Stable part (the example and the persona) first, the changing scene last.
        head = render(
            "actor", "decide.j2", view=view, perceived=list(view.perceived)[-self.max_perceived :]
        )
        return [system(head), user(render("actor", "now.j2", view=view))]

    async def decide(self, view: ActorView) -> ActorDecision:
        schema = self._decision_schema(tuple(view.others))
        return await self.model.structured(
            self.prompt(view),
            schema,
            caller=f"{self.name}:{view.character}",
            temperature=self.temperature,
        )

    async def ensemble(self, views: Sequence[ActorView]) -> list[EnsembleTurn]:
        """One call deciding for every character in ``views``, each exactly once, in that order.

        The answer is an object with one decision per character id (all
        required), so constrained decoding cannot skip or repeat a character.
        """
        ids = tuple(v.character for v in views)
        schema = _ensemble_schema(ids)
        msgs = [
            system(
                render("actor", "ensemble.j2", views=list(views), max_perceived=self.max_perceived)
            )
        ]
        out = await self.model.structured(
            msgs, schema, caller=f"{self.name}:ensemble", temperature=self.temperature
        )
        return [EnsembleTurn(character=cid, **getattr(out, cid).model_dump()) for cid in ids]

    def _decision_schema(self, others: tuple[str, ...]) -> type[ActorDecision]:
        # "to" is constrained to the characters present, so a small model cannot address a ghost.
        if others not in self._schemas:
            if others:
                self._schemas[others] = create_model(
                    "ActorDecision",
                    __base__=ActorDecision,
                    to=(Literal[others] | None, Field(default=None)),
                )  # type: ignore[valid-type]
            else:
                self._schemas[others] = ActorDecision
        return self._schemas[others]
