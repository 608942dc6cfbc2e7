"""LoRA fine-tuning of the embedded model with PEFT, on a CPU by default.

The loss is computed on the answer tokens only (the JSON command), and the
output matrix is applied only at those positions: Gemma's 262k-token
vocabulary would otherwise need gigabytes for the logits of every prompt
token. Checkpoints are written every ``save_every`` steps under
``out/checkpoints``; running again with the same ``out`` resumes from the last
one (same data, same settings, same batches from there on), and a finished
run returns its result at once.

Example:
    >>> examples = load_sft_data("tw/data.jsonl", split="train")    # doctest: +SKIP
    >>> result = train_lora(examples, out="tw/run", steps=100)      # doctest: +SKIP
    >>> result.adapter_dir, round(result.final_loss, 3)             # doctest: +SKIP
    (PosixPath('tw/run/adapter'), 0.041)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dramaturg._progress import progress_bar
from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.training._checkpoints import (
    BASE_FILE,
    list_checkpoints,
    prepare_run,
    restore_checkpoint,
    save_adapter,
    save_checkpoint,
    write_json,
)
from dramaturg.training.data import SFTExample, load_sft_data, splits_path

__all__ = ["DEFAULT_TARGETS", "TrainResult", "train_lora"]

#: The attention projections: the cheapest set that still changes what the model attends to.
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(kw_only=True)
class TrainResult:
    """What a training run did.

    Attributes:
        adapter_dir: the PEFT adapter (``adapter_config.json`` + safetensors).
        steps: optimizer steps in all (including those before a resume).
        examples: training examples used (those within ``max_len``).
        skipped: examples longer than ``max_len`` tokens, left out.
        tokens: tokens in the examples used.
        epochs: passes over the examples.
        wall_s: seconds spent in this call (loading included).
        train_s: seconds spent in optimizer steps in this call.
        final_loss: mean loss over the last tenth of the steps.
        valid_loss: mean loss on the validation examples, if any.
        losses: the loss of every step.
        device: ``cpu`` or ``cuda``.
        resumed_from: the step a checkpoint was resumed from (0: a fresh run).
        model: the trained PEFT model, in memory (``None`` when the run had already finished).
    """

    adapter_dir: Path
    steps: int
    examples: int
    skipped: int = 0
    tokens: int = 0
    epochs: float = 0.0
    wall_s: float = 0.0
    train_s: float = 0.0
    final_loss: float = math.nan
    valid_loss: float | None = None
    losses: list[float] = field(default_factory=list)
    device: str = "cpu"
    resumed_from: int = 0
    model: Any = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("model")
        data["adapter_dir"] = str(self.adapter_dir)
        return data


def _imports() -> tuple[Any, Any]:
    try:
        import peft
        import torch
    except ImportError as exc:
        raise MissingExtraError(exc.name or "peft", "train", "LoRA training") from None
    return torch, peft


def _device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "device='cuda' was asked for but torch sees no GPU; use device='auto' or 'cpu'"
        )
    return device


def _examples(data: Sequence[SFTExample] | str | os.PathLike[str], split: str) -> list[SFTExample]:
    if isinstance(data, (str, os.PathLike)):
        return load_sft_data(data, split=split if splits_path(data).is_file() else None)
    return list(data)


def _encode(
    tok: Any, examples: Sequence[SFTExample], max_len: int
) -> tuple[list[tuple[list[int], int]], int]:
    from dramaturg.training._base import encode_example

    encoded, skipped = [], 0
    for example in examples:
        item = encode_example(tok, example.messages, max_len=max_len)
        if item is None:
            skipped += 1
        else:
            encoded.append(item)
    return encoded, skipped


def _batch(
    torch: Any, items: Sequence[tuple[list[int], int]], pad: int, device: str
) -> dict[str, Any]:
    width = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, (tokens, _) in enumerate(items):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    # The hidden state at position p predicts token p + 1: answer tokens start at `start`.
    rows, cols, targets = [], [], []
    for row, (tokens, start) in enumerate(items):
        for p in range(start - 1, len(tokens) - 1):
            rows.append(row)
            cols.append(p)
            targets.append(tokens[p + 1])
    return {
        "ids": ids.to(device),
        "mask": mask.to(device),
        "rows": torch.tensor(rows, device=device),
        "cols": torch.tensor(cols, device=device),
        "targets": torch.tensor(targets, device=device),
    }


def _loss(torch: Any, peft_model: Any, batch: dict[str, Any]) -> Any:
    """Cross-entropy on the answer tokens, applying the output matrix only where it is needed."""
    causal = peft_model.get_base_model()
    hidden = causal.model(input_ids=batch["ids"], attention_mask=batch["mask"]).last_hidden_state
    logits = causal.lm_head(hidden[batch["rows"], batch["cols"]]).float()
    cap = getattr(causal.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits, batch["targets"])


def _milestone(done: int, total: int, start: int) -> bool:
    """About every tenth of the run (and its last step): when a log line is written."""
    every = max(1, total // 10)
    return done == total or (done - start) % every == 0


def _log_step(done: int, total: int, losses: list[float], train_s: float, start: int) -> None:
    """A plain line on stderr for runs without a progress bar (logs, CI, nohup)."""
    recent = losses[-10:]
    per_step = train_s / max(1, done - start)
    print(
        f"LoRA step {done}/{total}: loss {sum(recent) / len(recent):.3f}, "
        f"{per_step:.1f} s/step, about {per_step * (total - done) / 60:.0f} min left",
        file=sys.stderr,
        flush=True,
    )


def _order(torch: Any, n: int, batch: int, total: int, seed: int) -> list[list[int]]:
    """The batches of every step: a fresh shuffle per epoch, fixed by the seed (so a resume continues it)."""
    batches: list[list[int]] = []
    epoch = 0
    while len(batches) < total:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=gen).tolist()
        batches += [perm[i : i + batch] for i in range(0, n, batch)]
        epoch += 1
    return batches[:total]


def _init_settings(
    init_adapter: str | os.PathLike[str], identity: dict[str, Any]
) -> dict[str, Any]:
    """The settings an adapter to start from fixes, checked against the base being trained."""
    folder = Path(init_adapter)
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        raise ConfigError(
            f"{folder} is not a trained adapter folder (no adapter_config.json); pass the "
            "adapter/ folder of an earlier training run"
        )
    config = json.loads(config_file.read_text())
    base_file = folder / BASE_FILE
    recorded = json.loads(base_file.read_text()).get("fingerprint") if base_file.is_file() else None
    if recorded is not None and recorded != identity["fingerprint"]:
        raise ConfigError(
            f"the adapter {folder} was trained on another base model (fingerprint {recorded}), "
            f"not this one ({identity['fingerprint']})"
        )
    return {
        "rank": config.get("r"),
        "alpha": config.get("lora_alpha"),
        "targets": sorted(config.get("target_modules") or []),
        "init": hashlib.sha256((folder / "adapter_model.safetensors").read_bytes()).hexdigest()[:16]
        if (folder / "adapter_model.safetensors").is_file()
        else str(folder.resolve()),
    }


def train_lora(
    data: Sequence[SFTExample] | str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    base: str | os.PathLike[str] | None = None,
    valid: Sequence[SFTExample] | None = None,
    rank: int = 8,
    alpha: float = 16.0,
    targets: Sequence[str] = DEFAULT_TARGETS,
    lr: float = 2e-4,
    epochs: int = 2,
    steps: int | None = None,
    batch: int = 4,
    max_len: int = 1024,
    seed: int = 0,
    save_every: int = 50,
    resume: bool = True,
    device: str = "auto",
    progress: bool = True,
    init_adapter: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on tool-agent examples.

    Args:
        data: examples, or a data file (its ``train`` split when it has a splits file).
        out: the run folder: ``adapter/`` (the result), ``checkpoints/``, ``train.json``.
        base: the base GGUF (default: the packaged Gemma 3 270M).
        valid: examples to report a validation loss on (default: the data file's ``valid`` split).
        rank, alpha: LoRA rank and alpha (PEFT scales the update by ``alpha / rank``).
        targets: the projections adapted (attention only by default).
        lr: AdamW learning rate (warmed up over the first tenth of the steps, then decayed linearly).
        epochs: passes over the data, unless ``steps`` is given.
        steps: optimizer steps in all.
        batch: examples per step.
        max_len: examples longer than this many tokens are left out (and counted).
        seed: fixes the adapter's initialisation and the order of the examples.
        save_every: checkpoint every this many steps.
        resume: continue from the last checkpoint in ``out`` (``False`` starts over).
        device: ``auto`` (the GPU when torch sees one), ``cpu`` or ``cuda``.
        progress: show a progress bar.
        init_adapter: start from this trained adapter (an ``adapter/`` folder of an
            earlier run on the same base) instead of a fresh one: a DAgger round goes on
            from the round before. ``rank``, ``alpha`` and ``targets`` are then its own.

    Raises:
        ConfigError: no example fits ``max_len``, ``out`` holds a different run, or
            ``init_adapter`` is not an adapter of this base.
    """
    torch, peft = _imports()

    from dramaturg.models._weights import default_weights
    from dramaturg.models.adapters import base_identity
    from dramaturg.training._base import GGUFTokenizer, load_base_model

    started = time.perf_counter()
    out = Path(out)
    base_path = Path(base) if base is not None else default_weights()
    examples = _examples(data, "train")
    if valid is None and isinstance(data, (str, os.PathLike)) and splits_path(data).is_file():
        valid = load_sft_data(data, split="valid")
    if not examples:
        raise ConfigError("no training examples")
    device = _device(torch, device)
    tok = GGUFTokenizer(base_path)
    try:
        encoded, skipped = _encode(tok, examples, max_len)
        valid_encoded = _encode(tok, valid or [], max_len)[0]
    finally:
        tok.close()
    if not encoded:
        raise ConfigError(
            f"none of the {len(examples)} examples fits in max_len={max_len} tokens; raise max_len"
        )
    total = steps if steps is not None else max(1, math.ceil(epochs * len(encoded) / batch))
    identity = base_identity(base_path)
    digest = hashlib.sha256(json.dumps(encoded).encode()).hexdigest()[:16]
    settings = {
        "base": identity["fingerprint"],
        "data": digest,
        "rank": rank,
        "alpha": alpha,
        "targets": sorted(targets),
        "lr": lr,
        "steps": total,
        "batch": batch,
        "max_len": max_len,
        "seed": seed,
    }
    init = _init_settings(init_adapter, identity) if init_adapter is not None else None
    if init is not None:
        settings.update(init)
    adapter_dir = out / "adapter"
    prepare_run(out, settings, resume=resume)
    done_file = out / "train.json"
    if resume and done_file.is_file() and (adapter_dir / "adapter_config.json").is_file():
        return TrainResult(
            **{**json.loads(done_file.read_text())["result"], "adapter_dir": adapter_dir}
        )

    torch.manual_seed(seed)
    model = load_base_model(base_path, device=device, progress=progress)
    config = peft.LoraConfig(
        r=rank,
        lora_alpha=alpha,
        target_modules=list(targets),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft asks transformers about a renamed setting
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        if init_adapter is not None:
            peft_model = peft.PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
        else:
            peft_model = peft.get_peft_model(model, config)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup + 1)),
    )
    losses: list[float] = []
    start = 0
    checkpoints = list_checkpoints(out) if resume else []
    if checkpoints:
        start, losses = restore_checkpoint(
            torch, peft, peft_model, optimizer, scheduler, checkpoints[-1]
        )
    order = _order(torch, len(encoded), batch, total, seed)
    peft_model.train()
    train_s = 0.0
    with progress_bar(enabled=progress, field="loss", label="loss ") as bar:
        task = bar.add_task("LoRA", total=total, completed=start, loss="-")
        for step in range(start, total):
            t0 = time.perf_counter()
            batch_items = [encoded[i] for i in order[step]]
            loss = _loss(torch, peft_model, _batch(torch, batch_items, 0, device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            train_s += time.perf_counter() - t0
            losses.append(float(loss.detach()))
            bar.update(task, advance=1, loss=f"{losses[-1]:.3f}")
            if not progress and _milestone(step + 1, total, start):
                _log_step(step + 1, total, losses, train_s, start)
            if (step + 1) % save_every == 0 and step + 1 < total:
                save_checkpoint(torch, peft_model, optimizer, scheduler, out, step + 1, losses)
    peft_model.eval()
    valid_loss = None
    if valid_encoded:
        with torch.no_grad():
            parts = [
                float(
                    _loss(torch, peft_model, _batch(torch, valid_encoded[i : i + batch], 0, device))
                )
                for i in range(0, len(valid_encoded), batch)
            ]
        valid_loss = sum(parts) / len(parts)
    save_adapter(peft_model, adapter_dir, identity, base_path)
    tail = losses[-max(1, len(losses) // 10) :]
    result = TrainResult(
        adapter_dir=adapter_dir,
        steps=total,
        examples=len(encoded),
        skipped=skipped,
        tokens=sum(len(ids) for ids, _ in encoded),
        epochs=total * batch / len(encoded),
        wall_s=time.perf_counter() - started,
        train_s=train_s,
        final_loss=sum(tail) / len(tail),
        valid_loss=valid_loss,
        losses=losses,
        device=device,
        resumed_from=start,
        model=peft_model,
    )
    write_json(done_file, {"settings": settings, "result": result.to_json()})
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return result
