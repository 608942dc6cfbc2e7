"""Tiny worlds for runner tests: fast, deterministic, and able to fail on demand."""

from __future__ import annotations

import os
import time
from typing import Any

from dramaturg.worlds.base import BaseWorld, make_info


class StepsWorld(BaseWorld):
    """Walk ``n`` rooms east to win; the seed picks how many (2-4).

    ``fail``: ``"raise"`` raises on the first step, ``"die"`` kills the whole
    process on the first step, ``"hang"`` sleeps for an hour; only for the
    seeds in ``fail_seeds`` (all seeds when empty). ``step_sleep`` slows each step.
    """

    id = "test/steps"

    def __init__(
        self, *, fail: str | None = None, fail_seeds: tuple[int, ...] = (), step_sleep: float = 0.0
    ) -> None:
        super().__init__()
        self.fail, self.fail_seeds, self.step_sleep = fail, tuple(fail_seeds), step_sleep

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.seed = int(seed or 0)
        self.n = 2 + self.seed % 3
        self.at = 0
        self._running = True
        return self._obs(), self._info()

    def _obs(self) -> str:
        return f"You are in room {self.at} of {self.n}."

    def _info(self, **kw: Any) -> dict[str, Any]:
        return make_info(
            admissible_actions=["east", "west", "wait"],
            gold_plan=["east"] * self.n,
            score=float(self.at),
            max_score=float(self.n),
            won=self.at >= self.n,
            **kw,
        )

    def step(self, action: Any):
        if self.fail and (not self.fail_seeds or self.seed in self.fail_seeds):
            if self.fail == "raise":
                raise RuntimeError("the test world broke on purpose")
            if self.fail == "die":
                os._exit(9)
            if self.fail == "hang":
                time.sleep(3600)
        if self.step_sleep:
            time.sleep(self.step_sleep)
        if action == "east":
            self.at += 1
        elif action == "west":
            self.at = max(0, self.at - 1)
        won = self.at >= self.n
        return self._obs(), 1.0 if action == "east" else 0.0, won, False, self._info()


def pick_by_seed(messages: list[dict], opts: dict[str, Any]) -> dict[str, str]:
    """A scripted tool agent: a command chosen by the call's seed and the observation."""
    seed = int(opts.get("seed") or 0)
    last = messages[-1]["content"]
    room = int(last.split("room ", 1)[1].split(" ", 1)[0]) if "room " in last else 0
    return {"command": "east" if (seed + room) % 3 else "wait"}


def scripted_tool_agent():
    """A fresh scripted model per episode (module level, so worker processes can import it)."""
    from dramaturg.models import ScriptedModel

    return ScriptedModel([pick_by_seed] * 200)


def schema_actor_model():
    """Plays every role of a drama with valid answers (see dramaturg.testing.SchemaModel)."""
    from dramaturg.testing import SchemaModel

    return SchemaModel()


def _score_by_criterion(offset: int):
    def answer(messages: list[dict], opts: dict) -> dict:
        text = messages[-1]["content"].lower()
        base = 2 if "in character" in text or "persona" in text else 4
        return {"reason": "as scripted", "score": max(1, min(5, base + offset))}

    return answer


def judge_one():
    from dramaturg.models import ScriptedModel

    return ScriptedModel([_score_by_criterion(0)] * 200)


def judge_two():
    from dramaturg.models import ScriptedModel

    return ScriptedModel([_score_by_criterion(1)] * 200)


def gaia_reader():
    """A react worker that reads the attached file, peeks for the key, browses the wiki and answers."""
    from dramaturg.models import ScriptedModel

    return ScriptedModel(
        [
            {"thought": "read it", "tool": "read_file", "arguments": {"path": "data.csv"}},
            {"thought": "cheat?", "tool": "read_file", "arguments": {"path": "metadata.jsonl"}},
            {"thought": "browse", "tool": "read_page", "arguments": {"path": "/wiki/"}},
            {"answer": "The sum is 1,234.\nFINAL ANSWER: 1,234"},
        ]
    )


def refusing_model():
    """A main model that must not be called (the tool agent has its own)."""
    from dramaturg.models import ScriptedModel

    return ScriptedModel([])


def walks_east_when_it_sees_a_recap():
    """A tool agent that goes east on its first step and then only while the prompt
    recaps what it did (``Done so far: ``); otherwise it waits."""
    from dramaturg.agents.tool_agent import DONE
    from dramaturg.models import ScriptedModel

    def answer(messages: list[dict], opts: dict[str, Any]) -> dict[str, str]:
        first = len(messages) == 2  # the system message and the first observation
        return {"command": "east" if first or DONE in messages[-1]["content"] else "wait"}

    return ScriptedModel([answer] * 50)
