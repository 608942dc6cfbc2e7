"""A llama.cpp model's vocabulary as bytes, for token healing and token masks.

Gemma 3 has 262,144 tokens; reading them all through llama.cpp takes a few
hundred milliseconds, once per loaded model.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import struct
from pathlib import Path
from typing import Any

__all__ = ["Vocab"]


class Vocab:
    """Every token's bytes, with a sorted index for "tokens that start with these bytes".

    Control tokens (``<eos>``, ``<start_of_turn>``, ...) start with 0xFF: they
    are never part of an answer's text.
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        order = sorted(range(len(pieces)), key=pieces.__getitem__)
        self._sorted_ids = order
        self._sorted = [pieces[i] for i in order]
        self._extending: dict[bytes, Any] = {}

    @classmethod
    def of(cls, llm: Any, *, model_path: Path | None = None) -> Vocab:
        """The vocabulary of a loaded ``llama_cpp.Llama`` (cached on disk next to other caches).

        Bytes as llama.cpp writes them with ``special=True`` ("▁" is a space,
        ``<0x0A>`` a newline); control tokens (``<eos>``, ``<start_of_turn>``)
        get a 0xFF prefix, which no text starts with: token masks treat them as
        special, and no prefix of text ever matches them.
        """
        cached = _cache_file(model_path) if model_path is not None else None
        if cached is not None:
            pieces = _read(cached)
            if pieces is not None and len(pieces) == llm.n_vocab():
                return cls(pieces)
        pieces = _read_model(llm)
        if cached is not None:
            _write(cached, pieces)
        return cls(pieces)

    def __len__(self) -> int:
        return len(self.pieces)

    def piece(self, token: int) -> bytes:
        """The bytes of one token."""
        return self.pieces[token]

    def extending(self, prefix: bytes) -> Any:
        """Ids (a numpy array) of the tokens whose bytes start with ``prefix``, ``prefix`` itself included."""
        found = self._extending.get(prefix)
        if found is None:
            import numpy as np

            if not prefix:
                found = np.zeros(0, dtype=np.intc)
            else:
                lo = bisect.bisect_left(self._sorted, prefix)
                hi = lo
                while hi < len(self._sorted) and self._sorted[hi].startswith(prefix):
                    hi += 1
                found = np.array(self._sorted_ids[lo:hi], dtype=np.intc)
            if len(self._extending) < 1024:
                self._extending[prefix] = found
        return found


_MAGIC = b"DRAMATURG-VOCAB-1\n"


def _read_model(llm: Any) -> list[bytes]:
    import ctypes

    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    lib = (
        llama_cpp.llama_cpp._lib
    )  # the raw functions: about twice as fast as the wrappers over 262k calls
    buf = ctypes.create_string_buffer(16 * 1024)
    control, user = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL, llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    pieces = []
    for i in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        n = lib.llama_token_to_piece(vocab, i, buf, len(buf), 0, True)
        piece = buf.raw[: max(n, 0)]
        attr = lib.llama_vocab_get_attr(vocab, i)
        if attr & control or (attr & user and piece.startswith(b"<") and piece.endswith(b">")):
            piece = b"\xff" + piece
        pieces.append(piece)
    return pieces


def _cache_file(model_path: Path) -> Path | None:
    from dramaturg._paths import cache_dir

    try:
        stat = model_path.stat()
    except OSError:
        return None
    key = hashlib.sha256(
        f"{model_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    ).hexdigest()[:16]
    return cache_dir("vocab") / f"{model_path.stem}-{key}.bin"


def _read(path: Path) -> list[bytes] | None:
    """Pieces from a cache file, or None if it is missing or damaged (then it is rebuilt)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_MAGIC):
        return None
    at = len(_MAGIC)
    try:
        (n,) = struct.unpack_from("<I", data, at)
        at += 4
        sizes = struct.unpack_from(f"<{n}H", data, at)
        at += 2 * n
        pieces = []
        for size in sizes:
            pieces.append(data[at : at + size])
            at += size
    except struct.error:
        return None
    return pieces if at == len(data) else None


def _write(path: Path, pieces: list[bytes]) -> None:
    """Write the cache atomically; a failure only costs the next process the rebuild."""
    body = (
        _MAGIC + struct.pack("<I", len(pieces)) + struct.pack(f"<{len(pieces)}H", *map(len, pieces))
    )
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_bytes(body + b"".join(pieces))
        os.replace(tmp, path)
