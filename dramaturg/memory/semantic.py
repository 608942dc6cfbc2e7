"""`SemanticMemory`: texts with embeddings in chroma, one collection per namespace.

A namespace is a tuple of strings: ``("agent", "hamlet")`` holds what Hamlet
witnessed, ``("shared", "court")`` holds facts shared with a group. Each
namespace is its own chroma collection, so a query over Hamlet's namespace
cannot return anything from Ophelia's: isolation is by construction, not by
a filter that could be forgotten.

The same class runs on an embedded ``PersistentClient`` (the default, under
the dramaturg home folder) or on a chroma server through ``HttpClient``; only
the client differs. Embeddings are always computed by our
:class:`~dramaturg.memory.embedders.Embedder` and passed to chroma, so
chroma's own default embedding function (which downloads a model) is never
used.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dramaturg._paths import home_dir
from dramaturg.errors import ConfigError
from dramaturg.memory._chroma import Scalar as _Scalar
from dramaturg.memory._chroma import (
    clean_meta,
    client_settings,
    fresh_id,
    max_batch,
    persistent_client,
)
from dramaturg.memory.embedders import Embedder, default_embedder

__all__ = ["Hit", "Namespace", "SemanticItem", "SemanticMemory", "as_namespace"]

Namespace = tuple[str, ...]
_NS_KEY = "dramaturg_namespace"
_EMB_KEY = "dramaturg_embedder"


def as_namespace(ns: str | Sequence[str]) -> Namespace:
    """``"shared"`` -> ``("shared",)``; a sequence -> a tuple of its strings."""
    out = (ns,) if isinstance(ns, str) else tuple(ns)
    if not out or not all(isinstance(p, str) and p for p in out):
        raise ConfigError(f"a namespace is a non-empty tuple of non-empty strings, got {ns!r}")
    return out


@dataclass(kw_only=True, frozen=True, slots=True)
class SemanticItem:
    """One stored text with its metadata (and its embedding, when asked for)."""

    id: str
    namespace: Namespace
    text: str
    metadata: Mapping[str, _Scalar] = field(default_factory=dict)
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(kw_only=True, frozen=True, slots=True)
class Hit:
    """A query result. ``similarity`` is the cosine similarity, in [-1, 1]."""

    id: str
    namespace: Namespace
    text: str
    metadata: Mapping[str, _Scalar]
    similarity: float


class SemanticMemory:
    """Namespaced vector memory on chroma.

    Args:
        path: folder of the embedded chroma database (default
            ``<home>/memory/chroma``). Ignored when ``client`` is given.
        client: a chroma client to use instead (see :meth:`http`).
        embedder: text -> vectors (default: all-MiniLM-L6-v2, offline).
        prefix: collection-name prefix, so several memories can share one
            chroma server without seeing each other.

    Example:
        >>> from dramaturg.memory import HashingEmbedder
        >>> sem = SemanticMemory(path=tmp / "chroma", embedder=HashingEmbedder())  # doctest: +SKIP
        >>> sem.add(("agent", "hamlet"), ["The ghost spoke of murder."])  # doctest: +SKIP
        >>> sem.query(("agent", "hamlet"), "murder", k=1)[0].text  # doctest: +SKIP
        'The ghost spoke of murder.'
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        client: Any = None,
        embedder: Embedder | None = None,
        prefix: str = "dm",
    ) -> None:
        if not prefix.replace("_", "a").isalnum():
            raise ConfigError(f"prefix must be letters, digits or '_' (got {prefix!r})")
        self.embedder = embedder or default_embedder()
        self.prefix = prefix
        self.path: Path | None = None
        if client is None:
            self.path = Path(path) if path is not None else home_dir() / "memory" / "chroma"
            client = persistent_client(self.path)
        self.client = client
        self._collections: dict[Namespace, Any] = {}

    @classmethod
    def http(
        cls,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        embedder: Embedder | None = None,
        prefix: str = "dm",
    ) -> SemanticMemory:
        """Semantic memory on a chroma server (``chroma run --host ... --port ...``)."""
        import chromadb

        client = chromadb.HttpClient(
            host=host, port=port, ssl=ssl, headers=dict(headers or {}), settings=client_settings()
        )
        return cls(client=client, embedder=embedder, prefix=prefix)

    def __repr__(self) -> str:
        where = self.path or type(self.client).__name__
        return f"<SemanticMemory {where} prefix={self.prefix} embedder={self.embedder.name}>"

    # -- collections ------------------------------------------------------
    def _name(self, ns: Namespace) -> str:
        digest = hashlib.sha256(json.dumps(list(ns)).encode()).hexdigest()[:32]
        return f"{self.prefix}-{digest}"

    def _collection(self, ns: Namespace, *, create: bool) -> Any | None:
        col = self._collections.get(ns)
        if col is not None:
            return col
        name = self._name(ns)
        if create:
            col = self.client.get_or_create_collection(
                name,
                # l2, not cosine: chroma re-normalises vectors stored in cosine space,
                # which changes their last bits and would make save/restore lossy.
                # Our vectors are unit length, so squared l2 = 2 - 2 cos: same ranking.
                metadata={
                    _NS_KEY: json.dumps(list(ns)),
                    _EMB_KEY: self.embedder.name,
                    "hnsw:space": "l2",
                },
                embedding_function=None,
            )
        else:
            try:
                col = self.client.get_collection(name, embedding_function=None)
            except Exception as exc:  # chroma raises NotFoundError / ValueError by version
                if "does not exist" in str(exc) or "not found" in str(exc).lower():
                    return None
                raise
        stored = (col.metadata or {}).get(_EMB_KEY)
        if stored != self.embedder.name:
            raise ConfigError(
                f"namespace {ns!r} holds vectors from embedder {stored!r}; this memory uses "
                f"{self.embedder.name!r}. Open it with the same embedder, or use another prefix"
            )
        self._collections[ns] = col
        return col

    def namespaces(self, prefix: Sequence[str] = ()) -> list[Namespace]:
        """Every namespace in this memory that starts with ``prefix``, sorted."""
        pre = tuple(prefix)
        out = []
        for col in self.client.list_collections():
            if not col.name.startswith(f"{self.prefix}-"):
                continue
            meta = col.metadata if hasattr(col, "metadata") else None
            if meta is None:
                meta = self.client.get_collection(col.name, embedding_function=None).metadata
            ns = tuple(json.loads((meta or {}).get(_NS_KEY, "[]")))
            if ns and ns[: len(pre)] == pre:
                out.append(ns)
        return sorted(out)

    def drop(self, namespace: str | Sequence[str]) -> None:
        """Delete a namespace and everything in it."""
        ns = as_namespace(namespace)
        self._collections.pop(ns, None)
        if self._collection(ns, create=False) is not None:
            self._collections.pop(ns, None)
            self.client.delete_collection(self._name(ns))

    # -- writing ----------------------------------------------------------
    def add(
        self,
        namespace: str | Sequence[str],
        texts: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        embeddings: np.ndarray | Sequence[Sequence[float]] | None = None,
    ) -> list[str]:
        """Store ``texts`` in ``namespace`` (an existing id is replaced) and return their ids.

        Metadata values must be str, int, float or bool; ``None`` values are
        left out. Pass ``embeddings`` when they are already computed.
        """
        ns = as_namespace(namespace)
        texts = list(texts)
        if not texts:
            return []
        ids = [str(i) for i in ids] if ids is not None else [fresh_id() for _ in texts]
        metas = [clean_meta(m) for m in (metadatas or [None] * len(texts))]
        if not len(ids) == len(metas) == len(texts):
            raise ConfigError(
                f"texts, ids and metadatas differ in length ({len(texts)}, {len(ids)}, {len(metas)})"
            )
        vecs = (
            self.embedder.embed(texts)
            if embeddings is None
            else np.asarray(embeddings, dtype=np.float32)
        )
        if vecs.shape != (len(texts), self.embedder.dim):
            raise ConfigError(
                f"embeddings have shape {vecs.shape}, expected ({len(texts)}, {self.embedder.dim})"
            )
        col = self._collection(ns, create=True)
        step = max_batch(self.client)
        for i in range(0, len(texts), step):
            col.upsert(
                ids=ids[i : i + step], documents=texts[i : i + step], metadatas=metas[i : i + step],
                embeddings=vecs[i : i + step],
            )  # fmt: skip
        return ids

    def delete(self, namespace: str | Sequence[str], ids: Sequence[str]) -> None:
        """Remove ``ids`` from ``namespace`` (unknown ids are ignored)."""
        col = self._collection(as_namespace(namespace), create=False)
        if col is not None and ids:
            col.delete(ids=list(ids))

    # -- reading ----------------------------------------------------------
    def count(self, namespace: str | Sequence[str]) -> int:
        col = self._collection(as_namespace(namespace), create=False)
        return 0 if col is None else col.count()

    def get(
        self,
        namespace: str | Sequence[str],
        ids: Sequence[str] | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        embeddings: bool = False,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[SemanticItem]:
        """Items by id (in the order asked, missing ones left out) or by ``where``."""
        ns = as_namespace(namespace)
        col = self._collection(ns, create=False)
        if col is None or (ids is not None and not ids):
            return []
        include = ["documents", "metadatas", *(["embeddings"] if embeddings else [])]
        res = col.get(
            ids=list(ids) if ids is not None else None, where=dict(where) if where else None,
            include=include, limit=limit, offset=offset,
        )  # fmt: skip
        items = _items(ns, res, embeddings)
        if ids is not None:
            by_id = {it.id: it for it in items}
            items = [by_id[i] for i in ids if i in by_id]
        return items

    def query(
        self,
        namespaces: str | Sequence[str] | Iterable[Sequence[str]],
        text: str | None = None,
        *,
        embedding: np.ndarray | Sequence[float] | None = None,
        k: int = 10,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """The ``k`` nearest items to ``text`` (or ``embedding``) across ``namespaces``.

        ``namespaces`` is one namespace (a string or tuple of strings) or a
        list of them. Results are merged and sorted by similarity.
        """
        if embedding is None:
            if text is None:
                raise ConfigError("query needs `text` or `embedding`")
            embedding = self.embedder.embed([text])[0]
        vec = np.asarray(embedding, dtype=np.float32).reshape(-1)
        hits: list[Hit] = []
        for ns in _namespace_list(namespaces):
            col = self._collection(ns, create=False)
            if col is None:
                continue
            if k <= 0:
                break
            # chroma returns fewer than n_results when it has fewer; no count() round trip.
            res = col.query(
                query_embeddings=[vec], n_results=k, where=dict(where) if where else None,
                include=["documents", "metadatas", "distances"],
            )  # fmt: skip
            for id_, doc, meta, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            ):
                hits.append(
                    Hit(
                        id=id_,
                        namespace=ns,
                        text=doc,
                        metadata=dict(meta or {}),
                        similarity=1.0 - float(dist) / 2.0,
                    )
                )
        hits.sort(key=lambda h: (-h.similarity, h.namespace, h.id))
        return hits[:k]

    # -- save / restore ---------------------------------------------------
    def export(self, *, batch: int = 5_000) -> Iterator[tuple[Namespace, list[SemanticItem]]]:
        """Every namespace with all its items (embeddings included), sorted by id."""
        for ns in self.namespaces():
            col = self._collection(ns, create=True)
            items: list[SemanticItem] = []
            total = col.count()
            for off in range(0, total, batch):
                res = col.get(
                    include=["documents", "metadatas", "embeddings"], limit=batch, offset=off
                )
                items.extend(_items(ns, res, True))
            items.sort(key=lambda it: it.id)
            yield ns, items


def _namespace_list(namespaces: Any) -> list[Namespace]:
    if isinstance(namespaces, str):
        return [as_namespace(namespaces)]
    seq = list(namespaces)
    if seq and all(isinstance(p, str) for p in seq):
        return [as_namespace(seq)]
    return list(dict.fromkeys(as_namespace(ns) for ns in seq))


def _items(ns: Namespace, res: Mapping[str, Any], with_emb: bool) -> list[SemanticItem]:
    embs = res.get("embeddings") if with_emb else None
    out = []
    for i, id_ in enumerate(res["ids"]):
        emb = np.asarray(embs[i], dtype=np.float32) if embs is not None else None
        out.append(
            SemanticItem(
                id=id_,
                namespace=ns,
                text=res["documents"][i],
                metadata=dict(res["metadatas"][i] or {}),
                embedding=emb,
            )
        )
    return out
