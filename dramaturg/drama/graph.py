"""The drama graph: a blueprint played scene by scene by a director and actors.

::

    START -> open_scene -> direct -+-> act ------+-> [reflect] -> direct ...
                 ^                 +-> ensemble -+
                 |                 +-> player ---+   (interrupt: the person's turn)
                 |                 +-> close_scene -> open_scene | end -> END

* The director picks who acts next and which beat is live; every
  ``reflect_every`` steps it reflects on the plot (beats done, one edit or
  one addition; finished beats never change, enforced in code).
* An actor perceives only its own witnessed events (and memories retrieved
  for it) and decides: speak, act on a prop, move or stay silent; its
  thought stays private. Acts and moves go through the tool agent, which
  maps the intent onto one of the world's admissible commands.
* The player's character interrupts the graph; the person's free text is
  checked, mapped to a command and, if the world refuses it, explained and
  asked again, with nothing changed.
* A scene's authored opening lines are spoken first, as written.
* On a base model (``actor=ScriptActor(...)``, see :mod:`dramaturg.drama.script`)
  the actors continue the scene's script one line at a time; the speaker,
  the live beat and the stage actions that play a beat are chosen in code,
  and the director makes no model calls. :func:`actor_for` and
  :func:`director_for` pick the roles for a model by its kind.

The theatre world's whole state is kept in the graph state after every
step, so a session stopped at any point (even by kill -9) resumes exactly
from its checkpoint.

This module builds the graph; its nodes live in :mod:`._scenes` (open,
direct, reflect, close, end), :mod:`._turns` (the characters' turns) and
:mod:`._player` (the person's turn), all reading one :class:`._play.Play`.
What the graph needs of the blueprint and the memory it is given is typed
by :class:`~dramaturg.drama.protocols.BlueprintLike` and
:class:`~dramaturg.drama.protocols.MemoryLike`.

Example:
    >>> graph = drama(blueprint, actor=Actor(model=m), director=Director(model=m),
    ...               tool_agent=ToolAgent(model=m), player="hamlet", checkpointer=saver)  # doctest: +SKIP
    >>> cfg = {"configurable": {"thread_id": "s1"}}                                        # doctest: +SKIP
    >>> await graph.ainvoke({}, cfg)            # runs until the player's turn            # doctest: +SKIP
    >>> await graph.ainvoke(Command(resume='say "Who is there?"'), cfg)                    # doctest: +SKIP
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.graph import END, START, StateGraph

from dramaturg.agents.tool_agent import ToolAgent
from dramaturg.drama import _scenes, _turns
from dramaturg.drama._play import DramaState, Mode, Play
from dramaturg.drama._player import MAX_PLAYER_INPUT, check_player_input, player_turn
from dramaturg.drama.actor import Actor
from dramaturg.drama.director import Director
from dramaturg.drama.protocols import BlueprintLike, MemoryLike
from dramaturg.drama.script import ScriptActor
from dramaturg.errors import ConfigError
from dramaturg.models import model_kind

__all__ = [
    "MAX_PLAYER_INPUT",
    "BlueprintLike",
    "DramaState",
    "MemoryLike",
    "actor_for",
    "check_player_input",
    "director_for",
    "drama",
]


def actor_for(model: Any, *, seed: int = 0) -> Actor | ScriptActor:
    """The actor that suits ``model``: script completion on a base model, structured decisions otherwise."""
    return (
        ScriptActor(model=model, seed=seed) if model_kind(model) == "base" else Actor(model=model)
    )


def director_for(model: Any) -> Director:
    """The director that suits ``model``: code alone on a base model (no calls), the model otherwise."""
    return Director(model=None if model_kind(model) == "base" else model)


def drama(
    blueprint: BlueprintLike,
    *,
    actor: Actor | ScriptActor,
    director: Director | None = None,
    tool_agent: ToolAgent,
    player: str | None = None,
    mode: Mode = "per_actor",
    scene_modes: dict[str, Mode] | None = None,
    reflect_every: int = 4,
    max_scene_steps: int = 12,
    max_turns: int | None = None,
    memory: MemoryLike | None = None,
    checkpointer: Any = None,
) -> Any:
    """Build the drama graph for a blueprint.

    Args:
        blueprint: a :class:`dramaturg.drama.blueprint.Blueprint`, or anything
            else shaped like one (:class:`~dramaturg.drama.protocols.BlueprintLike`).
        actor: :class:`~dramaturg.drama.actor.Actor` (structured decisions, for
            instruct models) or :class:`~dramaturg.drama.script.ScriptActor`
            (script completion, for base models); :func:`actor_for` picks.
        director: picks the next character and reflects (default: code alone,
            round-robin); unused by a ``ScriptActor``, whose turns are chosen in code.
        tool_agent: maps free text (the player's, an actor's intent) onto a stage command.
        player: the id of the character a person plays; ``None`` plays every
            character with agents (``--auto``).
        mode: ``"per_actor"`` (one model call per character turn) or
            ``"ensemble"`` (one call for all non-player characters present).
        scene_modes: a mode per scene id, overriding ``mode``.
        reflect_every: the director reflects after this many steps of a scene.
        max_scene_steps: a scene closes after this many steps even if beats remain.
        max_turns: the play ends after this many steps in all.
        memory: an optional :class:`dramaturg.memory.Memory` (or anything
            :class:`~dramaturg.drama.protocols.MemoryLike`); events are
            recorded with their witnesses and each actor retrieves from it.
        checkpointer: needed for a player (the graph interrupts) and to resume.

    Returns:
        A compiled graph; ``await graph.ainvoke({}, config)`` plays until the
        player's turn or the end.
    """
    cast = blueprint.cast
    if director is None or isinstance(actor, ScriptActor):
        director = Director(model=None)
    if player is not None and player not in cast:
        raise ConfigError(f"no character {player!r} in the cast; characters: {sorted(cast)}")
    if not blueprint.scenes:
        raise ConfigError("the blueprint has no scenes")
    if reflect_every < 1 or max_scene_steps < 1:
        raise ConfigError("reflect_every and max_scene_steps must be at least 1")
    play = Play(
        bp=blueprint,
        actor=actor,
        director=director,
        tool_agent=tool_agent,
        player=player,
        mode=mode,
        scene_modes=scene_modes,
        reflect_every=reflect_every,
        max_scene_steps=max_scene_steps,
        max_turns=max_turns,
        memory=memory,
    )

    builder = StateGraph(DramaState)
    builder.add_node("open_scene", partial(_scenes.open_scene, play))
    builder.add_node("direct", partial(_scenes.direct, play))
    builder.add_node("act", partial(_turns.act, play))
    builder.add_node("ensemble", partial(_turns.ensemble, play))
    builder.add_node("player", partial(player_turn, play))
    builder.add_node("reflect", partial(_scenes.reflect, play))
    builder.add_node("close_scene", partial(_scenes.close_scene, play))
    builder.add_node("end", partial(_scenes.end, play))
    builder.add_edge(START, "open_scene")
    builder.add_edge("open_scene", "direct")
    builder.add_conditional_edges(
        "direct", partial(_after_direct, play), ["act", "ensemble", "player", "close_scene", "end"]
    )
    for node in ("act", "ensemble", "player"):
        builder.add_conditional_edges(
            node, partial(_after_turn, play), ["reflect", "direct", "player"]
        )
    builder.add_edge("reflect", "direct")
    builder.add_conditional_edges("close_scene", partial(_after_close, play), ["open_scene", "end"])
    builder.add_edge("end", END)
    return builder.compile(checkpointer=checkpointer, name="drama")


# -------------------------------------------------------------------- routing
async def _after_direct(play: Play, state: DramaState) -> str:
    if play.out_of_turns(state):
        return "end"
    if state.get("next_actor") is None:
        return "close_scene"
    if state.get("next_actor") == play.player and play.player is not None:
        return "player"
    return "ensemble" if play.mode_of(state) == "ensemble" and not play.scripted else "act"


async def _after_turn(play: Play, state: DramaState) -> str:
    if state.get("notice"):
        return "player"  # the player's input was not played: ask again
    if (
        state.get("scene_step", 0)
        and state["scene_step"] % play.reflect_every == 0
        and play.director.model is not None
    ):
        return "reflect"
    return "direct"


async def _after_close(play: Play, state: DramaState) -> str:
    if play.out_of_turns(state):
        return "end"
    return "open_scene" if state["scene"] < len(play.bp.scenes) else "end"
