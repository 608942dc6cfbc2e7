"""The suites that ship with dramaturg, built on demand.

* ``alfworld-style``: the six ALFWorld task types, ``seen`` and ``unseen``
  splits (unseen floor plans and target objects), ``n`` games each.
* ``textworld``: TextWorld's simple, cooking, coin collector and treasure
  hunter challenges at chosen levels, ``n`` games each.
* ``gaia-style``: the bundled GAIA-format questions over local files and the
  local web site, levels 1-3 (``n`` per level).
* ``drama``: the bundled plays, ``n`` seeds each (scored by drama metrics and
  model judges).

Example:
    >>> suite = builtin_suite("alfworld-style", n=2, splits=("unseen",))
    >>> len(suite.cases), suite.cases[0].id
    (12, 'alfworld/pick_and_place_simple/unseen/0')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError
from dramaturg.evals.cases import Case, Suite, load_suite_file
from dramaturg.worlds.alfworld import TASK_TYPES

__all__ = ["BUILTIN_SUITES", "TEXTWORLD_LEVELS", "builtin_suite", "load_suite"]

BUILTIN_SUITES = ("alfworld-style", "textworld", "gaia-style", "drama")

#: The ``tw-make`` options of each TextWorld task type: small games that still
#: need several rooms and objects. Override with ``builtin_suite("textworld", levels=...)``.
TEXTWORLD_LEVELS: dict[str, dict[str, Any]] = {
    "tw-simple": {"rewards": "dense", "goal": "detailed"},
    "tw-cooking": {"recipe": 1, "take": 1, "go": 6, "open": True, "cook": True, "cut": True},
    "tw-coin_collector": {"level": 10},
    "tw-treasure_hunter": {"level": 10},
}


def _label(challenge: str, options: Mapping[str, Any]) -> str:
    level = options.get("level")
    return f"{challenge} (level {level})" if level is not None else challenge


def builtin_suite(
    name: str,
    *,
    n: int | None = None,
    splits: Sequence[str] = ("seen", "unseen"),
    levels: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
) -> Suite:
    """A built-in suite (see the module docstring); ``n`` cases per task type and split.

    Args:
        name: one of :data:`BUILTIN_SUITES`.
        n: cases per task type (and split); default 10 for worlds, all for
            questions, 1 for drama.
        splits: ALFWorld-style splits to include.
        levels: TextWorld task types and their ``tw-make`` options
            (default :data:`TEXTWORLD_LEVELS`).
        seed: the first game's seed; case ``i`` plays seed ``seed + i``.
    """
    if name == "alfworld-style":
        n = 10 if n is None else n
        for split in splits:
            if split not in ("seen", "unseen"):
                raise ConfigError(f"unknown split {split!r}; choose seen and/or unseen")
        cases = [
            Case(
                id=f"alfworld/{task}/{split}/{i}",
                task_type=task,
                split=split,
                world=f"alfworld/{task}",
                world_kwargs={"split": split},
                seed=seed + i,
            )
            for split in splits
            for task in TASK_TYPES
            for i in range(n)
        ]
        return Suite(name=name, description="ALFWorld-style household tasks", cases=cases)
    if name == "textworld":
        n = 10 if n is None else n
        chosen = dict(levels or TEXTWORLD_LEVELS)
        unknown = set(chosen) - set(TEXTWORLD_LEVELS)
        if unknown:
            raise ConfigError(
                f"unknown TextWorld task type(s) {sorted(unknown)}; "
                f"choose from {sorted(TEXTWORLD_LEVELS)}"
            )
        cases = [
            Case(
                id=f"textworld/{ch}/{i}",
                task_type=_label(ch, opts),
                world=f"textworld/{ch}",
                options=dict(opts),
                seed=seed + i,
            )
            for ch, opts in chosen.items()
            for i in range(n)
        ]
        return Suite(name=name, description="TextWorld challenges", cases=cases)
    if name == "gaia-style":
        from dramaturg.evals.gaia import bundled_gaia_dir

        suite = load_suite_file(bundled_gaia_dir() / "metadata.jsonl")
        suite = suite.model_copy(
            update={"name": name, "description": "GAIA-format questions, offline"}
        )
        return suite.head(n) if n is not None else suite
    if name == "drama":
        from dramaturg.drama._bundled import bundled_plays

        n = 1 if n is None else n
        cases = [
            Case(
                id=f"drama/{play}/{i}",
                kind="drama",
                task_type=play,
                seed=seed + i,
                data={"play": play},
            )
            for play in bundled_plays()
            for i in range(n)
        ]
        return Suite(
            name=name, description="bundled plays, every character played by agents", cases=cases
        )
    raise ConfigError(
        f"unknown suite {name!r}; built-in suites: {', '.join(BUILTIN_SUITES)}, "
        "or give a .yaml/.jsonl file"
    )


def load_suite(name_or_path: str | Path, *, allow_code: bool = False, **kwargs: Any) -> Suite:
    """A built-in suite by name, or a suite file (``n`` then keeps that many cases per task type).

    ``allow_code``: let the file's cases name world factories ``module:callable``
    (see :func:`~dramaturg.evals.load_suite_file`).
    """
    path = Path(name_or_path)
    if str(name_or_path) in BUILTIN_SUITES:
        return builtin_suite(str(name_or_path), **kwargs)
    if path.suffix in (".yaml", ".yml", ".jsonl") or path.exists():
        suite = load_suite_file(path, allow_code=allow_code)
        n = kwargs.get("n")
        return suite.head(n) if n is not None else suite
    return builtin_suite(str(name_or_path), **kwargs)
