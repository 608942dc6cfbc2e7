"""The player's turn in the drama graph: a person's free text, checked and played.

The graph interrupts with what the player's character perceives; the
person's answer is checked (:func:`check_player_input`), mapped to a stage
command (:func:`player_command`) and played. Input that cannot be played
comes back as a notice for the person and changes nothing: the graph asks
again.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from langgraph.types import interrupt

from dramaturg.drama._play import SPEECH_TEMPLATES, DramaState, Play, kind_of, public_line
from dramaturg.errors import ModelError
from dramaturg.worlds.theatre import TheatreWorld
from dramaturg.worlds.theatre.actions import ActionParseError, parse_action

__all__ = [
    "MAX_PLAYER_INPUT",
    "NOTHING_FITS",
    "check_player_input",
    "player_command",
    "player_turn",
]

MAX_PLAYER_INPUT = 500  # characters
NOTHING_FITS = "none of these"  # the tool agent's way to say free text matches no command


def check_player_input(value: Any) -> str:
    """The player's text, or :class:`ValueError` with a message for them.

    Refuses empty input, input over :data:`MAX_PLAYER_INPUT` characters, and
    binary or control characters (other than newlines and tabs).
    """
    if isinstance(value, bytes):
        raise ValueError("That was binary data, not text. Type what your character says or does.")
    if not isinstance(value, str):
        raise ValueError("Type what your character says or does.")
    text = value.strip()
    if not text:
        raise ValueError("Nothing was typed. Type what your character says or does.")
    if len(text) > MAX_PLAYER_INPUT:
        raise ValueError(f"That is {len(text)} characters; keep a turn under {MAX_PLAYER_INPUT}.")
    bad = [
        c
        for c in text
        if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} and c not in "\n\t"
    ]
    if bad:
        raise ValueError("The text holds control or binary characters; type plain text.")
    return " ".join(text.split())


async def player_turn(play: Play, state: DramaState) -> dict[str, Any]:
    """The node for the player's turn: interrupt, then play what the person typed."""
    player = play.player
    assert player is not None
    world = play.world_of(state)
    answer = interrupt(
        {
            "kind": "player_turn",
            "character": player,
            "name": play.names[player],
            "scene": play.scene_label(state),
            "beat": play.live_beat(state),
            "surroundings": world.describe(player),
            "perceived": play.perceived(state, player)[-6:],
            "notice": state.get("notice"),
            "commands": [a for a in world.admissible_actions(player)],
        }
    )
    try:
        text = check_player_input(answer)
    except ValueError as exc:
        return {"notice": str(exc)}
    entry: dict[str, Any] = {"kind": "turn", "actor": player, "by": "player", "input": text}
    command, why = await player_command(play, world, text)
    if command is None:
        return {"notice": f"That cannot be done: {why}"}
    update = play.step(state, world, player, command, entry)
    if entry.get("error"):
        return {"notice": f"That cannot be done: {entry['error']}"}
    entry["action"] = kind_of(command)
    entry["public"] = public_line(entry, play.names)
    return {
        **update,
        "transcript": [entry],
        "last_actor": player,
        "notice": None,
        "step": state.get("step", 0) + 1,
        "scene_step": state.get("scene_step", 0) + 1,
    }


async def player_command(
    play: Play, world: TheatreWorld, text: str
) -> tuple[str | None, str | None]:
    """A stage command for the player's text, or ``(None, why not)``.

    Quoted text is speech. Text the stage's grammar reads as a legal
    command is played as typed. Anything else (an unknown verb, loose
    prose) goes to the tool agent, which maps it onto one of the
    admissible commands or says that none fits; a known command the world
    refuses is explained with the world's own reason.
    """
    player = play.player
    assert player is not None
    if text[0] in "\"'“":  # a quoted line is speech
        return f'{player}: say "' + text.strip("\"'“”").replace('"', "'") + '"', None
    reason = None
    try:
        parsed = parse_action(text, speakers=world._speakers)
    except ActionParseError as exc:
        parsed, reason = None, str(exc)
    if parsed is not None:
        probe = TheatreWorld(world.stage)
        probe.set_state(world.get_state())
        _, _, _, _, info = probe.step(f"{player}: {text}")
        if not info.get("error"):
            return f"{player}: {text}", None
        reason = info["error"]
        if type(parsed).__name__ != "Custom":
            return None, reason  # a real command the world refuses: say why
    choices = [a for a in world.admissible_actions(player) if not a.startswith(SPEECH_TEMPLATES)]
    try:
        command = await play.tool_agent.command(
            goal=text, observation=world.describe(player), admissible=[*choices, NOTHING_FITS]
        )
    except ModelError:
        command = NOTHING_FITS
    if command == NOTHING_FITS:
        return (
            None,
            f"{reason or 'that is not something you can do here'}. You could: "
            + ", ".join(choices[:10]),
        )
    return f"{player}: {command}", None
