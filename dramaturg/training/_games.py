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

#: An ALFWorld-style take command: ``take apple 1 from fridge 1`` -> ("apple", "fridge 1").
TAKE = re.compile(r"take (.+?) \d+ from (.+)")

__all__ = [
    "PlayedGame",
    "case_for_game",
    "games_for",
    "play_commands",
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
    from dramaturg.worlds._builtin import ALFWORLD_TASKS

    seeds = list(seeds)
    ids: list[str] = []
    for world in worlds:
        world = world.strip().rstrip("/")
        if world == "textworld":
            expanded = [f"textworld/{c}" for c in TEXTWORLD_LEVELS]
        elif world == "alfworld":
            expanded = [f"alfworld/{t}" for t in ALFWORLD_TASKS]
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
                msgs = tool_agent_messages(
                    agent, goal=goal, observation=obs, history=history, admissible=admissible
                )
                records.append(
                    {
                        "messages": [*msgs, assistant(json.dumps({"command": command}))],
                        "game": case.id,
                        "world": case.world or "",
                        "source": source,
                        "step": step,
                    }
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
    """The gold plan of an ALFWorld-style game, with a search before each find.

    A gold plan goes straight to where the object lies (and, for the lamp
    tasks, to where the lamp stands; for two objects, to where the second
    one lies), which an agent that has only seen the room cannot know;
    trained on such plans alone, a tool agent learns to guess. Here, before
    each place the gold plan goes to in order to take something or use a
    lamp, the agent first visits ``detours`` other receptacles (chosen with
    ``seed``), opening the closed ones, and finds nothing there, then goes
    on with the gold plan: what a sensible search looks like.

    Returns ``None`` when the game has nothing to find, when a detour would
    show the thing sought (a trajectory that walks past it would teach
    that), or when the plan no longer wins after the detours.
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
        commands: list[str] = []
        for i, command in enumerate(gold):
            if i in finds and f"go to {finds[i][1]}" not in commands:  # a place already seen: no search
                thing, place = finds[i]
                others = sorted(
                    c.removeprefix("go to ")
                    for c in info.get("admissible_actions") or []
                    if c.startswith("go to ") and c.removeprefix("go to ") != place
                )
                rng.shuffle(others)
                for other in others[:detours]:
                    for step in (f"go to {other}", f"open {other}"):
                        if step not in (info.get("admissible_actions") or []):
                            continue
                        obs, _, terminated, _, info = world.step(step)
                        commands.append(step)
                        if thing in obs or terminated:
                            return None
            if command not in (info.get("admissible_actions") or [command]):
                return None  # a detour changed what the gold plan can do (opened its receptacle)
            obs, _, terminated, _, info = world.step(command)
            commands.append(command)
            if terminated:
                break
        return commands if info.get("won") else None


def _finds(gold: Sequence[str]) -> dict[int, tuple[str, str]]:
    """The gold plan's ``go to PLACE`` steps that lead to taking or using something
    there, by index: ``{index: (thing, place)}`` (``thing`` without its number)."""
    finds: dict[int, tuple[str, str]] = {}
    for i, command in enumerate(gold):
        if not command.startswith("go to "):
            continue
        place = command.removeprefix("go to ")
        rest = [c for c in gold[i + 1 : i + 3] if c != f"open {place}"]
        if not rest:
            continue
        take = TAKE.fullmatch(rest[0])
        use = re.fullmatch(r"use (.+?) \d+", rest[0])
        if take and take.group(2) == place:
            finds[i] = (take.group(1), place)
        elif use:
            finds[i] = (use.group(1), place)
    return finds


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
