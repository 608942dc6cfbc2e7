"""The drama blueprint: who is in the play, where it happens, what must happen.

A :class:`Blueprint` is made offline, before anyone plays: a designer drafts
it in parts (cast, then stage, then scenes: small schemas suit a small
model), a reviewer sends it back with issues a bounded number of times, and
a director puts the scenes and beats in order. People can then read and
edit it as YAML (:meth:`Blueprint.save` / :meth:`Blueprint.load`), and
:meth:`Blueprint.to_stage` turns it into a theatre :class:`Stage` to play.

Example:
    >>> bp = await design_blueprint("a ghost demands revenge", model=load_model())  # doctest: +SKIP
    >>> bp.save("ghost.yaml")                                                      # doctest: +SKIP
    >>> world = TheatreWorld(Blueprint.load("ghost.yaml").to_stage("s1"))          # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from dramaturg._files import InputFileError, load_yaml
from dramaturg._ids import reserved_id
from dramaturg.drama._topic import play_texts, topic_issue
from dramaturg.drama.form import FormDesigner
from dramaturg.errors import ConfigError, validation_issues
from dramaturg.models import ChatModel, model_kind, system
from dramaturg.prompts import render
from dramaturg.worlds.theatre.schema import (
    Affordance,
    Character,
    Location,
    Prop,
    Relationship,
    Stage,
)

__all__ = [
    "Beat",
    "Blueprint",
    "BlueprintDirector",
    "BlueprintError",
    "CastDraft",
    "CastMember",
    "Designer",
    "DirectorCut",
    "Draft",
    "LoreNote",
    "Place",
    "Review",
    "Reviewer",
    "Scene",
    "ScenesDraft",
    "Secret",
    "StageDraft",
    "StageSpec",
    "design_blueprint",
]

_ID = r"[a-z][a-z0-9_]*"  # the theatre stage's id rule, so every blueprint converts
_T = TypeVar("_T", bound=BaseModel)


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
        try:
            data = load_yaml(path, label=f"blueprint file {path}")
        except InputFileError as exc:  # too big, binary, too deep, unreadable
            raise BlueprintError(str(exc)) from None
        except yaml.YAMLError as exc:
            raise BlueprintError(f"blueprint file {path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise BlueprintError(f"blueprint file {path}: the top level must be a mapping")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            lines = "\n".join(f"  {issue}" for issue in validation_issues(exc))
            raise BlueprintError(f"bad blueprint file {path}:\n{lines}") from exc

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
        :func:`~dramaturg.drama.cards.character_id` gives its name (``"Zoë"``
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
        from dramaturg.drama.cards import character_id

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


# --------------------------------------------------------------------- what models write
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


# --------------------------------------------------------------------- the roles
@dataclass(kw_only=True)
class Designer:
    """Drafts a play in three small structured calls; revises by redrafting with the issues shown."""

    model: ChatModel
    name: str = "designer"

    async def draft(
        self,
        topic: str,
        *,
        characters: Sequence[str] = (),
        scenes: int = 3,
        previous: Draft | None = None,
        issues: Sequence[str] = (),
    ) -> Draft:
        common = {
            "topic": topic,
            "characters": list(characters),
            "scenes": scenes,
            "issues": list(issues),
        }
        cast = await self._part("cast", CastDraft, previous and previous.cast, common)
        stage = await self._part(
            "stage", StageDraft, previous and previous.stage, {**common, "cast": cast}
        )
        plot = await self._part(
            "scenes",
            _scenes_schema(scenes),
            previous and previous.scenes,
            {**common, "cast": cast, "stage": stage},
        )
        return Draft(cast=cast, stage=stage, scenes=plot)

    async def _part(
        self, part: str, schema: type[_T], previous: BaseModel | None, variables: dict[str, Any]
    ) -> _T:
        prompt = render(
            "designer",
            f"{part}.j2",
            previous=previous.model_dump_json() if previous else None,
            **variables,
        )
        return await self.model.structured([system(prompt)], schema, caller=f"{self.name}:{part}")


@functools.lru_cache(maxsize=16)
def _scenes_schema(n: int) -> type[ScenesDraft]:
    # Exactly n scenes, enforced by the grammar on llama.cpp rather than asked for in words.
    return create_model(
        "ScenesDraft",
        __base__=ScenesDraft,
        scenes=(list[_SceneEntry], Field(min_length=n, max_length=n)),
    )  # type: ignore[call-overload]


@dataclass(kw_only=True)
class Reviewer:
    """Reads a blueprint as YAML and accepts it or lists what to change.

    :meth:`check` comes first, in code: a play whose title, premise and cast
    share no content word with the topic (a small model retelling its
    example) goes back without asking the model.
    """

    model: ChatModel
    name: str = "reviewer"

    def check(self, blueprint: Blueprint) -> list[str]:
        """The issues found in code: the play must be about its topic."""
        issue = topic_issue(blueprint.topic, play_texts(blueprint))
        return [issue] if issue else []

    async def review(self, blueprint: Blueprint, *, characters: Sequence[str] = ()) -> Review:
        if issues := self.check(blueprint):
            return Review(ok=False, issues=issues)
        prompt = render(
            "reviewer",
            "review.j2",
            topic=blueprint.topic,
            characters=list(characters),
            blueprint=blueprint.to_yaml().split("\n", 1)[1],
        )
        return await self.model.structured([system(prompt)], Review, caller=self.name)


@dataclass(kw_only=True)
class BlueprintDirector:
    """Orders the scenes and beats of a finished blueprint and may cut some.

    Ids it does not know are ignored, a scene listed without known beats
    keeps its own, and a cut that leaves nothing keeps the blueprint as it
    is: this is a polish step and must not lose a reviewed play. Beats are
    numbered ``b1, b2, ...`` again in their new order.
    """

    model: ChatModel
    name: str = "director"

    async def finalize(self, blueprint: Blueprint) -> Blueprint:
        prompt = render("director", "blueprint.j2", topic=blueprint.topic, scenes=blueprint.scenes)
        cut = await self.model.structured(
            [system(prompt)], DirectorCut, caller=f"{self.name}:blueprint"
        )
        by_id = {s.id: s for s in blueprint.scenes}
        scenes = []
        for sc in cut.scenes:
            scene = by_id.pop(sc.id, None)
            if scene is None:
                continue
            beats = {b.id: b for b in scene.beats}
            order = [beats[b] for b in dict.fromkeys(sc.beats) if b in beats] or scene.beats
            renumbered = [b.model_copy(update={"id": f"b{n}"}) for n, b in enumerate(order, 1)]
            scenes.append(scene.model_copy(update={"beats": renumbered}))
        if not scenes:
            return blueprint
        return blueprint.model_copy(update={"scenes": scenes})


# --------------------------------------------------------------------- the pipeline
async def design_blueprint(
    topic: str,
    *,
    model: ChatModel,
    characters: list[str] | None = None,
    scenes: int = 3,
    max_revisions: int = 2,
    designer_model: ChatModel | None = None,
    reviewer_model: ChatModel | None = None,
    director_model: ChatModel | None = None,
    seed: int = 0,
) -> Blueprint:
    """Design a play about ``topic``: draft, review and revise, then direct.

    On a base model (``model_kind`` of the designer's model is ``"base"``) the
    designer fills in a text form instead, field by field, and code lays out
    the blueprint (:mod:`dramaturg.drama.form`); the reviewer's check in code
    sends an off-topic play back for a redraft with new seeds, and there is
    no model review or director (a base model cannot write either's JSON).

    On an instruct model, a draft whose ids do not line up (a scene in a
    place nobody made) goes back to the designer as issues, without a
    review; a valid draft goes to the reviewer, whose issues go back the
    same way. After ``max_revisions`` revisions the last valid draft is kept
    even if the reviewer still objects (no review is asked for then: it
    could change nothing).

    Args:
        topic: what the play is about.
        model: the model for every role unless a role's own model is given.
        characters: names that must be in the cast.
        scenes: how many scenes to write (extra ones are dropped).
        max_revisions: how many times the designer may redraft.
        seed: the seed of a base model's form (an instruct model's calls keep their own).

    Raises:
        BlueprintError: the last draft is still invalid; the message lists why.
    """
    if not topic.strip():
        raise ConfigError("design_blueprint needs a topic, e.g. 'a ghost demands revenge'")
    if scenes < 1 or max_revisions < 0:
        raise ConfigError(
            f"need scenes >= 1 and max_revisions >= 0 (got {scenes} and {max_revisions})"
        )
    wanted = list(characters or ())
    reviewer = Reviewer(model=reviewer_model or model)
    if model_kind(designer_model or model) == "base":
        return await _design_on_form(
            topic,
            designer_model or model,
            reviewer,
            characters=wanted,
            scenes=scenes,
            max_revisions=max_revisions,
            seed=seed,
        )
    designer = Designer(model=designer_model or model)
    director = BlueprintDirector(model=director_model or model)
    draft = await designer.draft(topic, characters=wanted, scenes=scenes)
    revisions = 0
    while True:
        blueprint, issues = _assemble(
            topic, draft, characters=wanted, scenes=scenes, revisions=revisions
        )
        if blueprint is not None:
            if revisions >= max_revisions:
                break
            review = await reviewer.review(blueprint, characters=wanted)
            if review.ok or not review.issues:  # a rejection without reasons gives nothing to fix
                break
            issues = review.issues
        elif revisions >= max_revisions:
            listed = "\n".join(f"  {i}" for i in issues)
            raise BlueprintError(
                f"no valid blueprint for {topic!r} after {revisions} revision(s):\n{listed}"
            )
        draft = await designer.draft(
            topic, characters=wanted, scenes=scenes, previous=draft, issues=issues
        )
        revisions += 1
    return await director.finalize(blueprint)


async def _design_on_form(
    topic: str,
    model: ChatModel,
    reviewer: Reviewer,
    *,
    characters: list[str],
    scenes: int,
    max_revisions: int,
    seed: int = 0,
) -> Blueprint:
    """The base model's way: fill in a form, redraft with new seeds while the reviewer's check objects."""
    designer = FormDesigner(model=model)
    for revisions in range(max_revisions + 1):
        form = await designer.draft(
            topic, characters=characters, scenes=scenes, seed=seed * 1000 + revisions
        )
        try:
            blueprint = Blueprint.model_validate(form.blueprint_data(revisions=revisions))
        except ValidationError as exc:  # laid out in code, so this is a bug, not the model's doing
            raise BlueprintError(
                f"the form for {topic!r} made an invalid blueprint: {exc}"
            ) from exc
        if not reviewer.check(blueprint):
            return blueprint
    # Still off the topic after every redraft: the premise becomes the topic itself, so the play names it.
    premise = topic[:1].upper() + topic[1:].rstrip(".") + "."
    return blueprint.model_copy(update={"premise": premise})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_") or text


def _resolver(entries: Sequence[Any]) -> Callable[[str], str]:
    """Maps what a model wrote for a reference (an id, a near-id, a name) to an id."""
    ids = {_slug(e.id) for e in entries}
    names = {e.name.strip().casefold(): _slug(e.id) for e in entries}
    return lambda ref: (
        ref_id if (ref_id := _slug(ref)) in ids else names.get(ref.strip().casefold(), ref_id)
    )


def _assemble(
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
