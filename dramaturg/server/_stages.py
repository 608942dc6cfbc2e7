"""The stages a web request may play: a bundled one by name, or one sent in the request.

The server never opens a file a request names: ``stage`` must be one of
the bundled names (the same answer for every other name, so the answer
says nothing about the server's disk), and a stage of one's own travels in
the request as YAML or JSON text, parsed without aliases (no
"billion laughs") and validated like a stage file.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from dramaturg.worlds.theatre.schema import Stage, StageFileError, load_stage

__all__ = [
    "MAX_STAGE_CHARS",
    "bundled_stage",
    "bundled_stage_names",
    "stage_blueprint",
    "uploaded_stage",
]

#: The longest stage text a request may carry (the bundled Elsinore is about 2,100).
MAX_STAGE_CHARS = 32_000
MAX_DEPTH = 32  # a stage is five or six levels deep


def _stages_dir() -> Any:
    return resources.files("dramaturg.worlds.theatre").joinpath("stages")


def bundled_stage_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".yaml") for p in _stages_dir().iterdir() if p.name.endswith(".yaml")
    )


def bundled_stage(name: str) -> Stage:
    """The bundled stage ``name``; any other name is refused with the list of bundled ones."""
    names = bundled_stage_names()
    if name not in names:
        raise StageFileError(
            f"stage: not a bundled stage; bundled stages: {names} "
            "(or send your own as stage_yaml, YAML or JSON text)"
        )
    with resources.as_file(_stages_dir().joinpath(f"{name}.yaml")) as path:
        return load_stage(path)


def _check_events(text: str) -> None:
    """Refuse aliases and deep nesting before anything is built (the parser itself is iterative)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            # Aliases let a few hundred bytes stand for billions of nodes; a stage never needs one.
            raise StageFileError(
                "stage_yaml: YAML aliases (*name) are not accepted; write the value out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise StageFileError(f"stage_yaml is nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def uploaded_stage(text: str) -> Stage:
    """A stage from YAML or JSON text sent in a request, validated field by field."""
    if len(text) > MAX_STAGE_CHARS:
        raise StageFileError(f"stage_yaml: over {MAX_STAGE_CHARS} characters")
    try:
        _check_events(text)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise StageFileError(f"stage_yaml is not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StageFileError(
            "stage_yaml: the top level must be a mapping (title, locations, characters, ...)"
        )
    return load_stage(data)


def stage_blueprint(stage: Stage, topic: str) -> Any:
    """The one-scene blueprint of ``stage``; a stage valid as a stage but not as a play is refused (422)."""
    from dramaturg.drama.blueprint import Blueprint

    try:
        return Blueprint.from_stage(stage, topic=topic)
    except ValidationError as exc:
        issues = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
        )
        raise StageFileError(f"this stage does not make a play: {issues}") from None
