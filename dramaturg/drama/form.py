"""Designing a play on a base model: it fills in a plain text form, one field at a time.

A base model (the embedded Gemma 3 270M) continues text; asked for the
designer's JSON it copies the few-shot example word for word. So on a base
model the designer shows two finished outlines of other plays
(``prompts/designer/form.j2``) and has the model continue a third, one field
per call: the title, the premise, each character (``Name: role``), each
place, each scene's one line and each scene's opening lines. Every call
stops at the end of its line, has its own seed, and extends the text of the
call before it, so llama.cpp reuses the cached prefix.

Code keeps the model on the rails. It writes each scene's subject (the
characters take turns) and each opening line's speaker, and checks every
field: one that is empty, runs on, copies an example (an 8-gram, a whole
field, or a word only the examples have, like their characters' names) or
repeats another field is sampled again with a new seed, a bounded number of
times, and then written in code from the topic. Ids, scene casts, places,
beats and goals are laid out in code too (:meth:`Form.blueprint_data`):
the model writes no JSON.

Example:
    >>> form = await FormDesigner(model=load_model("local")).draft("a chess champion suspects her coach")  # doctest: +SKIP
    >>> form.title, [name for name, _ in form.characters]                                              # doctest: +SKIP
    ('The Champion', ['Felix Amato', 'Thea', 'Ruxandra'])
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dramaturg._ids import reserved_id
from dramaturg.drama._copies import copied, words
from dramaturg.drama._topic import STOP, alike, shares, stem, topic_issue, topic_words
from dramaturg.errors import ConfigError
from dramaturg.models import ChatModel, system
from dramaturg.prompts import render

__all__ = ["Form", "FormDesigner", "FormScene", "topic_issue", "topic_words"]

# Words that open a name without being one ("Queen Elizabeth"): such a character goes by the whole name.
_HONORIFICS = frozenset(
    """king queen prince princess lord lady sir dame duke duchess count countess baron doctor dr
mr mrs ms miss captain officer father mother sister brother uncle aunt saint professor judge general""".split()
)
_NAME = re.compile(r"([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2})\s*(?::|,| -| \u2013)\s*(.+)")
_ID = re.compile(r"[a-z][a-z0-9_]*")
_TAG = re.compile(
    r"[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2}:"
)  # "ODILE:", "Hanne Holm:" at the start of a line

# What code writes when the model's samples for a field all fail. Scene lines are indexed by scene,
# so no two are alike; {a} and {b} are two different characters.
_NAMES = (
    "Ada Quill",
    "Jonah Reyes",
    "Mira Holloway",
    "Tobias Grant",
    "Nell Farrow",
    "Silas Brook",
    "Irene Vos",
    "Felix Amato",
    "Greta Lund",
    "Oren Pike",
)
_ROLES = (
    "the one it all turns on",
    "the one who stands in the way",
    "the one who sees it all",
    "the one with the most to lose",
)
_PLACES = ("the main hall", "the back room", "the street outside")
_SCENES = (
    "{a} learns what is at stake and turns to {b}",
    "{a} confronts {b} and demands the truth",
    "{a} makes a choice that {b} cannot forgive",
    "{a} and {b} face what they have done",
)
_LINES = (
    "{b}, we have to talk. Now.",
    "Not another word, {b}. Listen to me.",
    "{b}, I know what you did.",
    "It ends here, {b}.",
)


# --------------------------------------------------------------------- the examples
@dataclass(frozen=True)
class _Examples:
    fields: tuple[str, ...]  # every value the examples fill in, for the near-copy check
    marked: frozenset[str]  # words only the examples have: their names and subjects (stemmed)
    text: str  # the examples as rendered, for the 8-gram check


@functools.cache
def _examples() -> _Examples:
    text = render("designer", "form.j2", topic="").rsplit("Topic:", 1)[0]
    fields: list[str] = []
    marked: set[str] = set()
    section = ""
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if line.startswith("- "):
            item = line[2:]
            name, _, role = item.partition(": ")
            fields.append(role or item)
            if section == "Characters":
                marked.update(stem(w) for w in words(name))
            else:
                marked.update(w for w in topic_words(item) if len(w) >= 4)
        elif re.match(r"\d+\. ", line):
            fields.append(line.split(". ", 1)[1])
        elif sep and not value.strip():
            section = label
        elif sep:
            fields.append(value.strip())
            if label in ("Topic", "Title"):
                marked.update(w for w in topic_words(value) if len(w) >= 4)
    return _Examples(fields=tuple(fields), marked=frozenset(marked), text=text)


def _similar(a: str, b: str) -> bool:
    wa, wb = words(a), words(b)
    return (
        bool(wa)
        and bool(wb)
        and difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= 0.8
    )


# --------------------------------------------------------------------- the form
@dataclass(kw_only=True)
class FormScene:
    """One scene of a form: its line, who is in it (indices into the characters), where, what is said first."""

    text: str
    cast: list[int]
    place: int
    opening: list[tuple[int, str]] = field(default_factory=list)  # (speaker's index, line)


@dataclass(kw_only=True)
class Form:
    """A filled form: what the model wrote where it passed the checks, what code wrote elsewhere.

    ``fallbacks`` names the fields code wrote; ``refused`` lists each sample refused, as
    ``(field, sample, why)``.
    """

    topic: str
    title: str
    premise: str
    characters: list[tuple[str, str]]  # (name, role)
    places: list[str]
    scenes: list[FormScene]
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)

    def blueprint_data(self, *, revisions: int = 0) -> dict[str, Any]:
        """The blueprint this form describes, as data for ``Blueprint.model_validate`` (ids made here)."""
        cids = _ids([_short(n) for n, _ in self.characters], "character")
        pids = _ids([re.sub(r"^(the|a|an) ", "", p, flags=re.I) for p in self.places], "place")
        places = {
            pid: {"name": name, "exits": {}} for pid, name in zip(pids, self.places, strict=True)
        }
        for here, there in itertools.pairwise(
            pids
        ):  # the places in a row, each opening onto the next
            places[here]["exits"]["north"] = there
            places[there]["exits"]["south"] = here
        cast: dict[str, dict[str, Any]] = {}
        for i, (cid, (name, role)) in enumerate(zip(cids, self.characters, strict=True)):
            own = [s for s in self.scenes if s.cast[0] == i]
            first = next((s for s in self.scenes if i in s.cast), None)
            others = {
                cids[j]: role
                for j, (other, _) in enumerate(self.characters)
                if j != i and _mentions(role, other)
            }
            cast[cid] = {
                "name": name,
                "background": role,
                "goals": [s.text for s in own][:2] or [self.premise],
                "relationships": others,
                "location": pids[first.place if first else 0],
            }
        titles: set[str] = set()
        scenes = []
        for n, s in enumerate(self.scenes, 1):
            title = _scene_title(s.text)
            title = title if title not in titles else f"{title} ({n})"
            titles.add(title)
            scenes.append(
                {
                    "id": f"s{n}",
                    "title": title,
                    "place": pids[s.place],
                    "cast": [cids[j] for j in s.cast],
                    "beats": [{"id": "b1", "text": s.text.rstrip(".!") + "."}],
                    "opening": [{"speaker": cids[j], "text": line} for j, line in s.opening],
                }
            )
        return {
            "title": self.title[:1].upper() + self.title[1:],
            "topic": self.topic,
            "premise": self.premise,
            "revisions": revisions,
            "cast": cast,
            "stage": {"places": places},
            "scenes": scenes,
        }


def _short(name: str) -> str:
    """What a character is called in a scene line: the first name, or the whole name after an honorific."""
    first = name.split()[0]
    return name if first.lower().rstrip(".") in _HONORIFICS else first


def _ids(names: Sequence[str], kind: str) -> list[str]:
    out: list[str] = []
    for n, name in enumerate(names, 1):
        cid = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        if not _ID.fullmatch(cid) or reserved_id(cid) or cid in out:
            cid = f"{kind}_{n}"
        out.append(cid)
    return out


def _mentions(text: str, name: str) -> list[int]:
    """Where ``text`` names the character ``name`` (by any of its names but an honorific)."""
    parts = [p for p in name.split() if p.lower().rstrip(".") not in _HONORIFICS] or name.split()
    return [m.start() for p in parts for m in re.finditer(rf"\b{re.escape(p)}\b", text)]


def _scene_title(text: str) -> str:
    """The scene's line up to its first comma (if that says something), at most 10 words."""
    clause = re.split(r"[,;]", text, maxsplit=1)[0].strip()
    shown = (clause if len(clause.split()) >= 3 else text).rstrip(".!?").split()
    return (" ".join(shown[:10]) + (" ..." if len(shown) > 10 else ""))[:80]


# --------------------------------------------------------------------- filling it in
@dataclass(kw_only=True)
class FormDesigner:
    """Has a base model fill in a play's form, field by field; see the module docstring.

    Args:
        model: a base model (``model_kind(model) == "base"``); it is asked for raw text only.
        tries: samples per field before code writes the field.
        characters: how many characters when none are asked for (2 to 4).
        places: how many places (1 to 3).
        lines: opening lines per scene (1 to 3).

    Example:
        >>> form = await FormDesigner(model=load_model("local")).draft("two sisters fight over a farm")  # doctest: +SKIP
        >>> Blueprint.model_validate(form.blueprint_data())                                          # doctest: +SKIP
    """

    model: ChatModel
    name: str = "designer"
    tries: int = 3
    characters: int = 3
    places: int = 2
    lines: int = 2
    temperature: float = 0.8
    repeat_penalty: float = 1.1

    async def draft(
        self, topic: str, *, characters: Sequence[str] = (), scenes: int = 3, seed: int = 0
    ) -> Form:
        """One filled form for ``topic``; ``characters`` are names the cast must have, in order.

        Raises:
            ConfigError: fewer than 2 characters or 1 scene, or more than 3 places or lines.
        """
        if (
            self.characters < 2
            or scenes < 1
            or not 1 <= self.places <= 3
            or not 1 <= self.lines <= 3
        ):
            raise ConfigError(
                "a form needs characters >= 2, scenes >= 1, places and lines from 1 to 3 "
                f"(got {self.characters}, {scenes}, {self.places} and {self.lines})"
            )
        characters = list(dict.fromkeys(c.strip() for c in characters if c.strip()))
        sheet = _Sheet(self, topic, seed, characters)
        title = await sheet.fill(
            "Title:", "title", tokens=20, check=_title, fallback=lambda: _fallback_title(topic)
        )
        premise = await sheet.fill(
            "Premise:",
            "premise",
            tokens=64,
            check=_premise,
            fallback=lambda: topic[:1].upper() + topic[1:].rstrip(".") + ".",
        )
        sheet.write("Characters:")
        cast: list[tuple[str, str]] = []
        for i in range(max(self.characters, len(characters))):
            cast.append(
                await sheet.character(i, characters[i] if i < len(characters) else None, cast)
            )
        sheet.write("Places:")
        places: list[str] = []
        for i in range(self.places):
            places.append(
                await sheet.fill(
                    "-",
                    f"place {i + 1}",
                    tokens=16,
                    check=_place,
                    fallback=lambda: next(p for p in _PLACES if p not in places),
                )
            )
        sheet.write("Scenes:")
        plot: list[FormScene] = []
        for i in range(scenes):
            scene = await sheet.scene(i, cast, places)
            if any(
                s.text == scene.text for s in plot
            ):  # a written line can meet a fallback: keep scenes apart
                scene.text += f" ({i + 1})"
            plot.append(scene)
        for i, scene in enumerate(plot):
            sheet.write(f"Scene {i + 1} opens:")
            for k in range(self.lines):
                who = scene.cast[k % len(scene.cast)]
                absent = [name for j, (name, _) in enumerate(cast) if j not in scene.cast]
                line = await sheet.fill(
                    f"{_short(cast[who][0]).upper()}:",
                    f"scene {i + 1} line {k + 1}",
                    tokens=40,
                    check=functools.partial(_line, speaker=cast[who][0], absent=absent),
                    fallback=None,
                )
                if line is not None:
                    scene.opening.append((who, line))
            if not scene.opening:  # every sample failed: the scene opens on a line written here
                other = _short(cast[scene.cast[1]][0])
                scene.opening.append((scene.cast[0], _LINES[i % len(_LINES)].format(b=other)))
                sheet.fallbacks.append(f"scene {i + 1} opening")
        return Form(
            topic=topic,
            title=title,
            premise=premise,
            characters=cast,
            places=places,
            scenes=plot,
            refused=sheet.refused,
            fallbacks=sheet.fallbacks,
        )


class _Sheet:
    """The form's text so far, and the checks every field passes."""

    def __init__(
        self, designer: FormDesigner, topic: str, seed: int, characters: Sequence[str]
    ) -> None:
        self.designer, self.topic, self.seed = designer, topic, seed
        self.text = render("designer", "form.j2", topic=topic)
        # Words of the topic and of the names asked for are never an example's words, even if an example has them.
        self.stems = topic_words(" ".join([topic, *characters]))
        self.values: list[str] = [
            topic
        ]  # a field that repeats the topic word for word is a lazy one
        self.fields = 0  # fields filled or left out, so every field samples with its own seeds
        self.refused: list[tuple[str, str, str]] = []
        self.fallbacks: list[str] = []

    def write(self, line: str) -> None:
        self.text += line + "\n"

    async def fill(
        self,
        label: str,
        what: str,
        *,
        tokens: int,
        check: Callable[[str], str | None],
        fallback: Callable[[], str] | None,
        lead: str = "",
        fix: Callable[[str], str] | None = None,
    ) -> str | None:
        """The value of one field: sampled until it passes, else ``fallback()`` (``None``: leave it out).

        ``lead``: the field's first words, written by code; ``fix``: mends a sample before the checks.
        Each retry samples a little hotter, since a new seed alone often brings back the same words.
        """
        prompt = f"{self.text}{label}{' ' + lead if lead else ''}"
        self.fields += 1
        for attempt in range(self.designer.tries):
            done = await self.designer.model.complete(
                [system(prompt)],
                raw=True,
                max_tokens=tokens,
                temperature=self.designer.temperature + 0.15 * attempt,
                repeat_penalty=self.designer.repeat_penalty,
                stop=["\n"],
                caller=f"{self.designer.name}:form",
                seed=self.seed * 100_003 + self.fields * 101 + attempt,
            )
            # "Ruxandra" + "'s daughter ...": the sample says where its first word starts.
            joined = (
                lead + done.text
                if not lead or re.match(r"[\s',.;:!?]", done.text)
                else f"{lead} {done.text}"
            )
            value = " ".join(joined.split()).strip(" \"'-")
            if fix is not None:
                value = fix(value)
            if done.finish_reason == "length":
                why = "runs on"
            else:
                why = check(value) if value else "empty"
            if why is None:
                why = self.problem(value)
            if why is None:
                break
            self.refused.append((what, value, why))
        else:
            if fallback is None:
                return None
            value = fallback()
            self.fallbacks.append(what)
        self.write(f"{label} {value}")
        self.values.append(value)
        return value

    def problem(self, value: str) -> str | None:
        """Why a well-formed value is refused: it is no text, copies an example or repeats another field."""
        if not re.search(r"[^\W\d_]{2}", value) or re.search(r"[{}\[\]<>|#*_=\\]", value):
            return "not plain words"  # "🎭", "1. 2. 3.", JSON, markup
        ex = _examples()
        if copied(value, extra=[ex.text]):
            return "copies 8 words of a prompt"
        own = topic_words(value)
        if any(w in ex.marked and not any(alike(w, s) for s in self.stems) for w in own):
            return "uses a word only the examples have"
        if any(_similar(value, f) for f in ex.fields):
            return "copies an example field"
        if any(_similar(value, v) for v in self.values):
            return "repeats another field"
        return None

    def person(self, name: str) -> bool:
        """Whether ``name`` names a person: "Queen", "The Champion", "Coach" (in a play about a coach) do not."""
        return any(
            w[:1].isupper()
            and w.lower() not in _HONORIFICS
            and w.lower() not in STOP
            and not any(alike(stem(w.lower()), s) for s in self.stems)
            for w in name.split()
        )

    async def character(
        self, i: int, wanted: str | None, cast: list[tuple[str, str]]
    ) -> tuple[str, str]:
        taken = {_short(n).casefold() for n, _ in cast}

        def parse(value: str) -> tuple[str, str] | None:
            if wanted:  # the name is written here; the model writes the role
                return wanted, value[len(wanted) + 1 :].strip()
            match = _NAME.fullmatch(value)
            return (match[1], match[2]) if match else None

        def check(value: str) -> str | None:
            parsed = parse(value)
            if parsed is None:
                return "not 'Name: role'"
            if _short(parsed[0]).casefold() in taken:
                return "a name already taken"
            if not wanted and not self.person(parsed[0]):
                return "not a person's name"
            return "no role" if len(parsed[1].split()) < 2 else None

        def fresh() -> str:
            start = sum(self.topic.encode()) % len(_NAMES)  # plays on other topics get other names
            names = _NAMES[start:] + _NAMES[:start]
            return next(
                n
                for n in names
                if _short(n).casefold() not in taken and not _mentions(self.topic, n)
            )

        def salvage(value: str) -> str:
            # "The baker: a young boy" names a part, not a person: the part stays, as the role of a named one.
            part, sep, role = value.partition(":")
            if (
                wanted
                or not sep
                or not role.strip(" ,")
                or len(part.split()) > 4
                or self.person(part)
            ):
                return value
            return f"{fresh()}: {part.strip().lower()}, {role.strip(' ,')}"

        def fallback() -> str:
            return f"{wanted or fresh()}: {_ROLES[i % len(_ROLES)]}"

        value = await self.fill(
            "-",
            f"character {i + 1}",
            tokens=32,
            check=check,
            fallback=fallback,
            lead=f"{wanted}:" if wanted else "",
            fix=salvage,
        )
        assert value is not None  # a fallback is given
        return parse(value) or (wanted or value, value)

    async def scene(self, i: int, cast: list[tuple[str, str]], places: list[str]) -> FormScene:
        subject = i % len(cast)
        lead = _short(cast[subject][0])

        def check(value: str) -> str | None:
            rest = value[len(lead) :]
            if ":" in rest or sum(any(c.isalpha() for c in w) for w in rest.split()) < 3:
                return "not a one-line scene"
            named = sorted(
                (pos, j) for j, (name, _) in enumerate(cast) for pos in _mentions(rest, name)
            )
            if named and named[0][1] == subject:  # "Mara asks Mara to hide him"
                return f"{lead} is both subject and object"
            return None

        def fallback() -> str:
            other = _short(cast[(subject + 1) % len(cast)][0])
            return _SCENES[i % len(_SCENES)].format(a=lead, b=other) + (
                f" ({i + 1})" if i >= len(_SCENES) else ""
            )

        text = await self.fill(
            f"{i + 1}.",
            f"scene {i + 1}",
            tokens=40,
            check=check,
            fallback=fallback,
            lead=lead,
            fix=_first_sentence,
        )
        assert text is not None
        rest = text[len(lead) :]
        named = sorted(
            (pos, j) for j, (name, _) in enumerate(cast) for pos in _mentions(rest, name)
        )
        members = list(dict.fromkeys([subject, *(j for _, j in named if j != subject)]))
        if len(members) < 2 and len(cast) > 1:  # nobody else named: the next character answers
            members.append((subject + 1) % len(cast))
        place = next(
            (k for k, p in enumerate(places) if shares(topic_words(p), rest)), i % len(places)
        )
        return FormScene(text=text, cast=members, place=place)


def _first_sentence(text: str) -> str:
    """A scene is one line: "Felix waits. Thea comes in." keeps "Felix waits." ("Mr. Lee" is one word)."""
    return re.split(r"(?<=[a-z]{2}[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]


def _fallback_title(topic: str) -> str:
    last = [w.removesuffix("'s") for w in words(topic) if w not in STOP and len(w) >= 3][-1:]
    return f"The {last[0].capitalize()}" if last else topic[:80]


def _title(value: str) -> str | None:
    return "not a title" if ":" in value or len(value.split()) > 8 or len(value) > 80 else None


def _premise(value: str) -> str | None:
    if _TAG.match(value):  # "Hanne Holm: the younger sister": a character, not a premise
        return "not a premise"
    return "not a premise" if len(value.split()) < 5 or len(value) > 400 else None


def _place(value: str) -> str | None:
    if ":" in value or not topic_words(value):  # "The The The" names no place
        return "not a place"
    return "not a place" if len(value.split()) > 8 or len(value) > 60 else None


def _line(value: str, *, speaker: str, absent: Sequence[str]) -> str | None:
    if _TAG.match(value):  # another speaker's tag: the model wrote a dialogue
        return "not one line"
    if _mentions(value, speaker):  # "PETER: I'm not sorry, Peter."
        return "the speaker talks to themself"
    if any(
        _mentions(value, name) for name in absent
    ):  # "You are a good cook, Simon." with Simon elsewhere
        return "talks to someone not in the scene"
    return "not one line" if len(value.split()) < 2 or len(value) > 300 else None
