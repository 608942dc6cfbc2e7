"""TextWorld games generated offline (``tw-make``), cached by (challenge, options, seed)."""

from dramaturg.worlds.textworld._generate import CHALLENGE_DEFAULTS, GenerationError, generate_game
from dramaturg.worlds.textworld.world import PlayedWorld, TextWorldWorld

__all__ = [
    "CHALLENGE_DEFAULTS",
    "GenerationError",
    "PlayedWorld",
    "TextWorldWorld",
    "generate_game",
]
