"""`MemoryStore`: a LangGraph ``BaseStore`` over :class:`SemanticMemory`.

Compile a graph with ``store=MemoryStore(memory.semantic)`` and every node
can ``get_store()`` (or take ``runtime.store``) and put, get and search
items by namespace. Store namespaces *are* semantic-memory namespaces, so a
node searching ``("agent", "hamlet")`` sees exactly what
:meth:`Memory.record` indexed for Hamlet, and what a node puts there is
found by :meth:`Memory.retrieve`'s vector search: one path, not two.

Each item is one chroma record: the embedded text is taken from the
``index`` fields of the value (joined with newlines: one vector per item),
the value itself is kept as JSON in the metadata. Items put with
``index=False`` are stored but never scored; searches list them after the
scored ones, as LangGraph's in-memory store does. Memories recorded by
:class:`Memory` (not put through the store) read back as
``{"text": ..., <their metadata>}``.

Example:
    >>> from langgraph.graph import StateGraph  # doctest: +SKIP
    >>> store = MemoryStore(memory.semantic)  # doctest: +SKIP
    >>> graph = builder.compile(store=store)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    get_text_at_path,
    tokenize_path,
)

from dramaturg.memory.semantic import SemanticItem, SemanticMemory

__all__ = ["MemoryStore"]

_VALUE, _CREATED, _UPDATED, _INDEXED = (
    "store_value",
    "store_created",
    "store_updated",
    "store_indexed",
)


class MemoryStore(BaseStore):
    """LangGraph's ``BaseStore`` on dramaturg's semantic memory (embedded chroma or a server).

    Args:
        semantic: the semantic memory to read and write.
        index: default fields to embed (``"$"`` = the whole value as JSON;
            paths like ``"content"`` or ``"notes[*].text"`` as in LangGraph).

    Example:
        >>> store = MemoryStore(SemanticMemory(tmp / "chroma"), index=["text"])  # doctest: +SKIP
        >>> store.put(("agent", "hamlet"), "vow", {"text": "Remember me."})  # doctest: +SKIP
        >>> store.search(("agent",), query="remember")[0].key  # doctest: +SKIP
        'vow'
    """

    supports_ttl = False

    def __init__(self, semantic: SemanticMemory, *, index: list[str] | None = None) -> None:
        self.semantic = semantic
        self.index_fields = list(index) if index else ["$"]

    # -- BaseStore --------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        out: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                out.append(self._get(op.namespace, op.key))
            elif isinstance(op, PutOp):
                self._put(op)
                out.append(None)
            elif isinstance(op, SearchOp):
                out.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                out.append(self._list(op))
            else:
                raise ValueError(f"unknown store operation {type(op).__name__}")
        return out

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    # -- operations -------------------------------------------------------
    def _get(self, ns: tuple[str, ...], key: str) -> Item | None:
        found = self.semantic.get(ns, [key])
        return _to_item(found[0]) if found else None

    def _put(self, op: PutOp) -> None:
        if op.value is None:
            self.semantic.delete(op.namespace, [op.key])
            return
        now = datetime.now(UTC).isoformat()
        old = self.semantic.get(op.namespace, [op.key])
        created = str(old[0].metadata.get(_CREATED, now)) if old else now
        value = dict(op.value)
        text = "" if op.index is False else self._text(value, op.index or self.index_fields)
        meta: dict[str, Any] = {_VALUE: json.dumps(value, sort_keys=True, default=str), _CREATED: created,
                                _UPDATED: now, _INDEXED: op.index is not False}  # fmt: skip
        # Top-level scalars are copied into the metadata so chroma itself can filter on them.
        meta.update(
            {
                k: v
                for k, v in value.items()
                if isinstance(v, str | int | float | bool) and not k.startswith("store_")
            }
        )
        if op.index is False:
            vec = np.zeros((1, self.semantic.embedder.dim), dtype=np.float32)
        else:
            vec = self.semantic.embedder.embed([text])
        self.semantic.add(op.namespace, [text], ids=[op.key], metadatas=[meta], embeddings=vec)

    @staticmethod
    def _text(value: Mapping[str, Any], fields: list[str]) -> str:
        texts: list[str] = []
        for field in fields:
            if field == "$":
                texts.append(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False))
            else:
                texts.extend(get_text_at_path(value, tokenize_path(field)))
        return "\n".join(texts)

    def _search(self, op: SearchOp) -> list[SearchItem]:
        namespaces = self.semantic.namespaces(op.namespace_prefix)
        want = op.offset + op.limit
        if not op.query:
            items = [it for ns in namespaces for it in self.semantic.get(ns)]
            rows = [(None, _to_item(it)) for it in items]
            rows = [r for r in rows if _matches(r[1].value, op.filter)]
            rows.sort(key=lambda r: (r[1].updated_at, r[1].namespace, r[1].key), reverse=True)
            return [_search_item(item, score) for score, item in rows[op.offset : want]]
        qvec = self.semantic.embedder.embed([op.query])[0]
        total = sum(self.semantic.count(ns) for ns in namespaces)
        n = min(total, max(want * 2, 10))
        while True:
            hits = self.semantic.query(namespaces, embedding=qvec, k=n) if namespaces else []
            scored, unscored = [], []
            for h in hits:
                item = _to_item(
                    SemanticItem(id=h.id, namespace=h.namespace, text=h.text, metadata=h.metadata)
                )
                if not _matches(item.value, op.filter):
                    continue
                (scored if h.metadata.get(_INDEXED, True) else unscored).append(
                    (h.similarity, item)
                )
            if len(scored) >= want or n >= total:
                break
            n = min(total, n * 4)
        rows = scored[op.offset : want]
        if len(rows) < op.limit and n >= total:
            skip = max(0, op.offset - len(scored))
            rows += [(None, item) for _, item in unscored[skip : skip + op.limit - len(rows)]]
        return [_search_item(item, score) for score, item in rows]

    def _list(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces = self.semantic.namespaces()
        if op.match_conditions:
            spaces = [ns for ns in spaces if all(_ns_matches(c, ns) for c in op.match_conditions)]
        if op.max_depth is not None:
            spaces = sorted({ns[: op.max_depth] for ns in spaces})
        return spaces[op.offset : op.offset + op.limit]


def _to_item(it: SemanticItem) -> Item:
    meta = dict(it.metadata)
    if _VALUE in meta:
        value = json.loads(str(meta[_VALUE]))
        created = datetime.fromisoformat(str(meta[_CREATED]))
        updated = datetime.fromisoformat(str(meta[_UPDATED]))
    else:  # written by Memory.record / Memory.share, not through the store
        value = {"text": it.text, **meta}
        t = float(meta.get("time", 0.0))
        created = updated = datetime.fromtimestamp(t, UTC)
    return Item(
        value=value, key=it.id, namespace=it.namespace, created_at=created, updated_at=updated
    )


def _search_item(item: Item, score: float | None) -> SearchItem:
    return SearchItem(namespace=item.namespace, key=item.key, value=item.value,
                      created_at=item.created_at, updated_at=item.updated_at, score=score)  # fmt: skip


def _matches(value: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    return not flt or all(_compare(value.get(k), v) for k, v in flt.items())


def _compare(item_value: Any, want: Any) -> bool:
    """LangGraph's filter semantics: equality, nested dicts, and $eq/$ne/$gt/$gte/$lt/$lte."""
    if isinstance(want, Mapping):
        if any(str(k).startswith("$") for k in want):
            return all(_operator(item_value, op, v) for op, v in want.items())
        return isinstance(item_value, Mapping) and all(
            _compare(item_value.get(k), v) for k, v in want.items()
        )
    if isinstance(want, list | tuple):
        return (isinstance(item_value, list | tuple) and len(item_value) == len(want)
                and all(_compare(a, b) for a, b in zip(item_value, want, strict=True)))  # fmt: skip
    return item_value == want


def _operator(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return value == arg
    if op == "$ne":
        return value != arg
    if value is None:
        return False
    if op == "$gt":
        return float(value) > float(arg)
    if op == "$gte":
        return float(value) >= float(arg)
    if op == "$lt":
        return float(value) < float(arg)
    if op == "$lte":
        return float(value) <= float(arg)
    raise ValueError(f"unsupported filter operator {op!r}; use $eq, $ne, $gt, $gte, $lt or $lte")


def _ns_matches(cond: MatchCondition, ns: tuple[str, ...]) -> bool:
    path = tuple(cond.path)
    if len(ns) < len(path):
        return False
    pairs = (
        zip(ns, path, strict=False)
        if cond.match_type == "prefix"
        else zip(reversed(ns), reversed(path), strict=False)
    )
    if cond.match_type not in ("prefix", "suffix"):
        raise ValueError(f"unsupported match type {cond.match_type!r}")
    return all(p == "*" or k == p for k, p in pairs)
