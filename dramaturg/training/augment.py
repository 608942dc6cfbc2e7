"""Augmentation: training examples rewritten so that a tool agent learns what generalises.

:func:`rename_objects` gives every object a game lets the agent take a made-up
name in every message, so the agent learns to take what the goal names rather
than the object types it saw taken; :func:`rename_targets` does that to a share
of the games of a data set.

Example:
    >>> renamed = rename_targets(examples, 0.5, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import random
import re

from dramaturg.errors import ConfigError
from dramaturg.training.data import SFTExample

__all__ = ["NONCE_WORDS", "rename_objects", "rename_targets"]

NONCE_WORDS = (
    "blicket",
    "dax",
    "wug",
    "toma",
    "fep",
    "zibble",
    "kiki",
    "modi",
    "lorp",
    "gazzer",
    "tupa",
    "nefo",
    "snib",
    "plonkit",
    "vorka",
    "jeb",
    "mipsy",
    "rellock",
    "dorb",
    "fiddick",
    "quell",
    "brisp",
    "yarrow",
    "tibble",
    "skree",
    "mondle",
    "gorp",
    "wemble",
    "chaff",
    "zorn",
    "pilk",
    "drell",
    "hobbin",
    "swint",
    "cruddle",
    "lumsy",
    "varp",
    "nimbet",
    "frotch",
    "oskel",
)
"""Made-up object names for :func:`rename_objects` (no ALFWorld type is among them)."""


def rename_targets(examples: list[SFTExample], share: float, *, seed: int = 0) -> list[SFTExample]:
    """``examples`` with every object that can be taken renamed (:func:`rename_objects`)
    in about ``share`` of their games, each drawn with ``seed``, with words of its own."""
    by_game: dict[str, list[SFTExample]] = {}
    for e in examples:
        by_game.setdefault(e.game, []).append(e)
    out: list[SFTExample] = []
    for game, group in by_game.items():
        rng = random.Random(f"{seed}/rename/{game}")
        out += rename_objects(group, rng) if rng.random() < share else group
    return out


def rename_objects(examples: list[SFTExample], rng: random.Random) -> list[SFTExample]:
    """A game's examples with each object type that can be taken anywhere in it
    (``take X n from ...`` among the commands or answers) renamed to its own
    made-up word from :data:`NONCE_WORDS`, in every message: goal, observations,
    commands and answers.

    The object to take and the ones beside it are all renamed, so the only way
    to tell which one to take is to read the goal: no object type is learnt as
    "the one that is taken" or "the one that is never taken", which is what
    games with new object types (ALFWorld-style unseen) ask for. Games with no
    object to take come back unchanged.
    """
    things = sorted({thing for e in examples for thing in _takeable(e)})
    if not things:
        return examples
    if len(things) > len(NONCE_WORDS):
        raise ConfigError(
            f"{examples[0].game}: {len(things)} object types to rename, "
            f"more than the {len(NONCE_WORDS)} made-up words"
        )
    words = dict(zip(things, rng.sample(NONCE_WORDS, len(things)), strict=True))
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, things)) + r")\b")
    return [
        dataclasses.replace(
            e,
            messages=[
                {**m, "content": pattern.sub(lambda w: words[w.group(1)], m["content"])}
                for m in e.messages
            ],
        )
        for e in examples
    ]


def _takeable(example: SFTExample) -> set[str]:
    """The objects ``example`` offers to take: in its answer and its listed commands."""
    from dramaturg.agents.tool_agent import COMMANDS
    from dramaturg.training._games import TAKE

    listed = [
        line.removeprefix(COMMANDS).split(", ")
        for m in example.messages
        for line in m["content"].splitlines()
        if line.startswith(COMMANDS)
    ]
    commands = [example.command, *(c for line in listed for c in line)]
    return {m.group(2) for c in commands if (m := TAKE.fullmatch(c))}
