"""Reading a GGUF file's header: its metadata and its tensors' names and shapes (never
the tensor data), to check what a file is before llama.cpp loads it: a model or an
adapter, for which architecture, and of which shapes."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["read_gguf_metadata", "read_gguf_tensors", "read_header"]

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("unexpected end of file")
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    n = _read(fh, "<Q")
    if n > 1 << 24:
        raise ValueError("implausible string length")
    return fh.read(n).decode("utf-8", "replace")


def _value(fh: BinaryIO, kind: int, *, keep_arrays: bool) -> Any:
    if kind in _SCALARS:
        return _read(fh, _SCALARS[kind])
    if kind == _STRING:
        return _string(fh)
    if kind == _ARRAY:
        item_kind = _read(fh, "<I")
        n = _read(fh, "<Q")
        if item_kind in _SCALARS and not keep_arrays:  # skip big arrays (token scores) cheaply
            fh.seek(n * struct.calcsize(_SCALARS[item_kind]), 1)
            return None
        items = [_value(fh, item_kind, keep_arrays=keep_arrays) for _ in range(n)]
        return items if keep_arrays else None
    raise ValueError(f"unknown GGUF value type {kind}")


def read_gguf_metadata(
    path: str | os.PathLike[str], *, keep_arrays: bool = False
) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (arrays skipped unless asked for).

    Raises:
        ValueError: if the file is not GGUF or is truncated.
    """
    with Path(path).open("rb") as fh:
        return read_header(fh, path, keep_arrays=keep_arrays)[0]


def read_header(
    fh: BinaryIO, path: str | os.PathLike[str], *, keep_arrays: bool = False
) -> tuple[dict[str, Any], int]:
    """The metadata of the GGUF file open in ``fh`` and its tensor count; ``fh`` is left
    at the first tensor's description."""
    if fh.read(4) != b"GGUF":
        raise ValueError(f"{path} is not a GGUF file")
    version = _read(fh, "<I")
    if version < 2:
        raise ValueError(f"{path} uses GGUF version {version}; only 2 and later are supported")
    n_tensors, n_kv = _read(fh, "<Q"), _read(fh, "<Q")
    meta: dict[str, Any] = {"GGUF.version": version}
    for _ in range(n_kv):
        key = _string(fh)
        meta[key] = _value(fh, _read(fh, "<I"), keep_arrays=keep_arrays)
    return meta, n_tensors


def read_gguf_tensors(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """A GGUF file's metadata (arrays skipped) and its tensors' shapes, in ggml order (``ne0`` first).

    Raises:
        ValueError: if the file is not GGUF or is truncated.
    """
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
