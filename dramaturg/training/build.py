"""Building a data set: play the gold plans of games (and replay won runs) into a data file.

Examples come from the gold plans of generated games (optionally with a search
for what the plan takes, see ``search=``) and from the won episodes of
evaluation runs (:mod:`dramaturg.training.traces`). Games, not examples, are
split into train, valid and test (written to ``<data>.splits.json``), so no
step of a test game is ever trained on; identical (prompt, answer) pairs are
kept once, and a train example identical to a test one is dropped.

Example:
    >>> summary = build_sft_data(["textworld/tw-simple"], range(10), "data/tw.jsonl")  # doctest: +SKIP
    >>> summary.examples["train"]                                                      # doctest: +SKIP
    42
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError
from dramaturg.training._splits import (
    SPLITS,
    assign_games,
    check_splits,
    dedupe,
    round_robin,
    splits_path,
)
from dramaturg.training.augment import rename_targets
from dramaturg.training.data import SFTExample, write_sft_data, write_text
from dramaturg.training.traces import from_traces

__all__ = ["DataSummary", "build_sft_data"]

#: One game played: ``(case id, example records, skipped steps, why it failed or None)``.
_Played = tuple[str, list[dict[str, Any]], int, str | None]


@dataclass(kw_only=True)
class DataSummary:
    """What :func:`build_sft_data` wrote."""

    path: Path
    splits_path: Path
    games: dict[str, list[str]]
    examples: dict[str, int]
    duplicates: int = 0  # identical (prompt, answer) pairs dropped within a split
    leaks: int = 0  # train/valid examples dropped because a test (or valid) game has the same one
    skipped: int = 0  # gold commands that were not admissible at their step
    failed_games: list[str] = field(
        default_factory=list
    )  # "game id (why)": no win, or a failed world


def _play_game(case: Any, *, search: int, split_seed: int, **settings: int) -> _Played:
    """One game's examples: ``(case id, records, skipped steps, why it failed or None)``."""
    from dramaturg.training._games import play_commands, prompt_agent, searching_plan
    from dramaturg.worlds.base import WorldError

    agent = prompt_agent(**settings)
    try:
        plan = None
        if search > 0 and (case.world or "").startswith("alfworld/"):
            rng = random.Random(f"{split_seed}/{case.id}")
            detours = rng.randint(0, search)
            plan = (
                searching_plan(case, detours=detours, seed=rng.randrange(1 << 30))
                if detours
                else None
            )
        played = play_commands(case, plan, agent=agent, source="gold" if plan is None else "search")
        if plan is not None and not played.won:  # the search changed the game: keep the gold plan
            played = play_commands(case, None, agent=agent, source="gold")
    except WorldError as exc:
        return case.id, [], 0, f"world failed: {exc}"
    if not played.won:
        return case.id, [], played.skipped, "the gold plan did not win"
    return case.id, played.examples, played.skipped, None


def _play_all(
    cases: list[Any], workers: int | None, progress: bool, **settings: Any
) -> list[_Played]:
    """:func:`_play_game` for every case, in the cases' order, on ``workers`` processes."""
    import functools
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from rich.progress import track

    play: Callable[[Any], _Played] = functools.partial(_play_game, **settings)
    workers = min(len(cases), workers or os.cpu_count() or 1)
    if workers <= 1:
        return [play(case) for case in track(cases, description="gold plans", disable=not progress)]
    # spawn: the caller may have imported torch or started threads, which fork does not survive
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        results = pool.map(play, cases)
        return list(
            track(results, total=len(cases), description="gold plans", disable=not progress)
        )


def _check_repeat(repeat: Mapping[str, int]) -> list[tuple[re.Pattern[str], int]]:
    checked = []
    for pattern, n in repeat.items():
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"repeat: {pattern!r} is not a regular expression ({exc})") from None
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100:
            raise ConfigError(
                f"repeat: {pattern!r} needs a whole number of times from 1 to 100, not {n!r}"
            )
        checked.append((compiled, n))
    return checked


def repeated(
    examples: Sequence[SFTExample], repeats: Sequence[tuple[re.Pattern[str], int]]
) -> list[SFTExample]:
    """``examples`` with each one whose command matches a pattern written that many times
    (the most of the patterns it matches), each copy next to the example."""
    out: list[SFTExample] = []
    for example in examples:
        command = example.command
        times = max((n for p, n in repeats if p.search(command)), default=1)
        out += [example] * times
    return out


def build_sft_data(
    worlds: Sequence[str],
    seeds: Iterable[int],
    out_path: str | os.PathLike[str],
    *,
    splits: Sequence[str] = ("seen", "unseen"),
    test_split: str | None = None,
    traces: Sequence[str | os.PathLike[str]] = (),
    test_frac: float = 0.2,
    valid_frac: float = 0.1,
    split_seed: int = 0,
    history_turns: int = 6,
    max_observation_chars: int = 600,
    recap: int = 0,
    focus: int = 0,
    notes: int = 0,
    search: int = 0,
    rename: float = 0.0,
    repeat: Mapping[str, int] | None = None,
    test_games: int | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> DataSummary:
    """Play the gold plans of games (and replay successful runs) into a data file.

    Args:
        worlds: world ids or families (see :func:`~dramaturg.training._games.games_for`).
        seeds: the game seeds of each world.
        out_path: the JSONL file to write; the game splits go to ``<out>.splits.json``.
        splits: the ALFWorld-style splits to generate games from.
        test_split: hold out every game of this ALFWorld-style split for test
            (``"unseen"``: train on seen floor plans and objects, test on unseen
            ones); the other games are shared by train and valid only.
        traces: evaluation run directories whose won world episodes are added
            (with their own games, which are split like the others).
        test_frac, valid_frac: the share of games held out for test and valid
            (at least one game each when there are two games or more).
        split_seed: seeds the assignment of games to splits.
        history_turns, max_observation_chars, recap, focus, notes: the tool agent's settings
            (see :class:`~dramaturg.agents.ToolAgent`); they are kept in the splits
            file, and ``train eval`` plays with the same ones.
        search: ALFWorld-style games: for each thing the gold plan takes or
            uses (the object, the lamp, the second object), search places not yet
            visited in a random order until one shows such a thing, take or use
            that one and go on with it, as an agent that cannot see where things
            lie must (see :func:`~dramaturg.training._games.searching_plan`); after
            0 to ``search`` places (a number drawn per game) without it, go to
            where the gold plan finds it. A game whose search no longer wins keeps
            its plain gold plan.
        rename: the share of train and valid games (drawn per game with
            ``split_seed``) whose objects that can be taken are each renamed to a
            made-up word in every message (see :func:`rename_objects`): the agent
            learns to take what the goal names, not the object types it saw taken
            (or never saw taken), which is what ALFWorld-style unseen games (new
            target types) ask for.
        repeat: ``{pattern: n}``: each train example whose command matches the regular
            expression ``pattern`` (searched) is written ``n`` times. The rare commands that
            decide a game (``^cook ``: with the oven or the stove, as the recipe says) are
            one token of a few dozen examples otherwise, and a small model learns the
            common ones only.
        test_games: with ``test_split``, play only this many of its games (one
            task type in turn), when the comparison will not use more.
        workers: processes playing games side by side (``None``: one per CPU core;
            1: in this process). Each game's world runs in its own engine process
            either way.
        progress: show a progress bar.

    A game whose world fails (an engine that crashes or stops answering) is
    left out and listed in ``failed_games`` with the reason; the others are kept.
    """
    from dramaturg.agents.tool_agent import check_settings
    from dramaturg.training._games import games_for

    repeats = _check_repeat(repeat or {})
    settings = check_settings(
        {
            "history_turns": history_turns,
            "max_observation_chars": max_observation_chars,
            "recap": recap,
            "focus": focus,
            "notes": notes,
        },
        "build_sft_data",
    )  # before any game is played
    out_path = Path(out_path)
    cases = games_for(worlds, seeds, splits=splits)
    if test_split is not None and test_games is not None:
        held_cases = [c for c in cases if f"/{test_split}/" in c.id]
        kept = {c.id for c in round_robin(held_cases, test_games)}
        cases = [c for c in cases if c.id in kept or f"/{test_split}/" not in c.id]
    by_game: dict[str, list[SFTExample]] = {}
    failed: list[str] = []
    skipped = 0
    played = _play_all(cases, workers, progress, search=search, split_seed=split_seed, **settings)
    for case_id, examples, game_skipped, problem in played:
        skipped += game_skipped
        if problem is not None:
            failed.append(f"{case_id} ({problem})")
            continue
        by_game[case_id] = [SFTExample(**r) for r in examples]
    known = {c.id: c for c in cases}
    for run_dir in traces:
        for example in from_traces(run_dir, suite=None, **settings):
            by_game.setdefault(example.game, []).append(example)
    if not by_game:
        raise ConfigError(
            f"no game produced any example (failed: {failed[:5]}); check the world ids and seeds"
        )
    if test_split is not None:
        held = sorted(g for g in by_game if f"/{test_split}/" in g)
        if not held:
            raise ConfigError(
                f"no game of the {test_split!r} split to hold out; add it to the splits "
                f"(--split {test_split})"
            )
        rest = [g for g in by_game if g not in set(held)]
        games = assign_games(rest, test_frac=0.0, valid_frac=valid_frac, seed=split_seed)
        games["test"] = held
    else:
        games = assign_games(
            list(by_game), test_frac=test_frac, valid_frac=valid_frac, seed=split_seed
        )
    check_splits(games)
    by_split = {name: [e for g in games[name] for e in by_game[g]] for name in SPLITS}
    by_split, duplicates, leaks = dedupe(by_split)
    if rename > 0:
        for name in ("train", "valid"):
            by_split[name] = rename_targets(by_split[name], rename, seed=split_seed)
    by_split["train"] = repeated(by_split["train"], repeats)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_sft_data(out_path, [e for name in SPLITS for e in by_split[name]])
    cases_json = {
        g: known[g].model_dump(mode="json", exclude_defaults=True) for g in by_game if g in known
    }
    write_text(
        splits_path(out_path),
        json.dumps(
            {
                "version": 1,
                "data": out_path.name,
                **games,
                "cases": cases_json,
                "tool_agent": settings,
            },
            indent=1,
        )
        + "\n",
    )
    return DataSummary(
        path=out_path,
        splits_path=splits_path(out_path),
        games=games,
        examples={name: len(by_split[name]) for name in SPLITS},
        duplicates=duplicates,
        leaks=leaks,
        skipped=skipped,
        failed_games=failed,
    )
