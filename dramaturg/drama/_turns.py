"""The characters' turns in the drama graph: an actor decides, the world plays it.

* :func:`act` runs one character's turn: on an instruct model the actor
  decides (speak, act on a prop, move, stay silent) and acts and moves go
  through the tool agent, which maps the intent onto an admissible command;
  on a base model (:func:`script_turn`) the live beat's stage action is
  played when the character is its subject, then the actor continues the
  scene's script with one line.
* :func:`ensemble` asks for every non-player character present at once
  and plays their turns in order on one live world.

A model that fails (:class:`~dramaturg.errors.ModelError`) costs a turn,
never the play: the character waits and the transcript says why.
"""

from __future__ import annotations

import time
import typing
from typing import Any

from dramaturg.drama._play import SPEECH_TEMPLATES, DramaState, Play, public_line
from dramaturg.drama.actor import Actor, ActorDecision
from dramaturg.drama.script import ScriptActor, beat_action, beat_subject
from dramaturg.errors import ModelError
from dramaturg.worlds.theatre import TheatreWorld

__all__ = ["act", "agent_turn", "ensemble", "script_turn", "to_command"]


async def act(play: Play, state: DramaState) -> dict[str, Any]:
    """The node for one character's turn (``state["next_actor"]``)."""
    cid = state["next_actor"]
    assert cid is not None
    world = play.world_of(state)
    if play.scripted:
        return await script_turn(play, state, world, cid)
    return await agent_turn(play, state, world, cid)


async def to_command(play: Play, world: TheatreWorld, cid: str, decision: ActorDecision) -> str:
    """The stage command for an actor's decision (acts and moves through the tool agent)."""
    if decision.kind == "speak" and (decision.line or "").strip():
        line = (decision.line or "").replace('"', "'")
        return f'{cid}: say {decision.to} "{line}"' if decision.to else f'{cid}: say "{line}"'
    if decision.kind in ("silent", "speak"):  # a "speak" with nothing to say is a pause
        return f"{cid}: wait"
    choices = [a for a in world.admissible_actions(cid) if not a.startswith(SPEECH_TEMPLATES)]
    intent = decision.intent or decision.kind
    command = await play.tool_agent.command(
        goal=intent, observation=world.describe(cid), admissible=choices
    )
    return f"{cid}: {command}"


async def agent_turn(
    play: Play,
    state: DramaState,
    world: TheatreWorld,
    cid: str,
    decision: ActorDecision | None = None,
) -> dict[str, Any]:
    """An instruct model's turn for ``cid``: its decision (asked for unless given), played."""
    actor = typing.cast(Actor, play.actor)
    started = time.perf_counter()
    entry: dict[str, Any] = {"kind": "turn", "actor": cid, "by": "agent"}
    try:
        if decision is None:
            decision = await actor.decide(await play.view_of(state, world, cid))
        command = await to_command(play, world, cid, decision)
    except ModelError as exc:
        decision, command = None, f"{cid}: wait"
        entry["error"] = f"no decision: {exc}"
    if decision is not None:
        entry.update(
            action=decision.kind,
            thought=decision.thought,
            line=decision.line,
            to=decision.to,
            intent=decision.intent,
        )
    else:
        entry["action"] = "silent"
    said: dict[str, Any] = {}
    if decision is not None and decision.kind in ("act", "move") and (decision.line or "").strip():
        # Words written on an act turn are spoken too, before the act (they were dropped once).
        line = (decision.line or "").replace('"', "'")
        said = play.step(state, world, cid, f'{cid}: say "{line}"', entry)
        entry.pop("error", None)
    update = play.step(state, world, cid, command, entry) or said
    if said and entry.get("error"):  # the act was refused, the words were said
        entry["command"] = f'say "{(decision.line or "")}"' if decision else entry["command"]
        entry.pop("error")
    entry["public"] = public_line(entry, play.names)
    entry["seconds"] = round(time.perf_counter() - started, 3)
    return {
        **update,
        "transcript": [entry],
        "last_actor": cid,
        "step": state.get("step", 0) + 1,
        "scene_step": state.get("scene_step", 0) + 1,
    }


async def ensemble(play: Play, state: DramaState) -> dict[str, Any]:
    """The node for one round of every non-player character present, in one model call."""
    actor = typing.cast(Actor, play.actor)
    world = play.world_of(state)
    ids = [c for c in play.scene_cast(state) if c != play.player]
    views = [await play.view_of(state, world, c) for c in ids]
    error: str | None = None
    try:
        turns = await actor.ensemble(views)
    except ModelError as exc:
        turns = []
        error = str(exc)
    entries: list[dict[str, Any]] = []
    step, sstep = state.get("step", 0), state.get("scene_step", 0)
    for t in turns:
        # One live world for the round: each character sees the ones before it act.
        sub: DramaState = {**state, "step": step, "scene_step": sstep}
        decision = ActorDecision.model_validate(t.model_dump(exclude={"character"}))
        out = await agent_turn(play, sub, world, t.character, decision)
        entries += out["transcript"]
        step, sstep = out["step"], out["scene_step"]
    if not turns:
        entries.append(
            {
                "kind": "turn",
                "actor": None,
                "by": "agent",
                "action": "silent",
                "error": f"no ensemble turn: {error}",
                "public": "",
                "events": [],
                "step": step + 1,
                "scene": state["scene"],
            }
        )
        step, sstep = step + 1, sstep + 1
    return {
        "world": world.get_state(),
        "transcript": entries,
        "last_actor": ids[-1] if ids else None,
        "step": step,
        "scene_step": sstep,
    }


async def script_turn(
    play: Play, state: DramaState, world: TheatreWorld, cid: str
) -> dict[str, Any]:
    """A base model's turn: the live beat's stage action when this character has one, then a line."""
    actor = play.actor
    assert isinstance(actor, ScriptActor)
    names = play.names
    started = time.perf_counter()
    entry: dict[str, Any] = {"kind": "turn", "actor": cid, "by": "agent", "action": "speak"}
    update: dict[str, Any] = {}
    beat = play.live_beat(state)
    if (
        beat and beat_subject(beat, names, play.scene_cast(state)) == cid
    ):  # the beat's subject plays it
        done = [t["beat_action"] for t in play.scene_turns(state) if t.get("beat_action")]
        command = beat_action(world.admissible_actions(cid), beat, names=names, done=done)
        if command is not None:
            update = play.step(state, world, cid, f"{cid}: {command}", entry)
            if not entry.get("error"):
                entry.update(beat_action=command, action="act")
            entry.pop("error", None)
    sub: DramaState = {**state, "transcript": [*state.get("transcript", []), entry]}
    try:
        said = await actor.line(
            play.script_of(sub),
            names[cid].upper(),
            names=list(names.values()),
            recent=play.spoken(state),
            key=(state["scene"], state.get("step", 0)),
        )
    except ModelError as exc:
        entry.setdefault("command", "wait")
        entry.update(step=state.get("step", 0) + 1, scene=state["scene"], beat=state.get("beat"))
        entry.setdefault("events", [])
        if not entry["events"]:
            entry["error"] = f"no line: {exc}"
    else:
        acted = entry.get("command")
        line = said.text.replace('"', "'")
        update = play.step(state, world, cid, f'{cid}: say "{line}"', entry) or update
        if acted:
            entry["command"] = f"{acted}; {entry['command']}"
        entry.update(line=line, tries=said.tries)
        if said.rejected:
            entry["rejected"] = list(said.rejected)
    entry["public"] = public_line(entry, names)
    entry["seconds"] = round(time.perf_counter() - started, 3)
    return {
        **update,
        "transcript": [entry],
        "last_actor": cid,
        "step": state.get("step", 0) + 1,
        "scene_step": state.get("scene_step", 0) + 1,
    }
