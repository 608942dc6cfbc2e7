"""Designing a play with a model: draft, review and revise, then direct.

A :class:`Designer` drafts a play in parts (cast, then stage, then scenes),
a :class:`Reviewer` sends it back with issues a bounded number of times, and
a :class:`BlueprintDirector` puts the scenes and beats in order;
:func:`design_blueprint` runs the three. On a base model the designer fills
in a text form instead (:mod:`dramaturg.drama.form`).

Example:
    >>> bp = await design_blueprint("a ghost demands revenge", model=load_model())  # doctest: +SKIP
    >>> bp.save("ghost.yaml")                                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dramaturg.drama._topic import play_texts, topic_issue
from dramaturg.drama.blueprint import Blueprint, BlueprintError
from dramaturg.drama.drafts import (
    CastDraft,
    DirectorCut,
    Draft,
    Review,
    StageDraft,
    assemble,
    scenes_schema,
)
from dramaturg.drama.form import FormDesigner
from dramaturg.errors import ConfigError
from dramaturg.models import ChatModel, model_kind, system
from dramaturg.prompts import render

__all__ = [
    "BlueprintDirector",
    "Designer",
    "Reviewer",
    "design_blueprint",
]

_T = TypeVar("_T", bound=BaseModel)


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
            scenes_schema(scenes),
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
        blueprint, issues = assemble(
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
