"""The drama graph's scenes: opening one, directing it, reflecting on it, closing it, the end.

* :func:`open_scene` resets the scene's stage and speaks its authored
  opening lines, as written.
* :func:`direct` has the director pick who acts next and which beat is
  live; on a base model (:func:`script_direct`) code picks both, and a beat
  is done after a few turns on it.
* :func:`reflect` has the director mark beats done and make one edit or one
  addition; finished beats never change (enforced in code by
  :func:`~dramaturg.drama.director.apply_reflection`).
* :func:`close_scene` and :func:`end` write the scene's and the play's last entries.
"""

from __future__ import annotations

from typing import Any

from dramaturg.drama._play import DramaState, Play, public_line
from dramaturg.drama.director import Director, apply_reflection
from dramaturg.drama.script import pick_speaker
from dramaturg.errors import ModelError
from dramaturg.worlds.theatre import TheatreWorld

__all__ = ["close_scene", "direct", "end", "open_scene", "reflect", "script_direct"]

_BEAT_TURNS = 2  # on a base model, a beat is done after this many turns on it,
_SCENE_TURNS = 4  # or more when a scene has few beats: at least this many turns a scene


async def open_scene(play: Play, state: DramaState) -> dict[str, Any]:
    """The node that starts scene ``state["scene"]`` (0 at first) on a fresh stage."""
    i = state.get("scene", 0)
    world = TheatreWorld(play.stage_of(i))
    world.reset()
    scene = play.bp.scenes[i]
    beats = [{"id": b.id, "text": b.text, "status": b.status} for b in scene.beats]
    step = state.get("step", 0)
    entries: list[dict[str, Any]] = [
        {"kind": "scene", "scene": i, "title": scene.title, "place": scene.place, "step": step}
    ]
    last = None
    sub: DramaState = {**state, "scene": i, "beat": None}
    for (
        line
    ) in scene.opening:  # authored lines, spoken as written (the player's own are left to them)
        if line.speaker == play.player or (play.max_turns is not None and step >= play.max_turns):
            continue
        entry: dict[str, Any] = {
            "kind": "turn",
            "actor": line.speaker,
            "by": "script",
            "action": "speak",
            "line": line.text,
        }
        play.step(
            {**sub, "step": step},
            world,
            line.speaker,
            f'{line.speaker}: say "{line.text.replace(chr(34), chr(39))}"',
            entry,
        )
        entry["public"] = public_line(entry, play.names)
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


async def direct(play: Play, state: DramaState) -> dict[str, Any]:
    """The node that picks the next character and the live beat, or ends the scene."""
    if play.out_of_turns(state):
        return {"next_actor": None}
    if (
        state.get("end_scene")
        or state.get("scene_step", 0) >= play.max_scene_steps
        or (state["beats"] and all(b["status"] == "done" for b in state["beats"]))
    ):
        return {"next_actor": None}  # the scene is over: no need to ask the director
    if play.scripted:
        return script_direct(play, state)
    cast_ids = play.scene_cast(state)
    recent = [t["public"] for t in state.get("transcript", []) if t.get("public")]
    try:
        pick = await play.director.pick(
            scene=play.scene_label(state),
            cast=cast_ids,
            names=play.names,
            beats=state["beats"],
            recent=recent,
            last=state.get("last_actor"),
        )
    except ModelError as exc:
        pick = await Director(model=None).pick(
            scene="",
            cast=cast_ids,
            names=play.names,
            beats=state["beats"],
            recent=(),
            last=state.get("last_actor"),
        )
        return {
            "next_actor": pick.actor,
            "beat": pick.beat,
            "reflections": [{"op": "pick", "refused": f"the director failed ({exc}); round-robin"}],
        }
    return {
        "next_actor": pick.actor,
        "beat": pick.beat if pick.beat is not None else state.get("beat"),
    }


def script_direct(play: Play, state: DramaState) -> dict[str, Any]:
    """Turn and beat chosen in code: a beat is done after a few turns on it (its stage action among them)."""
    beats = [dict(b) for b in state["beats"]]
    live = state.get("beat")
    turns = play.scene_turns(state)
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
    world = play.world_of(state)
    last = turns[-1] if turns else None
    pick = pick_speaker(
        play.present(state, world),
        names=play.names,
        last=state.get("last_actor"),
        last_text=(last or {}).get("line") or "",
        beat=beat["text"],
        beat_spoken=[t["actor"] for t in turns if t.get("beat") == beat["id"]],
        history=[t["actor"] for t in turns],
    )
    return {"beats": beats, "beat": beat["id"], "next_actor": pick}


async def reflect(play: Play, state: DramaState) -> dict[str, Any]:
    """The node where the director looks back on the scene and updates its beats."""
    recent = [
        t["public"]
        for t in state.get("transcript", [])
        if t.get("public") and t.get("scene") == state["scene"]
    ]
    try:
        notes = await play.director.reflect(
            scene=play.scene_label(state), beats=state["beats"], recent=recent
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


async def close_scene(play: Play, state: DramaState) -> dict[str, Any]:
    """The node that closes the scene with a summary entry and moves on to the next."""
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


async def end(play: Play, state: DramaState) -> dict[str, Any]:
    """The play's last node: the ending line and the final beats."""
    ending = f"The end of {play.bp.title}."
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
