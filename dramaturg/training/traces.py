"""Trace mining: the won episodes of an evaluation run, replayed into training examples.

A run's trace records each step's command, observation and the goal the tool
agent had, but not the admissible commands the prompt listed; so each won
episode is played again in its world, and a replay that differs from its trace
is left out.

Example:
    >>> examples = from_traces("runs/oracle-tw")  # doctest: +SKIP
    >>> {e.source for e in examples}               # doctest: +SKIP
    {'trace'}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dramaturg._files import load_json
from dramaturg.errors import ConfigError
from dramaturg.evals.cases import Suite
from dramaturg.training.data import SFTExample

__all__ = ["from_traces"]


def from_traces(
    run_dir: str | os.PathLike[str],
    *,
    suite: Suite | None = None,
    history_turns: int = 6,
    max_observation_chars: int = 600,
    recap: int = 0,
    focus: int = 0,
    notes: int = 0,
) -> list[SFTExample]:
    """Examples from the successful world episodes of an evaluation run directory.

    Each won episode is replayed in its world (the trace does not hold the
    admissible commands of each step), using the goal the tool agent had
    (a planner's intent, recorded as the step's reasoning, or the world's
    objective). An episode whose replay differs from its trace is skipped.

    Args:
        run_dir: a ``run_eval`` output directory.
        suite: the suite that was run; needed unless it was a built-in world suite
            with its default options.
        history_turns, max_observation_chars, recap, focus, notes: the tool agent's settings.
    """
    from dramaturg.evals.runner import read_episodes
    from dramaturg.training._games import case_for_game, play_commands, prompt_agent

    run_dir = Path(run_dir)
    run_file = run_dir / "run.json"
    if not run_file.is_file():
        raise ConfigError(f"{run_dir} is not an evaluation run directory (no run.json)")
    by_id = {c.id: c for c in suite.cases} if suite is not None else {}
    if suite is None:
        meta = load_json(run_file)
        name = meta.get("suite") if isinstance(meta, dict) else None
        if name not in ("alfworld-style", "textworld"):
            raise ConfigError(
                f"{run_dir} ran the suite {name!r}; pass suite= (the Suite that was run) to "
                "replay its games"
            )
    agent = prompt_agent(
        history_turns=history_turns,
        max_observation_chars=max_observation_chars,
        recap=recap,
        focus=focus,
        notes=notes,
    )
    out: list[SFTExample] = []
    for episode in read_episodes(run_dir):
        if episode.get("status") != "done" or not episode.get("success"):
            continue
        case = by_id.get(episode["case_id"]) or case_for_game(
            episode["case_id"], seed=episode.get("seed")
        )
        if case.kind != "world":
            continue
        trace = run_dir / "traces" / f"{case.slug}.{episode.get('attempt', 0)}.jsonl"
        if not trace.is_file():
            continue
        steps = [
            json.loads(line)
            for line in trace.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        if any("action" not in s for s in steps) or any(
            s.get("error") or not s["action"] for s in steps
        ):
            continue  # a crashed episode, or a step without a command
        played = play_commands(
            case,
            [s["action"] for s in steps],
            agent=agent,
            source="trace",
            goals=[s.get("reasoning") or "" for s in steps],
            observations=[s.get("observation", "") for s in steps],
        )
        if played.won and not played.diverged:
            out += [SFTExample(**r) for r in played.examples]
    return out
