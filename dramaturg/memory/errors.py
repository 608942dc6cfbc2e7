"""Errors raised by :mod:`dramaturg.memory`.

All of them derive from :class:`dramaturg.errors.DramaturgError`. Each names
the path or thing involved and says what to do about it.
"""

from __future__ import annotations

from pathlib import Path

from dramaturg.errors import DramaturgError

__all__ = [
    "MemoryStoreError",
    "SceneGraphError",
    "StoreCorruptError",
    "StoreExistsError",
    "StoreNotFoundError",
]


class MemoryStoreError(DramaturgError):
    """Base class of the memory subsystem's errors."""


class StoreNotFoundError(MemoryStoreError, FileNotFoundError):
    """A memory folder or file that should exist does not."""

    def __init__(self, path: Path | str, what: str, fix: str) -> None:
        self.path = Path(path)
        super().__init__(f"{what} not found at {self.path}: {fix}")


class StoreCorruptError(MemoryStoreError):
    """A memory folder or file exists but cannot be read as what it should be."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        self.path = Path(path)
        super().__init__(f"memory store at {self.path} is unusable: {problem}. {fix}")


class StoreExistsError(MemoryStoreError, FileExistsError):
    """Refusing to write over something that already exists."""

    def __init__(self, path: Path | str, fix: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path} already exists and is not empty; nothing was written. {fix}")


class SceneGraphError(MemoryStoreError, ValueError):
    """An impossible change to a scene graph (unknown node, wrong kind of node)."""
