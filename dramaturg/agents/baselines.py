"""Baseline policies that need no model: random and oracle (the gold plan).

They bracket every success rate we report: a model agent should beat the
random policy, and the oracle shows what the world allows.

Example:
    >>> with make_world("alfworld/pick_and_place_simple") as world:       # doctest: +SKIP
    ...     result = play_episode(world, OracleAgent(), seed=0)
    >>> result.won                                                       # doctest: +SKIP
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["EpisodeResult", "OracleAgent", "Policy", "RandomAgent", "play_episode"]


class Policy(Protocol):
    def reset(self, observation: str, info: dict[str, Any], *, seed: int | None) -> None: ...

    def act(self, observation: str, info: dict[str, Any]) -> str: ...


@dataclass(kw_only=True)
class RandomAgent:
    """Picks uniformly among the admissible actions (``look`` when none are known)."""

    _rng: random.Random = field(default_factory=random.Random)

    def reset(self, observation: str, info: dict[str, Any], *, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def act(self, observation: str, info: dict[str, Any]) -> str:
        options = info.get("admissible_actions") or ["look"]
        return self._rng.choice(list(options))


@dataclass(kw_only=True)
class OracleAgent:
    """Plays the world's gold plan, step by step."""

    _plan: list[str] = field(default_factory=list)

    def reset(self, observation: str, info: dict[str, Any], *, seed: int | None) -> None:
        self._plan = list(info.get("gold_plan") or [])

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self._plan.pop(0) if self._plan else "look"


@dataclass(kw_only=True)
class EpisodeResult:
    won: bool
    lost: bool
    steps: int
    score: float
    actions: list[str]


def play_episode(
    world: Any, policy: Policy, *, seed: int | None = 0, max_steps: int = 50
) -> EpisodeResult:
    """Play one episode of ``world`` with ``policy``."""
    obs, info = world.reset(seed=seed)
    policy.reset(obs, info, seed=seed)
    actions: list[str] = []
    for _ in range(max_steps):
        action = policy.act(obs, info)
        actions.append(action)
        obs, _, terminated, truncated, info = world.step(action)
        if terminated or truncated:
            break
    return EpisodeResult(
        won=bool(info.get("won")),
        lost=bool(info.get("lost")),
        steps=len(actions),
        score=float(info.get("score") or 0.0),
        actions=actions,
    )
