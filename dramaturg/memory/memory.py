"""`Memory`: the one object users hold: episodic log + semantic store + scene graph.

A live memory is a folder::

    <folder>/memory.json       marker: format, version, embedder
    <folder>/episodic.sqlite   the event log with witnesses (SQLite, WAL)
    <folder>/chroma/           the embedded chroma database (absent on a server)
    <folder>/scene.json        the scene graph, written by flush()/close()

:meth:`Memory.save` writes a self-contained, checksummed copy of all three
parts to another folder; :meth:`Memory.load` restores one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dramaturg._paths import home_dir
from dramaturg.errors import ConfigError
from dramaturg.memory._folder import check_live_folder, write_json_atomic, write_marker
from dramaturg.memory.embedders import Embedder, default_embedder
from dramaturg.memory.episodic import EpisodicMemory
from dramaturg.memory.importance import HeuristicImportance, ImportanceScorer
from dramaturg.memory.records import Event, Retrieved, event_from
from dramaturg.memory.retrieval import RetrievalConfig, agent_namespace, retrieve
from dramaturg.memory.scene import SceneGraph
from dramaturg.memory.semantic import Namespace, SemanticMemory, as_namespace

__all__ = ["Memory", "shared_namespace"]


def shared_namespace(name: str | Sequence[str]) -> Namespace:
    """``"court"`` -> ``("shared", "court")``; already-prefixed tuples are kept."""
    ns = as_namespace(name)
    return ns if ns[0] == "shared" else ("shared", *ns)


class Memory:
    """Shared memory for a cast of agents: who saw what, what it means, where everyone is.

    Args:
        path: the live folder (default ``<home>/memory/default``).
        embedder: text -> vectors for the embedded chroma (default MiniLM).
        semantic: a ready :class:`SemanticMemory` (for a chroma server).
        importance: rates new events 1-10 (default :class:`HeuristicImportance`).
        retrieval: default weights and knobs for :meth:`retrieve`.
        session: the session new events belong to unless they say otherwise.
        create: start a new memory when the folder is missing or empty.
        durability: ``"full"`` or ``"normal"`` (see :class:`EpisodicMemory`).

    Example:
        >>> mem = Memory(tmp / "elsinore")  # doctest: +SKIP
        >>> mem.record(text="Claudius poisons the king.", actor="claudius",
        ...            place="garden", witnesses={"claudius", "ghost"})  # doctest: +SKIP
        >>> [r.text for r in mem.retrieve("hamlet", "how did the king die?")]  # doctest: +SKIP
        []
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | None = None,
        semantic: SemanticMemory | None = None,
        importance: ImportanceScorer | None = None,
        retrieval: RetrievalConfig | None = None,
        session: str = "default",
        create: bool = True,
        durability: Literal["full", "normal"] = "full",
    ) -> None:
        self.path = Path(path) if path is not None else home_dir() / "memory" / "default"
        if semantic is not None and embedder is not None and semantic.embedder is not embedder:
            raise ConfigError(
                "pass either `semantic` or `embedder`, not both (the semantic memory has its own)"
            )
        fresh = check_live_folder(self.path, create=create)
        emb = semantic.embedder if semantic is not None else (embedder or default_embedder())
        if fresh:
            write_marker(self.path, emb.name)  # first, so a half-made folder is still recognisable
        else:
            check_live_folder(self.path, create=False, embedder_name=emb.name)
        self.semantic = (
            semantic if semantic is not None else SemanticMemory(self.path / "chroma", embedder=emb)
        )
        self.episodic = EpisodicMemory(
            self.path / "episodic.sqlite", create=fresh, durability=durability
        )
        scene_file = self.path / "scene.json"
        self.scene = _read_scene(scene_file) if scene_file.exists() else SceneGraph()
        self.importance: ImportanceScorer = importance or HeuristicImportance()
        self.retrieval = retrieval or RetrievalConfig()
        self.session = session

    def __repr__(self) -> str:
        return f"<Memory {self.path}>"

    @property
    def embedder(self) -> Embedder:
        return self.semantic.embedder

    # -- recording --------------------------------------------------------
    def _prepare(self, items: Iterable[tuple[Any, dict[str, Any]]]) -> list[Event]:
        evs = []
        for obj, fields in items:
            if "session" not in fields and not _has(obj, "session"):
                fields = {**fields, "session": self.session}
            evs.append(event_from(obj, **fields))
        return evs

    def record(self, event: Any = None, /, **fields: Any) -> Event:
        """Record one event (a world's event object, an :class:`Event`, a mapping or keywords).

        Its importance is rated when missing, it is appended to the log with
        its witnesses, and its text is indexed in each witness's namespace.
        An event already recorded (same session and id) is not recorded twice.
        """
        return self.record_many([event], **fields)[0]

    def record_many(self, events: Iterable[Any], **fields: Any) -> list[Event]:
        """Record several events: one log transaction, one embedding batch."""
        evs = self._prepare((e, fields) for e in events)
        todo = [i for i, e in enumerate(evs) if e.importance is None]
        if todo:
            scores = self.importance.score_sync(
                [evs[i].text for i in todo], kinds=[evs[i].kind for i in todo]
            )
            for i, s in zip(todo, scores, strict=True):
                evs[i] = evs[i].with_(importance=float(s))
        stored = self.episodic.record_new(evs)
        self._index([e for e, new in stored if new])
        return [e for e, _ in stored]

    async def arecord(self, event: Any = None, /, **fields: Any) -> Event:
        """Async :meth:`record` (model-rated importance is awaited; I/O runs in a thread)."""
        return (await self.arecord_many([event], **fields))[0]

    async def arecord_many(self, events: Iterable[Any], **fields: Any) -> list[Event]:
        evs = self._prepare((e, fields) for e in events)
        todo = [i for i, e in enumerate(evs) if e.importance is None]
        if todo:
            scores = await self.importance.score(
                [evs[i].text for i in todo], kinds=[evs[i].kind for i in todo]
            )
            for i, s in zip(todo, scores, strict=True):
                evs[i] = evs[i].with_(importance=float(s))
        stored = await asyncio.to_thread(self.episodic.record_new, evs)
        await asyncio.to_thread(self._index, [e for e, new in stored if new])
        return [e for e, _ in stored]

    def _index(self, events: list[Event]) -> None:
        if not events:
            return
        vecs = self.embedder.embed([e.text for e in events])
        by_ns: dict[Namespace, list[int]] = {}
        for i, ev in enumerate(events):
            for w in sorted(ev.witnesses):
                by_ns.setdefault(agent_namespace(w), []).append(i)
        for ns, idx in by_ns.items():
            self.semantic.add(
                ns, [events[i].text for i in idx], ids=[events[i].key for i in idx],
                metadatas=[_event_meta(events[i]) for i in idx], embeddings=vecs[idx],
            )  # fmt: skip

    def reindex(self) -> int:
        """Index logged events missing from semantic memory (after a crash between the two); returns how many."""
        added = 0
        for agent in self.episodic.agents():
            ns = agent_namespace(agent)
            evs = self.episodic.witnessed_by(agent)
            have = {it.id for it in self.semantic.get(ns, [e.key for e in evs])}
            missing = [e for e in evs if e.key not in have]
            if missing:
                vecs = self.embedder.embed([e.text for e in missing])
                self.semantic.add(ns, [e.text for e in missing], ids=[e.key for e in missing],
                                  metadatas=[_event_meta(e) for e in missing], embeddings=vecs)  # fmt: skip
                added += len(missing)
        return added

    # -- shared facts -----------------------------------------------------
    def share(
        self,
        namespace: str | Sequence[str],
        texts: str | Sequence[str],
        *,
        importance: float | None = None,
        ids: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[str]:
        """Store facts in a shared namespace; agents that :meth:`join` it can retrieve them."""
        ns = shared_namespace(namespace)
        items = [texts] if isinstance(texts, str) else list(texts)
        imps = (
            [importance] * len(items)
            if importance is not None
            else self.importance.score_sync(items)
        )
        now = time.time()
        metas = [
            {**(metadata or {}), "source": "fact", "time": now, "importance": float(i)}
            for i in imps
        ]
        return self.semantic.add(ns, items, ids=ids, metadatas=metas)

    def join(self, agent: str, namespace: str | Sequence[str]) -> None:
        """Let ``agent`` retrieve from the shared ``namespace``."""
        self.episodic.join(agent, shared_namespace(namespace))

    def leave(self, agent: str, namespace: str | Sequence[str]) -> None:
        self.episodic.leave(agent, shared_namespace(namespace))

    def shared_with(self, agent: str) -> list[Namespace]:
        """The shared namespaces ``agent`` may read."""
        return [ns for _, ns in self.episodic.memberships(agent)]

    # -- retrieval and reflection ----------------------------------------
    def retrieve(self, agent: str, query: str, *, k: int = 5, config: RetrievalConfig | None = None,
                 now: float | None = None) -> list[Retrieved]:  # fmt: skip
        """The ``k`` memories of ``agent`` that best fit ``query`` (recency + importance + relevance)."""
        return retrieve(
            self.episodic, self.semantic, agent, query, k=k, shared=self.shared_with(agent),
            config=config or self.retrieval, now=now,
        )  # fmt: skip

    async def aretrieve(self, agent: str, query: str, **kwargs: Any) -> list[Retrieved]:
        return await asyncio.to_thread(self.retrieve, agent, query, **kwargs)

    async def reflect(self, agent: str, model: Any, **kwargs: Any) -> list[Event]:
        """Have ``model`` write insights for ``agent`` now (see :class:`~dramaturg.memory.Reflector`)."""
        from dramaturg.memory.reflection import Reflector

        return await Reflector(model, **kwargs).reflect(self, agent)

    async def maybe_reflect(
        self, agent: str, model: Any, *, threshold: float = 150.0, **kwargs: Any
    ) -> list[Event]:
        """Reflect if ``agent``'s new memories passed ``threshold`` summed importance; else ``[]``."""
        from dramaturg.memory.reflection import Reflector

        return await Reflector(model, threshold=threshold, **kwargs).maybe_reflect(self, agent)

    # -- persistence ------------------------------------------------------
    def flush(self) -> None:
        """Write the scene graph to the live folder (events and vectors are already on disk)."""
        write_json_atomic(self.path / "scene.json", self.scene.to_dict())

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self.episodic.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, dest: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write all three parts to a new folder ``dest`` (checksummed); returns it."""
        from dramaturg.memory.persist import save

        return save(self, Path(dest), overwrite=overwrite)

    @classmethod
    def load(
        cls, src: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
    ) -> Memory:
        """Restore a folder written by :meth:`save` into a new live memory at ``path``.

        ``kwargs`` go to the constructor (``embedder``, ``semantic``, ...).
        """
        from dramaturg.memory.persist import load

        return load(cls, Path(src), Path(path), **kwargs)

    def dump(self) -> dict[str, Any]:
        """Everything this memory holds, as plain data (for comparisons and debugging)."""
        semantic = {}
        for ns, items in self.semantic.export():
            semantic[json.dumps(list(ns))] = [
                {"id": it.id, "text": it.text, "metadata": dict(it.metadata),
                 "embedding": np.asarray(it.embedding, dtype=np.float32).tobytes().hex()}
                for it in items
            ]  # fmt: skip
        return {
            "events": [e.to_dict() for e in self.episodic.iter_events()],
            "counters": self.episodic.counters(),
            "memberships": [[a, list(ns)] for a, ns in self.episodic.memberships()],
            "semantic": semantic,
            "scene": self.scene.to_dict(),
        }


def _has(obj: Any, name: str) -> bool:
    if obj is None:
        return False
    if isinstance(obj, dict):
        return name in obj
    return hasattr(obj, name)


def _event_meta(ev: Event) -> dict[str, Any]:
    return {
        "source": "event", "seq": ev.seq, "session": ev.session, "kind": ev.kind, "time": ev.time,
        "step": ev.step, "place": ev.place, "actor": ev.actor, "importance": ev.importance,
    }  # fmt: skip


def _read_scene(path: Path) -> SceneGraph:
    from dramaturg.memory.errors import StoreCorruptError

    try:
        return SceneGraph.from_json(path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise StoreCorruptError(path, f"scene.json cannot be read ({exc})",
                                "restore it from a Memory.save() folder or move it aside to start an empty scene") from exc  # fmt: skip
