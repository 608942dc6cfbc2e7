"""Splitting a data set by game, and keeping each example once.

Games, not examples, are split into train, valid and test: the steps of one
game share their goal and rooms, so a test game with a few steps in training
would measure memory, not skill. The lists go to ``<data>.splits.json``;
every reader checks that no game is in two of them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dramaturg._files import load_json
from dramaturg.errors import ConfigError
from dramaturg.evals.cases import Case, Suite

__all__ = [
    "SPLITS",
    "assign_games",
    "check_splits",
    "dedupe",
    "load_splits",
    "round_robin",
    "split_cases",
    "splits_path",
    "tool_agent_settings",
]

SPLITS = ("train", "valid", "test")


def splits_path(data: str | os.PathLike[str]) -> Path:
    """Where the game splits of a data file are kept: ``<data>.splits.json``."""
    data = Path(data)
    return data.with_name(data.stem + ".splits.json")


def check_splits(splits: Mapping[str, Sequence[str]]) -> None:
    """Refuse splits that share a game (a test game must never be trained on)."""
    owner: dict[str, str] = {}
    for name in SPLITS:
        for game in splits.get(name, ()):
            if game in owner and owner[game] != name:
                raise ConfigError(
                    f"game {game!r} is in both the {owner[game]} and the {name} split; "
                    "a game belongs to one split only (rebuild the data)"
                )
            owner[game] = name


def load_splits(data: str | os.PathLike[str]) -> dict[str, list[str]]:
    """The train/valid/test game lists of a data file, checked for overlap."""
    return _read_splits(data)[1]


def _read_splits(data: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A data file's splits file as stored, and its game lists checked for overlap."""
    path = splits_path(data)
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: build the data with build_sft_data (or `dramaturg train "
            "tool-agent`), which writes the game splits next to it"
        )
    try:
        raw = load_json(path, label="it")
        splits = {name: [str(g) for g in raw.get(name, [])] for name in SPLITS}
    except (
        ValueError,
        AttributeError,
        TypeError,
    ) as exc:  # InputFileError: not JSON, too big, binary, too deep
        raise ConfigError(f"{path} is not a splits file ({exc})") from None
    check_splits(splits)
    return raw, splits


def split_cases(data: str | os.PathLike[str], split: str = "test") -> Suite:
    """The games of one split as a suite (what ``dramaturg train eval`` plays)."""
    from dramaturg.training._games import case_for_game

    raw, splits = _read_splits(data)
    stored = raw.get("cases", {})
    cases = [
        Case.model_validate(stored[g]) if g in stored else case_for_game(g) for g in splits[split]
    ]
    return Suite(
        name=f"{Path(data).stem}-{split}", description=f"the {split} games of {data}", cases=cases
    )


def tool_agent_settings(data: str | os.PathLike[str]) -> dict[str, int]:
    """The tool agent settings a data file's prompts were written with (kept in its
    splits file; ``{}`` for files written before they were kept: the defaults).

    Raises:
        ConfigError: no splits file, or one that is broken or holds a bad setting.
    """
    from dramaturg.agents.tool_agent import check_settings

    settings = _read_splits(data)[0].get("tool_agent") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{splits_path(data)}: 'tool_agent' is not a mapping of settings")
    return check_settings(settings, str(splits_path(data)))


def assign_games(
    games: Sequence[str], *, test_frac: float, valid_frac: float, seed: int
) -> dict[str, list[str]]:
    order = sorted(games)
    random.Random(seed).shuffle(order)
    n = len(order)

    def count(frac: float) -> int:
        return 0 if frac <= 0 or n < 2 else max(1, round(n * frac))

    n_test = min(count(test_frac), max(0, n - 1))
    n_valid = min(count(valid_frac), max(0, n - 1 - n_test))
    return {
        "test": sorted(order[:n_test]),
        "valid": sorted(order[n_test : n_test + n_valid]),
        "train": sorted(order[n_test + n_valid :]),
    }


def dedupe(by_split: dict[str, list[Any]]) -> tuple[dict[str, list[Any]], int, int]:
    """Keep each (prompt, answer) once per split; drop train/valid copies of held-out examples."""
    duplicates = leaks = 0
    held: set[tuple[str, str]] = set()
    out: dict[str, list[Any]] = {}
    for name in ("test", "valid", "train"):  # held-out first: they win a tie
        seen: set[tuple[str, str]] = set()
        kept = []
        for example in by_split.get(name, []):
            key = example.key()
            if key in seen:
                duplicates += 1
            elif key in held:
                leaks += 1
            else:
                seen.add(key)
                kept.append(example)
        held |= seen
        out[name] = kept
    return out, duplicates, leaks


def round_robin(cases: Sequence[Case], limit: int) -> list[Case]:
    """``limit`` cases, one of each task type in turn (in the suite's order within a type)."""
    by_type: dict[str, list[Case]] = {}
    for case in cases:
        by_type.setdefault(case.task_type or "", []).append(case)
    picked: list[Case] = []
    limit = min(limit, len(cases))
    while len(picked) < limit:
        for queue in by_type.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked
