"""The director: who acts next, which beat is live, and reflection on the plot.

During a scene the director picks the next character and the beat the play
should move towards. Every few steps it reflects: it may mark beats done,
edit at most one unfinished beat or add one. Finished beats never change:
:func:`apply_reflection` enforces that in code, whatever the model says.

Example:
    >>> director = Director(model=load_model())                              # doctest: +SKIP
    >>> pick = await director.pick(cast=["hamlet", "horatio"], beats=beats, recent=lines)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from dramaturg.models import ChatModel, system
from dramaturg.prompts import render

__all__ = ["BeatEdit", "Director", "DirectorPick", "Reflection", "apply_reflection"]


class DirectorPick(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str
    beat: str | None = None


class BeatEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=40)
    text: str = Field(min_length=1, max_length=300)


class Reflection(BaseModel):
    """The director's notes on the plot so far."""

    model_config = ConfigDict(extra="forbid")

    done: list[str] = Field(
        default_factory=list, description="ids of beats the play has now reached"
    )
    edit: BeatEdit | None = Field(default=None, description="rewrite one unfinished beat")
    add: str | None = Field(default=None, max_length=300, description="one new beat, appended")
    end_scene: bool = False


def apply_reflection(
    beats: Sequence[dict[str, Any]], reflection: Reflection, *, step: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply ``reflection`` to ``beats`` (dicts with id, text, status).

    Returns the new beats and a log of what was applied and what was refused.
    Rules (enforced here, not trusted to the model): a finished beat is never
    edited; at most one edit and one addition per reflection; unknown beat
    ids are refused.
    """
    new = [dict(b) for b in beats]
    by_id = {b["id"]: b for b in new}
    log: list[dict[str, Any]] = []
    for bid in dict.fromkeys(reflection.done):
        beat = by_id.get(bid)
        if beat is None:
            log.append({"op": "done", "beat": bid, "refused": "no such beat"})
        elif beat["status"] != "done":
            beat["status"] = "done"
            beat["done_at"] = step
            log.append({"op": "done", "beat": bid})
    if reflection.edit is not None:
        beat = by_id.get(reflection.edit.id)
        if beat is None:
            log.append({"op": "edit", "beat": reflection.edit.id, "refused": "no such beat"})
        elif beat["status"] == "done":
            log.append(
                {"op": "edit", "beat": beat["id"], "refused": "a finished beat never changes"}
            )
        else:
            log.append(
                {"op": "edit", "beat": beat["id"], "from": beat["text"], "to": reflection.edit.text}
            )
            beat["text"] = reflection.edit.text
    if reflection.add:
        ids = {b["id"] for b in new}
        n = len(new) + 1
        while f"b{n}" in ids:
            n += 1
        new.append({"id": f"b{n}", "text": reflection.add, "status": "pending", "added_at": step})
        log.append({"op": "add", "beat": f"b{n}", "text": reflection.add})
    return new, log


@dataclass(kw_only=True)
class Director:
    """Runs the scene. ``model=None`` picks round-robin and never reflects."""

    model: ChatModel | None
    name: str = "director"
    temperature: float = 0.3

    async def pick(
        self,
        *,
        scene: str,
        cast: Sequence[str],
        names: dict[str, str],
        beats: Sequence[dict],
        recent: Sequence[str],
        last: str | None,
    ) -> DirectorPick:
        pending = [b["id"] for b in beats if b["status"] != "done"]
        if self.model is None or not cast:
            return _round_robin(cast, last, pending)
        # Nobody acts twice in a row when someone else is there: enforced by the schema, not asked for.
        choices = [c for c in cast if c != last] or list(cast)
        fields: dict[str, Any] = {"actor": (Literal[tuple(choices)], ...)}
        fields["beat"] = (Literal[tuple(pending)] | None, None) if pending else (None, None)
        schema = create_model("DirectorPick", __base__=DirectorPick, **fields)  # type: ignore[call-overload]
        prompt = render(
            "director",
            "pick.j2",
            scene=scene,
            cast=list(cast),
            names=names,
            beats=list(beats),
            recent=list(recent)[-8:],
            last=last,
        )
        out = await self.model.structured(
            [system(prompt)], schema, caller=f"{self.name}:pick", temperature=self.temperature
        )
        return DirectorPick(actor=out.actor, beat=out.beat)

    async def reflect(
        self, *, scene: str, beats: Sequence[dict], recent: Sequence[str]
    ) -> Reflection:
        if self.model is None:
            return Reflection()
        prompt = render(
            "director", "reflect.j2", scene=scene, beats=list(beats), recent=list(recent)[-12:]
        )
        return await self.model.structured(
            [system(prompt)],
            Reflection,
            caller=f"{self.name}:reflect",
            temperature=self.temperature,
        )


def _round_robin(cast: Sequence[str], last: str | None, pending: Sequence[str]) -> DirectorPick:
    i = (list(cast).index(last) + 1) % len(cast) if last in cast else 0
    return DirectorPick(actor=cast[i], beat=pending[0] if pending else None)
