"""Topic words: does a play's text speak of its topic? A check in code, for every designer.

A small model that cannot do a task retells its few-shot example instead
(a lighthouse play for "a royal court quarrels over a letter"). The
reviewer catches that without asking a model: the title, premise and cast
must share a content word with the topic, compared by rough stems so
"farmer" matches "farm" and "quarrels" matches "quarrel".

Example:
    >>> topic_words("two sisters fight over their father's farm")
    ['sister', 'fight', 'father', 'farm']
    >>> topic_issue("a royal court quarrels over a letter", ["The Keeper's Guest"]) is None
    False
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dramaturg.drama._copies import words

__all__ = [
    "STOP",
    "alike",
    "play_texts",
    "shared_words",
    "shares",
    "stem",
    "topic_issue",
    "topic_words",
]

STOP = frozenset(
    """
a an the and or but if of to in on at by for with from into onto over under about after before behind between
through during against among around as than then that this these those there here who whom whose which what when
where why how is are was were be been being am do does did has have had having will would shall should can could may
might must not no nor so too very just only also even still yet all any both each every few more most other some such
own same it its he him his she her hers they them their theirs we us our you your i me my mine one two three four
five six seven eight nine ten first second third up down out off again once while until because whether
""".split()
)


def stem(word: str) -> str:
    """A rough stem: no possessive, no plural or -ing/-ed ending where 4 letters stay."""
    word = word.removesuffix("'s").rstrip("'")
    for suffix in ("ing", "ed", "es", "s"):
        if suffix == "s" and word.endswith("ss"):  # "chess", "princess": no plural to take off
            break
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def alike(a: str, b: str) -> bool:
    """Two stems name the same word: equal, or the shorter (4+ letters) begins the longer ("farm", "farmer")."""
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short))


def topic_words(text: str) -> list[str]:
    """The content words of ``text``, stemmed, in order, once each (no "a", "over", "their", numbers)."""
    out = (stem(w) for w in words(text))
    return list(dict.fromkeys(w for w in out if len(w) >= 3 and w not in STOP and not w.isdigit()))


def shares(stems: Iterable[str], text: str) -> bool:
    """Whether ``text`` has a word like one of ``stems``."""
    mine = topic_words(text)
    return any(alike(s, w) for s in stems for w in mine)


def shared_words(topic: str, texts: Iterable[str]) -> list[str]:
    """The topic's words (stemmed) that ``texts`` use, or words like them, in the topic's order."""
    mine = topic_words(" ".join(texts))
    return [s for s in topic_words(topic) if any(alike(s, w) for w in mine)]


def play_texts(blueprint: Any) -> list[str]:
    """What a play says it is about: its title, premise and each character's name and background."""
    return [
        blueprint.title,
        blueprint.premise or "",
        *(f"{c.name} {c.background or ''}" for c in blueprint.cast.values()),
    ]


def topic_issue(topic: str, texts: Iterable[str]) -> str | None:
    """Why ``texts`` (a play's title, premise and cast) are off ``topic``, or ``None`` if they share a word."""
    stems = topic_words(topic)
    if not stems or shares(stems, " ".join(texts)):
        return None
    return (
        f"the title, premise and cast share no word with the topic {topic!r}: the play is about something "
        f"else. Write it about the topic and name {', '.join(stems)} (or words like them) in the premise"
    )
