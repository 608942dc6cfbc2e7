"""What a model writes when it designs a play, and the blueprint a draft adds up to.

The designer writes a play in three small parts (:class:`CastDraft`,
:class:`StageDraft`, :class:`ScenesDraft`: small schemas suit a small
model), the reviewer a :class:`Review` and the director a
:class:`DirectorCut`. These schemas are looser than the
:class:`~dramaturg.drama.blueprint.Blueprint` (lists with ids a model
invents, names where ids belong); :func:`assemble` lines a :class:`Draft`
up into a blueprint, or says what stops it, for the designer to fix.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from dramaturg.drama.blueprint import Blueprint
from dramaturg.errors import validation_issues
from dramaturg.worlds.theatre.schema import Affordance

__all__ = [
    "CastDraft",
    "DirectorCut",
    "Draft",
    "Review",
    "ScenesDraft",
    "StageDraft",
    "assemble",
    "scenes_schema",
]


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")


_Id = Annotated[str, Field(min_length=1, max_length=40)]


class _SecretDraft(_Draft):
    text: str = Field(min_length=1, max_length=200)
    known_by: list[_Id] = Field(
        default_factory=list, max_length=6, description="ids of others who know it"
    )


class _CastEntry(_Draft):
    id: _Id
    name: str = Field(min_length=1, max_length=60)
    background: str = Field(default="", max_length=300)
    goals: list[Annotated[str, Field(max_length=160)]] = Field(default_factory=list, max_length=4)
    emotion: str = Field(default="calm", max_length=40)
    relationships: dict[str, Annotated[str, Field(max_length=80)]] = Field(default_factory=dict)
    secrets: list[_SecretDraft] = Field(default_factory=list, max_length=3)
    location: _Id


class CastDraft(_Draft):
    """The designer's first part: title, premise and cast."""

    # The generic outline shows free-keyed mappings as "{}", which a small model copies.
    model_config = ConfigDict(
        json_schema_extra={
            "x-outline": (
                '{"title": string, "premise": string, "cast": [{"id": string, "name": string, "background": string, '
                '"goals": [string, ...], "emotion": string, "relationships": {character id: string, ...}, '
                '"secrets": [{"text": string, "known_by": [character id, ...]}, ...], "location": place id}, ...]}'
            )
        }
    )

    title: str = Field(min_length=1, max_length=80)
    premise: str = Field(max_length=400)
    cast: list[_CastEntry] = Field(min_length=1, max_length=8)


class _PlaceEntry(_Draft):
    id: _Id
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=300)
    exits: dict[str, _Id] = Field(default_factory=dict)


class _PropEntry(_Draft):
    id: _Id
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=300)
    location: _Id | None = None
    holder: _Id | None = None
    states: dict[str, bool | str | int] = Field(default_factory=dict)
    affordances: dict[str, Affordance] = Field(default_factory=dict)


class StageDraft(_Draft):
    """The designer's second part: places and props."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-outline": (
                '{"places": [{"id": string, "name": string, "description": string, '
                '"exits": {direction: place id, ...}}, ...], "props": [{"id": string, "name": string, '
                '"description": string, "location": place id or null, "holder": character id or null, '
                '"states": {state: boolean or string or integer, ...}, "affordances": {verb: {"requires": {state: value}, '
                '"held": boolean, "sets": {state: value}, "text": string, "secret": boolean}, ...}}, ...]}'
            )
        }
    )

    places: list[_PlaceEntry] = Field(min_length=1, max_length=8)
    props: list[_PropEntry] = Field(default_factory=list, max_length=10)


class _SceneEntry(_Draft):
    id: _Id
    title: str = Field(min_length=1, max_length=80)
    place: _Id
    cast: list[_Id] = Field(min_length=1, max_length=8)
    beats: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=8
    )


class ScenesDraft(_Draft):
    """The designer's third part: scenes, each with its beats in order (ids are given in code)."""

    scenes: list[_SceneEntry] = Field(min_length=1, max_length=12)


class Review(_Draft):
    """The reviewer's verdict on a blueprint."""

    ok: bool
    issues: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=6)


class _SceneCut(_Draft):
    id: _Id
    beats: list[_Id] = Field(default_factory=list, max_length=12)


class DirectorCut(_Draft):
    """The director's order of scenes and of the beats in each; what it leaves out is cut."""

    scenes: list[_SceneCut] = Field(min_length=1, max_length=12)


@dataclass(kw_only=True)
class Draft:
    """One full draft, as the designer wrote it."""

    cast: CastDraft
    stage: StageDraft
    scenes: ScenesDraft


@functools.lru_cache(maxsize=16)
def scenes_schema(n: int) -> type[ScenesDraft]:
    """The scenes schema for exactly ``n`` scenes."""
    # Exactly n scenes, enforced by the grammar on llama.cpp rather than asked for in words.
    return create_model(
        "ScenesDraft",
        __base__=ScenesDraft,
        scenes=(list[_SceneEntry], Field(min_length=n, max_length=n)),
    )  # type: ignore[call-overload]


# --------------------------------------------------------------------- a draft, assembled
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_") or text


def _resolver(entries: Sequence[Any]) -> Callable[[str], str]:
    """Maps what a model wrote for a reference (an id, a near-id, a name) to an id."""
    ids = {_slug(e.id) for e in entries}
    names = {e.name.strip().casefold(): _slug(e.id) for e in entries}
    return lambda ref: (
        ref_id if (ref_id := _slug(ref)) in ids else names.get(ref.strip().casefold(), ref_id)
    )


def assemble(
    topic: str, draft: Draft, *, characters: Sequence[str], scenes: int, revisions: int
) -> tuple[Blueprint | None, list[str]]:
    """The blueprint a draft describes, or the issues that stop it (for the designer to fix)."""
    issues: list[str] = []
    who, where = _resolver(draft.cast.cast), _resolver(draft.stage.places)

    def keyed(
        entries: Sequence[Any], group: str, build: Callable[[str, Any], dict]
    ) -> dict[str, dict]:
        out: dict[str, dict] = {}
        seen: dict[str, str] = {}
        for i, entry in enumerate(entries):
            key = _slug(entry.id)
            if key in out and seen[key] == entry.name.strip().casefold():
                continue  # the same entry again: a small model repeating itself, not a conflict
            if key in out:
                issues.append(f"{group}.{i}.id: {key!r} is used twice; give each its own id")
            else:
                out[key] = build(key, entry)
                seen[key] = entry.name.strip().casefold()
        return out

    cast = keyed(
        draft.cast.cast,
        "cast",
        lambda cid, c: {
            "name": c.name,
            "background": c.background,
            "goals": c.goals,
            "emotion": c.emotion,
            "relationships": {who(k): v for k, v in c.relationships.items()},
            "secrets": [
                {
                    "id": f"{cid}_secret_{n}",
                    "text": s.text,
                    "known_by": [who(k) for k in s.known_by],
                }
                for n, s in enumerate(c.secrets, 1)
            ],
            "location": where(c.location),
        },
    )
    places = keyed(
        draft.stage.places,
        "stage.places",
        lambda _, p: {
            "name": p.name,
            "description": p.description,
            "exits": {d: where(to) for d, to in p.exits.items()},
        },
    )
    first_place = next(iter(places), None)  # where a prop placed nowhere ends up
    props = keyed(
        draft.stage.props,
        "stage.props",
        lambda _, p: {
            "name": p.name,
            "description": p.description,
            "states": p.states,
            "affordances": p.affordances,
            # Exactly one of location and holder: a prop given both is in its holder's hands.
            "location": None
            if p.holder and who(p.holder) in cast
            else (where(p.location) if p.location else first_place),
            "holder": who(p.holder) if p.holder and who(p.holder) in cast else None,
        },
    )
    plot = [
        {
            "id": s.id,
            "title": s.title,
            "place": where(s.place),
            "cast": [who(c) for c in s.cast],
            "beats": [{"id": f"b{n}", "text": t} for n, t in enumerate(s.beats, 1)],
        }
        for s in draft.scenes.scenes[:scenes]
    ]
    if len(plot) < scenes:
        issues.append(f"scenes: write {scenes} scenes, not {len(plot)}")
    for name in characters:
        if not any(
            name.strip().casefold() == c["name"].strip().casefold() or _slug(name) == cid
            for cid, c in cast.items()
        ):
            issues.append(f"cast: {name} must be one of the characters")
    data = {
        "title": draft.cast.title,
        "topic": topic,
        "premise": draft.cast.premise,
        "revisions": revisions,
        "cast": cast,
        "stage": {"places": places, "props": props},
        "scenes": plot,
    }
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as exc:
        return None, [*issues, *validation_issues(exc)]
    return (None, issues) if issues else (blueprint, [])
