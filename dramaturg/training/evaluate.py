"""Does the adapter help? The held-out games, played by the tool agent with and without it.

Both runs are ordinary evaluation runs (``run_eval`` with the ``react``
agent: the tool agent alone, no planner), on the test games of the data set,
so the adapter is judged on games it never saw. Besides the success rate,
each run's traces give per-step figures:

* ``valid_rate``: steps that produced a command the world accepted (no
  model failure, no error from the world). With admissible lists the
  answer is constrained to them, so this mostly counts model failures.
* ``free_valid_rate``: steps whose command the model wrote by itself: the
  local backend's free (unconstrained) answer was already a valid JSON
  object naming an admissible command, with no grammar needed to force it
  into shape. This is the valid-command rate of the model, not of the
  decoder.
* ``completion_tokens``: tokens generated per step. The local backend first
  decodes freely and falls back to grammar-constrained decoding when the
  answer does not parse, so this also shows how often the model got the
  format right at once.
* ``latency_s``: seconds per step.

Example:
    >>> rows = compare_adapter("runs/tw/data.jsonl", "runs/tw/tool-agent.gguf", out="runs/tw/eval")  # doctest: +SKIP
    >>> rows["adapter"]["success_rate"] - rows["base"]["success_rate"]                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dramaturg.errors import ConfigError

__all__ = ["compare_adapter", "step_stats"]


def step_stats(run_dir: str | os.PathLike[str]) -> dict[str, float]:
    """Per-step figures of a run's traces (see the module docstring)."""
    steps = valid = free = tokens = 0
    latency = 0.0
    for trace in sorted((Path(run_dir) / "traces").glob("*.jsonl")):
        for line in trace.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            step = json.loads(line)
            if "step" not in step:
                continue  # an episode's crash record
            steps += 1
            ok = bool(step.get("action")) and not step.get("error")
            valid += ok
            free += ok and not step.get("constrained")
            tokens += int(step.get("completion_tokens") or 0)
            latency += float(step.get("latency_s") or 0.0)
    if not steps:
        return {
            "steps": 0,
            "valid_rate": 0.0,
            "free_valid_rate": 0.0,
            "completion_tokens": 0.0,
            "latency_s": 0.0,
        }
    return {
        "steps": steps,
        "valid_rate": valid / steps,
        "free_valid_rate": free / steps,
        "completion_tokens": tokens / steps,
        "latency_s": latency / steps,
    }


def _earlier_rows(path: Path, **same: Any) -> dict[str, dict[str, Any]]:
    """The rows of an earlier ``compare.json`` played with the ``same`` options, else none."""
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(earlier, dict) or not isinstance(earlier.get("rows"), dict):
        return {}
    if any(earlier.get(k) != v for k, v in same.items()):
        return {}
    return earlier["rows"]


def compare_adapter(
    data: str | os.PathLike[str],
    adapter: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    split: str = "test",
    scale: float = 1.0,
    base_model: str = "local",
    max_steps: int = 30,
    attempts: int = 1,
    temperature: float = 0.0,
    backend: str = "mp",
    workers: int | None = 1,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
    which: Sequence[str] = ("base", "adapter"),
) -> dict[str, dict[str, Any]]:
    """Play ``split``'s games of ``data`` without and with ``adapter``; return both rows.

    Args:
        data: a data file written by :func:`~dramaturg.training.build_sft_data`.
        adapter: the GGUF LoRA adapter.
        out: where the two runs go (``out/base``, ``out/adapter``); reusing it resumes them.
        split: which games to play (``test``: never trained on).
        scale: the adapter's strength.
        base_model: the ``local`` model spec the adapter is added to.
        max_steps, attempts, backend, workers: as for :func:`~dramaturg.evals.run_eval`.
        limit: play at most this many games, taken in turn from each task type
            (so every type is represented).
        temperature: the tool agent's sampling temperature (0: greedy, so the two runs
            differ only by the adapter).
        seed: the runs' seed (both runs use the same one: each game gets the same
            sampling seed without and with the adapter).
        which: the runs to play: ``"base"`` and/or ``"adapter"`` (a DAgger round
            plays its adapter alone); the row of a run not played is kept from an
            earlier ``out/compare.json`` of the same games and settings.

    Both runs use the tool agent settings the data was written with (its history
    window, observation length and recap), so the adapter sees prompts shaped as
    in training, and the base model the same ones.

    The rows are also written to ``out/compare.json``.
    """
    from dramaturg.evals import AgentSpec, run_eval
    from dramaturg.training._checkpoints import write_json
    from dramaturg.training._splits import round_robin, split_cases, tool_agent_settings

    suite = split_cases(data, split)
    settings = tool_agent_settings(data)  # play with the prompts the adapter learnt from
    if limit is not None and len(suite.cases) > limit:
        suite = suite.model_copy(update={"cases": round_robin(suite.cases, limit)})
    adapter = Path(adapter).resolve()
    sep = "&" if "?" in base_model else "?"
    with_adapter = f"{base_model}{sep}lora={quote(str(adapter), safe='/')}&lora_scale={scale}"
    unknown = sorted(set(which) - {"base", "adapter"})
    if unknown or not which:
        raise ConfigError(f"which names the runs to play, base and/or adapter, not {list(which)}")
    rows: dict[str, dict[str, Any]] = {}
    kept = _earlier_rows(
        Path(out) / "compare.json",
        split=split,
        max_steps=max_steps,
        temperature=temperature,
        seed=seed,
        tool_agent=settings,
    )
    for label, spec in (("base", base_model), ("adapter", with_adapter)):
        if label not in which and label in kept:
            rows[label] = kept[label]
        if label not in which:
            continue
        run_dir = Path(out) / label
        summary = run_eval(
            suite,
            AgentSpec(
                kind="react",
                model=spec,
                temperature=temperature,
                # the base row plays the base model, never a registered or shipped adapter
                tool_model="main",
                options={"tool_agent": settings},
            ),
            out=run_dir,
            attempts=attempts,
            max_steps=max_steps,
            backend=backend,
            workers=workers,
            seed=seed,
            progress=progress,
        )
        overall = summary["overall"]
        rows[label] = {
            "model": spec,
            "games": overall.get("n", 0),
            "success_rate": overall.get("success_rate", 0.0),
            "stderr": overall.get("stderr", 0.0),
            **step_stats(run_dir),
        }
    write_json(
        Path(out) / "compare.json",
        {
            "data": str(data),
            "adapter": str(adapter),
            "split": split,
            "max_steps": max_steps,
            "temperature": temperature,
            "seed": seed,
            "tool_agent": settings,
            "rows": rows,
        },
    )
    return rows
