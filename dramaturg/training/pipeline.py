"""The tool-agent recipe as one call: build data, train a LoRA adapter, export it, register it.

:func:`train_tool_agent` is what ``dramaturg train tool-agent`` runs: gold plans
(and won runs) become a data file split by game (:func:`~dramaturg.training.build_sft_data`),
a LoRA adapter is trained on its train split (:func:`~dramaturg.training.train_lora`),
written as a GGUF LoRA that records the tool agent settings of its data
(:func:`~dramaturg.training.export_lora_gguf`), and registered for the worlds
trained on. It prints nothing: what it has done so far goes to a
:class:`PipelineReporter`, and what it did comes back as a :class:`ToolAgentRun`.

Example:
    >>> run = train_tool_agent(["textworld/tw-simple"], "runs/tw", games=20)  # doctest: +SKIP
    >>> run.adapter, run.keys                                                 # doctest: +SKIP
    (PosixPath('runs/tw/tool-agent.gguf'), ['textworld/tw-simple'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dramaturg.errors import ConfigError
from dramaturg.training._splits import tool_agent_settings
from dramaturg.training.build import DataSummary, build_sft_data
from dramaturg.training.export import export_lora_gguf
from dramaturg.training.lora import TrainResult, train_lora

__all__ = ["PipelineReporter", "ToolAgentRun", "registry_keys", "train_tool_agent"]

_FAMILIES = ("textworld", "alfworld")


class PipelineReporter:
    """What :func:`train_tool_agent` has done, told as it goes; each step tells nothing
    unless a subclass overrides it (the CLI prints the data summary before the long
    training starts)."""

    def data_built(self, data: DataSummary) -> None:
        """The data file and its splits are written."""

    def trained(self, result: TrainResult) -> None:
        """The adapter is trained."""

    def exported(self, adapter: Path) -> None:
        """The GGUF adapter is written."""

    def registered(self, keys: list[str]) -> None:
        """The adapter is registered for ``keys``."""


class _Registry(Protocol):
    def add(self, key: str, adapter: str | os.PathLike[str], *, base: Any = None) -> Any: ...


@dataclass(kw_only=True)
class ToolAgentRun:
    """What :func:`train_tool_agent` did.

    Attributes:
        data: the data file written and how its games were split.
        train: the training run.
        adapter: the GGUF LoRA adapter (``<out>/tool-agent.gguf``).
        keys: the registry keys of the worlds trained on (a family becomes its prefix).
        registered: whether the adapter was registered for ``keys``.
    """

    data: DataSummary
    train: TrainResult
    adapter: Path
    keys: list[str]
    registered: bool


def registry_keys(worlds: Sequence[str]) -> list[str]:
    """Registry keys for the worlds trained on: a family (``textworld``) becomes its prefix."""
    return [w.rstrip("/") + "/" if w.rstrip("/") in _FAMILIES else w for w in worlds]


def train_tool_agent(
    worlds: Sequence[str],
    out: str | os.PathLike[str],
    *,
    games: int = 20,
    first_game: int = 0,
    splits: Sequence[str] = ("seen", "unseen"),
    test_split: str | None = None,
    search: int = 0,
    rename: float = 0.0,
    repeat: Mapping[str, int] | None = None,
    recap: int = 0,
    focus: int = 0,
    notes: int = 0,
    test_games: int | None = None,
    traces: Sequence[str | os.PathLike[str]] = (),
    test_frac: float = 0.2,
    valid_frac: float = 0.1,
    steps: int | None = None,
    epochs: int = 2,
    lr: float = 2e-4,
    rank: int = 8,
    alpha: float = 16.0,
    batch: int = 4,
    max_len: int = 1024,
    seed: int = 0,
    base: str | os.PathLike[str] | None = None,
    device: str = "auto",
    dtype: str = "f32",
    register: bool = True,
    registry: _Registry | None = None,
    resume: bool = True,
    workers: int | None = None,
    progress: bool = False,
    reporter: PipelineReporter | None = None,
) -> ToolAgentRun:
    """Build data from gold plans, train a LoRA adapter, export it to GGUF and register it.

    Writes ``<out>/data.jsonl`` (and its splits file), the training run in
    ``<out>/train`` and the adapter as ``<out>/tool-agent.gguf``.

    Args:
        worlds: world ids or families (``textworld``, ``alfworld``).
        out: the folder for the data, the training run and the adapter.
        games: games per world (and ALFWorld-style split).
        first_game: the seed of the first game: the games play seeds
            ``first_game..first_game+games-1`` (start above an evaluation's seeds to keep
            them held out).
        splits, test_split, search, rename, repeat, recap, focus, notes, test_games, traces,
            test_frac, valid_frac, workers: how the data is built (see
            :func:`~dramaturg.training.build_sft_data`); ``seed`` also seeds the split.
        steps, epochs, lr, rank, alpha, batch, max_len, seed, device, resume: the
            training (see :func:`~dramaturg.training.train_lora`).
        base: the base GGUF (default: the packaged Gemma 3 270M).
        dtype: the adapter's tensors, ``f32`` or ``f16``.
        register: register the adapter for the worlds trained on (see :func:`registry_keys`).
        registry: where to register it (default: the user's adapter registry).
        progress: show progress bars while playing games and training.
        reporter: told of each step as it is done.

    Raises:
        DramaturgError: a step failed (a ``ConfigError`` for bad settings, before any game is played).
    """
    if dtype not in ("f32", "f16"):
        raise ConfigError(f"dtype must be f32 or f16, not {dtype!r}")
    reporter = reporter or PipelineReporter()
    out = Path(out)
    data = build_sft_data(
        worlds,
        range(first_game, first_game + games),
        out / "data.jsonl",
        splits=tuple(splits),
        test_split=test_split,
        search=search,
        rename=rename,
        repeat=repeat,
        recap=recap,
        focus=focus,
        notes=notes,
        test_games=test_games,
        traces=list(traces),
        test_frac=test_frac,
        valid_frac=valid_frac,
        split_seed=seed,
        workers=workers,
        progress=progress,
    )
    reporter.data_built(data)
    result = train_lora(
        data.path,
        out=out / "train",
        base=base,
        rank=rank,
        alpha=alpha,
        lr=lr,
        epochs=epochs,
        steps=steps,
        batch=batch,
        max_len=max_len,
        seed=seed,
        resume=resume,
        device=device,
        progress=progress,
    )
    reporter.trained(result)
    adapter = export_lora_gguf(
        result.adapter_dir,
        out / "tool-agent.gguf",
        base_gguf=base,
        dtype="f16" if dtype == "f16" else "f32",
        tool_agent=tool_agent_settings(data.path),
    )
    reporter.exported(adapter)
    keys = registry_keys(worlds)
    if register:
        if registry is None:
            # Lazily: the registry reads the user's home folder, and only this step needs it.
            from dramaturg.models.adapters import AdapterRegistry

            registry = AdapterRegistry()
        for key in keys:
            registry.add(key, adapter, base=base)
        reporter.registered(keys)
    return ToolAgentRun(data=data, train=result, adapter=adapter, keys=keys, registered=register)
