"""What every node of the drama graph reads: the play, its roles, and the world a state holds.

:class:`Play` is built once by :func:`dramaturg.drama.graph.drama` and
handed to each node (:mod:`._scenes`, :mod:`._turns`, :mod:`._player`). It
holds what never changes while the play runs (the blueprint, the roles, the
limits) and answers the questions nodes share: which world a state is in,
who is on stage, what a character perceived, what an actor is shown, and
how a command is played (world stepped, events kept, memory told).

The changing part lives in :class:`DramaState`, the graph's state.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from dramaturg.agents.tool_agent import ToolAgent
from dramaturg.drama.actor import Actor, ActorView
from dramaturg.drama.director import Director
from dramaturg.drama.protocols import BlueprintLike, MemoryLike
from dramaturg.drama.script import ScriptActor, script_heading
from dramaturg.worlds.theatre import TheatreWorld
from dramaturg.worlds.theatre.schema import Stage

__all__ = ["SPEECH_TEMPLATES", "DramaState", "Mode", "Play", "kind_of", "public_line"]

Mode = Literal["per_actor", "ensemble"]
#: Admissible commands that are speech: an actor speaks in its own words, never through these.
SPEECH_TEMPLATES = ("say ", "whisper ", "aside ")
_QUIET_TURNS = {
    "wait": "{who} waits.",
    "look": "{who} looks around.",
    "inventory": "{who} checks what they carry.",
}


class DramaState(TypedDict, total=False):
    blueprint: dict[str, Any]  # the Blueprint as a dict (never changed by the graph)
    scene: int  # index into blueprint["scenes"]
    scene_step: int
    step: int  # actions taken in the whole play
    beats: list[dict[str, Any]]  # the live scene's beats: id, text, status (pending | done)
    beat: str | None  # the beat the director made live
    world: dict[str, Any]  # TheatreWorld.get_state() after the last step
    next_actor: str | None
    last_actor: str | None
    transcript: Annotated[list[dict[str, Any]], operator.add]
    reflections: Annotated[list[dict[str, Any]], operator.add]
    notice: str | None  # for the player: why their last input was not played
    end_scene: bool
    ended: bool
    ending: str


@dataclass(kw_only=True, eq=False)
class Play:
    """The drama graph's fixed part, shared by its nodes (see :func:`~dramaturg.drama.graph.drama`)."""

    bp: BlueprintLike
    actor: Actor | ScriptActor
    director: Director
    tool_agent: ToolAgent
    player: str | None = None
    mode: Mode = "per_actor"
    scene_modes: Mapping[str, Mode] | None = None
    reflect_every: int = 4
    max_scene_steps: int = 12
    max_turns: int | None = None
    memory: MemoryLike | None = None
    names: dict[str, str] = field(init=False)
    _stages: dict[int, Stage] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.names = {cid: c.name for cid, c in self.bp.cast.items()}

    @property
    def scripted(self) -> bool:
        """A base model's play: script completion, turns and beats chosen in code."""
        return isinstance(self.actor, ScriptActor)

    def out_of_turns(self, state: DramaState) -> bool:
        """The play has taken ``max_turns`` steps."""
        return self.max_turns is not None and state.get("step", 0) >= self.max_turns

    def mode_of(self, state: DramaState) -> Mode:
        return (self.scene_modes or {}).get(self.bp.scenes[state["scene"]].id, self.mode)

    # ------------------------------------------------------------------ the world
    def stage_of(self, i: int) -> Stage:
        """Scene ``i``'s stage, free turns and no goal: the director and the beats run the scene."""
        if i not in self._stages:
            stage = self.bp.to_stage(self.bp.scenes[i].id)
            self._stages[i] = stage.model_copy(
                update={
                    "turns": "free",
                    "turn_order": None,
                    "goal": None,
                    "gold_plan": None,
                    "max_steps": None,
                }
            )
        return self._stages[i]

    def world_of(self, state: DramaState) -> TheatreWorld:
        world = TheatreWorld(self.stage_of(state["scene"]))
        world.set_state({**state["world"], "stage": world.stage.model_dump(mode="json")})
        return world

    def scene_cast(self, state: DramaState) -> list[str]:
        scene = self.bp.scenes[state["scene"]]
        return [c for c in scene.cast if c in self.bp.cast]

    def scene_label(self, state: DramaState) -> str:
        scene = self.bp.scenes[state["scene"]]
        return f"{scene.title} ({scene.place})"

    def live_beat(self, state: DramaState) -> str | None:
        for b in state.get("beats", []):
            if b["id"] == state.get("beat"):
                return b["text"]  # type: ignore[no-any-return]
        return None

    def present(self, state: DramaState, world: TheatreWorld) -> list[str]:
        """The scene's characters now at the scene's place (all of them if nobody is)."""
        place = self.bp.scenes[state["scene"]].place
        ids = self.scene_cast(state)
        return [c for c in ids if world.char_loc.get(c) == place] or ids

    def scene_turns(self, state: DramaState) -> list[dict[str, Any]]:
        return [
            t
            for t in state.get("transcript", [])
            if t.get("kind") == "turn" and t.get("scene") == state["scene"]
        ]

    def step(
        self, state: DramaState, world: TheatreWorld, cid: str, command: str, entry: dict[str, Any]
    ) -> dict[str, Any]:
        """Step the world; on success the new world state goes into the update.

        The turn's events (with their witnesses) and its script lines go into
        ``entry``; each event is recorded in the memory, if there is one.
        """
        here = self.present(state, world)
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
        entry["script"] = [
            *entry.get("script", ()),
            *_script_lines(events, here, self.names[cid]),
        ]
        if self.memory is not None:
            for e in info["events"]:
                self.memory.record(e, session=f"scene-{state['scene']}")
        return {"world": world.get_state()}

    # ------------------------------------------------------------------ what an actor knows
    def persona(self, cid: str) -> str:
        cast = self.bp.cast
        c = cast[cid]
        lines = [c.background.strip()] if c.background else []
        if c.goals:
            lines.append("Goals: " + "; ".join(c.goals) + ".")
        if c.emotion:
            lines.append(f"Feels: {c.emotion}.")
        if c.relationships:
            lines.append(
                "Relations: "
                + "; ".join(f"{self.names.get(o, o)}: {r}" for o, r in c.relationships.items())
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

    def perceived(self, state: DramaState, cid: str) -> list[str]:
        return [
            e["text"]
            for t in state.get("transcript", [])
            for e in t.get("events", ())
            if cid in e.get("witnesses", ())
        ]

    async def view_of(self, state: DramaState, world: TheatreWorld, cid: str) -> ActorView:
        here = world.char_loc[cid]
        others = [c for c, loc in world.char_loc.items() if loc == here and c != cid]
        beat = self.live_beat(state)
        memories = _lore(self.bp.cast[cid], [*self.perceived(state, cid)[-6:], beat or ""])
        if self.memory is not None:
            query = beat or self.scene_label(state)
            memories += [r.text for r in await self.memory.aretrieve(cid, query, k=4)]
        return ActorView(
            character=cid,
            name=self.names[cid],
            persona=self.persona(cid),
            scene=self.scene_label(state),
            beat=beat,
            perceived=self.perceived(state, cid),
            memories=memories,
            surroundings=world.describe(cid),
            others=others,
        )

    def script_of(self, state: DramaState) -> str:
        """The scene so far as a play script (what a base model continues)."""
        scene = self.bp.scenes[state["scene"]]
        place = self.bp.stage.places.get(scene.place)
        head = script_heading(
            self.bp,
            state["scene"],
            place_name=place.name if place else scene.place,
            place_text=place.description if place else "",
        )
        return head + "".join(
            f"{line}\n" for t in self.scene_turns(state) for line in t.get("script", ())
        )

    def spoken(self, state: DramaState) -> list[str]:
        """Every line spoken in the play so far, oldest first."""
        return [
            t["line"]
            for t in state.get("transcript", [])
            if t.get("kind") == "turn" and t.get("line")
        ]


def _lore(member: Any, recent: list[str]) -> list[str]:
    """The character's lorebook entries that fire now: constant ones, and those whose keys were just heard."""
    text = " ".join(recent).lower()
    return [
        n.text
        for n in getattr(member, "lore", ())
        if n.constant or any(k.lower() in text for k in n.keys)
    ][:4]


def kind_of(command: str) -> str:
    """The kind of turn a stage command is: speak, move, silent or act."""
    verb = command.split(": ", 1)[-1].split(" ", 1)[0].lower()
    if verb in {"say", "whisper", "aside"}:
        return "speak"
    if verb in {"move", "go"}:
        return "move"
    if verb == "wait":
        return "silent"
    return "act"


def public_line(entry: dict[str, Any], names: dict[str, str]) -> str:
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


def _script_lines(events: list[dict[str, Any]], present: list[str], name: str) -> list[str]:
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
