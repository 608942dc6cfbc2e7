"""Which base model an adapter belongs to, and refusing it on any other.

A LoRA adapter only makes sense on the weights it was trained on. llama.cpp
checks the architecture and the shapes of the adapted tensors, and fails with
a terse message (or, for some mismatches, not at all). So an exported
adapter records its base's identity: the architecture, the width and depth,
and a fingerprint of every tensor's name and shape. The fingerprint ignores
the quantization, so an adapter trained on the Q4_K_M file also fits a Q8_0
or F16 file of the same model, and refuses every other model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError
from dramaturg.models._gguf import _read, _string, read_gguf_metadata, read_header

__all__ = [
    "BASE_KEYS",
    "TOOL_AGENT_KEY",
    "adapter_settings",
    "base_identity",
    "check_adapter_base",
    "read_gguf_tensors",
]

#: Metadata keys an exported adapter carries about its base.
BASE_KEYS = ("architecture", "embedding_length", "block_count", "fingerprint")

#: The prefix of the metadata keys that hold the tool agent settings an adapter was
#: trained with (``dramaturg.tool_agent.recap``: see :class:`~dramaturg.agents.ToolAgent`).
TOOL_AGENT_KEY = "dramaturg.tool_agent."


def adapter_settings(spec: str | None) -> dict[str, Any]:
    """The tool agent settings recorded in the adapter of a model spec (``local?lora=PATH``), unchecked;
    ``{}`` for a spec without an adapter, or an adapter that records none.

    The tool agent checks them (:func:`dramaturg.agents.tool_agent.adapter_tool_agent`):
    models know nothing of agents.

    Raises:
        ConfigError: the adapter cannot be read.
    """
    if not spec:
        return {}
    from dramaturg.models.loader import parse_spec

    lora = parse_spec(spec)[2].get("lora")
    if not lora or not Path(str(lora)).is_file():
        return {}  # a missing adapter fails where the model is loaded, with its own message
    try:
        meta = read_gguf_metadata(str(lora))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the adapter {lora}: {exc}") from None
    return {
        k.removeprefix(TOOL_AGENT_KEY): v for k, v in meta.items() if k.startswith(TOOL_AGENT_KEY)
    }


def read_gguf_tensors(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """A GGUF file's metadata (arrays skipped) and its tensors' shapes, in ggml order (``ne0`` first)."""
    with Path(path).open("rb") as fh:
        meta, n_tensors = read_header(fh, path)
        shapes: dict[str, tuple[int, ...]] = {}
        for _ in range(n_tensors):
            name = _string(fh)
            n_dims = _read(fh, "<I")
            shapes[name] = tuple(_read(fh, "<Q") for _ in range(n_dims))
            _read(fh, "<I")  # type
            _read(fh, "<Q")  # offset
        return meta, shapes


def base_identity(gguf: str | os.PathLike[str]) -> dict[str, Any]:
    """The identity of a base model file (see the module docstring)."""
    return _identity(gguf, *_tensors(gguf, "base model"))


def _tensors(
    path: str | os.PathLike[str], what: str
) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    try:
        return read_gguf_tensors(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}") from exc


def _identity(
    path: str | os.PathLike[str], meta: dict[str, Any], shapes: dict[str, tuple[int, ...]]
) -> dict[str, Any]:
    arch = str(meta.get("general.architecture", ""))
    digest = hashlib.sha256(arch.encode())
    for name in sorted(shapes):
        digest.update(f"\n{name}:{','.join(map(str, shapes[name]))}".encode())
    return {
        "architecture": arch,
        "embedding_length": int(meta.get(f"{arch}.embedding_length") or 0),
        "block_count": int(meta.get(f"{arch}.block_count") or 0),
        "fingerprint": digest.hexdigest()[:16],
        "name": str(meta.get("general.name", "")),
        "file": Path(path).name,
    }


def describe(identity: dict[str, Any]) -> str:
    """``gemma3 (640 wide, 18 layers, fingerprint 1a2b...)``."""
    return (
        f"{identity.get('architecture')!s} ({identity.get('embedding_length')} wide, "
        f"{identity.get('block_count')} layers, fingerprint {identity.get('fingerprint')})"
    )


def check_adapter_base(adapter: str | os.PathLike[str], *, base: str | os.PathLike[str]) -> None:
    """Refuse, with a clear error, an adapter that does not belong to ``base``.

    Checks, in order: that ``adapter`` is a GGUF LoRA for ``base``'s
    architecture (:func:`dramaturg.models.local.check_adapter`); that the base
    identity it recorded when exported, if any, is ``base``'s; and that every
    adapted tensor exists in ``base`` with matching dimensions (this also
    covers adapters made by other tools).

    Raises:
        ConfigError: naming both models and what to do.
    """
    from dramaturg.models.local import check_adapter

    check_adapter(adapter, base=base)
    meta, shapes = _tensors(adapter, "LoRA adapter")
    base_meta, base_shapes = _tensors(base, "base model")
    ident = _identity(base, base_meta, base_shapes)
    recorded = {k: meta.get(f"dramaturg.base.{k}") for k in BASE_KEYS}
    if recorded["fingerprint"] is not None and recorded["fingerprint"] != ident["fingerprint"]:
        raise ConfigError(
            f"the LoRA adapter {adapter} was trained on another base model, {describe(recorded)}, "
            f"but it is being loaded on {base}, {describe(ident)}. Use the base model it was trained on, "
            "or train an adapter on this one (dramaturg train tool-agent --base ...)"
        )
    for name, dims in shapes.items():
        for suffix, axis in ((".lora_a", 0), (".lora_b", 1)):
            if not name.endswith(suffix):
                continue
            target = name[: -len(suffix)]
            if target not in base_shapes:
                raise ConfigError(
                    f"the LoRA adapter {adapter} adapts {target!r}, which the base model {base} "
                    f"does not have: the adapter was made for another model"
                )
            if len(dims) < 2 or dims[axis] != base_shapes[target][axis]:
                raise ConfigError(
                    f"the LoRA adapter {adapter} does not fit the base model {base}: {name} has shape "
                    f"{list(dims)} but {target} is {list(base_shapes[target])}; the adapter was made for "
                    f"another model ({describe(recorded)} vs {describe(ident)})"
                )
