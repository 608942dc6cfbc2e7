"""Schemas shared by the model tests: an enum, a nested object and a list."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Mood(StrEnum):
    calm = "calm"
    angry = "angry"
    afraid = "afraid"


class Prop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=30)
    held: bool


class Beat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker: str = Field(max_length=30)
    mood: Mood
    prop: Prop
    lines: list[str] = Field(min_length=1, max_length=3)


VALID_BEAT = {
    "speaker": "Hamlet",
    "mood": "angry",
    "prop": {"name": "skull", "held": True},
    "lines": ["Alas."],
}


# -- Schemas a user might write, with nothing bounded: the embedded model must answer each of
# them (issue "structured output that converges"). Each comes with a few prompts.


class Line(BaseModel):
    speaker: str
    mood: Literal["calm", "angry", "afraid"]
    words: list[str]


class Character(BaseModel):
    name: str
    role: str


class Cast(BaseModel):
    """Nested objects in an unbounded list."""

    title: str
    characters: list[Character]


class Inventory(BaseModel):
    """A dict with free keys."""

    owner: str
    items: dict[str, int]


class Letter(BaseModel):
    """Optional fields."""

    sender: str
    recipient: str | None = None
    sealed: bool = False
    postscript: str | None = None


class Feeling(Enum):
    joy = "joy"
    grief = "grief"
    rage = "rage"
    fear = "fear"


class Mourning(BaseModel):
    """A list of Enum values (a model can cycle them forever)."""

    who: str
    feelings: list[Feeling]


class Step(BaseModel):
    action: str
    needs: list[int] = []


class Recipe(BaseModel):
    """Lists inside a list of objects."""

    goal: str
    steps: list[Step]


USER_SCHEMAS: dict[type[BaseModel], list[str]] = {
    Line: [f"Hamlet speaks line {i} to Gertrude." for i in range(1, 6)],
    Cast: [
        f"Name the cast of a play about {t}."
        for t in (
            "a shipwreck",
            "a stolen crown",
            "two rival bakers",
            "a haunted mill",
            "a royal wedding",
        )
    ],
    Inventory: [
        f"What does {w} carry?"
        for w in ("the innkeeper", "Horatio", "a soldier", "the queen", "a thief")
    ],
    Letter: [f"Write the envelope of letter {i} from Ophelia." for i in range(1, 6)],
    Mourning: [
        f"How does {w} mourn the king?"
        for w in ("Hamlet", "Gertrude", "Claudius", "Horatio", "Ophelia")
    ],
    Recipe: [
        f"Plan how to {g}."
        for g in ("bake bread", "poison a cup", "stage a play", "sail to England", "dig a grave")
    ],
}
