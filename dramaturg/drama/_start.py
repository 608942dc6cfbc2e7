"""A new drama session from a topic (the model designs the play), a stage or a blueprint file.

The play gets the characters of any character cards, and ``player`` may name
a designed character by a word of its name. ``dramaturg drama new`` is this
function with options.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dramaturg._paths import home_dir
from dramaturg.drama._bundled import resolve_play
from dramaturg.errors import ConfigError
from dramaturg.models._redact import redact_spec

if TYPE_CHECKING:
    from dramaturg.drama.blueprint import Blueprint
    from dramaturg.drama.session import DramaSession

__all__ = ["start_session"]


async def start_session(
    *,
    topic: str | None,
    characters: list[str],
    cards: list[Path],
    scenes: int,
    stage: str | None,
    blueprint_file: Path | None,
    player: str | None,
    mode: str,
    model: str | None,
    max_turns: int | None,
    max_revisions: int,
    scene_steps: int = 12,
    reflect_every: int = 4,
    seed: int = 0,
    designing: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> tuple[DramaSession, str]:
    """Create a session from exactly one of ``topic``, ``stage`` or ``blueprint_file``.

    Returns the session and its access token (shown once). ``designing`` is
    called with the model's name while the model designs the play; the
    context manager it returns spans the design (a spinner, say).

    Raises:
        ConfigError: not exactly one source, or a ``player`` the play lacks
            (a designed play is kept first, and the error says where).
    """
    from dramaturg.drama.blueprint import Blueprint
    from dramaturg.drama.design import design_blueprint
    from dramaturg.drama.session import DramaSession

    loaded = []
    if cards:
        from dramaturg.drama.cards import load_card

        loaded = [load_card(p) for p in cards]  # a broken card stops here, before anything is made
        characters = [*characters, *(c.to_persona().name for c in loaded)]
    sources = sum(x is not None for x in (topic, stage, blueprint_file))
    if sources != 1:
        raise ConfigError("give exactly one of --topic, --stage or --blueprint")
    if blueprint_file is not None:
        bp = Blueprint.load(resolve_play(blueprint_file))
    elif stage is not None:
        from dramaturg.worlds.theatre import load_stage

        bp = Blueprint.from_stage(load_stage(stage), topic=stage)
    else:
        from dramaturg.models import load_model

        chat = load_model(model)
        with designing(chat.name) if designing else nullcontext():
            bp = await design_blueprint(
                topic or "",
                model=chat,
                characters=characters or None,
                scenes=scenes,
                max_revisions=max_revisions,
                seed=seed,
            )
    if player is not None and player not in bp.cast and topic is not None:
        player = _player_in(bp, player, keep=lambda: _keep_design(bp, topic))
    if loaded:  # {{user}} in a card is the player's character, when it is already in the play
        bp = bp.with_cards(loaded, user=bp.cast[player].name if player in bp.cast else None)
    # session.json keeps the spec without its secrets; `drama play --model` brings them back.
    return DramaSession.create(
        bp,
        player=player,
        model=redact_spec(model),
        mode=mode,  # type: ignore[arg-type]
        max_turns=max_turns,
        max_scene_steps=scene_steps,
        reflect_every=reflect_every,
        seed=seed,
    )


def _player_in(bp: Blueprint, wanted: str, *, keep: Callable[[], Path]) -> str:
    """The id of the designed character ``wanted`` means (its id or a word of its name), or a clear error.

    A designed cast is the model's choice, so ``--player keeper`` may name
    nobody: then the play is kept (a minute of design is not thrown away)
    and the error says how to play it with one of its characters.
    """
    word = wanted.strip().lower()
    hits = [
        cid
        for cid, c in bp.cast.items()
        if word == cid or word in cid.split("_") or word in c.name.lower().split()
    ]
    if len(hits) == 1:
        return hits[0]
    path = keep()
    listed = ", ".join(f"{cid} ({c.name})" for cid, c in bp.cast.items())
    raise ConfigError(
        f"the designed play has no character {wanted!r}; its characters: {listed}. The play is kept: "
        f"dramaturg drama new --blueprint {path} --player ID"
    )


def _keep_design(bp: Blueprint, topic: str) -> Path:
    """Save a designed blueprint under ``<home>/drama/designs/``, named by time and topic."""
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:40] or "play"
    folder = home_dir() / "drama" / "designs"
    folder.mkdir(parents=True, exist_ok=True)
    return bp.save(folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}.yaml")
