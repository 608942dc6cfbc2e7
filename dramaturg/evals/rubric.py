"""Rubrics: the criteria a judge scores a transcript on, each a question on a 1-5 scale.

A :class:`Rubric` is a named list of :class:`Criterion` records, read from and
written to YAML; :data:`DEFAULT_DRAMA_RUBRIC` is the one drama runs use. A bad
rubric file is one :class:`RubricError` that names each bad field
(``criteria.1.scale: ...``).

Example:
    >>> rubric = Rubric.from_yaml_text(
    ...     "criteria:\\n  - {id: wit, question: Is it witty?, scale: '1 = dull; 5 = sparkling.'}\\n")
    >>> rubric.ids
    ['wit']
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dramaturg._files import load_model_yaml
from dramaturg.errors import ConfigError

__all__ = ["DEFAULT_DRAMA_RUBRIC", "Criterion", "Rubric", "RubricError", "Score"]

Score = Literal[1, 2, 3, 4, 5]


class RubricError(ConfigError):
    """A rubric file or definition is malformed; the message names the field."""


class Criterion(BaseModel):
    """One question a judge answers on a 1-5 scale (5 is best).

    Attributes:
        id: a short name (``in_character``) used as the key of the score.
        question: what the judge is asked, phrased so that "yes" is good.
        scale: what 1 and 5 mean, e.g. ``"1 = ...; 5 = ..."``.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    question: str = Field(min_length=1, max_length=300)
    scale: str = Field(min_length=1, max_length=300)


class Rubric(BaseModel):
    """A named list of criteria, loadable from and savable to YAML.

    Example:
        >>> rubric = Rubric(name="tiny", criteria=[Criterion(
        ...     id="clarity", question="Is every line clear?", scale="1 = muddled; 5 = clear.")])
        >>> Rubric.from_yaml_text(rubric.to_yaml()) == rubric
        True
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="rubric", min_length=1)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} appears twice; ids must be unique")
            seen.add(c.id)
        return self

    @property
    def ids(self) -> list[str]:
        """The criterion ids, in order."""
        return [c.id for c in self.criteria]

    def to_yaml(self) -> str:
        """The rubric as block-style YAML."""
        return yaml.safe_dump(
            self.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
        )

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` and return the path."""
        path = Path(path)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    @classmethod
    def from_yaml_text(cls, text: str, *, source: str = "rubric") -> Rubric:
        """Parse a rubric from YAML text; ``source`` names it in errors.

        Raises:
            RubricError: invalid YAML, or one line per bad field (``criteria.1.scale: ...``).
        """
        return load_model_yaml(cls, text, error=RubricError, label=source, text=True)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Rubric:
        """Read a rubric file (see :meth:`from_yaml_text` for the errors; a missing,
        oversized or binary file is a :class:`RubricError` too)."""
        return load_model_yaml(cls, path, error=RubricError, label=f"rubric file {path}")


DEFAULT_DRAMA_RUBRIC = Rubric(
    name="drama",
    criteria=[
        Criterion(
            id="in_character",
            question="Does each line fit the character who says it?",
            scale="1 = the lines could be anyone's or contradict the character; 5 = every line fits.",
        ),
        Criterion(
            id="coherence",
            question="Does each line follow from what came before?",
            scale="1 = the lines ignore each other; 5 = every line answers what came before.",
        ),
        Criterion(
            id="progress",
            question="Does the scene move toward its goal?",
            scale="1 = nothing happens; 5 = the goal is reached.",
        ),
        Criterion(
            id="secrecy",
            question="Do the characters keep their secrets?",
            scale="1 = a secret is told or someone knows what they could not; 5 = every secret is kept.",
        ),
    ],
)
