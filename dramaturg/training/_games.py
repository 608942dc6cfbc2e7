"""Games to learn from, and playing a list of commands into training examples.

A game is an evaluation :class:`~dramaturg.evals.Case`, named the way the
built-in suites name theirs (``textworld/tw-simple/3``,
``alfworld/pick_and_place_simple/unseen/3``), so the held-out games of a data
set are directly a suite ``dramaturg train eval`` can run.

Each step becomes the messages the tool agent sends at that step, exactly as
the ``embodied`` graph builds them (the same goal, observation, window of
earlier turns and admissible commands), with the structured-answer
instruction the model wrapper inserts, followed by the gold answer
``{"command": ...}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dramaturg.agents.tool_agent import ToolAgent, _command_schema
from dramaturg.errors import ConfigError
from dramaturg.evals.cases import Case
from dramaturg.models import Message, assistant
from dramaturg.models.base import structured_prompt

#: An ALFWorld-style take command: ``take apple 1 from fridge 1`` -> ("apple 1", "apple", "fridge 1").
TAKE = re.compile(r"take ((.+?) \d+) from (.+)")
#: A thing or place with its number, as commands and observations name them (``mug 2``).
INSTANCE = re.compile(r"\b[a-z]+ \d+\b")

__all__ = [
    "PlayedGame",
    "case_for_game",
    "example_record",
    "games_for",
    "play_commands",
    "prompt_agent",
    "searching_plan",
    "tool_agent_messages",
]


def case_for_game(game: str, *, seed: int | None = None) -> Case:
    """The case of a built-in game id (``textworld/<challenge>/<i>``, ``alfworld/<task>/<split>/<i>``).

    ``seed`` defaults to the id's last part (the built-in suites' seeds start at 0).
    """
    from dramaturg.evals.suites import TEXTWORLD_LEVELS

    parts = game.split("/")
    try:
        seed = int(parts[-1]) if seed is None else seed
    except ValueError:
        raise ConfigError(f"game id {game!r} does not end with a seed number") from None
    if parts[0] == "alfworld" and len(parts) == 4:
        _, task, split, _ = parts
        return Case(
            id=game,
            task_type=task,
            split=split,
            world=f"alfworld/{task}",
            world_kwargs={"split": split},
            seed=seed,
        )
    if parts[0] == "textworld" and len(parts) == 3:
        challenge = parts[1]
        return Case(
            id=game,
            task_type=challenge,
            world=f"textworld/{challenge}",
            options=dict(TEXTWORLD_LEVELS.get(challenge, {})),
            seed=seed,
        )
    world = "/".join(parts[:-1])
    return Case(id=game, task_type=world, world=world, seed=seed)


def games_for(
    worlds: Sequence[str], seeds: Iterable[int], *, splits: Sequence[str] = ("seen", "unseen")
) -> list[Case]:
    """One case per world, seed (and ALFWorld split).

    ``worlds`` holds world ids (``textworld/tw-simple``, ``alfworld/pick_and_place_simple``)
    or a family (``textworld``: every built-in challenge; ``alfworld``: every task type).
    """
    from dramaturg.evals.suites import TEXTWORLD_LEVELS
    from dramaturg.worlds.alfworld import TASK_TYPES

    seeds = list(seeds)
    ids: list[str] = []
    for world in worlds:
        world = world.strip().rstrip("/")
        if world == "textworld":
            expanded = [f"textworld/{c}" for c in TEXTWORLD_LEVELS]
        elif world == "alfworld":
            expanded = [f"alfworld/{t}" for t in TASK_TYPES]
        else:
            expanded = [world]
        for w in expanded:
            if w.startswith("alfworld/"):
                ids += [f"{w}/{split}/{s}" for split in splits for s in seeds]
            else:
                ids += [f"{w}/{s}" for s in seeds]
    return [case_for_game(g) for g in dict.fromkeys(ids)]


@dataclass(kw_only=True)
class PlayedGame:
    """The examples of one game, and how the play went."""

    examples: list[dict[str, Any]]
    won: bool
    skipped: int = 0  # steps whose command was not among the admissible ones
    diverged: bool = False  # a replayed observation differed from the recorded one


def play_commands(
    case: Case,
    commands: Sequence[str] | None,
    *,
    agent: ToolAgent,
    source: str,
    goals: Sequence[str] | None = None,
    observations: Sequence[str] | None = None,
) -> PlayedGame:
    """Play ``commands`` in ``case``'s world; one training record per command.

    Args:
        case: the game.
        commands: the commands, in order (a successful run's actions); ``None``
            plays the world's gold plan.
        agent: the tool agent whose prompts are recorded (its history window and
            observation cut); its model is never called.
        source: ``gold`` or ``trace``, kept on each record.
        goals: per step, the goal the tool agent was given (a planner's intent);
            empty or missing entries mean the world's objective, as without a planner.
        observations: the observations recorded after each command; replay stops
            at the first that differs (the world did not replay the same way).
    """
    from dramaturg.evals.agents import make_case_world

    records: list[dict[str, Any]] = []
    played = PlayedGame(examples=records, won=False)
    with make_case_world(case) as world:
        obs, info = world.reset(seed=case.seed, options=case.options or None)
        objective = str(info.get("objective") or obs)
        if commands is None:
            commands = list(info.get("gold_plan") or [])
        history: list[tuple[str, str]] = []
        for step, command in enumerate(commands):
            admissible = info.get("admissible_actions")
            goal = (goals[step] if goals is not None and step < len(goals) else "") or objective
            if admissible and command not in admissible:
                played.skipped += (
                    1  # the enum could not hold it: teaching it would teach nothing usable
                )
            else:
                records.append(
                    example_record(
                        agent,
                        case,
                        goal=goal,
                        observation=obs,
                        history=history,
                        admissible=admissible,
                        command=command,
                        source=source,
                        step=step,
                    )
                )
            before = obs
            obs, _, terminated, truncated, info = world.step(command)
            history.append((before, command))
            if observations is not None and step < len(observations) and observations[step] != obs:
                played.diverged = True
                break
            if terminated or truncated:
                break
        played.won = bool(info.get("won"))
    return played


def searching_plan(case: Case, *, detours: int, seed: int) -> list[str] | None:
    """The gold plan of an ALFWorld-style game, with a search for each thing it finds.

    A gold plan goes straight to where the object lies (and, for the lamp
    tasks, to where the lamp stands; for two objects, to where the second
    one lies), which an agent that has only seen the room cannot know;
    trained on such plans alone, a tool agent learns to guess. Here, each
    time the gold plan goes somewhere to take something or use a lamp, the
    agent instead visits places it has not been to yet, in a random order
    (``seed``) and opening the closed ones, until it sees such a thing (any
    instance not yet taken: ``mug 2`` serves as well as the gold plan's
    ``mug 1``); it takes or uses that one there, and the rest of the gold
    plan follows with that instance's number. A thing seen earlier on the
    way is gone back to without a search. After ``detours`` places without
    it, the agent goes to where the gold plan's instance lies.

    Returns ``None`` when the game has nothing to find or the plan no longer
    wins after the search.
    """
    import random

    from dramaturg.evals.agents import make_case_world

    with make_case_world(case) as world:
        obs, info = world.reset(seed=case.seed, options=case.options or None)
        gold = list(info.get("gold_plan") or [])
        finds = _finds(gold)
        if not finds:
            return None
        rng = random.Random(seed)
        home = {m.group(1): m.group(3) for c in gold if (m := TAKE.fullmatch(c))}
        home |= {
            gold[j].removeprefix("use "): place
            for i, (_, place) in finds.items()
            if gold[j := _act(gold, i)].startswith("use ")
        }
        names = {name for c in gold for name in INSTANCE.findall(c)}
        seen: dict[str, str] = {}  # instance -> the place it was seen at
        taken: set[str] = set()
        swap: dict[str, str] = {}  # the gold plan's instance -> the one played instead
        visited: set[str] = set()
        commands: list[str] = []
        here = ""

        def admissible(command: str) -> bool:
            return command in (info.get("admissible_actions") or [command])

        def play(command: str) -> bool:
            nonlocal obs, info, here
            obs, _, terminated, _, info = world.step(command)
            commands.append(command)
            if command.startswith("go to "):
                here = command.removeprefix("go to ")
                visited.add(here)
            place, things = _in_view(obs)
            seen.update(dict.fromkeys(things, place))
            if here:  # a lamp that stands here can be used here
                seen.update(
                    {
                        c.removeprefix("use "): here
                        for c in info.get("admissible_actions") or []
                        if c.startswith("use ")
                    }
                )
            return bool(terminated)

        def spotted(thing: str) -> tuple[str, str] | None:
            return next(
                (
                    (x, p)
                    for x, p in seen.items()
                    if x not in taken and x.rsplit(" ", 1)[0] == thing
                ),
                None,
            )

        i = 0
        while i < len(gold):
            if i not in finds:
                command = _renumber(gold[i], swap)
                i += 1
                if command == f"go to {here}" or (
                    command.startswith("open ") and not admissible(command)
                ):
                    continue  # already there, or opened during a search
                place = INSTANCE.findall(command)[-1:]
                if not admissible(command) and place and place[0] != here:
                    # The search ended elsewhere than the gold plan stood: go where it acts.
                    for step in (f"go to {place[0]}", f"open {place[0]}"):
                        if admissible(step) and play(step):
                            return None
                if not admissible(command):
                    return None
                if play(command):
                    break
                continue
            thing = finds[i][0]
            act = _act(gold, i)
            wanted = INSTANCE.findall(_renumber(gold[act], swap))[0]
            i = act + 1
            spot = spotted(thing)
            if spot is None:
                others = sorted(
                    c.removeprefix("go to ")
                    for c in info.get("admissible_actions") or []
                    if c.startswith("go to ") and c.removeprefix("go to ") not in visited
                )
                rng.shuffle(others)
                for other in others[:detours]:
                    if play(f"go to {other}") or (
                        admissible(f"open {other}") and play(f"open {other}")
                    ):
                        return None
                    if spot := spotted(thing):
                        break
            instance, place = spot or (wanted, seen.get(wanted) or home.get(wanted, ""))
            for step in (f"go to {place}", f"open {place}"):
                if step != f"go to {here}" and admissible(step) and play(step):
                    return None
            command = (
                f"use {instance}"
                if gold[act].startswith("use ")
                else f"take {instance} from {place}"
            )
            if here != place or not admissible(command):
                return None
            if instance != wanted:  # the rest of the plan uses this one, and `wanted` in its place
                for name in names | {instance}:
                    played = swap.get(name, name)
                    swap[name] = (
                        instance if played == wanted else wanted if played == instance else played
                    )
            if command.startswith("take "):
                taken.add(instance)
            if play(command):
                break
        return commands if info.get("won") else None


def _act(gold: Sequence[str], find: int) -> int:
    """The index of the take or use that the gold plan's ``go to`` at ``find`` leads to."""
    return next(j for j in range(find + 1, len(gold)) if gold[j].startswith(("take ", "use ")))


def _in_view(observation: str) -> tuple[str, list[str]]:
    """The place an observation looks into and the things it lists there
    (``On the desk 1, you see a pen 2, and a cd 1.`` -> ``("desk 1", ["pen 2", "cd 1"])``)."""
    head, sep, listed = observation.partition("you see ")
    places = INSTANCE.findall(head)
    return (places[-1], INSTANCE.findall(listed)) if sep and places else ("", [])


def _renumber(command: str, swap: dict[str, str]) -> str:
    """``command`` with each instance the gold plan named replaced by the one played."""
    return INSTANCE.sub(lambda m: swap.get(m.group(0), m.group(0)), command)


def _finds(gold: Sequence[str]) -> dict[int, tuple[str, str]]:
    """The gold plan's ``go to PLACE`` steps that lead to taking or using something
    there, by index: ``{index: (thing, place)}`` (``thing`` without its number)."""
    finds: dict[int, tuple[str, str]] = {}
    for i, command in enumerate(gold):
        if not command.startswith("go to "):
            continue
        place = command.removeprefix("go to ")
        rest = [c for c in gold[i + 1 : i + 3] if not c.startswith("open ")]
        if not rest:
            continue
        take = TAKE.fullmatch(rest[0])
        use = re.fullmatch(r"use (.+?) \d+", rest[0])
        if (
            take
        ):  # from there, or from what stands beside it (go to cabinet 4, take ... from cabinet 3)
            finds[i] = (take.group(2), take.group(3))
        elif use:
            finds[i] = (use.group(1), place)
    return finds


def prompt_agent(**settings: int) -> ToolAgent:
    """A tool agent with ``settings`` that only builds prompts: its model is never called."""
    return ToolAgent(model=None, **settings)  # type: ignore[arg-type]


def example_record(
    agent: ToolAgent,
    case: Case,
    *,
    goal: str,
    observation: str,
    history: Sequence[tuple[str, str]],
    admissible: Sequence[str] | None,
    command: str,
    source: str,
    step: int,
) -> dict[str, Any]:
    """One data-file record: the prompt the tool agent sends at this state, answered
    with ``command`` as JSON, and where it came from."""
    msgs = tool_agent_messages(
        agent, goal=goal, observation=observation, history=history, admissible=admissible
    )
    return {
        "messages": [*msgs, assistant(json.dumps({"command": command}))],
        "game": case.id,
        "world": case.world or "",
        "source": source,
        "step": step,
    }


def tool_agent_messages(
    agent: ToolAgent,
    *,
    goal: str,
    observation: str,
    history: Sequence[tuple[str, str]],
    admissible: Sequence[str] | None,
) -> list[Message]:
    """What the model receives for one ``ToolAgent.command`` call: its prompt plus the
    structured-answer instruction :meth:`~dramaturg.models.ChatModel.structured` inserts."""
    msgs = agent.prompt(goal=goal, observation=observation, history=history, admissible=admissible)
    return structured_prompt(msgs, _command_schema(admissible))
