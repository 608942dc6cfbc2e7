"""A llama.cpp model's vocabulary as bytes, for token healing and token masks.

Gemma 3 has 262,144 tokens; reading them all through llama.cpp takes a few
hundred milliseconds, once per loaded model.
"""

from __future__ import annotations

import bisect
from typing import Any

__all__ = ["Vocab"]


class Vocab:
    """Every token's bytes, with a sorted index for "tokens that start with these bytes".

    Control tokens (``<eos>``, ``<start_of_turn>``, ...) read as empty bytes:
    they are never part of an answer's text.
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        order = sorted(range(len(pieces)), key=pieces.__getitem__)
        self._sorted_ids = order
        self._sorted = [pieces[i] for i in order]
        self._extending: dict[bytes, Any] = {}

    @classmethod
    def of(cls, llm: Any) -> Vocab:
        """The vocabulary of a loaded ``llama_cpp.Llama``."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        n = llama_cpp.llama_vocab_n_tokens(vocab)
        buf = (llama_cpp.ctypes.c_char * 256)()
        pieces = []
        for i in range(n):
            attr = llama_cpp.llama_vocab_get_attr(vocab, i)
            if attr & (llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN):
                pieces.append(b"")
                continue
            size = llama_cpp.llama_token_to_piece(vocab, i, buf, len(buf), 0, False)
            pieces.append(bytes(buf[:size]) if size > 0 else b"")
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
