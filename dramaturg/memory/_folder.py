"""Checks and atomic writes for memory folders (live ones and saved ones)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError
from dramaturg.memory.errors import StoreCorruptError, StoreNotFoundError

__all__ = ["LIVE_FORMAT", "check_live_folder", "read_json", "write_json_atomic", "write_marker"]

LIVE_FORMAT = "dramaturg-memory"
LIVE_VERSION = 1
_MARKER = "memory.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, what: str, fix: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StoreCorruptError(path.parent, f"{path.name} ({what}) is missing", fix) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreCorruptError(
            path.parent, f"{path.name} ({what}) is not valid JSON ({exc})", fix
        ) from exc


def write_marker(folder: Path, embedder_name: str) -> None:
    write_json_atomic(
        folder / _MARKER,
        {"format": LIVE_FORMAT, "version": LIVE_VERSION, "embedder": embedder_name},
    )


def check_live_folder(folder: Path, *, create: bool, embedder_name: str | None = None) -> bool:
    """Validate a live memory folder; returns True when a new memory must be started there.

    Raises an error naming the folder, never writes into a folder that is
    not a dramaturg memory, and never starts over on top of a damaged one.
    """
    restore = "restore a saved copy with Memory.load(saved_folder, path)"
    if folder.exists() and not folder.is_dir():
        raise StoreCorruptError(folder, "it is a file, not a memory folder", "pass a folder path")
    if not folder.exists() or not any(folder.iterdir()):
        if not create:
            raise StoreNotFoundError(
                folder,
                "memory",
                f"pass create=True to start a new one, check the path, or {restore}",
            )
        folder.mkdir(parents=True, exist_ok=True)
        return True
    marker = folder / _MARKER
    if not marker.exists():
        raise StoreCorruptError(
            folder, f"the folder is not empty but has no {_MARKER}, so it is not a dramaturg memory "
            "(or its marker was deleted)", f"use a new or empty folder (nothing here was changed), or {restore}",
        )  # fmt: skip
    meta = read_json(marker, "the memory marker", f"move the folder aside and {restore}")
    if (
        not isinstance(meta, dict)
        or meta.get("format") != LIVE_FORMAT
        or meta.get("version") != LIVE_VERSION
    ):
        raise StoreCorruptError(
            folder, f"{_MARKER} is not a version-{LIVE_VERSION} dramaturg memory marker", restore
        )
    if not (folder / "episodic.sqlite").exists():
        raise StoreCorruptError(
            folder,
            "episodic.sqlite (the event log) is missing",
            f"move the folder aside and {restore}",
        )
    if embedder_name is not None and meta.get("embedder") != embedder_name:
        raise ConfigError(
            f"the memory at {folder} was built with embedder {meta.get('embedder')!r}, not {embedder_name!r}; "
            "open it with the same embedder"
        )
    return False
