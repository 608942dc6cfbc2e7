"""Shared memory for agents: who witnessed what, what it means, and where everyone is.

* :class:`EpisodicMemory` — the event log with witnesses (SQLite, WAL).
* :class:`SemanticMemory` — texts and vectors in chroma, one namespace per
  agent plus shared namespaces; embedded or on a chroma server.
* :class:`SceneGraph` — agents, places, props and relationships (networkx).
* :func:`retrieve` — recency + importance + relevance for one agent.
* :class:`Reflector` — insights with evidence, written back as memories.
* :class:`Memory` — the facade holding all three parts: record, retrieve,
  reflect, save, load.
* :class:`MemoryStore` — a LangGraph ``BaseStore`` over semantic memory.

Example:
    >>> from dramaturg.memory import Memory
    >>> mem = Memory(tmp / "elsinore")  # doctest: +SKIP
    >>> mem.record(text="The ghost names his murderer.", place="battlements",
    ...            actor="ghost", witnesses={"hamlet"})  # doctest: +SKIP
    >>> mem.retrieve("horatio", "who killed the king?")  # doctest: +SKIP
    []
"""

from dramaturg.memory.embedders import (
    Embedder,
    HashingEmbedder,
    LiteLLMEmbedder,
    MiniLMEmbedder,
    default_embedder,
)
from dramaturg.memory.episodic import EpisodicMemory
from dramaturg.memory.errors import (
    MemoryStoreError,
    SceneGraphError,
    StoreCorruptError,
    StoreExistsError,
    StoreNotFoundError,
)
from dramaturg.memory.importance import (
    HeuristicImportance,
    ImportanceRating,
    ImportanceScorer,
    ModelImportance,
)
from dramaturg.memory.memory import Memory, shared_namespace
from dramaturg.memory.records import Event, Retrieved, event_from
from dramaturg.memory.reflection import Reflector
from dramaturg.memory.retrieval import RetrievalConfig, agent_namespace, retrieve
from dramaturg.memory.scene import SceneGraph
from dramaturg.memory.semantic import Hit, Namespace, SemanticItem, SemanticMemory, as_namespace


def __getattr__(name: str):
    # MemoryStore imports LangGraph; load it only when someone asks for it.
    if name == "MemoryStore":
        from dramaturg.memory.store import MemoryStore

        return MemoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Embedder",
    "EpisodicMemory",
    "Event",
    "HashingEmbedder",
    "HeuristicImportance",
    "Hit",
    "ImportanceRating",
    "ImportanceScorer",
    "LiteLLMEmbedder",
    "Memory",
    "MemoryStore",
    "MemoryStoreError",
    "MiniLMEmbedder",
    "ModelImportance",
    "Namespace",
    "Reflector",
    "RetrievalConfig",
    "Retrieved",
    "SceneGraph",
    "SceneGraphError",
    "SemanticItem",
    "SemanticMemory",
    "StoreCorruptError",
    "StoreExistsError",
    "StoreNotFoundError",
    "agent_namespace",
    "as_namespace",
    "default_embedder",
    "event_from",
    "retrieve",
    "shared_namespace",
]
