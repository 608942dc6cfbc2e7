"""LoRA adapters for the embedded model: which base each one fits, and which world uses which.

A LoRA adapter only makes sense on the weights it was trained on. llama.cpp
checks the architecture and the shapes of the adapted tensors, and fails with
a terse message (or, for some mismatches, not at all: it loads and then
crashes the process). So an exported adapter records its base's identity: the
architecture, the width and depth, and a fingerprint of every tensor's name
and shape. The fingerprint ignores the quantization, so an adapter trained on
the Q4_K_M file also fits a Q8_0 or F16 file of the same model, and refuses
every other model (:func:`check_adapter_base`).

The :class:`AdapterRegistry` is a JSON file in the dramaturg home folder
(``~/.dramaturg/adapters.json``, see :func:`registry_path`) mapping a key to
a GGUF LoRA adapter and its scale. A key is a world id
(``alfworld/pick_and_place_simple``), a prefix ending in ``/``
(``textworld/``: every TextWorld game), or a tool name. The most specific key
wins: an exact match, else the longest matching prefix. Adapters are checked
against their base when registered, so a wrong file is refused then, not at
the first call.

This module reads files only: it loads no model (the tool agent turns a
registered adapter into a model, :func:`dramaturg.agents.tool_agent.tool_agent_for`).

Example:
    >>> registry = AdapterRegistry()                                      # doctest: +SKIP
    >>> registry.add("textworld/", "runs/tw/tool-agent.gguf")             # doctest: +SKIP
    >>> registry.resolve("textworld/tw-simple").model_spec()             # doctest: +SKIP
    'local?lora=/abs/runs/tw/tool-agent.gguf&lora_scale=1.0'
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dramaturg._files import InputFileError, load_json
from dramaturg._paths import home_dir
from dramaturg.errors import ConfigError
from dramaturg.models._gguf import read_gguf_metadata, read_gguf_tensors
from dramaturg.models._weights import default_weights

__all__ = [
    "BASE_KEYS",
    "TOOL_AGENT_KEY",
    "AdapterEntry",
    "AdapterRegistry",
    "adapter_settings",
    "base_identity",
    "check_adapter",
    "check_adapter_base",
    "describe",
    "registry_path",
]

#: Metadata keys an exported adapter carries about its base (``dramaturg.base.<key>``).
BASE_KEYS = ("architecture", "embedding_length", "block_count", "fingerprint")

#: The prefix of the metadata keys that hold the tool agent settings an adapter was
#: trained with (``dramaturg.tool_agent.recap``: see :class:`~dramaturg.agents.ToolAgent`).
TOOL_AGENT_KEY = "dramaturg.tool_agent."

_FILE = "adapters.json"
_ENTRY_FIELDS = {"path", "scale", "base", "added"}

Pathish = str | os.PathLike[str]


# ------------------------------------------------------------ fitting a base
def check_adapter(lora_path: Pathish, *, base: Pathish) -> None:
    """Refuse, with a clear error, a file that is not a GGUF LoRA adapter for ``base``'s architecture.

    Reads the two files' metadata only. llama.cpp itself accepts some wrong files
    silently (a whole model passed as an adapter loads without complaint).
    :func:`check_adapter_base` checks this and the shapes too.

    Raises:
        ConfigError: the file is missing, not a LoRA adapter, or for another architecture.
    """
    lora = Path(lora_path)
    if not lora.is_file():
        raise ConfigError(
            f"LoRA adapter not found: {lora}. Pass the path of a GGUF LoRA adapter file."
        )
    try:
        meta = read_gguf_metadata(lora)
        base_meta = read_gguf_metadata(base)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the LoRA adapter {lora}: {exc}") from exc
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise ConfigError(
            f"{lora} is not a LoRA adapter (general.type={meta.get('general.type')!r}, "
            f"adapter.type={meta.get('adapter.type')!r}); export the adapter to GGUF LoRA first "
            "(dramaturg train exports it that way)"
        )
    arch, base_arch = meta.get("general.architecture"), base_meta.get("general.architecture")
    if arch != base_arch:
        raise ConfigError(
            f"the LoRA adapter {lora} was made for a {arch!r} model, but the base model {base} is "
            f"{base_arch!r}; use an adapter trained on this base model"
        )


def base_identity(gguf: Pathish) -> dict[str, Any]:
    """The identity of a base model file (see the module docstring)."""
    return _identity(gguf, *_tensors(gguf, "base model"))


def _tensors(path: Pathish, what: str) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    try:
        return read_gguf_tensors(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}") from exc


def _identity(
    path: Pathish, meta: dict[str, Any], shapes: dict[str, tuple[int, ...]]
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


def check_adapter_base(adapter: Pathish, *, base: Pathish) -> None:
    """Refuse, with a clear error, an adapter that does not belong to ``base``.

    Checks, in order: that ``adapter`` is a GGUF LoRA for ``base``'s
    architecture (:func:`check_adapter`); that the base identity it recorded
    when exported, if any, is ``base``'s; and that every adapted tensor exists
    in ``base`` with matching dimensions (this also covers adapters made by
    other tools).

    Raises:
        ConfigError: naming both models and what to do.
    """
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


def adapter_settings(lora_path: Pathish | None) -> dict[str, Any]:
    """The tool agent settings recorded in an adapter file, unchecked; ``{}`` for no
    adapter, a missing file, or an adapter that records none.

    The tool agent checks them (:func:`dramaturg.agents.tool_agent.adapter_tool_agent`):
    models know nothing of agents.

    Raises:
        ConfigError: the adapter cannot be read.
    """
    if not lora_path or not Path(lora_path).is_file():
        return {}  # a missing adapter fails where the model is loaded, with its own message
    try:
        meta = read_gguf_metadata(lora_path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the adapter {lora_path}: {exc}") from None
    return {
        k.removeprefix(TOOL_AGENT_KEY): v for k, v in meta.items() if k.startswith(TOOL_AGENT_KEY)
    }


# ------------------------------------------------------------ the registry
def registry_path() -> Path:
    """The default registry file: ``adapters.json`` in the dramaturg home folder."""
    return home_dir() / _FILE


@dataclass(frozen=True, kw_only=True)
class AdapterEntry:
    """One registered adapter.

    Attributes:
        key: the world id, world prefix (ending in ``/``) or tool name it serves.
        path: the GGUF LoRA adapter (absolute).
        scale: the adapter's strength (llama.cpp's ``lora_scale``).
        base: the fingerprint of the base model it was trained on, if recorded.
        added: when it was registered (UTC, ISO 8601).
    """

    key: str
    path: Path
    scale: float = 1.0
    base: str | None = None
    added: str = ""

    def model_spec(self) -> str:
        """The ``load_model`` spec of the embedded model with this adapter."""
        return f"local?lora={quote(str(self.path), safe='/')}&lora_scale={self.scale}"


class AdapterRegistry:
    """Adapters by world or tool, kept in a JSON file.

    Args:
        path: the registry file (default: :func:`registry_path`).

    Example:
        >>> AdapterRegistry().spec_for("textworld/tw-simple")  # doctest: +SKIP
        'local?lora=/abs/runs/tw/tool-agent.gguf&lora_scale=1.0'
    """

    def __init__(self, path: Pathish | None = None) -> None:
        self.path = Path(path) if path is not None else registry_path()

    def _load(self) -> dict[str, AdapterEntry]:
        if not self.path.is_file():
            return {}
        try:
            raw = load_json(self.path)
        except InputFileError as exc:  # not JSON, over 4 MiB, binary, too deep
            raise ConfigError(f"{exc}; fix or delete it") from None
        adapters = raw.get("adapters") if isinstance(raw, dict) else None
        if not isinstance(adapters, dict):
            raise ConfigError(
                f'{self.path} must hold {{"adapters": {{key: {{"path": ...}}}}}}; fix or delete it'
            )
        entries = {}
        for key, data in adapters.items():
            if not isinstance(data, dict) or not isinstance(data.get("path"), str):
                raise ConfigError(f"{self.path}: adapter {key!r} needs a 'path'")
            unknown = sorted(set(data) - _ENTRY_FIELDS)
            if unknown:
                raise ConfigError(f"{self.path}: adapter {key!r} has unknown field(s) {unknown}")
            try:
                scale = float(data.get("scale", 1.0))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{self.path}: adapter {key!r} has a scale that is not a number"
                ) from None
            entries[key] = AdapterEntry(
                key=key,
                path=Path(data["path"]),
                scale=scale,
                base=data.get("base"),
                added=str(data.get("added", "")),
            )
        return entries

    def _save(self, entries: dict[str, AdapterEntry]) -> None:
        data: dict[str, Any] = {"version": 1, "adapters": {}}
        for key in sorted(entries):
            entry = asdict(entries[key])
            entry.pop("key")
            entry["path"] = str(entry["path"])
            data["adapters"][key] = {k: v for k, v in entry.items() if v is not None}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def add(
        self,
        key: str,
        adapter: Pathish,
        *,
        scale: float = 1.0,
        base: Pathish | None = None,
        check: bool = True,
    ) -> AdapterEntry:
        """Register ``adapter`` for ``key`` (replacing what was there).

        With ``check``, the adapter is first checked against ``base`` (default:
        the packaged model), so a wrong file is refused now, not at the first call.
        """
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise ConfigError(
                f"adapter key {key!r} must be a world id, a prefix ending in '/', or a tool name, "
                "without spaces"
            )
        path = Path(adapter).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"LoRA adapter not found: {path}")
        if check:
            check_adapter_base(path, base=base if base is not None else default_weights())
        fingerprint = read_gguf_metadata(path).get("dramaturg.base.fingerprint")
        entry = AdapterEntry(
            key=key,
            path=path,
            scale=float(scale),
            base=fingerprint,
            added=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        entries = self._load()
        entries[key] = entry
        self._save(entries)
        return entry

    def remove(self, key: str) -> AdapterEntry:
        """Unregister ``key``; raises :class:`ConfigError` when it is not registered."""
        entries = self._load()
        if key not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise ConfigError(f"no adapter is registered for {key!r} (registered: {known})")
        entry = entries.pop(key)
        self._save(entries)
        return entry

    def list(self) -> list[AdapterEntry]:
        """Every registered adapter, by key."""
        return [entry for _, entry in sorted(self._load().items())]

    def resolve(self, name: str) -> AdapterEntry | None:
        """The adapter for a world id or tool name: an exact key, else the longest prefix key."""
        entries = self._load()
        if name in entries:
            return entries[name]
        prefixes = [k for k in entries if k.endswith("/") and name.startswith(k)]
        return entries[max(prefixes, key=len)] if prefixes else None

    def spec_for(self, name: str) -> str | None:
        """The model spec of ``name``'s adapter on the embedded model, or ``None``."""
        entry = self.resolve(name)
        return entry.model_spec() if entry is not None else None
