"""Find worlds by id: ``make_world("theatre/elsinore")``, ``list_worlds()``.

Ids are ``family/name``. The worlds that ship with dramaturg are registered on
the first lookup. Factories are imported lazily, so listing worlds never
imports TextWorld, the ALFWorld engine or Playwright.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dramaturg.errors import ConfigError

__all__ = ["WorldSpec", "list_worlds", "make_world", "register_world"]


@dataclass(kw_only=True, frozen=True)
class WorldSpec:
    """A registered world: its id, where its factory lives, default keyword arguments."""

    id: str
    entry_point: str | Callable[..., Any]  # "module:callable" or the callable itself
    kwargs: dict[str, Any]
    description: str = ""


_REGISTRY: dict[str, WorldSpec] = {}


def register_world(
    id: str,
    entry_point: str | Callable[..., Any],
    /,
    *,
    description: str = "",
    overwrite: bool = False,
    **kwargs: Any,
) -> None:
    """Register a world factory under ``id`` (``"family/name"``).

    Example:
        >>> register_world("mine/demo", "dramaturg.worlds.theatre:TheatreWorld",
        ...                stage="elsinore", overwrite=True)
    """
    if "/" not in id:
        raise ConfigError(f"world id {id!r} must look like 'family/name'")
    if id in _REGISTRY and not overwrite:
        raise ConfigError(
            f"world id {id!r} is already registered; pass overwrite=True to replace it"
        )
    _REGISTRY[id] = WorldSpec(
        id=id, entry_point=entry_point, kwargs=dict(kwargs), description=description
    )


def list_worlds(family: str | None = None) -> list[str]:
    """Registered world ids, sorted; only ``family/...`` ones when ``family`` is given."""
    _ensure_builtin()
    ids = sorted(_REGISTRY)
    if family is not None:
        ids = [i for i in ids if i.split("/", 1)[0] == family]
    return ids


def make_world(id: str, /, **kwargs: Any) -> Any:
    """Build the world registered as ``id``; ``kwargs`` override its defaults."""
    _ensure_builtin()
    spec = _REGISTRY.get(id)
    if spec is None:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"unknown world id {id!r}. Known ids: {known}")
    factory = spec.entry_point
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory(**{**spec.kwargs, **kwargs})


_BUILTIN_DONE = False


def _ensure_builtin() -> None:
    """Register the worlds that ship with dramaturg, once, on first lookup.

    Only dramaturg's own light modules are imported for their names (the
    bundled stages, the TextWorld challenges, the ALFWorld task types); the
    worlds' engines load when a world is made.
    """
    global _BUILTIN_DONE
    if _BUILTIN_DONE:
        return
    _BUILTIN_DONE = True
    from dramaturg.worlds.alfworld import TASK_TYPES
    from dramaturg.worlds.textworld import CHALLENGE_DEFAULTS
    from dramaturg.worlds.theatre import bundled_stages

    for name in bundled_stages():
        register_world(
            f"theatre/{name}",
            "dramaturg.worlds.theatre:TheatreWorld",
            stage=name,
            id=f"theatre/{name}",
            description=f"bundled stage {name!r}",
            overwrite=True,
        )
    register_world(
        "theatre/stage",
        "dramaturg.worlds.theatre:TheatreWorld",
        description="your own stage file: stage=PATH",
        overwrite=True,
    )
    for ch in CHALLENGE_DEFAULTS:
        register_world(
            f"textworld/{ch}",
            "dramaturg.worlds.textworld:TextWorldWorld",
            challenge=ch,
            description=f"TextWorld {ch} games generated offline",
            overwrite=True,
        )
    for task in TASK_TYPES:
        register_world(
            f"alfworld/{task}",
            "dramaturg.worlds.alfworld:AlfworldWorld",
            task_type=task,
            description=f"ALFWorld-style {task} games",
            overwrite=True,
        )
    for site in ("shop", "wiki"):
        register_world(
            f"web/{site}",
            "dramaturg.worlds.web:WebWorld",
            site=site,
            description=f"local {site} site on 127.0.0.1",
            overwrite=True,
        )
