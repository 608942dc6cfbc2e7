"""Drama metrics, computed from a session's transcript (the drama graph's trace).

* beat completion: beats reached / beats planned, over every scene played;
* knowledge leaks: a planted secret mentioned by a character that neither
  knew it from the blueprint nor witnessed an event revealing it before;
* prop-state errors: actions on props the world refused;
* actor-initiated share: turns where a character acted or moved on its own,
  out of all agent turns (the rest is speech and silence);
* repetition: lines a character had already said (the same words, or nearly);
* what a spectator gets: the share of turns that are spoken lines or visible
  stage directions (not waits, not failures), lines said before in the play
  (exactly, or nearly: half their word trigrams shared), turns that copy an
  8-gram of a prompt file (a small model parroting its examples), the topic's
  words found in the title, premise and cast, and seconds per agent turn;
  each per scene too;
* model calls per step, when the caller knows the count.

Example:
    >>> m = drama_metrics(final_state["transcript"], blueprint, model_calls=usage.calls)  # doctest: +SKIP
    >>> m.beat_completion, m.knowledge_leaks                                         # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from dramaturg.drama._copies import copied
from dramaturg.drama._topic import play_texts, shared_words

__all__ = ["DramaMetrics", "drama_metrics", "mentions", "topic_words"]

_STOP = frozenset(
    """a an and are as at be been but by for from had has have he her his i in is it its
of on or she that the their them they this to was were with you your not no him who what when which
will would there then than into about after before over under""".split()
)


class DramaMetrics(BaseModel):
    steps: int
    scenes: int
    beats_planned: int
    beats_done: int
    beat_completion: float
    knowledge_leaks: int
    leaks: list[dict[str, Any]]
    prop_state_errors: int
    refused_actions: int
    actor_initiated_share: float
    repetition: float
    model_calls: int | None
    model_calls_per_step: float | None
    shown_share: float = 0.0
    exact_repeats: int = 0
    near_repeats: int = 0
    prompt_copies: int = 0
    copies: list[dict[str, Any]] = Field(default_factory=list)
    topic_words: list[str] = Field(default_factory=list)
    seconds_per_turn: float | None = None
    per_scene: list[dict[str, Any]] = Field(default_factory=list)


class _Spectator:
    """Counts what a spectator sees, over any group of turns (a scene, the play)."""

    def __init__(self) -> None:
        self.turns = self.shown = self.exact = self.near = 0
        self.copies: list[dict[str, Any]] = []
        self.seconds: list[float] = []

    def add(self, t: dict, earlier: list[str]) -> None:
        self.turns += 1
        if t.get("events") and not (t.get("error") and not t.get("line")):
            self.shown += 1
        line = " ".join(re.findall(r"[a-z0-9']+", (t.get("line") or "").lower()))
        if line and t.get("by") != "player":
            if line in earlier:
                self.exact += 1
            elif any(_near(line, e, share=0.5) for e in earlier):
                self.near += 1
        if t.get("by") == "agent":
            for gram in copied(t.get("public") or ""):
                self.copies.append({"step": t.get("step"), "actor": t.get("actor"), "copied": gram})
            if isinstance(t.get("seconds"), int | float):
                self.seconds.append(float(t["seconds"]))

    def summary(self) -> dict[str, Any]:
        return {
            "turns": self.turns,
            "shown_share": self.shown / self.turns if self.turns else 0.0,
            "exact_repeats": self.exact,
            "near_repeats": self.near,
            "prompt_copies": len(self.copies),
            "seconds_per_turn": sum(self.seconds) / len(self.seconds) if self.seconds else None,
        }


def topic_words(blueprint: Any) -> list[str]:
    """The topic's words (stemmed) that the title, premise or cast use: the reviewer's own check, as a figure."""
    return shared_words(blueprint.topic or "", play_texts(blueprint))


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) > 2 and w not in _STOP}


def mentions(line: str, secret: str, *, share: float = 0.6) -> bool:
    """Whether ``line`` states ``secret``: most of the secret's content words appear in it."""
    key = _words(secret)
    if not key:
        return False
    hit = len(key & _words(line))
    return hit >= max(2, round(share * len(key))) if len(key) > 1 else hit == 1


def _near(a: str, b: str, *, share: float = 0.8) -> bool:
    if a == b:
        return True
    ta, tb = _trigrams(a), _trigrams(b)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= share


def _trigrams(text: str) -> set[tuple[str, ...]]:
    w = re.findall(r"[a-z']+", text.lower())
    return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}


def drama_metrics(
    transcript: Sequence[dict], blueprint: Any, *, model_calls: int | None = None
) -> DramaMetrics:
    """Metrics of one session from its transcript and the blueprint it played."""
    turns = [t for t in transcript if t.get("kind") == "turn"]
    steps = len(turns)
    # Beats: the last record of each scene (scene_end, or the end for a scene cut short).
    beats_by_scene: dict[int, list[dict]] = {}
    scene = 0
    for t in transcript:
        if t.get("kind") == "scene":
            scene = t["scene"]
        if t.get("kind") in {"scene_end", "end"} and t.get("beats") is not None:
            beats_by_scene[t.get("scene", scene)] = t["beats"]
    planned = sum(len(b) for b in beats_by_scene.values())
    done = sum(1 for b in beats_by_scene.values() for x in b if x.get("status") == "done")

    secrets = [(cid, s) for cid, c in blueprint.cast.items() for s in c.secrets]
    knowers: dict[str, set[str]] = {s.id: {owner, *s.known_by} for owner, s in secrets}
    leaks: list[dict[str, Any]] = []
    for t in transcript:
        if t.get("kind") != "turn":
            continue
        who, line = t.get("actor"), " ".join(x for x in (t.get("line"), t.get("input")) if x)
        if who and line:
            for _, s in secrets:
                if who not in knowers[s.id] and mentions(line, s.text):
                    leaks.append(
                        {"step": t.get("step"), "actor": who, "secret": s.id, "line": line}
                    )
        for e in t.get(
            "events", ()
        ):  # whoever hears the secret told learns it (not the teller: a leak stays one)
            for _, s in secrets:
                if mentions(e["text"], s.text):
                    knowers[s.id] |= set(e.get("witnesses", ())) - (
                        {who} if who not in knowers[s.id] else set()
                    )

    agent_turns = [t for t in turns if t.get("by") == "agent"]
    initiated = sum(1 for t in agent_turns if t.get("action") in {"act", "move"})
    refused = [t for t in turns if t.get("error")]
    prop_errors = sum(1 for t in refused if t.get("action") == "act")
    said: dict[str, list[str]] = {}
    repeats = lines = 0
    for t in turns:
        line = t.get("line") or ""
        if t.get("action") != "speak" or not line.strip():
            continue
        lines += 1
        earlier = said.setdefault(t.get("actor") or "", [])
        norm = " ".join(re.findall(r"[a-z']+", line.lower()))
        if any(_near(norm, e) for e in earlier):
            repeats += 1
        earlier.append(norm)
    play, scenes_seen = _Spectator(), {}
    earlier: list[str] = []
    for t in turns:
        play.add(t, earlier)
        scenes_seen.setdefault(t.get("scene", 0), _Spectator()).add(t, earlier)
        if line := " ".join(re.findall(r"[a-z0-9']+", (t.get("line") or "").lower())):
            earlier.append(line)
    whole = play.summary()
    return DramaMetrics(
        shown_share=whole["shown_share"],
        exact_repeats=whole["exact_repeats"],
        near_repeats=whole["near_repeats"],
        prompt_copies=whole["prompt_copies"],
        copies=play.copies,
        seconds_per_turn=whole["seconds_per_turn"],
        topic_words=topic_words(blueprint),
        per_scene=[{"scene": k, **v.summary()} for k, v in sorted(scenes_seen.items())],
        steps=steps,
        scenes=len(beats_by_scene),
        beats_planned=planned,
        beats_done=done,
        beat_completion=done / planned if planned else 0.0,
        knowledge_leaks=len(leaks),
        leaks=leaks,
        prop_state_errors=prop_errors,
        refused_actions=len(refused),
        actor_initiated_share=initiated / len(agent_turns) if agent_turns else 0.0,
        repetition=repeats / lines if lines else 0.0,
        model_calls=model_calls,
        model_calls_per_step=model_calls / steps if model_calls is not None and steps else None,
    )
