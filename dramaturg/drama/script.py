"""Actors for base models: a play script, continued one line at a time.

A base model (the embedded Gemma 3 270M) cannot fill an actor's JSON
decision, but it has read a great many plays. So on a base model the scene
is written as a script::

    ELSINORE, IN THREE SCENES
    The old king is dead. His brother Claudius wears the crown. ...

    CHARACTERS
    HAMLET, the prince, dressed in black; grieving and suspicious.
    CLAUDIUS, the king; watchful.

    SCENE 1. The feast in the hall. Great Hall: torches gutter along the stone walls.

    CLAUDIUS. Come, Hamlet, my son. Cast off that black and sit beside your king.
    HAMLET. A little more than kin, and less than kind.
    [Claudius takes the cup.]
    CLAUDIUS.

and the model writes the rest of the last line. What the model does badly
is done in code (:func:`pick_speaker`, :func:`beat_action`):

* the speaker: among the characters present, never the last one, first the
  one just addressed by name, then the one the live beat names, then whoever
  spoke least recently;
* actions: a beat that names a prop ("Claudius offers Hamlet the cup") is
  played as the stage action that fits it (``take cup``), printed as a stage
  direction;
* loops: each call has its own seed and a repeat penalty, and a line that
  overlaps one of the last few lines (half its words or more), copies a
  prompt file or is empty is sampled again.

The script keeps one growing prefix per scene, so llama.cpp reuses its KV
cache and each line costs only its own tokens. Secrets never enter the
shared script: everyone present hears every line.

Example:
    >>> actor = ScriptActor(model=load_model("local"))              # doctest: +SKIP
    >>> graph = drama(blueprint, actor=actor, tool_agent=ToolAgent(model=m))  # doctest: +SKIP
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dramaturg.drama._copies import copied
from dramaturg.errors import ModelError
from dramaturg.models import ChatModel, system

__all__ = [
    "ScriptActor",
    "ScriptLine",
    "beat_action",
    "beat_subject",
    "clean_line",
    "overlap",
    "pick_speaker",
    "script_heading",
]

_WORD = re.compile(r"[a-z']+")
_SMALL = frozenset(
    """a an and are as at be but by for from has have he her him his i in is it its me my no not
of on or our she so that the their them they this to was we were what with you your""".split()
)
# Verbs of stage actions that show nothing worth a stage direction (or that the script shows already).
_QUIET = ("look", "inventory", "wait", "examine", "say ", "whisper ", "aside ", "read ")


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """A line the model wrote, and how it got there."""

    text: str
    tries: int
    rejected: tuple[str, ...] = ()  # earlier samples and why: "overlap: ...", "empty", "copy: ..."


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _SMALL}


def overlap(a: str, b: str, *, ignore: frozenset[str] = frozenset()) -> float:
    """The share of ``a``'s words that are also in ``b``.

    Content words are compared when ``a`` has two or more (small words like
    "you are a" would make every pair of short lines alike), leaving out
    ``ignore`` (the characters' names, which every line of a scene shares);
    all words otherwise.
    """
    ca = [w for w in _WORD.findall(a.lower()) if len(w) > 2 and w not in _SMALL and w not in ignore]
    if len(ca) >= 2:
        cb = content_words(b)
        return sum(w in cb for w in ca) / len(ca)
    wa, wb = _WORD.findall(a.lower()), set(_WORD.findall(b.lower()))
    return sum(w in wb for w in wa) / len(wa) if wa else 1.0


def clean_line(text: str, names: Sequence[str]) -> str:
    """The spoken words of a raw continuation: one line, no speaker labels, no stage directions.

    Cuts at the next speaker's label (``HORATIO.`` or ``Horatio:``), drops
    bracketed directions and stray quotes, keeps at most three sentences.
    """
    line = text.replace("\r", " ").split("\n", 1)[0]
    # Control and format characters (a terminal escape, a zero-width joiner) never reach a stage or a screen.
    line = re.sub(
        r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", line
    )  # a whole terminal escape sequence, not just its ESC
    line = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in line)
    labels = "|".join(
        re.escape(n)
        for n in sorted({*names, *(n.upper() for n in names)}, key=len, reverse=True)
        if n
    )
    if labels:
        line = re.sub(rf"^\s*(?:{labels})\s*[.:]\s*", "", line)
        cut = re.search(rf"\s(?:{labels})\s*[.:]\s", line)
        if cut:
            line = line[: cut.start()]
    line = re.sub(r"\[[^\]]*\]?|\([^)]*\)?", " ", line)
    line = line.replace('"', "").replace("“", "").replace("”", "")
    line = " ".join(line.split()).strip(" -*_#")
    sentences = re.findall(r"[^.!?]+[.!?]*", line)
    if len(sentences) > 3:
        line = "".join(sentences[:3]).strip()
    return line[:300].strip()


def script_heading(blueprint: Any, scene_index: int, *, place_name: str, place_text: str) -> str:
    """The top of a scene's script: title, premise, the characters in it, the scene's heading.

    Only what every character may know: backgrounds and moods, never secrets or goals.
    """
    scene = blueprint.scenes[scene_index]
    lines = [blueprint.title.upper()]
    if blueprint.premise:
        lines.append(blueprint.premise.strip())
    lines += ["", "CHARACTERS"]
    for cid in scene.cast:
        member = blueprint.cast.get(cid)
        if member is None:
            continue
        about = "; ".join(
            x.strip().rstrip(".") for x in (member.background, member.emotion) if x and x.strip()
        )
        lines.append(f"{member.name.upper()}, {about}." if about else f"{member.name.upper()}.")
    where = f"{place_name}. {place_text.strip()}" if place_text.strip() else place_name
    lines += ["", f"SCENE {scene_index + 1}. {scene.title.rstrip('.')}. {where}", ""]
    return "\n".join(lines) + "\n"


def pick_speaker(
    present: Sequence[str],
    *,
    names: Mapping[str, str],
    last: str | None,
    last_text: str = "",
    beat: str | None = None,
    beat_spoken: Sequence[str] = (),
    history: Sequence[str] = (),
) -> str | None:
    """Who speaks next, chosen in code (a base model ping-pongs and loops when it chooses).

    Never ``last`` when anyone else is present. Characters left out for a
    while (never spoken in the scene, or not for twice the number of others
    present) come first, so nobody stands mute while two talk. Among those
    in line: first one the last line named, then one the live beat names who
    has not spoken on it yet, then whoever spoke least recently
    (``history``: the scene's speakers, oldest first).
    """
    choices = [c for c in present if c != last] or list(present)
    if not choices:
        return None
    since = {c: -1 for c in choices}
    for i, who in enumerate(history):
        if who in since:
            since[who] = i
    wait = 2 * max(1, len(present) - 1)
    overdue = [c for c in choices if since[c] < 0 or len(history) - since[c] > wait]
    pool = overdue if len(choices) > 1 and overdue else choices
    said = last_text.lower()
    for cid in pool:
        if re.search(rf"\b{re.escape(names.get(cid, cid).lower())}\b", said):
            return cid
    if beat:
        text = beat.lower()
        named = [
            (text.find(names.get(c, c).lower()), c) for c in pool if names.get(c, c).lower() in text
        ]
        for _, cid in sorted(named):
            if cid not in beat_spoken:
                return cid
    return min(pool, key=lambda c: (since[c], choices.index(c)))


def beat_subject(beat: str | None, names: Mapping[str, str], among: Sequence[str]) -> str | None:
    """The character a beat is about: the first of ``among`` it names ("Claudius offers Hamlet the cup")."""
    if not beat:
        return None
    text = beat.lower()
    found = [
        (m.start(), c)
        for c in among
        if (m := re.search(rf"\b{re.escape(names.get(c, c).lower())}\b", text))
    ]
    return min(found)[1] if found else None


def beat_action(
    admissible: Sequence[str],
    beat: str | None,
    *,
    names: Mapping[str, str],
    done: Sequence[str] = (),
) -> str | None:
    """The stage action that plays the live beat, if one fits: a non-speech command sharing a word with it.

    The beat must name the command's prop (or its target character); ties go
    to the command sharing most words with the beat. A command already done
    in the scene is not done again.
    """
    if not beat:
        return None
    words = content_words(beat)
    best, score = None, 0
    for command in admissible:
        if command.startswith(_QUIET) or command.startswith("move ") or command in done:
            continue
        parts = command.split()
        nouns = {p for p in parts[1:] if p != "to"}
        props = {n for n in nouns if n not in names}
        if not (props & words):
            continue  # the beat does not name this command's prop
        hit = (
            len(props & words)
            + sum(names[n].lower() in words for n in nouns - props)
            + (parts[0] in words)
        )
        if hit > score:
            best, score = command, hit
    return best


@dataclass(kw_only=True)
class ScriptActor:
    """Plays every character on a base model by continuing the scene's script.

    Args:
        model: a base model (``model_kind(model) == "base"``); an instruct
            model works too, through ``raw=True`` completions.
        temperature, repeat_penalty: sampling; a repeat penalty of about 1.3
            keeps a 270M model from saying the same words again.
        max_tokens: the most tokens of one line.
        tries: samples of one line before the least bad one is kept.
        window: lines a new line is compared with.
        max_overlap: a line sharing this share of its words with one of them is sampled again.
        min_words: a shorter line is sampled again ("I am." says little); kept if nothing better comes.
        seed: the base of every call's seed (each call gets its own).
    """

    model: ChatModel
    name: str = "actor"
    temperature: float = 0.8
    repeat_penalty: float = 1.3
    max_tokens: int = 40
    tries: int = 4
    window: int = 8
    max_overlap: float = 0.5
    min_words: int = 4
    seed: int = 0
    extra_avoid: Sequence[str] = field(default_factory=tuple)

    def seed_for(self, *parts: Any) -> int:
        return (self.seed * 1_000_003 + zlib.crc32(repr(parts).encode())) & 0x7FFFFFFF

    async def line(
        self,
        script: str,
        speaker: str,
        *,
        names: Sequence[str],
        recent: Sequence[str],
        key: Any = 0,
    ) -> ScriptLine:
        """The next line for ``speaker`` (an upper-case label) after ``script``.

        ``recent``: earlier lines of the scene (without labels), compared with
        the new one; ``key``: what makes this call's seeds its own (the step).

        Raises:
            ModelError: the model failed on every try (the graph makes that a wait).
        """
        prompt = f"{script}{speaker}."
        rejected: list[str] = []
        best: tuple[float, str] | None = None
        error: ModelError | None = None
        window = [r for r in recent if r][-self.window :]
        ignore = frozenset(w for n in names for w in _WORD.findall(n.lower()))
        for attempt in range(self.tries):
            try:
                out = await self.model.complete(
                    [system(prompt)],
                    raw=True,
                    stop=["\n"],
                    max_tokens=self.max_tokens,
                    temperature=self.temperature + 0.1 * attempt,
                    repeat_penalty=self.repeat_penalty,
                    seed=self.seed_for(key, speaker, attempt),
                    caller=f"{self.name}:{speaker.lower()}",
                )
            except ModelError as exc:
                error = exc
                continue
            text = clean_line(out.text, names)
            if not re.search(
                r"[.!?…'\"”]$", text
            ):  # cut off mid-sentence: keep the sentences it finished
                whole = re.match(r".*[.!?]", text)
                text = whole.group(0) if whole else ("" if out.finish_reason == "length" else text)
            why = self._fault(text, window, recent, ignore)
            if why is None:
                return ScriptLine(text=text, tries=attempt + 1, rejected=tuple(rejected))
            rejected.append(f"{why}: {text[:80]}")
            worst = (
                max((overlap(text, r, ignore=ignore) for r in window), default=0.0) if text else 2.0
            )
            if why in ("short", "empty") or why.startswith("copy"):
                worst += 0.5 if why == "short" else 1.0
            if best is None or worst < best[0]:
                best = (worst, text)
        if best is not None and best[1] and best[0] < 0.9:
            return ScriptLine(text=best[1], tries=self.tries, rejected=tuple(rejected))
        raise error or ModelError(
            f"no usable line for {speaker} in {self.tries} samples: {rejected[-1:]}"
        )

    def _fault(
        self,
        text: str,
        window: Sequence[str],
        every: Sequence[str],
        ignore: frozenset[str] = frozenset(),
    ) -> str | None:
        n = len(_WORD.findall(text.lower()))
        if n < 2:
            return "empty"
        if n < self.min_words:
            return "short"
        if any(text.lower() == r.lower() for r in every):
            return "repeat"
        for r in window:
            if overlap(text, r, ignore=ignore) >= self.max_overlap:
                return "overlap"
        if copies := copied(text, extra=self.extra_avoid):
            return f"copy of {copies[0]!r}"
        return None
