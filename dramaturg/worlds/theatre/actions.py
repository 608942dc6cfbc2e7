"""Theatre actions: typed records, and the text grammar that parses into them.

Grammar (case-insensitive; names are ids or display names; quotes optional
around the last argument of speech)::

    [<character>:] say "line"                 speak to everyone present
    [<character>:] say to all "line"
    [<character>:] say [to] <character> "line" address one; everyone present hears
    [<character>:] whisper [to] <character> "line"   only the two of them hear
    [<character>:] aside "line"               the audience hears; no character does
    [<character>:] move|go [to] <exit or location>
    [<character>:] take <prop>
    [<character>:] give <prop> to <character>
    [<character>:] open <prop> | close <prop>
    [<character>:] read <prop>
    [<character>:] use <prop>
    [<character>:] <affordance> <prop>        a prop's custom verb, e.g. "poison cup"
    [<character>:] examine <prop or character> | look | inventory | wait
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ActionParseError",
    "Close",
    "Custom",
    "Examine",
    "Give",
    "Inventory",
    "Look",
    "Move",
    "Open",
    "Read",
    "Say",
    "StageAction",
    "Take",
    "Use",
    "Wait",
    "parse_action",
]


class ActionParseError(ValueError):
    """Text that is not a theatre command; ``str(exc)`` is the feedback for the actor."""


@dataclass(kw_only=True, frozen=True)
class _Action:
    actor: str | None = None  # None: whoever's turn it is


@dataclass(kw_only=True, frozen=True)
class Say(_Action):
    """Speech. ``to=None`` addresses everyone; ``mode`` picks who hears it."""

    text: str
    to: str | None = None
    mode: Literal["say", "whisper", "aside"] = "say"


@dataclass(kw_only=True, frozen=True)
class Move(_Action):
    to: str  # an exit direction or a location id/name


@dataclass(kw_only=True, frozen=True)
class Take(_Action):
    prop: str


@dataclass(kw_only=True, frozen=True)
class Give(_Action):
    prop: str
    to: str


@dataclass(kw_only=True, frozen=True)
class Open(_Action):
    prop: str


@dataclass(kw_only=True, frozen=True)
class Close(_Action):
    prop: str


@dataclass(kw_only=True, frozen=True)
class Read(_Action):
    prop: str


@dataclass(kw_only=True, frozen=True)
class Use(_Action):
    prop: str


@dataclass(kw_only=True, frozen=True)
class Custom(_Action):
    """A prop's own affordance (``poison cup``)."""

    verb: str
    prop: str


@dataclass(kw_only=True, frozen=True)
class Examine(_Action):
    target: str


@dataclass(kw_only=True, frozen=True)
class Look(_Action):
    pass


@dataclass(kw_only=True, frozen=True)
class Inventory(_Action):
    pass


@dataclass(kw_only=True, frozen=True)
class Wait(_Action):
    pass


StageAction = (
    Say
    | Move
    | Take
    | Give
    | Open
    | Close
    | Read
    | Use
    | Custom
    | Examine
    | Look
    | Inventory
    | Wait
)

_PREFIX = re.compile(r"^\s*([A-Za-z][\w ]{0,40}?)\s*:\s*(.*)$", re.S)
_HELP = (
    'say "line" | say <who> "line" | whisper <who> "line" | aside "line" | move <exit> | '
    "take <prop> | give <prop> to <who> | open/close/read/use <prop> | <verb> <prop> | "
    "examine <thing> | look | inventory | wait"
)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: fall back to whitespace
        return text.replace('"', " ").split()


# The slot of a speech template in the admissible commands (``say "<line>"``).
_PLACEHOLDER = re.compile(r"<line>|^<[a-z][a-z _-]{0,30}>$", re.I)
# mode -> (what the words are for, a command that writes them)
_SPEAKING = {
    "say": ("say", 'say "Who is there?"'),
    "whisper": ("whisper", 'whisper <character> "Who is there?"'),
    "aside": ("say aside", 'aside "Who is there?"'),
}


def _speech(rest: str, mode: str = "say") -> str:
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        rest = rest[1:-1]
    elif rest in {'"', "'"}:
        rest = ""
    if not rest.strip():
        raise ActionParseError('say what? Put the line in quotes: say "..."')
    placeholder = _PLACEHOLDER.search(rest.strip())
    if placeholder:  # a template played as it is listed
        doing, example = _SPEAKING[mode]
        raise ActionParseError(
            f"write the words to {doing} in place of {placeholder.group(0)}, e.g. {example}"
        )
    return rest.strip()


def parse_action(text: str, *, speakers: set[str] | None = None) -> StageAction:
    """Parse a text command into a typed action.

    Args:
        text: the command, e.g. ``'say Ophelia "hello"'`` or ``'hamlet: take letter'``.
        speakers: lower-cased character ids and names, to tell ``say Ophelia hi``
            (addressed) from ``say hi`` (to all).

    Raises:
        ActionParseError: with a short explanation and the grammar.
    """
    if not isinstance(text, str) or not text.strip():
        raise ActionParseError(f"empty command. Commands: {_HELP}")
    actor = None
    m = _PREFIX.match(text)
    if (
        m
        and m.group(1).strip().lower() not in {"say", "whisper", "aside"}
        and '"' not in m.group(1)
    ):
        actor, text = m.group(1).strip(), m.group(2)
    words = text.strip().split(None, 1)
    if not words:
        raise ActionParseError(f"empty command. Commands: {_HELP}")
    verb = words[0].lower()
    rest = words[1] if len(words) > 1 else ""
    speakers = speakers or set()

    if verb in {"say", "whisper", "tell"}:
        mode: Literal["say", "whisper"] = "whisper" if verb == "whisper" else "say"
        to = None
        low = rest.lower()
        if low.startswith("to all "):
            rest = rest[7:]
        else:
            if low.startswith("to "):
                rest = rest[3:]
            # Longest speaker name that prefixes the rest (names may have spaces).
            for name in sorted(speakers, key=len, reverse=True):
                if rest.lower().startswith(name + " ") or rest.lower().startswith(name + ","):
                    to, rest = rest[: len(name)], rest[len(name) + 1 :]
                    break
            else:
                if mode == "whisper":
                    raise ActionParseError('whisper to whom? Use: whisper <character> "line"')
        return Say(actor=actor, text=_speech(rest.lstrip(" ,:"), mode), to=to, mode=mode)
    if verb == "aside":
        return Say(actor=actor, text=_speech(rest, "aside"), mode="aside")
    if verb in {"look", "l"} and not rest:
        return Look(actor=actor)
    if verb in {"inventory", "i", "inv"} and not rest:
        return Inventory(actor=actor)
    if verb in {"wait", "pass"} and not rest:
        return Wait(actor=actor)
    args = " ".join(_split(rest))
    if not args:
        raise ActionParseError(f"{verb} what? Commands: {_HELP}")
    if verb in {"move", "go", "walk", "enter"}:
        return Move(actor=actor, to=re.sub(r"^to\s+", "", args, flags=re.I))
    if verb in {"take", "get", "pick"}:
        return Take(actor=actor, prop=re.sub(r"^up\s+", "", args, flags=re.I))
    if verb == "give":
        m2 = re.match(r"^(.+?)\s+to\s+(.+)$", args, re.I)
        if not m2:
            raise ActionParseError("give what to whom? Use: give <prop> to <character>")
        return Give(actor=actor, prop=m2.group(1), to=m2.group(2))
    if verb == "open":
        return Open(actor=actor, prop=args)
    if verb in {"close", "shut"}:
        return Close(actor=actor, prop=args)
    if verb == "read":
        return Read(actor=actor, prop=args)
    if verb == "use":
        return Use(actor=actor, prop=args)
    if verb in {"examine", "x", "inspect", "look at"}:
        return Examine(actor=actor, target=args)
    if verb == "look" and args.lower().startswith("at "):
        return Examine(actor=actor, target=args[3:])
    if re.fullmatch(r"[a-z][a-z_]*", verb):
        return Custom(actor=actor, verb=verb, prop=args)
    raise ActionParseError(f"I don't understand {text.strip()[:60]!r}. Commands: {_HELP}")
