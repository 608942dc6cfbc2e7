"""DAgger rounds on a trained tool agent: play it, label where it went, train on, measure.

:func:`dagger_rounds` takes a folder written by
:func:`~dramaturg.training.train_tool_agent` (its data, its splits and its adapter:
round 0) and, round after round:

1. plays the current adapter on the data's *train* games, the expert's command
   replacing the adapter's on a share ``beta ** round`` of the steps, and labels
   every state reached with the expert's command
   (:func:`~dramaturg.training.dagger.dagger_examples`);
2. trains on from the round before's adapter, on those examples and as many
   drawn from the data so far (``replay``: what it learnt is kept while the new
   states are learnt), for one pass;
3. exports the adapter and plays it alone on the held-out (test) games, which no
   round ever plays for data.

Each round's row (examples added, training minutes, valid loss, held-out success
with its standard error, the adapter's own-valid-command rate) goes to
``<run>/dagger/rounds.json`` as it is done; running the same call again goes on
where it stopped (a finished round is not redone; a stopped training resumes).

Example:
    >>> rows = dagger_rounds("runs/alf", rounds=2, games=24, workers=2)  # doctest: +SKIP
    >>> [(r.round, r.heldout_success) for r in rows]                     # doctest: +SKIP
    [(0, 0.125), (1, 0.25), (2, 0.3125)]
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dramaturg.errors import ConfigError
from dramaturg.models._weights import sha256_file
from dramaturg.training.dagger import ModelPolicy

__all__ = ["DaggerReporter", "DaggerRound", "dagger_rounds"]


@dataclass(kw_only=True)
class DaggerRound:
    """One DAgger round (round 0: the adapter the rounds start from).

    Attributes:
        round: its number.
        beta: the share of steps the expert played instead of the adapter.
        games: train games played for data.
        played_success: the share of them the played mix won.
        agreement: the share of the adapter's own choices that were the expert's.
        added: examples added (one per state the expert labelled).
        examples: examples trained on (``added`` and the replayed ones).
        train_minutes: the training's wall time.
        valid_loss: the loss on the data's valid games after training.
        heldout_games: held-out games played.
        heldout_success: the share won.
        heldout_stderr: its standard error.
        own_valid: the share of steps whose command the adapter wrote valid by itself
            (before any grammar forced it).
        adapter: the GGUF adapter of this round.
    """

    round: int
    beta: float = 0.0
    games: int = 0
    played_success: float = 0.0
    agreement: float = 0.0
    added: int = 0
    examples: int = 0
    train_minutes: float = 0.0
    valid_loss: float | None = None
    heldout_games: int = 0
    heldout_success: float = 0.0
    heldout_stderr: float = 0.0
    own_valid: float = 0.0
    adapter: str = ""


class DaggerReporter:
    """Told of each step of :func:`dagger_rounds` as it is done (nothing, unless overridden)."""

    def playing(self, round: int, games: int, beta: float) -> None:
        """Round ``round`` starts playing ``games`` train games."""

    def game_done(self, round: int, won: bool) -> None:
        """One of them ended."""

    def training(self, round: int, examples: int) -> None:
        """Round ``round`` starts training on ``examples`` examples."""

    def round_done(self, row: DaggerRound) -> None:
        """A round (or round 0's measurement) is done."""


def dagger_rounds(
    run: str | os.PathLike[str],
    *,
    rounds: int = 2,
    games: int | None = None,
    beta: float = 0.5,
    max_steps: int = 40,
    temperature: float = 0.7,
    replay: float = 1.0,
    lr: float = 2e-4,
    batch: int | None = None,
    max_len: int | None = None,
    seed: int = 0,
    eval_limit: int | None = None,
    eval_steps: int | None = None,
    eval_temperature: float | None = None,
    workers: int = 1,
    base: str | os.PathLike[str] | None = None,
    device: str = "auto",
    dtype: str | None = None,
    progress: bool = False,
    reporter: DaggerReporter | None = None,
) -> list[DaggerRound]:
    """Run DAgger rounds on the tool agent trained in ``run`` (see the module docstring).

    Args:
        run: a folder written by :func:`~dramaturg.training.train_tool_agent`
            (``data.jsonl``, its splits file, ``train/adapter``, ``tool-agent.gguf``).
        rounds: rounds after round 0.
        games: train games played per round (drawn anew each round; ``None``: all).
        beta: the expert plays a share ``beta ** round`` of the steps (DAgger's mixing:
            0.5, then 0.25, ...); 0: the adapter plays every step.
        max_steps: the most commands per game played for data.
        temperature: the adapter's sampling temperature while playing for data.
        replay: examples drawn from the data so far per example added (0: the new ones only).
        lr, batch, max_len, device: the training (see :func:`~dramaturg.training.train_lora`);
            each round makes one pass, from the round before's adapter. ``batch`` and
            ``max_len`` default to the run's own.
        seed: seeds the games drawn, the mixing, the sampling and the replay.
        eval_limit: held-out games played per round (``None``: every test game).
        eval_steps: their step budget (default ``max_steps``).
        eval_temperature: their sampling temperature (default ``temperature``).
        workers: processes playing side by side (each loads its own model).
        base: the base GGUF (default: the one the run was trained on).
        dtype: the exported adapters' tensors (default: those of the run's adapter).
        progress: show progress bars while training and evaluating.
        reporter: told of each step.

    Returns:
        Round 0's row and one per round, also in ``<run>/dagger/rounds.json``.

    Raises:
        ConfigError: ``run`` is not a trained tool-agent folder, a bad setting, or
            ``<run>/dagger`` holds rounds made with other settings.
    """
    from dramaturg.training._splits import split_cases, tool_agent_settings
    from dramaturg.training.data import load_sft_data

    run = Path(run)
    data = run / "data.jsonl"
    first_peft, first_gguf = run / "train" / "adapter", run / "tool-agent.gguf"
    if not (
        data.is_file() and first_gguf.is_file() and (first_peft / "adapter_config.json").is_file()
    ):
        raise ConfigError(
            f"{run} is not a trained tool-agent folder (data.jsonl, train/adapter and "
            "tool-agent.gguf); make one with `dramaturg train tool-agent --out ...`"
        )
    if dtype not in (None, "f32", "f16"):
        raise ConfigError(f"dtype must be f32 or f16, not {dtype!r}")
    if rounds < 0 or not 0.0 <= beta <= 1.0 or replay < 0 or (games is not None and games < 1):
        raise ConfigError(
            "rounds must be 0 or more, beta between 0 and 1, replay 0 or more, games 1 or more"
        )
    reporter = reporter or DaggerReporter()
    settings = tool_agent_settings(data)
    own = _run_settings(run)
    batch = batch or own["batch"]
    max_len = max_len or own["max_len"]
    dtype = dtype or own["dtype"]
    if base is None and own["base"] is not None:
        base = own["base"]
    model = f"local:{Path(base).resolve()}" if base is not None else "local"
    folder = run / "dagger"
    folder.mkdir(exist_ok=True)
    ledger = folder / "rounds.json"
    # What a round's rows depend on: going on with other settings would mix them in one table.
    fixed = {
        "start": sha256_file(first_gguf),
        "games": games,
        "beta": beta,
        "max_steps": max_steps,
        "temperature": temperature,
        "replay": replay,
        "lr": lr,
        "batch": batch,
        "max_len": max_len,
        "seed": seed,
        "eval_limit": eval_limit,
        "eval_steps": eval_steps or max_steps,
        "eval_temperature": temperature if eval_temperature is None else eval_temperature,
    }
    done = _read_ledger(ledger, fixed)
    eval_kw = {
        "limit": eval_limit,
        "max_steps": eval_steps or max_steps,
        "temperature": temperature if eval_temperature is None else eval_temperature,
        "workers": workers,
        "progress": progress,
        "base_model": model,
    }
    if 0 not in done:
        done[0] = _measure(DaggerRound(round=0), data, first_gguf, folder / "round-0", **eval_kw)
        _write_ledger(ledger, done, fixed)
        reporter.round_done(done[0])
    train_games = split_cases(data, "train").cases
    pool = load_sft_data(data, split="train")
    valid = load_sft_data(data, split="valid")
    prev_peft, prev_gguf = first_peft, first_gguf
    for r in range(1, rounds + 1):
        here = folder / f"round-{r}"
        added_file = here / "examples.jsonl"
        if r in done:
            pool += load_sft_data(added_file) if added_file.is_file() else []
            prev_peft, prev_gguf = here / "train" / "adapter", here / "tool-agent.gguf"
            continue
        here.mkdir(exist_ok=True)
        row = DaggerRound(round=r, beta=beta**r)
        rng = random.Random(f"{seed}/{r}")
        chosen = list(train_games)
        rng.shuffle(chosen)
        chosen = chosen[:games] if games is not None else chosen
        policy = ModelPolicy(
            f"{model}?lora={quote(str(prev_gguf.resolve()), safe='/')}",
            temperature=temperature,
            seed=seed + r,
            **settings,
        )
        added, stats = _play_round(
            chosen, policy, row, here, max_steps, workers, reporter, settings
        )
        row.games, row.played_success, row.agreement, row.added = (
            stats["games"],
            stats["success"],
            stats["agreement"],
            len(added),
        )
        replayed = rng.sample(pool, min(len(pool), math.ceil(replay * len(added))))
        train_set = added + replayed
        round_data = here / "data.jsonl"
        _write_round_data(round_data, train_set + valid, data)
        reporter.training(r, len(train_set))
        from dramaturg.training.export import export_lora_gguf
        from dramaturg.training.lora import train_lora

        result = train_lora(
            round_data,
            out=here / "train",
            base=base,
            lr=lr,
            epochs=1,
            batch=batch,
            max_len=max_len,
            seed=seed + r,
            device=device,
            progress=progress,
            init_adapter=prev_peft,
        )
        row.examples, row.valid_loss = result.examples, result.valid_loss
        row.train_minutes = round(result.wall_s / 60, 1)
        gguf = export_lora_gguf(
            result.adapter_dir,
            here / "tool-agent.gguf",
            base_gguf=base,
            dtype="f16" if dtype == "f16" else "f32",
            tool_agent=settings,
        )
        done[r] = _measure(row, data, gguf, here, **eval_kw)
        _write_ledger(ledger, done, fixed)
        reporter.round_done(done[r])
        pool += added
        prev_peft, prev_gguf = result.adapter_dir, gguf
    return [done[r] for r in sorted(done) if r <= rounds]


def _play_round(
    cases: list[Any],
    policy: ModelPolicy,
    row: DaggerRound,
    here: Path,
    max_steps: int,
    workers: int,
    reporter: DaggerReporter,
    settings: dict[str, int],
) -> tuple[list[Any], dict[str, Any]]:
    """Play the round's games (or read what an earlier, stopped call played)."""
    from dramaturg.training.dagger import dagger_examples
    from dramaturg.training.data import SFTExample, load_sft_data, write_sft_data

    added_file, stats_file = here / "examples.jsonl", here / "played.json"
    if added_file.is_file() and stats_file.is_file():
        return load_sft_data(added_file), json.loads(stats_file.read_text())
    reporter.playing(row.round, len(cases), row.beta)
    played = dagger_examples(
        cases,
        policy,
        beta=row.beta,
        seed=policy.seed,
        max_steps=max_steps,
        workers=workers,
        on_game=lambda g: reporter.game_done(row.round, g.won),
        **settings,
    )
    added = [SFTExample(**r) for r in played.examples]
    stats = {
        "games": len(played.games),
        "success": played.success,
        "agreement": played.agreement,
        "per_game": [asdict(g) for g in played.games],
    }
    write_sft_data(added_file, added)
    stats_file.write_text(json.dumps(stats, indent=2) + "\n")
    return added, stats


def _write_round_data(path: Path, examples: list[Any], data: Path) -> None:
    """The round's data file, with the base data's splits file (same games, same settings)."""
    from dramaturg.training.data import splits_path, write_sft_data

    write_sft_data(path, examples)
    shutil.copyfile(splits_path(data), splits_path(path))


def _measure(
    row: DaggerRound, data: Path, adapter: Path, here: Path, **eval_kw: Any
) -> DaggerRound:
    """Play ``adapter`` alone on the held-out games; fill the row's held-out figures."""
    from dramaturg.training.evaluate import compare_adapter

    here.mkdir(parents=True, exist_ok=True)
    found = compare_adapter(data, adapter, out=here / "heldout", which=("adapter",), **eval_kw)
    played = found["adapter"]
    row.heldout_games = int(played["games"])
    row.heldout_success = float(played["success_rate"])
    row.heldout_stderr = float(played["stderr"])
    row.own_valid = float(played["free_valid_rate"])
    row.adapter = str(adapter.resolve())
    return row


def _run_settings(run: Path) -> dict[str, Any]:
    """The run's own batch, max_len, base GGUF and adapter tensor type."""
    from dramaturg.models._gguf import read_gguf_tensors
    from dramaturg.training._checkpoints import BASE_FILE

    trained = json.loads((run / "train" / "train.json").read_text()).get("settings", {})
    base_file = run / "train" / "adapter" / BASE_FILE
    base = json.loads(base_file.read_text()).get("path") if base_file.is_file() else None
    if base is not None:
        from dramaturg.models._weights import default_weights

        if Path(base).resolve() == default_weights().resolve():
            base = None  # the packaged model: found again wherever it is installed
    gguf = run / "tool-agent.gguf"
    elements = sum(math.prod(shape) for shape in read_gguf_tensors(gguf)[1].values())
    f16 = (
        elements and gguf.stat().st_size < 3 * elements
    )  # 2 bytes per weight (+ the header), not 4
    return {
        "batch": int(trained.get("batch", 4)),
        "max_len": int(trained.get("max_len", 1024)),
        "base": base,
        "dtype": "f16" if f16 else "f32",
    }


def _read_ledger(path: Path, fixed: dict[str, Any]) -> dict[int, DaggerRound]:
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        rows = raw["rounds"]
        done = {int(r["round"]): DaggerRound(**r) for r in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a DAgger ledger ({exc}); move it away to start over"
        ) from None
    before = raw.get("settings") or {}
    differ = [k for k in fixed if k in before and before[k] != fixed[k]]
    if differ:
        shown = ", ".join(f"{k}: {before[k]!r} there, {fixed[k]!r} now" for k in differ)
        raise ConfigError(
            f"{path.parent} holds DAgger rounds made with other settings ({shown}); "
            "go on with the same ones, or move the folder away to start over"
        )
    return done


def _write_ledger(path: Path, done: dict[int, DaggerRound], fixed: dict[str, Any]) -> None:
    from dramaturg.training._checkpoints import write_json

    write_json(path, {"settings": fixed, "rounds": [asdict(done[r]) for r in sorted(done)]})
