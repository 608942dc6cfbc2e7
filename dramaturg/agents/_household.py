"""What an ALFWorld-style player knows from what it was shown: the places it has looked
into, what lay where, what it holds and what it heated, cooled or cleaned.

Rebuilt from the turns on every call (a pure function of the agent's view), so it
serves the tool agent's search guard (:func:`dramaturg.agents.tool_agent.search_strays`)
and the observation-only expert that labels DAgger data
(:func:`dramaturg.training.expert.alfworld_expert`) alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["INSTANCE", "Known", "kind", "known_state", "number"]

#: A thing or place with its number, as commands and observations name them (``mug 2``).
INSTANCE = re.compile(r"\b[a-z]+ \d+\b")
LISTING = re.compile(
    r"(?:On the ([a-z]+ \d+)|The ([a-z]+ \d+) is open\. In it), you see (.*?)\.(?=\s|$)"
)
ROOM = re.compile(r"Looking quickly around you, you see (.*?)\.(?=\s|$)")


def kind(name: str) -> str:
    """``mug 2`` -> ``mug``."""
    return name.rsplit(" ", 1)[0]


def number(name: str) -> int:
    tail = name.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@dataclass(kw_only=True)
class Known:
    """What the agent knows after the turns so far."""

    places: list[str] = field(default_factory=list)
    prior: bool = True  # the expert searches where such things are kept first
    here: str = ""
    holding: str = ""
    where: dict[str, str] = field(default_factory=dict)  # thing -> the place it was last seen at
    taken_from: dict[str, str] = field(default_factory=dict)
    looked: set[str] = field(default_factory=set)  # places whose contents were seen (or tried)
    changed: dict[str, set[str]] = field(
        default_factory=lambda: {"heat": set(), "cool": set(), "clean": set()}
    )

    def see(self, text: str) -> None:
        """Record the places an observation lists the contents of."""
        for m in LISTING.finditer(text):
            place = m.group(1) or m.group(2)
            things = set(INSTANCE.findall(m.group(3)))
            for thing, at in list(self.where.items()):
                if at == place and thing not in things:
                    del self.where[thing]
            self.where.update(dict.fromkeys(things, place))
            self.looked.add(place)

    def play(self, command: str, result: str) -> None:
        """Record one command and what the world answered."""
        words = command.split()
        if not words or result.startswith("Nothing happens"):
            return
        verb = words[0]
        if verb == "go" and result.startswith("You arrive at"):
            self.here = command.removeprefix("go to ").strip()
            if "is closed" not in result:
                self.looked.add(self.here)
        elif verb == "open":
            self.looked.add(command.removeprefix("open ").strip())
        elif verb == "take" and (m := re.fullmatch(r"take (.+?) from (.+)", command)):
            if not result.startswith("You pick up"):
                return
            self.holding = m.group(1)
            self.taken_from[self.holding] = m.group(2)
            self.where.pop(self.holding, None)
        elif verb in ("move", "put") and result.startswith(("You move", "You put")):
            place = re.split(r" (?:to|in|on|in/on) ", command, maxsplit=1)[-1]
            if self.holding:
                self.where[self.holding] = place
            self.holding = ""
        elif verb in self.changed and result.startswith(f"You {verb} the "):
            thing = re.split(r" with ", command.removeprefix(verb + " "), maxsplit=1)[0]
            self.changed[verb].add(thing)
            other = {"heat": "cool", "cool": "heat"}.get(verb)
            if other:  # heating undoes cooling and the other way round (alfred.pddl)
                self.changed[other].discard(thing)
        elif verb == "inventory":
            carried = INSTANCE.findall(result) if result.startswith("You are carrying") else []
            self.holding = carried[0] if carried else ""
        self.see(result)


def known_state(
    history: Sequence[tuple[str, str]], observation: str, admissible: Sequence[str]
) -> Known:
    """Replay the turns: ``history`` holds (observation, command played from it) pairs.
    The places are those the first observation names and those one can go to now."""
    known = Known()
    first = history[0][0] if history else observation
    room = INSTANCE.findall(m.group(1)) if (m := ROOM.search(first)) else []
    gotos = [c.removeprefix("go to ") for c in admissible if c.startswith("go to ")]
    known.places = list(dict.fromkeys([*room, *gotos]))
    known.see(first)
    for i, (_, command) in enumerate(history):
        result = history[i + 1][0] if i + 1 < len(history) else observation
        known.play(command.strip().lower(), result)
    return known
