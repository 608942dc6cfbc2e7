"""Which adapter a tool agent uses for a world or a tool.

The registry is a JSON file in the dramaturg home folder
(``~/.dramaturg/adapters.json``) mapping a key to a GGUF LoRA adapter and its
scale. A key is a world id (``alfworld/pick_and_place_simple``), a prefix
ending in ``/`` (``textworld/``: every TextWorld game), or a tool name. The
most specific key wins: an exact match, else the longest matching prefix.

Example:
    >>> registry = AdapterRegistry()                                      # doctest: +SKIP
    >>> registry.add("textworld/", "runs/tw/tool-agent.gguf")             # doctest: +SKIP
    >>> registry.resolve("textworld/tw-simple").model_spec()             # doctest: +SKIP
    'local?lora=/abs/runs/tw/tool-agent.gguf&lora_scale=1.0'
"""

from __future__ import annotations

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

__all__ = ["AdapterEntry", "AdapterRegistry"]

_FILE = "adapters.json"
_ENTRY_FIELDS = {"path", "scale", "base", "added"}


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
        path: the registry file (default: ``adapters.json`` in the dramaturg home folder).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else home_dir() / _FILE

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
        adapter: str | os.PathLike[str],
        *,
        scale: float = 1.0,
        base: str | os.PathLike[str] | None = None,
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
            from dramaturg.models._adapters import check_adapter_base

            if base is None:
                from dramaturg.models._weights import default_weights

                base = default_weights()
            check_adapter_base(path, base=base)
        from dramaturg.models._gguf import read_gguf_metadata

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

    def model(self, name: str, **options: Any) -> Any:
        """A model for ``name``'s tool agent: the embedded model with its adapter, or ``None``.

        ``options`` go to :func:`dramaturg.models.load_model` (``n_ctx``, ``temperature``, ...).
        """
        spec = self.spec_for(name)
        if spec is None:
            return None
        from dramaturg.models import load_model

        return load_model(spec, **options)
