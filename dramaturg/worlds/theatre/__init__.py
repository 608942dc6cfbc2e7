"""The theatre stage: locations, props with states and affordances, characters in turns.

See :class:`TheatreWorld` and the action grammar in :mod:`.actions`.
"""

from dramaturg.worlds.theatre.actions import (
    ActionParseError,
    Close,
    Custom,
    Examine,
    Give,
    Inventory,
    Look,
    Move,
    Open,
    Read,
    Say,
    StageAction,
    Take,
    Use,
    Wait,
    parse_action,
)
from dramaturg.worlds.theatre.schema import Stage, StageFileError, load_stage
from dramaturg.worlds.theatre.world import TheatreWorld

__all__ = [
    "ActionParseError",
    "Close",
    "Custom",
    "Examine",
    "Give",
    "Inventory",
    "Look",
    "Move",
    "Open",
    "Read",
    "Say",
    "Stage",
    "StageAction",
    "StageFileError",
    "Take",
    "TheatreWorld",
    "Use",
    "Wait",
    "load_stage",
    "parse_action",
]


def bundled_stages() -> list[str]:
    """Names of the stage files that ship with dramaturg."""
    from pathlib import Path

    return sorted(p.stem for p in (Path(__file__).parent / "stages").glob("*.yaml"))
