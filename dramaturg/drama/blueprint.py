"""The drama blueprint: who is in the play, where it happens, what must happen.

A :class:`Blueprint` is the play as data, validated so that every id a field
mentions exists. It is made offline, before anyone plays, by
:func:`dramaturg.drama.design.design_blueprint` (or by hand, or from a
theatre stage with :meth:`Blueprint.from_stage`). People can read and edit
it as YAML (:meth:`Blueprint.save` / :meth:`Blueprint.load`), and
:meth:`Blueprint.to_stage` turns it into a theatre :class:`Stage` to play.

Example:
    >>> bp = await design_blueprint("a ghost demands revenge", model=load_model())  # doctest: +SKIP
    >>> bp.save("ghost.yaml")                                                      # doctest: +SKIP
    >>> world = TheatreWorld(Blueprint.load("ghost.yaml").to_stage("s1"))          # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dramaturg._files import load_model_yaml
from dramaturg._ids import reserved_id
from dramaturg.errors import ConfigError
from dramaturg.worlds.theatre.schema import (
    Character,
    Location,
    Prop,
    Relationship,
    Stage,
)

__all__ = [
    "Beat",
    "Blueprint",
    "BlueprintError",
    "CastMember",
    "LoreNote",
    "Place",
    "Scene",
    "Secret",
    "StageSpec",
]

_ID = r"[a-z][a-z0-9_]*"  # the theatre stage's id rule, so every blueprint converts


class BlueprintError(ConfigError):
    """A blueprint file is malformed, or no valid blueprint could be designed; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------- the blueprint
class Secret(_Strict):
    """Something a character hides. ``known_by``: the other characters who know it too."""

    id: str
    text: str
    known_by: list[str] = Field(default_factory=list)


class LoreNote(_Strict):
    """Something a character knows that comes to mind when one of ``keys`` is heard
    (a character card's lorebook entry); ``constant`` notes are always in mind."""

    keys: list[str] = Field(default_factory=list)
    text: str
    constant: bool = False


class CastMember(_Strict):
    """One character. ``location`` is the place id where they start; ``player``: a person plays them.

    ``listens``: characters whose doings this one hears of even when absent
    (the theatre's ``Relationship.listens``).
    """

    name: str
    background: str = ""
    goals: list[str] = Field(default_factory=list)
    emotion: str = "calm"
    relationships: dict[str, str] = Field(default_factory=dict)
    secrets: list[Secret] = Field(default_factory=list)
    location: str
    player: bool = False
    listens: list[str] = Field(default_factory=list)
    lore: list[LoreNote] = Field(default_factory=list)


class Place(_Strict):
    """A place. ``exits`` maps a direction to the id of the place it leads to."""

    name: str
    description: str = ""
    exits: dict[str, str] = Field(default_factory=dict)


class StageSpec(_Strict):
    """The set: places and props (theatre :class:`Prop`: at a place or held, states, affordances)."""

    places: dict[str, Place] = Field(min_length=1)
    props: dict[str, Prop] = Field(default_factory=dict)


class Beat(_Strict):
    """A plot point a scene must reach."""

    id: str
    text: str
    status: Literal["pending", "done"] = "pending"


class Line(_Strict):
    """One authored line: who says it, and the words."""

    speaker: str
    text: str = Field(min_length=1, max_length=400)


class Scene(_Strict):
    """A scene: where, who, the beats it must reach, and optional authored opening lines.

    ``opening`` lines are spoken first, as written, before any actor decides;
    on a base model they are the strongest steering a scene has.
    """

    id: str
    title: str
    place: str
    cast: list[str] = Field(min_length=1)
    beats: list[Beat] = Field(min_length=1)
    opening: list[Line] = Field(default_factory=list, max_length=6)


class Blueprint(_Strict):
    """A whole play, validated: every id a field mentions exists.

    Example:
        >>> bp = Blueprint.from_stage(load_stage("elsinore"))
        >>> [b.text for b in bp.scenes[0].beats]
        ["Ophelia holds Hamlet's letter."]
        >>> TheatreWorld(bp.to_stage()).reset()[1]["turn"]
        'hamlet'
    """

    title: str
    topic: str
    premise: str = ""
    revisions: int = Field(default=0, ge=0)
    cast: dict[str, CastMember] = Field(min_length=1)
    stage: StageSpec
    scenes: list[Scene] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Blueprint:
        problems = list(_reference_issues(self))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def scene(self, scene_id: str) -> Scene:
        """The scene with id ``scene_id``."""
        for scene in self.scenes:
            if scene.id == scene_id:
                return scene
        raise ConfigError(
            f"no scene {scene_id!r} in the blueprint; scenes: {[s.id for s in self.scenes]}"
        )

    # ------------------------------------------------------------------ files
    def to_yaml(self) -> str:
        """The blueprint as block-style YAML in field order; defaults are left out."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        body = yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
        return "# dramaturg blueprint: edit freely, then Blueprint.load(path)\n" + body

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` (UTF-8) and return the path."""
        path = Path(path)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Blueprint:
        """Read a blueprint file.

        Raises:
            BlueprintError: the file is unreadable, over 4 MiB, not UTF-8,
                nested over 100 levels, not YAML, or breaks the schema; the
                message names the file and each bad field
                (``cast.hamlet.location: unknown place 'x'``).
        """
        path = Path(path)
        return load_model_yaml(cls, path, error=BlueprintError, label=f"blueprint file {path}")

    # ------------------------------------------------------------------ stages
    def to_stage(self, scene_id: str | None = None) -> Stage:
        """A theatre :class:`Stage` for the whole play, or for one scene.

        For a scene: its place and the places one exit away (exits leading
        further are dropped), its cast standing at its place and acting in
        the scene's order, and the props found there or held by that cast.
        """
        if scene_id is None:
            places = list(self.stage.places)
            start = {cid: c.location for cid, c in self.cast.items()}
            title, order = self.title, None
        else:
            scene = self.scene(scene_id)
            near = {scene.place, *self.stage.places[scene.place].exits.values()}
            places = [pid for pid in self.stage.places if pid in near]
            start = dict.fromkeys(scene.cast, scene.place)
            title, order = f"{self.title}: {scene.title}", list(start)
        locations = {
            pid: Location(
                name=p.name,
                description=p.description,
                exits={d: to for d, to in p.exits.items() if to in places},
            )
            for pid, p in self.stage.places.items()
            if pid in places
        }
        # Relationship.kind takes any string and the world never parses it,
        # so the designer's words are kept whole rather than cut to a label.
        characters = {
            cid: Character(
                name=c.name,
                location=start[cid],
                description=c.background,
                relationships={
                    o: Relationship(kind=c.relationships.get(o, "listener"), listens=o in c.listens)
                    for o in (*c.relationships, *c.listens)
                    if o in start
                },
            )
            for cid, c in self.cast.items()
            if cid in start
        }
        props = {
            pid: p
            for pid, p in self.stage.props.items()
            if (p.location in locations) or (p.holder in characters)
        }
        return Stage(
            title=title,
            description=self.premise,
            locations=locations,
            props=props,
            characters=characters,
            turn_order=order,
        )

    def with_cards(self, cards: Sequence[Any], *, user: str | None = None) -> Blueprint:
        """This blueprint with characters from character cards (:func:`dramaturg.agents.load_card`).

        A card whose name matches a cast member (by id or name) replaces that
        character's background with the card's persona; any other card joins
        the cast at the first scene's place and in every scene, under the id
        :func:`~dramaturg.drama.persona.character_id` gives its name (``"Zoë"``
        -> ``zoe``; a name with no Latin letters, ``char_`` and a short hash).
        Lorebook entries become the character's :class:`LoreNote` s. Creator
        notes never come along (the persona leaves them out).

        ``{{char}}`` becomes the card's character and ``{{user}}`` becomes
        ``user`` (the player's character's name; ``"you"`` when not given),
        in the persona and the lorebook alike.

        Two cards with one name are refused: the play could not tell the two
        characters apart. Two names with one id (``"Anne-Marie"``, ``"Anne
        Marie"``) are both kept, the second as ``anne_marie_2``.
        """
        from dramaturg.drama.persona import character_id

        data = self.model_dump()
        by_name = {c["name"].casefold(): cid for cid, c in data["cast"].items()}
        seen: dict[
            str, tuple[str, str]
        ] = {}  # a card's name, casefolded -> (the name, the card's source)
        taken: set[str] = set()  # ids an earlier card wrote
        who = user or "you"
        for card in cards:
            persona = card.to_persona(user=who)
            key = persona.name.casefold()
            if key in seen:
                name, source = seen[key]
                raise BlueprintError(
                    f"two cards are named {name!r} ({source} and {card.source}): a play cannot tell two "
                    "characters of one name apart; rename one (its data.name) or leave it out"
                )
            seen[key] = (persona.name, card.source)
            lore = [
                {"keys": list(x.keys), "text": x.content, "constant": x.constant}
                for x in card.memories(user=who)
            ]
            cid = by_name.get(key) or character_id(persona.name)
            if cid in taken:  # another name an earlier card brought in has this id: a new one
                n = 2
                while f"{cid}_{n}" in taken or f"{cid}_{n}" in data["cast"]:
                    n += 1
                cid = f"{cid}_{n}"
            taken.add(cid)
            if cid in data["cast"]:
                data["cast"][cid].update(background=persona.prompt_text(), lore=lore)
            else:
                data["cast"][cid] = {
                    "name": persona.name,
                    "background": persona.prompt_text(),
                    "location": data["scenes"][0]["place"],
                    "lore": lore,
                }
                for scene in data["scenes"]:
                    scene["cast"].append(cid)
            by_name[key] = cid
        try:
            return Blueprint.model_validate(data)
        except ValidationError as exc:
            raise BlueprintError(f"the cards do not fit the play: {exc}") from exc

    @classmethod
    def from_stage(cls, stage: Stage, topic: str | None = None) -> Blueprint:
        """A one-scene blueprint of a theatre stage; the beat is the stage's goal text.

        The stage's goal conditions, gold plan and doors are not carried over.
        """
        if not stage.characters:
            raise ConfigError(f"stage {stage.title!r} has no characters; a blueprint needs a cast")
        cast = {
            cid: CastMember(
                name=ch.name,
                background=ch.description,
                location=ch.location,
                relationships={o: r.kind for o, r in ch.relationships.items()},
                listens=[o for o, r in ch.relationships.items() if r.listens],
            )
            for cid, ch in stage.characters.items()
        }
        places = {
            lid: Place(
                name=loc.name,
                description=loc.description,
                exits={d: e.to for d, e in loc.exits.items()},
            )
            for lid, loc in stage.locations.items()
        }
        order = list(dict.fromkeys([*(stage.turn_order or ()), *stage.characters]))
        beat = (
            (stage.goal.text if stage.goal and stage.goal.text else "")
            or stage.description
            or stage.title
        )
        scene = Scene(
            id="s1",
            title=stage.title,
            place=cast[order[0]].location,
            cast=order,
            beats=[Beat(id="b1", text=beat)],
        )
        return cls(
            title=stage.title,
            topic=topic or stage.title,
            premise=stage.description,
            cast=cast,
            stage=StageSpec(places=places, props=dict(stage.props)),
            scenes=[scene],
        )


def _reference_issues(bp: Blueprint) -> Iterable[str]:
    places, props, cast = bp.stage.places, bp.stage.props, bp.cast
    for group, ids in (("cast", cast), ("stage.places", places), ("stage.props", props)):
        for key in ids:
            if not re.fullmatch(_ID, key):
                yield f"{group}.{key}: ids must be lower-case snake_case, like 'lady_macbeth'"
    for cid in cast:  # cast ids become field names of the ensemble schema
        if why := reserved_id(cid):
            yield f"cast.{cid}: {why}"
    secret_ids: set[str] = set()
    for cid, c in cast.items():
        if c.location not in places:
            yield f"cast.{cid}.location: unknown place {c.location!r}"
        for other in c.relationships:
            if other not in cast:
                yield f"cast.{cid}.relationships.{other}: unknown character {other!r}"
        for other in c.listens:
            if other not in cast:
                yield f"cast.{cid}.listens: unknown character {other!r}"
        for i, secret in enumerate(c.secrets):
            if secret.id in secret_ids:
                yield f"cast.{cid}.secrets.{i}.id: duplicate secret id {secret.id!r}"
            secret_ids.add(secret.id)
            for who in secret.known_by:
                if who not in cast:
                    yield f"cast.{cid}.secrets.{i}.known_by: unknown character {who!r}"
    for pid, place in places.items():
        for direction, to in place.exits.items():
            if to not in places:
                yield f"stage.places.{pid}.exits.{direction}: unknown place {to!r}"
    for pid, prop in props.items():
        if prop.location is not None and prop.location not in places:
            yield f"stage.props.{pid}.location: unknown place {prop.location!r}"
        if prop.holder is not None and prop.holder not in cast:
            yield f"stage.props.{pid}.holder: unknown character {prop.holder!r}"
    scene_ids: set[str] = set()
    for i, scene in enumerate(bp.scenes):
        if scene.id in scene_ids:
            yield f"scenes.{i}.id: duplicate scene id {scene.id!r}"
        scene_ids.add(scene.id)
        if scene.place not in places:
            yield f"scenes.{i}.place: unknown place {scene.place!r}"
        for j, cid in enumerate(scene.cast):
            if cid not in cast:
                yield f"scenes.{i}.cast.{j}: unknown character {cid!r}"
        beat_ids: set[str] = set()
        for j, beat in enumerate(scene.beats):
            if beat.id in beat_ids:
                yield f"scenes.{i}.beats.{j}.id: duplicate beat id {beat.id!r}"
            beat_ids.add(beat.id)
        for j, line in enumerate(scene.opening):
            if line.speaker not in scene.cast:
                yield f"scenes.{i}.opening.{j}.speaker: {line.speaker!r} is not in the scene's cast"


class _Dumper(yaml.SafeDumper):
    """Block style; text with line breaks as ``|`` blocks, which people edit more easily."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style where a block cannot hold the text exactly.
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    )


_Dumper.add_representer(str, _str)
