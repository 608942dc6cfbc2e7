"""PEFT LoRA adapter -> GGUF LoRA adapter, the format llama.cpp (``lora_path``) loads.

The layout follows llama.cpp's ``convert_lora_to_gguf.py``:

* metadata ``general.type = "adapter"``, ``adapter.type = "lora"``,
  ``adapter.lora.alpha`` and the base's ``general.architecture``;
* for each adapted weight ``W`` (``blk.N.attn_q.weight``), two tensors
  ``blk.N.attn_q.weight.lora_a`` and ``.lora_b``, written in PyTorch
  orientation, ``A`` as ``(rank, in)`` and ``B`` as ``(out, rank)``, which
  gguf reverses into ggml's ``ne`` order; llama.cpp adds
  ``B @ (A @ x) * scale * alpha / rank``, PEFT's ``alpha / rank`` scaling.

The base model's identity (:mod:`dramaturg.models.adapters`) is written
under ``dramaturg.base.*``, so the adapter is refused on any other model, and
the tool agent settings it was trained with under ``dramaturg.tool_agent.*``.

Example:
    >>> export_lora_gguf("tw/run/adapter", "tw/tool-agent.gguf")   # doctest: +SKIP
    PosixPath('tw/tool-agent.gguf')
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dramaturg._files import load_json
from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.models._gguf import read_gguf_tensors
from dramaturg.models.adapters import BASE_KEYS, TOOL_AGENT_KEY, base_identity, describe

__all__ = ["export_lora_gguf"]

_PREFIX = "base_model.model."


def _gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise MissingExtraError("gguf", "train", "Exporting an adapter to GGUF") from None
    return gguf


def _read_peft(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    config_file = folder / "adapter_config.json"
    weights_file = folder / "adapter_model.safetensors"
    if not config_file.is_file() or not weights_file.is_file():
        raise ConfigError(
            f"{folder} is not a PEFT adapter folder (it needs adapter_config.json and "
            "adapter_model.safetensors)"
        )
    config = load_json(
        config_file
    )  # capped, UTF-8, nesting checked: an adapter folder may come from anyone
    if not isinstance(config, dict):
        raise ConfigError(f"{config_file} should hold a JSON object")
    if config.get("peft_type", "LORA") != "LORA":
        raise ConfigError(
            f"{folder} holds a {config.get('peft_type')} adapter; only LoRA exports to GGUF"
        )
    if config.get("use_dora"):
        raise ConfigError(
            f"{folder} is a DoRA adapter, which llama.cpp cannot apply; train without use_dora"
        )
    if config.get("modules_to_save"):
        raise ConfigError(
            f"{folder} also trains whole modules ({config['modules_to_save']}), which a GGUF "
            "LoRA cannot hold; train LoRA layers only"
        )
    from safetensors.numpy import load_file

    return config, load_file(str(weights_file))


def export_lora_gguf(
    peft_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    base_gguf: str | os.PathLike[str] | None = None,
    dtype: Literal["f32", "f16"] = "f32",
    tool_agent: Mapping[str, int] | None = None,
) -> Path:
    """Write the PEFT LoRA adapter in ``peft_dir`` as a GGUF LoRA adapter.

    Args:
        peft_dir: a PEFT adapter folder (``train_lora``'s ``adapter_dir``).
        out_path: the ``.gguf`` file to write.
        base_gguf: the base model; default: the one the adapter was trained on
            (recorded by ``train_lora``), else the packaged Gemma 3 270M.
        dtype: ``f32`` (exact) or ``f16`` (half the size).
        tool_agent: the tool agent settings the training prompts were written with
            (:func:`~dramaturg.training.tool_agent_settings`); kept in the file as
            ``dramaturg.tool_agent.*``, so whoever loads the adapter prompts it the same way.

    Raises:
        ConfigError: if ``peft_dir`` is not a LoRA adapter, or the adapter does
            not fit ``base_gguf`` (another model), with what to do.
    """
    from dramaturg.agents.tool_agent import check_settings
    from dramaturg.training._checkpoints import BASE_FILE

    gguf = _gguf()
    import numpy as np

    folder, out_path = Path(peft_dir), Path(out_path)
    tool_agent = check_settings(tool_agent or {}, "export_lora_gguf(tool_agent=)")
    config, weights = _read_peft(folder)
    trained_on = load_json(folder / BASE_FILE) if (folder / BASE_FILE).is_file() else None
    if base_gguf is None:
        recorded = Path(trained_on["path"]) if trained_on and trained_on.get("path") else None
        if recorded is not None and recorded.is_file():
            base_gguf = recorded
        else:
            from dramaturg.models._weights import default_weights

            base_gguf = default_weights()
    identity = base_identity(base_gguf)
    if trained_on and trained_on.get("fingerprint") != identity["fingerprint"]:
        raise ConfigError(
            f"the adapter in {folder} was trained on {describe(trained_on)}, not on {base_gguf}, "
            f"{describe(identity)}; export it against the base model it was trained on"
        )
    _, base_shapes = read_gguf_tensors(base_gguf)
    arch_name = identity["architecture"]
    archs = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}
    if arch_name not in archs:
        raise ConfigError(f"gguf does not know the architecture {arch_name!r} of {base_gguf}")
    names = gguf.get_tensor_name_map(archs[arch_name], identity["block_count"])
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
        name = key.removeprefix(_PREFIX)
        for part, slot in ((".lora_A.weight", "a"), (".lora_B.weight", "b")):
            if name.endswith(part):
                pairs.setdefault(name[: -len(part)], {})[slot] = value
                break
        else:
            raise ConfigError(
                f"unexpected tensor {key!r} in {folder}: a LoRA adapter holds lora_A/lora_B only"
            )
    rank = int(config.get("r") or 0)
    alpha = float(config.get("lora_alpha") or rank)
    if config.get("use_rslora"):  # PEFT scales by alpha / sqrt(r); llama.cpp always by alpha / r
        alpha *= math.sqrt(rank)
    np_dtype = np.float16 if dtype == "f16" else np.float32
    tensors: list[tuple[str, Any]] = []
    for module, pair in sorted(pairs.items()):
        if set(pair) != {"a", "b"}:
            raise ConfigError(f"{folder}: {module} has only one of lora_A/lora_B")
        target = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if target is None or target not in base_shapes:
            raise ConfigError(
                f"{folder}: the adapted module {module} has no counterpart in {base_gguf}; "
                "the adapter was made for another model"
            )
        a, b = pair["a"], pair["b"]
        ne = base_shapes[target]  # (in, out)
        if a.shape[1] != ne[0] or b.shape[0] != ne[1] or a.shape[0] != b.shape[1]:
            raise ConfigError(
                f"{folder}: {module} has lora_A {list(a.shape)} and lora_B {list(b.shape)}, which do "
                f"not fit {target} ({ne[1]} x {ne[0]}) of {base_gguf}; the adapter was made for "
                "another model"
            )
        tensors += [
            (target + ".lora_a", a.astype(np_dtype)),
            (target + ".lora_b", b.astype(np_dtype)),
        ]
    if not tensors:
        raise ConfigError(f"{folder} holds no LoRA tensors")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch_name)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(f"{identity['name'] or arch_name} LoRA ({out_path.stem})")
    writer.add_file_type(
        gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32
    )
    for key in BASE_KEYS:
        value = identity[key]
        (writer.add_uint32 if isinstance(value, int) else writer.add_string)(
            f"dramaturg.base.{key}", value
        )
    writer.add_string("dramaturg.base.name", identity["name"])
    writer.add_uint32("dramaturg.adapter.rank", rank)
    for key, value in sorted(tool_agent.items()):
        writer.add_uint32(f"{TOOL_AGENT_KEY}{key}", value)
    for name, array in tensors:
        writer.add_tensor(name, np.ascontiguousarray(array))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, out_path)
    return out_path
