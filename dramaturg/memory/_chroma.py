"""chroma plumbing for :mod:`dramaturg.memory.semantic`: clients, limits, metadata."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dramaturg.errors import ConfigError
from dramaturg.memory.errors import StoreCorruptError

__all__ = ["Scalar", "clean_meta", "client_settings", "fresh_id", "max_batch", "persistent_client"]

Scalar = str | int | float | bool


def client_settings() -> Any:
    from chromadb.config import Settings

    # Telemetry off: tests block the network and users did not ask to be counted.
    return Settings(anonymized_telemetry=False, allow_reset=False)


def persistent_client(path: Path) -> Any:
    import chromadb

    if path.exists() and not path.is_dir():
        raise StoreCorruptError(
            path,
            "expected a chroma folder, found a file",
            "move the file aside or pass another path",
        )
    path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(path), settings=client_settings())
    except Exception as exc:
        raise StoreCorruptError(
            path, f"chroma could not open it ({type(exc).__name__}: {exc})",
            "move the folder aside (dramaturg never overwrites it) or restore it from a Memory.save() folder",
        ) from exc  # fmt: skip


def max_batch(client: Any) -> int:
    try:
        return max(1, int(client.get_max_batch_size()))
    except Exception:
        return 5_000


def clean_meta(meta: Mapping[str, Any] | None) -> dict[str, Scalar] | None:
    if not meta:
        return None
    out: dict[str, Scalar] = {}
    for key, val in meta.items():
        if val is None:
            continue
        if isinstance(val, np.generic):
            val = val.item()
        if not isinstance(val, str | int | float | bool):
            raise ConfigError(
                f"metadata value for {key!r} must be str, int, float or bool, got {type(val).__name__}"
            )
        out[str(key)] = val
    return out or None


def fresh_id() -> str:
    return uuid.uuid4().hex
