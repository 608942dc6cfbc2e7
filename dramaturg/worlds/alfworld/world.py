"""ALFWorld-style household games behind the dramaturg ``World`` API."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dramaturg._paths import cache_dir
from dramaturg.errors import MissingExtraError
from dramaturg.worlds.alfworld._generate import GameSpec, make_game
from dramaturg.worlds.textworld.world import PlayedWorld

__all__ = ["AlfworldWorld", "game_file"]


def game_file(task_type: str, *, seed: int, split: str = "seen") -> tuple[Path, GameSpec]:
    """Write (once) and return the ``.tw-pddl`` file of game ``(task_type, split, seed)``."""
    folder = cache_dir("games", "alfworld", split, task_type)
    path = folder / f"seed{seed}.tw-pddl"
    meta = folder / f"seed{seed}.json"
    if path.is_file() and meta.is_file():
        return path, GameSpec(**json.loads(meta.read_text()))
    game, spec = make_game(task_type, seed=seed, split=split)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(game))
    meta.write_text(json.dumps(asdict(spec)))
    tmp.replace(path)
    return path, spec


class AlfworldWorld(PlayedWorld):
    """The six ALFWorld task types, generated procedurally and played by TextWorld's PDDL engine.

    ``reset(seed=s)`` builds (or reuses) game ``s`` of the task type and split.
    ``info["gold_plan"]`` is the planner's solution; ``info["objective"]`` the
    task ("put a hot tomato in diningtable"); ``info["game"]`` describes it.

    Args:
        task_type: one of :data:`~dramaturg.worlds.alfworld.TASK_TYPES`.
        split: ``"seen"`` or ``"unseen"`` (floor plans and target objects not in ``seen``).

    Example:
        >>> from dramaturg.worlds import make_world
        >>> with make_world("alfworld/pick_heat_then_place_in_recep", split="unseen") as world:  # doctest: +SKIP
        ...     obs, info = world.reset(seed=0)
        ...     for command in info["gold_plan"]:
        ...         obs, reward, terminated, truncated, info = world.step(command)
        ...     info["won"]
        True
    """

    engine_factory = "dramaturg.worlds.alfworld._engine:AlfworldEngine"

    def __init__(
        self,
        task_type: str = "pick_and_place_simple",
        *,
        split: str = "seen",
        isolate: bool = True,
        step_timeout: float = 60.0,
        max_steps: int | None = 50,
    ) -> None:
        super().__init__(isolate=isolate, step_timeout=step_timeout, max_steps=max_steps)
        self.task_type = task_type
        self.split = split
        self.id = f"alfworld/{task_type}"
        self.spec: GameSpec | None = None

    def _engine_kwargs(self, seed: int, options: dict[str, Any]) -> dict[str, Any]:
        try:
            import fast_downward  # noqa: F401 - TextWorld's PDDL engine needs it
        except ImportError as exc:
            raise MissingExtraError(
                "fast-downward-textworld",
                "textworld",
                "ALFWorld-style games (TextWorld's PDDL engine)",
            ) from exc
        split = options.get("split", self.split)
        path, self.spec = game_file(self.task_type, seed=seed, split=split)
        self._engine_key_path = str(path)
        return {"game_file": str(path)}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start game ``seed`` of this task type and split (generated on first use)."""
        obs, info = super().reset(seed=seed, options=options)
        path = Path(self._engine_key_path)
        game = json.loads(path.read_text())
        if info["gold_plan"] and not game.get("walkthrough"):
            # Store the planner's answer in the game (PddlEnv reads "walkthrough"),
            # so the next process that loads it need not plan again.
            game["walkthrough"] = info["gold_plan"]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(game))
            tmp.replace(path)
        return obs, info

    def _info(self, *, error: str | None, events: list[Any]) -> dict[str, Any]:
        info = super()._info(error=error, events=events)
        info["game"] = asdict(self.spec) if self.spec else None
        return info
