"""Retrieval for one agent: recency + importance + relevance (the Generative Agents memory stream).

Candidates are the nearest memories to the query in the agent's own
namespace and in the shared namespaces it belongs to, plus the agent's most
recent witnessed events. Each candidate gets three scores, each min-max
normalised to [0, 1] over the candidates:

* recency: ``decay ** age``, age in world steps or wall-clock hours;
* importance: the stored 1-10 rating;
* relevance: cosine similarity between the query and the memory.

The final score is their weighted sum. Every event candidate is checked
against the episodic log's witness table before it is returned, so even a
mis-filed vector cannot leak an event to an agent that did not witness it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dramaturg.memory.episodic import EpisodicMemory
from dramaturg.memory.records import Event, Retrieved
from dramaturg.memory.semantic import Namespace, SemanticMemory

__all__ = ["RetrievalConfig", "agent_namespace", "retrieve"]


def agent_namespace(agent: str) -> Namespace:
    """The namespace holding what ``agent`` witnessed: ``("agent", name)``."""
    return ("agent", agent)


@dataclass(kw_only=True, frozen=True, slots=True)
class RetrievalConfig:
    """Weights and knobs of retrieval.

    Attributes:
        recency, importance, relevance: weights of the three normalised
            scores (the paper uses 1/1/1; its code 0.5/2/3).
        decay: recency multiplier per unit of age (0.995 per hour in the paper).
        unit: age in world ``"step"`` or wall-clock ``"hour"``.
        candidates: how many nearest neighbours to fetch per namespace.
        recent: how many most recent witnessed events join the candidates.
    """

    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0
    decay: float = 0.995
    unit: Literal["step", "hour"] = "hour"
    candidates: int = 50
    recent: int = 20


def _normalise(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        return np.full_like(x, 0.5)  # all equal: no information, as in the paper's code
    return (x - lo) / (hi - lo)


@dataclass(kw_only=True, slots=True)
class _Cand:
    id: str
    ns: Namespace
    text: str
    meta: dict
    sim: float | None


def retrieve(
    episodic: EpisodicMemory,
    semantic: SemanticMemory,
    agent: str,
    query: str,
    *,
    k: int = 5,
    shared: Sequence[Namespace] = (),
    config: RetrievalConfig | None = None,
    now: float | None = None,
    query_embedding: np.ndarray | None = None,
) -> list[Retrieved]:
    """The ``k`` best memories of ``agent`` for ``query``, best first.

    Args:
        episodic: the event log (the witness check).
        semantic: the vector store.
        agent: whose memory to search.
        query: what to search for.
        k: how many to return.
        shared: shared namespaces the agent may read.
        config: weights and knobs.
        now: the present, in ``config.unit`` (a step, or epoch seconds for
            hours); default: the newest candidate's step, or the clock.
        query_embedding: pass it when already computed.
    """
    config = config or RetrievalConfig()
    own = agent_namespace(agent)
    qvec = query_embedding if query_embedding is not None else semantic.embedder.embed([query])[0]
    qvec = np.asarray(qvec, dtype=np.float32).reshape(-1)
    cands: dict[tuple[Namespace, str], _Cand] = {}
    for hit in semantic.query(
        [own, *shared], embedding=qvec, k=config.candidates * (1 + len(shared))
    ):
        cands[(hit.namespace, hit.id)] = _Cand(
            id=hit.id, ns=hit.namespace, text=hit.text, meta=dict(hit.metadata), sim=hit.similarity
        )
    if config.recent > 0:
        recent = episodic.witnessed_by(agent, limit=config.recent, newest_first=True)
        missing = [e.key for e in recent if (own, e.key) not in cands]
        for item in semantic.get(own, missing, embeddings=True):
            sim = float(item.embedding @ qvec) if item.embedding is not None else 0.0
            cands[(own, item.id)] = _Cand(
                id=item.id, ns=own, text=item.text, meta=dict(item.metadata), sim=sim
            )
    if not cands:
        return []
    # The witness check: an event-backed memory is kept only if the log says the agent saw it.
    seqs = [int(c.meta["seq"]) for c in cands.values() if "seq" in c.meta]
    events = episodic.get_seqs(seqs)
    kept: list[tuple[_Cand, Event | None]] = []
    for c in cands.values():
        ev = events.get(int(c.meta["seq"])) if "seq" in c.meta else None
        if "seq" in c.meta and (ev is None or agent not in ev.witnesses):
            continue
        kept.append((c, ev))
    if not kept:
        return []
    ages = np.array([_age(c.meta, config.unit) for c, _ in kept], dtype=np.float64)
    if config.unit == "step":
        known = ages[~np.isnan(ages)]
        present = now if now is not None else (float(known.max()) if known.size else 0.0)
    else:
        present = now if now is not None else time.time()
    ages = np.where(np.isnan(ages), present, ages)
    if config.unit == "hour":
        age = np.maximum(present - ages, 0.0) / 3600.0
    else:
        age = np.maximum(present - ages, 0.0)
    rec = _normalise(np.power(config.decay, age))
    imp = _normalise(np.array([float(c.meta.get("importance", 1.0)) for c, _ in kept]))
    rel = _normalise(np.array([c.sim if c.sim is not None else 0.0 for c, _ in kept]))
    score = config.recency * rec + config.importance * imp + config.relevance * rel
    order = sorted(range(len(kept)), key=lambda i: (-score[i], kept[i][0].id))[:k]
    return [
        Retrieved(
            id=kept[i][0].id,
            text=kept[i][0].text,
            namespace=kept[i][0].ns,
            score=float(score[i]),
            recency=float(rec[i]),
            importance=float(imp[i]),
            relevance=float(rel[i]),
            event=kept[i][1],
            metadata=kept[i][0].meta,
        )
        for i in order
    ]


def _age(meta: dict, unit: str) -> float:
    if unit == "step":
        step = meta.get("step")
        return float(step) if step is not None else float("nan")
    t = meta.get("time")
    return float(t) if t is not None else float("nan")
