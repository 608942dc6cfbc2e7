"""Retrieval for one agent: the scoring, and knowledge isolation (a property test)."""

from __future__ import annotations

import uuid

import chromadb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dramaturg.memory import Memory, RetrievalConfig, SemanticMemory
from dramaturg.memory._chroma import client_settings as _client_settings


def _mem(tmp_path, embedder, **kw) -> Memory:
    return Memory(tmp_path / f"m-{uuid.uuid4().hex[:8]}", embedder=embedder, **kw)


def test_relevance_recency_and_importance_each_move_the_ranking(tmp_path, minilm):
    mem = _mem(tmp_path, minilm)
    mem.record(id="old", text="Hamlet fenced with Laertes.", witnesses={"h"}, step=1, importance=2)
    mem.record(id="new", text="Hamlet ate bread.", witnesses={"h"}, step=100, importance=2)
    mem.record(id="big", text="Hamlet's mother died.", witnesses={"h"}, step=1, importance=10)

    def top(cfg: RetrievalConfig) -> str:
        return mem.retrieve("h", "a sword duel", k=1, config=cfg)[0].event.id

    def only(**w: float) -> RetrievalConfig:
        return RetrievalConfig(
            unit="step", decay=0.9, **{"recency": 0, "importance": 0, "relevance": 0, **w}
        )

    assert top(only(relevance=1)) == "old"
    assert top(only(recency=1)) == "new"
    assert top(only(importance=1)) == "big"
    res = mem.retrieve("h", "a sword duel", k=3, config=RetrievalConfig(unit="step", decay=0.9))
    for r in res:
        assert 0 <= r.recency <= 1 and 0 <= r.importance <= 1 and 0 <= r.relevance <= 1
        assert r.score == pytest.approx(r.recency + r.importance + r.relevance)
    assert [r.score for r in res] == sorted((r.score for r in res), reverse=True)


def test_shared_namespaces_are_read_only_by_members(tmp_path, minilm):
    mem = _mem(tmp_path, minilm)
    mem.share("court", "The coronation is on Sunday.", importance=5)
    mem.record(text="Horatio saw a ghost.", witnesses={"horatio"})
    assert mem.retrieve("hamlet", "coronation") == []
    mem.join("hamlet", "court")
    assert [r.text for r in mem.retrieve("hamlet", "coronation")] == [
        "The coronation is on Sunday."
    ]
    assert mem.retrieve("hamlet", "coronation")[0].namespace == ("shared", "court")
    mem.leave("hamlet", "court")
    assert mem.retrieve("hamlet", "coronation") == []


def test_witness_check_catches_a_misfiled_vector(tmp_path, minilm):
    """Even if an event's vector lands in the wrong agent's namespace, retrieval drops it."""
    mem = _mem(tmp_path, minilm)
    secret = mem.record(text="The poison is in the cup.", witnesses={"claudius"})
    [item] = mem.semantic.get(("agent", "claudius"), [secret.key], embeddings=True)
    mem.semantic.add(("agent", "gertrude"), [item.text], ids=[item.id], metadatas=[item.metadata],
                     embeddings=item.embedding[None, :])  # fmt: skip
    assert mem.retrieve("gertrude", "poison cup") == []
    assert [r.text for r in mem.retrieve("claudius", "poison cup")] == ["The poison is in the cup."]


SECRET = "The crown jewels are hidden under the third floorboard of the chapel."
AGENTS = ["alice", "bob", "carol"]
_counter = iter(range(10**9))


@st.composite
def scenes(draw):
    """A random stream of ordinary events among three agents, with one secret shown to one of them."""
    holder = draw(st.sampled_from(AGENTS))
    words = [
        "bread",
        "chapel",
        "crown",
        "floorboard",
        "jewels",
        "rain",
        "song",
        "sword",
        "third",
        "hidden",
    ]
    n = draw(st.integers(min_value=0, max_value=12))
    events = []
    for i in range(n):
        ws = draw(st.sets(st.sampled_from(AGENTS), min_size=1))
        text = " ".join(draw(st.lists(st.sampled_from(words), min_size=2, max_size=6)))
        events.append(
            {
                "text": f"{i}: {text}",
                "witnesses": ws,
                "step": i,
                "importance": draw(st.integers(1, 10)),
            }
        )
    at = draw(st.integers(min_value=0, max_value=n))
    events.insert(
        at, {"text": SECRET, "witnesses": {holder}, "step": at, "importance": 10, "id": "secret"}
    )
    # The holder may tell someone else later: then that agent was told and may know it.
    told = draw(st.sampled_from([None, *[a for a in AGENTS if a != holder]]))
    if told:
        events.append({"text": f"{holder} whispers: {SECRET}", "witnesses": {holder, told}, "step": n + 1,
                       "importance": 9, "id": "told"})  # fmt: skip
    return holder, told, events


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory):
    return chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("iso") / "chroma"), settings=_client_settings()
    )


def _check_isolation(mem: Memory, scene, query: str) -> None:
    holder, told, events = scene
    mem.record_many(events)
    for agent in AGENTS:
        got = mem.retrieve(agent, query, k=50, config=RetrievalConfig(candidates=50, recent=50))
        texts = [r.text for r in got]
        leaked = any("crown jewels are hidden" in t for t in texts)
        if agent not in (holder, told):
            assert not leaked, (agent, holder, told, texts)
            assert all(agent in r.event.witnesses for r in got)
        else:
            assert leaked  # the witness itself does recall it (k covers every memory)


QUERIES = st.sampled_from(
    [SECRET, "Where are the crown jewels hidden?", "chapel floorboard", "bread"]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scene=scenes(), query=QUERIES)
def test_knowledge_isolation_secret_never_reaches_non_witnesses(
    tmp_path, minilm, shared_client, scene, query
):
    n = next(_counter)
    sem = SemanticMemory(client=shared_client, embedder=minilm, prefix=f"iso{n}")
    _check_isolation(Memory(tmp_path / f"iso{n}", semantic=sem), scene, query)


@pytest.mark.slow
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scene=scenes(), query=QUERIES)
def test_knowledge_isolation_many_examples(tmp_path, minilm, shared_client, scene, query):
    n = next(_counter)
    sem = SemanticMemory(client=shared_client, embedder=minilm, prefix=f"isoslow{n}")
    _check_isolation(Memory(tmp_path / f"isoslow{n}", semantic=sem), scene, query)


@pytest.mark.server
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scene=scenes(), query=QUERIES)
def test_knowledge_isolation_on_a_chroma_server(tmp_path, minilm, chroma_server, scene, query):
    n = next(_counter)
    sem = SemanticMemory.http(*chroma_server, embedder=minilm, prefix=f"isosrv{n}")
    _check_isolation(Memory(tmp_path / f"isosrv{n}", semantic=sem), scene, query)
