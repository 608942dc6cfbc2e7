"""The stage file: locations, props, characters, as a validated pydantic model.

A stage file is YAML written by people, so every model forbids unknown fields
and cross-references (an exit to a missing location, a prop held by a missing
character) are checked with the offending field named in the error.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dramaturg._files import (
    MAX_FILE_BYTES,
    InputFileError,
    load_model_yaml,
    parse_yaml,
    read_text,
)
from dramaturg._ids import reserved_id
from dramaturg.errors import ConfigError

__all__ = [
    "Affordance",
    "Character",
    "Exit",
    "Goal",
    "Location",
    "Prop",
    "Relationship",
    "Stage",
    "StageFileError",
    "load_stage",
]

_ID = r"^[a-z][a-z0-9_]*$"


class StageFileError(ConfigError):
    """A stage file is malformed; the message names the bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exit(_Strict):
    """A way out of a location, optionally through a door prop that must be open."""

    to: str
    door: str | None = None


class Location(_Strict):
    name: str
    description: str = ""
    exits: dict[str, Exit] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short_exits(cls, data: Any) -> Any:
        # `exits: {north: garden}` is shorthand for `{north: {to: garden}}`.
        if isinstance(data, dict) and isinstance(data.get("exits"), dict):
            data = dict(data)
            data["exits"] = {
                k: {"to": v} if isinstance(v, str) else v for k, v in data["exits"].items()
            }
        return data


class Affordance(_Strict):
    """A custom verb a prop supports (``poison cup``), with its precondition and effect.

    Attributes:
        requires: prop states that must hold (``{poisoned: false}``).
        held: the actor must hold the prop.
        sets: prop states after the action.
        text: what witnesses see; ``{actor}`` and ``{prop}`` are filled in.
        secret: only the actor witnesses it (a poisoning nobody sees).
    """

    requires: dict[str, bool | str | int] = Field(default_factory=dict)
    held: bool = False
    sets: dict[str, bool | str | int] = Field(default_factory=dict)
    text: str = "{actor} uses the {prop}."
    secret: bool = False


class Prop(_Strict):
    """A thing on stage. Either at a ``location`` or held by a character (``holder``)."""

    name: str
    description: str = ""
    location: str | None = None
    holder: str | None = None
    portable: bool = True
    openable: bool = False
    readable: str | None = None  # hidden text: only a reader learns it
    states: dict[str, bool | str | int] = Field(default_factory=dict)
    affordances: dict[str, Affordance] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_place(self) -> Prop:
        if (self.location is None) == (self.holder is None):
            raise ValueError("a prop needs exactly one of 'location' or 'holder'")
        if self.openable and "open" not in self.states:
            raise ValueError("an openable prop needs 'states: {open: true|false}'")
        return self


class Relationship(_Strict):
    """How a character stands to another. ``listens``: hears of the other's doings when absent."""

    kind: str
    listens: bool = False


class Character(_Strict):
    name: str
    location: str
    description: str = ""
    relationships: dict[str, Relationship] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short_relationships(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("relationships"), dict):
            data = dict(data)
            data["relationships"] = {
                k: {"kind": v} if isinstance(v, str) else v
                for k, v in data["relationships"].items()
            }
        return data


class Goal(_Strict):
    """When the scene is won: every listed prop condition holds."""

    text: str = ""
    props: dict[str, dict[str, bool | str | int]] = Field(default_factory=dict)


class Stage(_Strict):
    """A whole stage. Ids (the mapping keys) are lower-case ``snake_case``.

    Example:
        >>> stage = Stage.model_validate({
        ...     "title": "Two rooms",
        ...     "locations": {"hall": {"name": "Hall", "exits": {"north": "garden"}},
        ...                   "garden": {"name": "Garden", "exits": {"south": "hall"}}},
        ...     "props": {"letter": {"name": "letter", "holder": "ann", "readable": "Meet me."}},
        ...     "characters": {"ann": {"name": "Ann", "location": "hall"}},
        ... })
        >>> stage.characters["ann"].name
        'Ann'
    """

    title: str
    description: str = ""
    locations: dict[str, Location]
    props: dict[str, Prop] = Field(default_factory=dict)
    characters: dict[str, Character]
    turns: Literal["round_robin", "free"] = "round_robin"
    turn_order: list[str] | None = None
    goal: Goal | None = None
    gold_plan: list[str] | None = None
    max_steps: int | None = None

    @model_validator(mode="after")
    def _references(self) -> Stage:
        import re

        for group in ("locations", "props", "characters"):
            for key in getattr(self, group):
                if not re.match(_ID, key):
                    raise ValueError(f"{group}.{key}: ids must be lower-case snake_case")
        for cid in self.characters:  # character ids become field names of the ensemble schema
            if why := reserved_id(cid):
                raise ValueError(f"characters.{cid}: {why}")
        for lid, loc in self.locations.items():
            for direction, ex in loc.exits.items():
                if ex.to not in self.locations:
                    raise ValueError(
                        f"locations.{lid}.exits.{direction}.to: unknown location {ex.to!r}"
                    )
                if ex.door is not None and ex.door not in self.props:
                    raise ValueError(
                        f"locations.{lid}.exits.{direction}.door: unknown prop {ex.door!r}"
                    )
        for pid, prop in self.props.items():
            if prop.location is not None and prop.location not in self.locations:
                raise ValueError(f"props.{pid}.location: unknown location {prop.location!r}")
            if prop.holder is not None and prop.holder not in self.characters:
                raise ValueError(f"props.{pid}.holder: unknown character {prop.holder!r}")
        for cid, ch in self.characters.items():
            if ch.location not in self.locations:
                raise ValueError(f"characters.{cid}.location: unknown location {ch.location!r}")
            for other in ch.relationships:
                if other not in self.characters:
                    raise ValueError(f"characters.{cid}.relationships.{other}: unknown character")
        if self.turn_order is not None:
            for i, cid in enumerate(self.turn_order):
                if cid not in self.characters:
                    raise ValueError(f"turn_order.{i}: unknown character {cid!r}")
        if self.goal is not None:
            for pid in self.goal.props:
                if pid not in self.props:
                    raise ValueError(f"goal.props.{pid}: unknown prop")
        return self


@functools.lru_cache(maxsize=32)
def _parse(text: str) -> Any:
    # Parsing is most of the cost of opening a stage (about 30 ms in pure
    # Python for Elsinore); servers and benchmarks open the same few stages
    # many times, so the parsed tree is cached and copied. parse_yaml checks
    # the nesting before libyaml's C loader sees the text (a deep one crashes it).
    return parse_yaml(text)


def load_stage(source: str | Path | dict[str, Any]) -> Stage:
    """Load a stage from a dict, a YAML string, a path, or a bundled stage name.

    Raises:
        StageFileError: the file is over 4 MiB, not UTF-8, nested over 100
            levels, not valid YAML or breaks the schema; the message names
            each bad field (``characters.ann.location: ...``).
    """
    label = "<dict>"
    if isinstance(source, dict):
        data = source
    else:
        text: str
        path = Path(source) if not (isinstance(source, str) and "\n" in source) else None
        bundled = Path(__file__).parent / "stages" / f"{source}.yaml"
        try:
            if path is not None and path.is_file():
                label = str(path)
                text = read_text(path, label=f"stage file {label}")
            elif isinstance(source, str) and "\n" not in source and bundled.is_file():
                text, label = bundled.read_text(encoding="utf-8"), f"{source} (bundled)"
            elif isinstance(source, str) and "\n" in source:
                text, label = source, "<yaml string>"
                if len(text) > MAX_FILE_BYTES:
                    raise InputFileError(label, f"is over the {MAX_FILE_BYTES // 2**20} MiB limit")
            else:
                known = sorted(p.stem for p in (Path(__file__).parent / "stages").glob("*.yaml"))
                raise StageFileError(f"no stage file {source!r}; bundled stages: {known}")
            data = copy.deepcopy(_parse(text))
        except InputFileError as exc:  # too big, binary, too deep
            raise StageFileError(f"stage file {label} {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise StageFileError(f"stage file {label} is not valid YAML: {exc}") from exc
        except OSError as exc:  # a name too long to be a path, say
            raise StageFileError(
                f"cannot read stage {str(source)[:80]!r}: {exc.strerror or exc}"
            ) from None
        if not isinstance(data, dict):
            raise StageFileError(f"stage file {label}: the top level must be a mapping")
    # Reading stays here (bundled names, the parse cache); validating and naming
    # the bad fields is the shared loader's.
    return load_model_yaml(Stage, data, error=StageFileError, label=f"stage file {label}")
