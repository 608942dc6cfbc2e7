"""An expert that knows only what the agent saw: the command it would give next, to label DAgger data.

:func:`alfworld_expert` plays ALFWorld-style games the way ALFWorld's
hand-coded expert does, from the agent's own view: it reads the goal, the
first observation, every (observation, command) turn so far and the
admissible commands now, never the game's gold plan or hidden state. It
rebuilds what the agent knows from that history on every call (where it is,
what it holds, which places it has looked into and what lay there, which
object it heated, cooled or cleaned, how many it put where the goal says), so
it labels any state, including the ones an agent's own mistakes lead to: it
puts down a wrong object and goes on; it searches on from a wrong place.

The search visits the places it has not looked into yet, in a fixed order:
first the kinds of place that can hold the thing sought (ALFRED's
``VAL_RECEPTACLE_OBJECTS``, the common sense ALFWorld's expert uses too; for
a lamp, the places that cannot be opened), then the others, the goal's
destination kind last (what is to be moved seldom lies where it must go); within
each group by kind name, then number (``cabinet 2`` before ``cabinet 10``).
Closed places are opened to look in, a closed place beside the one it stands
at (``open cabinet 3`` at cabinet 4) without walking there.

:func:`textworld_expert` labels TextWorld games with TextWorld's own
``policy_commands`` (its planner's winning commands from the current state),
which the world reports when made with ``policy_commands=True``: in those
games the map is part of what the agent learns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dramaturg.agents._household import Known as _Known
from dramaturg.agents._household import kind as _kind
from dramaturg.agents._household import known_state as _known
from dramaturg.agents._household import number as _number
from dramaturg.agents.tool_agent import APPLIANCES as _APPLIANCES

__all__ = ["AlfworldTask", "alfworld_expert", "alfworld_task", "textworld_expert"]

_TASK_LINE = re.compile(r"your task is to: (.+)")

# The goal templates of ALFWorld's six task types (alfworld.gen.goal_library).
_GOALS = (
    ("clean", re.compile(r"(?:put a clean (\w+) in|clean some (\w+) and put it in) (\w+)")),
    ("heat", re.compile(r"(?:put a hot (\w+) in|heat some (\w+) and put it in) (\w+)")),
    ("cool", re.compile(r"(?:put a cool (\w+) in|cool some (\w+) and put it in) (\w+)")),
    ("two", re.compile(r"(?:put two (\w+) in|find two (\w+) and put them in) (\w+)")),
    ("look", re.compile(r"(?:look at (\w+) under the|examine the (\w+) with the) (\w+)")),
    ("place", re.compile(r"(?:put a (\w+) in|put some (\w+) on) (\w+)")),
)


@dataclass(frozen=True, kw_only=True)
class AlfworldTask:
    """What an ALFWorld-style goal asks for.

    Attributes:
        kind: ``place``, ``clean``, ``heat``, ``cool``, ``two`` (two of them) or
            ``look`` (hold it under a lamp).
        thing: the kind of object to find (``mug``).
        where: the kind of place to put it (``diningtable``), or the lamp's kind for ``look``.
    """

    kind: str
    thing: str
    where: str


def alfworld_task(goal: str) -> AlfworldTask | None:
    """The task an ALFWorld-style goal names, or ``None`` for a goal of another shape.

    >>> alfworld_task("put a hot mug in diningtable.")
    AlfworldTask(kind='heat', thing='mug', where='diningtable')
    """
    text = goal.strip().lower().rstrip(".").strip()
    if found := _TASK_LINE.search(text):
        text = found.group(1).rstrip(".").strip()
    for kind, pattern in _GOALS:
        if m := pattern.fullmatch(text):
            return AlfworldTask(kind=kind, thing=m.group(1) or m.group(2), where=m.group(3))
    return None


@functools.cache
def _priors() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Which kinds of place can hold each kind of object, and which kinds of place open
    (lowercase), from ALFRED's constants; nothing without the ``alfworld`` package."""
    try:
        from alfworld.gen import constants
    except ImportError:
        return {}, frozenset()
    hosts: dict[str, set[str]] = {}
    for place, things in constants.VAL_RECEPTACLE_OBJECTS.items():
        for thing in things:
            hosts.setdefault(thing.lower(), set()).add(place.lower())
    openable = frozenset(c.lower() for c in constants.OPENABLE_CLASS_LIST)
    return {k: frozenset(v) for k, v in hosts.items()}, openable


def _search_order(places: Sequence[str], thing: str, last: str, *, prior: bool) -> list[str]:
    """``places`` in the order a search for ``thing`` visits them; ``last``: the kind of place
    to look in after all the others (the goal's destination); ``prior``: the kinds of place
    that hold such things first."""
    hosts, openable = _priors() if prior else ({}, frozenset())
    likely = hosts.get(thing)

    def key(place: str) -> tuple[bool, bool, str, int]:
        kind = _kind(place)
        # No kind of place is known to hold it (a lamp): places things stand on first.
        unlikely = kind not in likely if likely is not None else kind in openable
        return (kind == last, unlikely, kind, _number(place))

    return sorted(places, key=key)


def alfworld_expert(
    goal: str,
    history: Sequence[tuple[str, str]],
    observation: str,
    admissible: Sequence[str],
    *,
    prior: bool = True,
) -> str | None:
    """The command an ALFWorld-style player who knows only what it saw gives next.

    A pure function of what the agent was shown: it replays ``history`` on every
    call, so it labels any state an agent reaches, and never sees the game's
    plan or hidden state.

    Args:
        goal: the task (``put a hot mug in diningtable.``); a goal of another shape
            falls back to the "Your task is to:" line of the first observation.
        history: the turns so far as the tool agent keeps them: (the observation
            shown, the command played from it) pairs, oldest first; the first
            observation is ``history[0][0]``.
        observation: what the last command (or the reset) showed.
        admissible: the commands the world accepts now.
        prior: search first the kinds of place that can hold what is sought (see the
            module's docstring); ``False``: every place in the same fixed order (kind
            name, then number), with the goal's destination last.

    Returns:
        One of ``admissible``, or ``None`` when it cannot tell (a goal it does not
        know, nothing admissible, nowhere left to look).

    Example:
        >>> alfworld_expert("put some cloth on bathtubbasin.", [],
        ...     "You arrive at garbagecan 1. On the garbagecan 1, you see a cloth 2.",
        ...     ["go to bathtubbasin 1", "take cloth 2 from garbagecan 1"])
        'take cloth 2 from garbagecan 1'
    """
    if not admissible:
        return None
    first = history[0][0] if history else observation
    task = alfworld_task(goal) or alfworld_task(first)
    if task is None:
        return None
    known = _known(history, observation, admissible)
    known.prior = prior
    command = _next(task, known, list(admissible))
    return command if command in admissible else None


def _next(task: AlfworldTask, known: _Known, admissible: list[str]) -> str | None:
    """The next command for ``task`` (not always admissible: the caller checks)."""
    allowed = set(admissible)
    held = known.holding

    def first(prefix: str) -> str | None:
        return next((c for c in admissible if c.startswith(prefix)), None)

    def exact(command: str) -> str | None:
        return command if command in allowed else None

    if held and _kind(held) != task.thing:  # a wrong thing: put it back (or down here)
        back = known.taken_from.get(held, "")
        return (
            exact(f"move {held} to {back}")
            or first(f"move {held} to ")
            or _reach(back, known, allowed)
        )
    if task.kind == "look":
        if not held:
            return _fetch(task, known, allowed, skip="")
        lamps = [p for t, p in known.where.items() if _kind(t) == task.where]
        if use := first(f"use {task.where} "):
            return use
        return _reach(lamps[0], known, allowed) if lamps else _search(task.where, known, allowed)
    dest = _destination(task, known)
    if not held:
        return _fetch(task, known, allowed, skip=dest if task.kind == "two" else "")
    change = _APPLIANCES.get(task.kind)
    if change is not None and held not in known.changed[task.kind]:
        at = [p for kind in change for p in known.places if _kind(p) == kind]
        return first(f"{task.kind} {held} with ") or (_reach(at[0], known, allowed) if at else None)
    if not dest:
        return None
    return exact(f"move {held} to {dest}") or _reach(dest, known, allowed)


def _reach(place: str, known: _Known, allowed: set[str]) -> str | None:
    """A step towards acting at ``place``: open it from here, or go there."""
    if f"open {place}" in allowed:
        return f"open {place}"
    return f"go to {place}" if place and place != known.here else None


def _destination(task: AlfworldTask, known: _Known) -> str:
    """The place of the goal's kind to put things at: the one holding most of them
    already (two objects must share one), else the one here, else the first."""
    places = [p for p in known.places if _kind(p) == task.where]

    def key(place: str) -> tuple[int, bool, int]:
        held = sum(1 for t, p in known.where.items() if p == place and _kind(t) == task.thing)
        return (-held, place != known.here, places.index(place))

    return min(places, key=key, default="")


def _fetch(task: AlfworldTask, known: _Known, allowed: set[str], *, skip: str) -> str | None:
    """Take a seen thing of the task's kind (not one at ``skip``), going to it and opening
    its place first; or search for one."""
    order = {p: i for i, p in enumerate(known.places)}
    spots = sorted(
        ((t, p) for t, p in known.where.items() if _kind(t) == task.thing and p != skip),
        key=lambda s: (f"take {s[0]} from {s[1]}" not in allowed, order.get(s[1], len(order))),
    )
    for thing, place in spots:
        take = f"take {thing} from {place}"
        if step := (take if take in allowed else _reach(place, known, allowed)):
            return step
    return _search(task.thing, known, allowed, last=task.where)


def _search(thing: str, known: _Known, allowed: set[str], *, last: str = "") -> str | None:
    """The next step of a search for ``thing``: open or go to the first place not looked into."""
    unseen = [p for p in known.places if p not in known.looked]
    for place in _search_order(unseen, thing, last, prior=known.prior):
        if f"open {place}" in allowed:
            return f"open {place}"
        if f"go to {place}" in allowed:
            return f"go to {place}"
    return None


def textworld_expert(info: Mapping[str, Any], admissible: Sequence[str] | None) -> str | None:
    """The first of TextWorld's ``policy_commands`` (its planner's winning commands from
    the current state; the world must be made with ``policy_commands=True``), when the
    world accepts it now; else ``None``."""
    plan = info.get("policy_commands") or []
    if not plan:
        return None
    command = str(plan[0])
    return command if not admissible or command in admissible else None
