"""Play one TextWorld game file with plain dicts in and out, so it can live in a child process.

:class:`TextWorldEngine` plays ``tw-make`` games; the ALFWorld-style engine
(:mod:`dramaturg.worlds.alfworld._engine`) is a subclass, since its ``.tw-pddl``
games are TextWorld games too: it asks TextWorld for other infos and reads
its states differently, and shares ``reset``, ``step`` and ``close``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["TextWorldEngine", "request_infos"]


def request_infos(*, policy: bool = False) -> Any:
    """The ``EnvInfos`` dramaturg asks TextWorld for (the benchmark uses the same).

    ``policy`` adds ``policy_commands`` (TextWorld replans on every step for it,
    so it is off unless asked for); the gold plan comes from the walkthrough.
    """
    from textworld import EnvInfos

    return EnvInfos(
        admissible_commands=True,
        won=True,
        lost=True,
        score=True,
        max_score=True,
        objective=True,
        moves=True,
        extras=["walkthrough"],
        policy_commands=policy,
    )


class TextWorldEngine:
    """Plays one generated game file through ``textworld.start``.

    Subclasses change :meth:`_start` (how the game is opened), :meth:`_state`
    (what a game state says), :meth:`_objective` and :meth:`_gold_plan`.
    """

    def __init__(self, game_file: str, policy: bool = False) -> None:
        self.game_file = game_file
        self.policy = policy
        self.env = self._start()

    def _start(self) -> Any:
        import warnings

        import textworld

        with warnings.catch_warnings():
            # Jericho warns that it cannot detect score changes in TextWorld's
            # games; TextWorld tracks the score itself, so the warning is noise.
            warnings.filterwarnings("ignore", message=".*is not fully supported.*")
            return textworld.start(self.game_file, request_infos=request_infos(policy=self.policy))

    def _state(self, gs: Any) -> dict[str, Any]:
        state = {
            "feedback": gs.feedback,
            "score": float(gs.score or 0),
            "max_score": float(gs.max_score) if gs.max_score is not None else None,
            "won": bool(gs.won),
            "lost": bool(gs.lost),
            "admissible_commands": sorted(gs.admissible_commands or []),
            "moves": gs.moves,
        }
        if self.policy:
            state["policy_commands"] = list(gs.policy_commands or [])
        return state

    def _objective(self, gs: Any) -> str | None:
        objective: str | None = gs.objective
        return objective

    def _gold_plan(self, gs: Any) -> list[str] | None:
        plan = gs.get("extra.walkthrough")
        if not plan:
            plan = self._quest_commands()
        return list(plan) if plan else None

    def _quest_commands(self) -> list[str] | None:
        # Treasure-hunter games carry no walkthrough; their quest has the commands.
        path = Path(self.game_file).with_suffix(".json")
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        for quest in data.get("quests", []):
            if quest.get("commands"):
                return list(quest["commands"])
        return None

    def reset(self) -> dict[str, Any]:
        gs = self.env.reset()
        state = self._state(gs)
        state["objective"] = self._objective(gs)
        state["gold_plan"] = self._gold_plan(gs)
        return state

    def step(self, command: str) -> dict[str, Any]:
        gs, _, done = self.env.step(command)
        state = self._state(gs)
        state["done"] = bool(done)
        return state

    def close(self) -> None:
        self.env.close()
