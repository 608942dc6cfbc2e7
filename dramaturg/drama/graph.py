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

Example:
    >>> graph = drama(blueprint, actor=Actor(model=m), director=Director(model=m),
    ...               tool_agent=ToolAgent(model=m), player="hamlet", checkpointer=saver)  # doctest: +SKIP
    >>> cfg = {"configurable": {"thread_id": "s1"}}                                        # doctest: +SKIP
    >>> await graph.ainvoke({}, cfg)            # runs until the player's turn            # doctest: +SKIP
    >>> await graph.ainvoke(Command(resume='say "Who is there?"'), cfg)                    # doctest: +SKIP
"""

from __future__ import annotations

import operator
import time
import unicodedata
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from dramaturg.agents.tool_agent import ToolAgent
from dramaturg.drama.actor import Actor, ActorDecision, ActorView
from dramaturg.drama.director import Director, apply_reflection
from dramaturg.drama.script import (
    ScriptActor,
    beat_action,
    beat_subject,
    pick_speaker,
    script_heading,
)
from dramaturg.errors import ConfigError, ModelError
from dramaturg.models import model_kind
from dramaturg.worlds.theatre import TheatreWorld
from dramaturg.worlds.theatre.actions import ActionParseError, parse_action
from dramaturg.worlds.theatre.schema import Stage

__all__ = [
    "MAX_PLAYER_INPUT",
    "DramaState",
    "actor_for",
    "check_player_input",
    "director_for",
    "drama",
]

MAX_PLAYER_INPUT = 500  # characters
NOTHING_FITS = "none of these"  # the tool agent's way to say free text matches no command
Mode = Literal["per_actor", "ensemble"]
_SPEECH_TEMPLATES = ("say ", "whisper ", "aside ")
_BEAT_TURNS = 2  # on a base model, a beat is done after this many turns on it,
_SCENE_TURNS = 4  # or more when a scene has few beats: at least this many turns a scene
_QUIET_TURNS = {
    "wait": "{who} waits.",
    "look": "{who} looks around.",
    "inventory": "{who} checks what they carry.",
}


class DramaState(TypedDict, total=False):
    blueprint: dict  # the Blueprint as a dict (never changed by the graph)
    scene: int  # index into blueprint["scenes"]
    scene_step: int
    step: int  # actions taken in the whole play
    beats: list[dict]  # the live scene's beats: id, text, status (pending | done)
    beat: str | None  # the beat the director made live
    world: dict  # TheatreWorld.get_state() after the last step
    next_actor: str | None
    last_actor: str | None
    transcript: Annotated[list[dict], operator.add]
    reflections: Annotated[list[dict], operator.add]
    notice: str | None  # for the player: why their last input was not played
    end_scene: bool
    ended: bool
    ending: str


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


def actor_for(model: Any, *, seed: int = 0) -> Actor | ScriptActor:
    """The actor that suits ``model``: script completion on a base model, structured decisions otherwise."""
    return (
        ScriptActor(model=model, seed=seed) if model_kind(model) == "base" else Actor(model=model)
    )


def director_for(model: Any) -> Director:
    """The director that suits ``model``: code alone on a base model (no calls), the model otherwise."""
    return Director(model=None if model_kind(model) == "base" else model)


def drama(
    blueprint: Any,
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
    memory: Any = None,
    checkpointer: Any = None,
):
    """Build the drama graph for a blueprint.

    Args:
        blueprint: a :class:`dramaturg.drama.blueprint.Blueprint`.
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
        memory: an optional :class:`dramaturg.memory.Memory`; events are
            recorded with their witnesses and each actor retrieves from it.
        checkpointer: needed for a player (the graph interrupts) and to resume.

    Returns:
        A compiled graph; ``await graph.ainvoke({}, config)`` plays until the
        player's turn or the end.
    """
    bp = blueprint
    cast = bp.cast
    scripted = isinstance(actor, ScriptActor)
    if director is None or scripted:
        director = Director(model=None)
    if player is not None and player not in cast:
        raise ConfigError(f"no character {player!r} in the cast; characters: {sorted(cast)}")
    if not bp.scenes:
        raise ConfigError("the blueprint has no scenes")
    if reflect_every < 1 or max_scene_steps < 1:
        raise ConfigError("reflect_every and max_scene_steps must be at least 1")
    names = {cid: c.name for cid, c in cast.items()}
    stages: dict[int, Stage] = {}

    def stage_of(i: int) -> Stage:
        if i not in stages:
            stage = bp.to_stage(bp.scenes[i].id)
            stages[i] = stage.model_copy(
                update={
                    "turns": "free",
                    "turn_order": None,
                    "goal": None,
                    "gold_plan": None,
                    "max_steps": None,
                }
            )
        return stages[i]

    def world_of(state: DramaState) -> TheatreWorld:
        world = TheatreWorld(stage_of(state["scene"]))
        world.set_state({**state["world"], "stage": world.stage.model_dump(mode="json")})
        return world

    def scene_cast(state: DramaState) -> list[str]:
        scene = bp.scenes[state["scene"]]
        return [c for c in scene.cast if c in cast]

    def scene_label(state: DramaState) -> str:
        scene = bp.scenes[state["scene"]]
        return f"{scene.title} ({scene.place})"

    def live_beat(state: DramaState) -> str | None:
        for b in state.get("beats", []):
            if b["id"] == state.get("beat"):
                return b["text"]
        return None

    def persona(cid: str) -> str:
        c = cast[cid]
        lines = [c.background.strip()] if c.background else []
        if c.goals:
            lines.append("Goals: " + "; ".join(c.goals) + ".")
        if c.emotion:
            lines.append(f"Feels: {c.emotion}.")
        if c.relationships:
            lines.append(
                "Relations: "
                + "; ".join(f"{names.get(o, o)}: {r}" for o, r in c.relationships.items())
                + "."
            )
        secrets = [
            s.text
            for owner, ch in cast.items()
            for s in ch.secrets
            if cid == owner or cid in s.known_by
        ]
        if secrets:
            lines.append("Knows (secret): " + "; ".join(secrets) + ".")
        return "\n".join(lines)

    def perceived(state: DramaState, cid: str) -> list[str]:
        return [
            e["text"]
            for t in state.get("transcript", [])
            for e in t.get("events", ())
            if cid in e.get("witnesses", ())
        ]

    async def view_of(state: DramaState, world: TheatreWorld, cid: str) -> ActorView:
        here = world.char_loc[cid]
        others = [c for c, loc in world.char_loc.items() if loc == here and c != cid]
        memories = _lore(cast[cid], [*perceived(state, cid)[-6:], live_beat(state) or ""])
        if memory is not None:
            query = live_beat(state) or scene_label(state)
            memories += [r.text for r in await memory.aretrieve(cid, query, k=4)]
        return ActorView(
            character=cid,
            name=names[cid],
            persona=persona(cid),
            scene=scene_label(state),
            beat=live_beat(state),
            perceived=perceived(state, cid),
            memories=memories,
            surroundings=world.describe(cid),
            others=others,
        )

    async def to_command(world: TheatreWorld, cid: str, decision: ActorDecision) -> str:
        if decision.kind == "speak" and (decision.line or "").strip():
            line = (decision.line or "").replace('"', "'")
            return f'{cid}: say {decision.to} "{line}"' if decision.to else f'{cid}: say "{line}"'
        if decision.kind in ("silent", "speak"):  # a "speak" with nothing to say is a pause
            return f"{cid}: wait"
        choices = [a for a in world.admissible_actions(cid) if not a.startswith(_SPEECH_TEMPLATES)]
        intent = decision.intent or decision.kind
        command = await tool_agent.command(
            goal=intent, observation=world.describe(cid), admissible=choices
        )
        return f"{cid}: {command}"

    def present(state: DramaState, world: TheatreWorld) -> list[str]:
        """The scene's characters now at the scene's place (all of them if nobody is)."""
        place = bp.scenes[state["scene"]].place
        ids = scene_cast(state)
        return [c for c in ids if world.char_loc.get(c) == place] or ids

    def scene_turns(state: DramaState) -> list[dict]:
        return [
            t
            for t in state.get("transcript", [])
            if t.get("kind") == "turn" and t.get("scene") == state["scene"]
        ]

    def play(state: DramaState, world: TheatreWorld, cid: str, command: str, entry: dict) -> dict:
        """Step the world; on success the new world state goes into the update."""
        here = present(state, world)
        _, _, _, _, info = world.step(command)
        entry.update(
            command=command.split(": ", 1)[1],
            step=state.get("step", 0) + 1,
            scene=state["scene"],
            beat=state.get("beat"),
        )
        if info.get("error"):
            entry.update(error=info["error"], events=[])
            return {}
        events = [
            {"text": e.text, "witnesses": sorted(e.witnesses), "kind": e.kind}
            for e in info["events"]
        ]
        entry["events"] = [*entry.get("events", ()), *events]
        entry["script"] = [*entry.get("script", ()), *_script_lines(events, here, names[cid])]
        if memory is not None:
            for e in info["events"]:
                memory.record(e, session=f"scene-{state['scene']}")
        return {"world": world.get_state()}

    def script_of(state: DramaState, world: TheatreWorld) -> str:
        """The scene so far as a play script (what a base model continues)."""
        scene = bp.scenes[state["scene"]]
        place = bp.stage.places.get(scene.place)
        head = script_heading(
            bp,
            state["scene"],
            place_name=place.name if place else scene.place,
            place_text=place.description if place else "",
        )
        return head + "".join(
            f"{line}\n" for t in scene_turns(state) for line in t.get("script", ())
        )

    def spoken(state: DramaState) -> list[str]:
        """Every line spoken in the play so far, oldest first."""
        return [
            t["line"]
            for t in state.get("transcript", [])
            if t.get("kind") == "turn" and t.get("line")
        ]

    async def script_turn(state: DramaState, world: TheatreWorld, cid: str) -> dict:
        """A base model's turn: the live beat's stage action when this character has one, then a line."""
        assert isinstance(actor, ScriptActor)
        started = time.perf_counter()
        entry: dict[str, Any] = {"kind": "turn", "actor": cid, "by": "agent", "action": "speak"}
        update: dict[str, Any] = {}
        beat = live_beat(state)
        if (
            beat and beat_subject(beat, names, scene_cast(state)) == cid
        ):  # the beat's subject plays it
            done = [t["beat_action"] for t in scene_turns(state) if t.get("beat_action")]
            command = beat_action(world.admissible_actions(cid), beat, names=names, done=done)
            if command is not None:
                update = play(state, world, cid, f"{cid}: {command}", entry)
                if not entry.get("error"):
                    entry.update(beat_action=command, action="act")
                entry.pop("error", None)
        sub: DramaState = {**state, "transcript": [*state.get("transcript", []), entry]}  # type: ignore[typeddict-item]
        try:
            said = await actor.line(
                script_of(sub, world),
                names[cid].upper(),
                names=list(names.values()),
                recent=spoken(state),
                key=(state["scene"], state.get("step", 0)),
            )
        except ModelError as exc:
            entry.setdefault("command", "wait")
            entry.update(
                step=state.get("step", 0) + 1, scene=state["scene"], beat=state.get("beat")
            )
            entry.setdefault("events", [])
            if not entry["events"]:
                entry["error"] = f"no line: {exc}"
        else:
            acted = entry.get("command")
            line = said.text.replace('"', "'")
            update = play(state, world, cid, f'{cid}: say "{line}"', entry) or update
            if acted:
                entry["command"] = f"{acted}; {entry['command']}"
            entry.update(line=line, tries=said.tries)
            if said.rejected:
                entry["rejected"] = list(said.rejected)
        entry["public"] = _public(entry, names)
        entry["seconds"] = round(time.perf_counter() - started, 3)
        return {
            **update,
            "transcript": [entry],
            "last_actor": cid,
            "step": state.get("step", 0) + 1,
            "scene_step": state.get("scene_step", 0) + 1,
        }

    def script_direct(state: DramaState) -> dict:
        """Turn and beat chosen in code: a beat is done after a few turns on it (its stage action among them)."""
        beats = [dict(b) for b in state["beats"]]
        live = state.get("beat")
        turns = scene_turns(state)
        on_beat = [t for t in turns if live is not None and t.get("beat") == live]
        per_beat = max(_BEAT_TURNS, -(-_SCENE_TURNS // max(1, len(beats))))
        for b in beats:
            if b["id"] == live and b["status"] != "done" and len(on_beat) >= per_beat:
                # "turns": the play spent its turns on the beat; only "action" says a stage action played it.
                how = "action" if any(t.get("beat_action") for t in on_beat) else "turns"
                b.update(status="done", done_at=state.get("step", 0), done_by=how)
        pending = [b for b in beats if b["status"] != "done"]
        if not pending:
            return {"beats": beats, "next_actor": None}
        beat = pending[0]
        world = world_of(state)
        last = turns[-1] if turns else None
        pick = pick_speaker(
            present(state, world),
            names=names,
            last=state.get("last_actor"),
            last_text=(last or {}).get("line") or "",
            beat=beat["text"],
            beat_spoken=[t["actor"] for t in turns if t.get("beat") == beat["id"]],
            history=[t["actor"] for t in turns],
        )
        return {"beats": beats, "beat": beat["id"], "next_actor": pick}

    # ------------------------------------------------------------------ nodes
    async def open_scene(state: DramaState) -> dict:
        i = state.get("scene", 0)
        world = TheatreWorld(stage_of(i))
        world.reset()
        scene = bp.scenes[i]
        beats = [{"id": b.id, "text": b.text, "status": b.status} for b in scene.beats]
        step = state.get("step", 0)
        entries: list[dict] = [
            {"kind": "scene", "scene": i, "title": scene.title, "place": scene.place, "step": step}
        ]
        last = None
        sub: DramaState = {**state, "scene": i, "beat": None}  # type: ignore[typeddict-item]
        for (
            line
        ) in scene.opening:  # authored lines, spoken as written (the player's own are left to them)
            if line.speaker == player or (max_turns is not None and step >= max_turns):
                continue
            entry: dict[str, Any] = {
                "kind": "turn",
                "actor": line.speaker,
                "by": "script",
                "action": "speak",
                "line": line.text,
            }
            play(
                {**sub, "step": step},
                world,
                line.speaker,  # type: ignore[typeddict-item]
                f'{line.speaker}: say "{line.text.replace(chr(34), chr(39))}"',
                entry,
            )
            entry["public"] = _public(entry, names)
            entries.append(entry)
            step, last = step + 1, line.speaker
        return {
            "scene": i,
            "scene_step": len(entries) - 1,
            "beats": beats,
            "beat": None,
            "world": world.get_state(),
            "last_actor": last,
            "next_actor": None,
            "end_scene": False,
            "notice": None,
            "step": step,
            "ended": False,
            "transcript": entries,
        }

    async def direct(state: DramaState) -> dict:
        if max_turns is not None and state.get("step", 0) >= max_turns:
            return {"next_actor": None}
        if (
            state.get("end_scene")
            or state.get("scene_step", 0) >= max_scene_steps
            or (state["beats"] and all(b["status"] == "done" for b in state["beats"]))
        ):
            return {"next_actor": None}  # the scene is over: no need to ask the director
        if scripted:
            return script_direct(state)
        cast_ids = scene_cast(state)
        recent = [t["public"] for t in state.get("transcript", []) if t.get("public")]
        try:
            pick = await director.pick(
                scene=scene_label(state),
                cast=cast_ids,
                names=names,
                beats=state["beats"],
                recent=recent,
                last=state.get("last_actor"),
            )
        except ModelError as exc:
            pick = await Director(model=None).pick(
                scene="",
                cast=cast_ids,
                names=names,
                beats=state["beats"],
                recent=(),
                last=state.get("last_actor"),
            )
            return {
                "next_actor": pick.actor,
                "beat": pick.beat,
                "reflections": [
                    {"op": "pick", "refused": f"the director failed ({exc}); round-robin"}
                ],
            }
        return {
            "next_actor": pick.actor,
            "beat": pick.beat if pick.beat is not None else state.get("beat"),
        }

    def mode_of(state: DramaState) -> Mode:
        return (scene_modes or {}).get(bp.scenes[state["scene"]].id, mode)

    async def act(state: DramaState) -> dict:
        cid = state["next_actor"]
        assert cid is not None
        world = world_of(state)
        if scripted:
            return await script_turn(state, world, cid)
        return await _turn(state, world, cid)

    async def _turn(
        state: DramaState, world: TheatreWorld, cid: str, decision: ActorDecision | None = None
    ) -> dict:
        started = time.perf_counter()
        entry: dict[str, Any] = {"kind": "turn", "actor": cid, "by": "agent"}
        try:
            if decision is None:
                decision = await actor.decide(await view_of(state, world, cid))
            command = await to_command(world, cid, decision)
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
        said: dict = {}
        if (
            decision is not None
            and decision.kind in ("act", "move")
            and (decision.line or "").strip()
        ):
            # Words written on an act turn are spoken too, before the act (they were dropped once).
            line = (decision.line or "").replace('"', "'")
            said = play(state, world, cid, f'{cid}: say "{line}"', entry)
            entry.pop("error", None)
        update = play(state, world, cid, command, entry) or said
        if said and entry.get("error"):  # the act was refused, the words were said
            entry["command"] = f'say "{(decision.line or "")}"' if decision else entry["command"]
            entry.pop("error")
        entry["public"] = _public(entry, names)
        entry["seconds"] = round(time.perf_counter() - started, 3)
        return {
            **update,
            "transcript": [entry],
            "last_actor": cid,
            "step": state.get("step", 0) + 1,
            "scene_step": state.get("scene_step", 0) + 1,
        }

    async def ensemble(state: DramaState) -> dict:
        world = world_of(state)
        ids = [c for c in scene_cast(state) if c != player]
        views = [await view_of(state, world, c) for c in ids]
        try:
            turns = await actor.ensemble(views)
        except ModelError as exc:
            turns = []
            error = str(exc)
        else:
            error = None
        entries: list[dict] = []
        step, sstep = state.get("step", 0), state.get("scene_step", 0)
        for t in turns:
            # One live world for the round: each character sees the ones before it act.
            sub: DramaState = {**state, "step": step, "scene_step": sstep}  # type: ignore[typeddict-item]
            decision = ActorDecision.model_validate(t.model_dump(exclude={"character"}))
            out = await _turn(sub, world, t.character, decision)
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

    async def player_turn(state: DramaState) -> dict:
        assert player is not None
        world = world_of(state)
        answer = interrupt(
            {
                "kind": "player_turn",
                "character": player,
                "name": names[player],
                "scene": scene_label(state),
                "beat": live_beat(state),
                "surroundings": world.describe(player),
                "perceived": perceived(state, player)[-6:],
                "notice": state.get("notice"),
                "commands": [a for a in world.admissible_actions(player)],
            }
        )
        try:
            text = check_player_input(answer)
        except ValueError as exc:
            return {"notice": str(exc)}
        entry: dict[str, Any] = {"kind": "turn", "actor": player, "by": "player", "input": text}
        command, why = await _player_command(world, text)
        if command is None:
            return {"notice": f"That cannot be done: {why}"}
        update = play(state, world, player, command, entry)
        if entry.get("error"):
            return {"notice": f"That cannot be done: {entry['error']}"}
        entry["action"] = _kind_of(command)
        entry["public"] = _public(entry, names)
        return {
            **update,
            "transcript": [entry],
            "last_actor": player,
            "notice": None,
            "step": state.get("step", 0) + 1,
            "scene_step": state.get("scene_step", 0) + 1,
        }

    async def _player_command(world: TheatreWorld, text: str) -> tuple[str | None, str | None]:
        """A stage command for the player's text, or ``(None, why not)``.

        Quoted text is speech. Text the stage's grammar reads as a legal
        command is played as typed. Anything else (an unknown verb, loose
        prose) goes to the tool agent, which maps it onto one of the
        admissible commands or says that none fits; a known command the world
        refuses is explained with the world's own reason.
        """
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
        choices = [
            a for a in world.admissible_actions(player) if not a.startswith(_SPEECH_TEMPLATES)
        ]
        try:
            command = await tool_agent.command(
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

    async def reflect(state: DramaState) -> dict:
        recent = [
            t["public"]
            for t in state.get("transcript", [])
            if t.get("public") and t.get("scene") == state["scene"]
        ]
        try:
            notes = await director.reflect(
                scene=scene_label(state), beats=state["beats"], recent=recent
            )
        except ModelError as exc:
            return {
                "reflections": [
                    {
                        "op": "reflect",
                        "refused": f"the director failed: {exc}",
                        "step": state.get("step", 0),
                    }
                ]
            }
        beats, log = apply_reflection(state["beats"], notes, step=state.get("step", 0))
        for entry in log:
            entry["step"] = state.get("step", 0)
            entry["scene"] = state["scene"]
        return {
            "beats": beats,
            "reflections": log or [{"op": "reflect", "step": state.get("step", 0)}],
            "end_scene": notes.end_scene,
        }

    async def close_scene(state: DramaState) -> dict:
        done = sum(b["status"] == "done" for b in state["beats"])
        return {
            "transcript": [
                {
                    "kind": "scene_end",
                    "scene": state["scene"],
                    "step": state.get("step", 0),
                    "beats": [dict(b) for b in state["beats"]],
                    "beats_done": done,
                }
            ],
            "scene": state["scene"] + 1,
            "world": None,
        }

    async def end(state: DramaState) -> dict:
        ending = f"The end of {bp.title}."
        return {
            "ended": True,
            "ending": ending,
            "transcript": [
                {
                    "kind": "end",
                    "step": state.get("step", 0),
                    "public": ending,
                    "beats": [dict(b) for b in state.get("beats", [])],
                }
            ],
        }

    # ---------------------------------------------------------------- routing
    async def after_direct(state: DramaState) -> str:
        if max_turns is not None and state.get("step", 0) >= max_turns:
            return "end"
        if state.get("next_actor") is None:
            return "close_scene"
        if state.get("next_actor") == player and player is not None:
            return "player"
        return "ensemble" if mode_of(state) == "ensemble" and not scripted else "act"

    async def after_turn(state: DramaState) -> str:
        if state.get("notice"):
            return "player"  # the player's input was not played: ask again
        if (
            state.get("scene_step", 0)
            and state["scene_step"] % reflect_every == 0
            and director.model is not None
        ):
            return "reflect"
        return "direct"

    async def after_close(state: DramaState) -> str:
        if max_turns is not None and state.get("step", 0) >= max_turns:
            return "end"
        return "open_scene" if state["scene"] < len(bp.scenes) else "end"

    builder = StateGraph(DramaState)
    builder.add_node("open_scene", open_scene)
    builder.add_node("direct", direct)
    builder.add_node("act", act)
    builder.add_node("ensemble", ensemble)
    builder.add_node("player", player_turn)
    builder.add_node("reflect", reflect)
    builder.add_node("close_scene", close_scene)
    builder.add_node("end", end)
    builder.add_edge(START, "open_scene")
    builder.add_edge("open_scene", "direct")
    builder.add_conditional_edges(
        "direct", after_direct, ["act", "ensemble", "player", "close_scene", "end"]
    )
    for node in ("act", "ensemble", "player"):
        builder.add_conditional_edges(node, after_turn, ["reflect", "direct", "player"])
    builder.add_edge("reflect", "direct")
    builder.add_conditional_edges("close_scene", after_close, ["open_scene", "end"])
    builder.add_edge("end", END)
    return builder.compile(checkpointer=checkpointer, name="drama")


def _lore(member: Any, recent: list[str]) -> list[str]:
    """The character's lorebook entries that fire now: constant ones, and those whose keys were just heard."""
    text = " ".join(recent).lower()
    return [
        n.text
        for n in getattr(member, "lore", ())
        if n.constant or any(k.lower() in text for k in n.keys)
    ][:4]


def _kind_of(command: str) -> str:
    verb = command.split(": ", 1)[-1].split(" ", 1)[0].lower()
    if verb in {"say", "whisper", "aside"}:
        return "speak"
    if verb in {"move", "go"}:
        return "move"
    if verb == "wait":
        return "silent"
    return "act"


def _public(entry: dict, names: dict[str, str]) -> str:
    """The line a spectator sees for a turn (no thoughts).

    A turn that changed nothing anyone saw (``wait``, ``look``) reads as what
    the character did, never as "is silent".
    """
    who = names.get(entry.get("actor") or "", entry.get("actor") or "someone")
    if entry.get("error") and not entry.get("events"):
        return ""
    texts = [e["text"] for e in entry.get("events", ())]
    if texts:
        return " ".join(texts)
    verb = str(entry.get("command") or "wait").split(" ", 1)[0]
    return _QUIET_TURNS.get(verb, "{who} waits.").format(who=who)


def _script_lines(events: list[dict], present: list[str], name: str) -> list[str]:
    """A turn's events as script lines, ``NAME. words`` for speech and ``[text]`` for the rest.

    Only what every character present witnessed goes in: the script is
    shared by the whole scene, so a whisper or a secret act stays out of it.
    """
    out = []
    for e in events:
        if not set(present) <= set(e.get("witnesses", ())):
            continue
        if e.get("kind") == "say":
            words = e["text"].split(": ", 1)[-1].strip().strip('"')
            out.append(f"{name.upper()}. {words}")
        else:
            out.append(f"[{e['text']}]")
    return out
