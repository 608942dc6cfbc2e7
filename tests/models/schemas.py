"""Schemas shared by the model tests: an enum, a nested object and a list."""

from __future__ import annotations

from enum import StrEnum

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


VALID_BEAT = {"speaker": "Hamlet", "mood": "angry", "prop": {"name": "skull", "held": True}, "lines": ["Alas."]}
