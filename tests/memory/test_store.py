"""MemoryStore: LangGraph's BaseStore on semantic memory, embedded and on a chroma server."""

from __future__ import annotations

import time
import uuid
from typing import TypedDict

import pytest
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

from dramaturg.memory import Memory, MemoryStore


@pytest.fixture
def store(semantic_factory) -> MemoryStore:
    return MemoryStore(semantic_factory(), index=["text"])


def test_is_a_langgraph_base_store(store):
    assert isinstance(store, BaseStore)


def test_put_get_update_delete(store):
    ns = ("agent", "hamlet")
    store.put(ns, "vow", {"text": "Remember me.", "tags": ["ghost"], "n": 1})
    item = store.get(ns, "vow")
    assert item.value == {"text": "Remember me.", "tags": ["ghost"], "n": 1}
    assert (item.key, item.namespace) == ("vow", ns)
    time.sleep(0.01)
    store.put(ns, "vow", {"text": "Remember thee!", "n": 2})
    again = store.get(ns, "vow")
    assert again.value == {"text": "Remember thee!", "n": 2}
    assert again.created_at == item.created_at and again.updated_at > item.updated_at
    assert store.get(ns, "nothing") is None and store.get(("agent", "nobody"), "vow") is None
    store.delete(ns, "vow")
    assert store.get(ns, "vow") is None


def test_search_by_meaning_with_filter_offset_and_limit(store):
    store.put(("agent", "hamlet"), "1", {"text": "The king drank poisoned wine.", "act": 5})
    store.put(("agent", "hamlet"), "2", {"text": "Ophelia sang a sad song.", "act": 4})
    store.put(("agent", "ophelia"), "3", {"text": "A toxic drink killed the monarch.", "act": 5})
    store.put(("agent", "hamlet"), "4", {"text": "notes without an index", "act": 5}, index=False)
    res = store.search(("agent",), query="poison in the king's cup")
    assert [r.key for r in res][:2] in (["1", "3"], ["3", "1"])
    assert res[0].score >= res[1].score >= res[2].score
    assert res[-1].key == "4" and res[-1].score is None  # unindexed: listed last, unscored
    assert [r.key for r in store.search(("agent", "hamlet"), query="poison")][:1] == ["1"]
    assert {r.key for r in store.search(("agent",), query="poison", filter={"act": 5})} == {
        "1",
        "3",
        "4",
    }
    assert {r.key for r in store.search(("agent",), filter={"act": {"$lt": 5}})} == {"2"}
    page = store.search(("agent",), query="poison", limit=1, offset=1)
    assert len(page) == 1 and page[0].key == res[1].key
    assert len(store.search(("agent",), limit=2)) == 2
    assert store.search(("nobody",), query="x") == []


def test_list_namespaces(store):
    for ns in [("agent", "hamlet"), ("agent", "ophelia"), ("shared", "court", "notes")]:
        store.put(ns, "k", {"text": "x"})
    assert store.list_namespaces() == [
        ("agent", "hamlet"),
        ("agent", "ophelia"),
        ("shared", "court", "notes"),
    ]
    assert store.list_namespaces(prefix=("agent",)) == [("agent", "hamlet"), ("agent", "ophelia")]
    assert store.list_namespaces(suffix=("notes",)) == [("shared", "court", "notes")]
    assert store.list_namespaces(prefix=("*", "court")) == [("shared", "court", "notes")]
    assert store.list_namespaces(max_depth=1) == [("agent",), ("shared",)]
    assert store.list_namespaces(limit=1, offset=1) == [("agent", "ophelia")]


async def test_async_api(store):
    await store.aput(("agent", "a"), "k", {"text": "To sleep, perchance to dream."})
    assert (await store.aget(("agent", "a"), "k")).value["text"].startswith("To sleep")
    assert [r.key for r in await store.asearch(("agent",), query="dreaming")] == ["k"]


class State(TypedDict):
    agent: str
    question: str
    answer: str


def test_a_graph_node_reads_what_memory_recorded_through_the_same_path(tmp_path, minilm):
    mem = Memory(tmp_path / "m", embedder=minilm)
    mem.record(text="The ghost said Claudius poured poison in his ear.", witnesses={"hamlet"})
    mem.record(text="Ophelia returned Hamlet's letters.", witnesses={"ophelia"})
    store = MemoryStore(mem.semantic, index=["text"])

    def recall(state: State) -> dict:
        s = get_store()
        hits = s.search(("agent", state["agent"]), query=state["question"], limit=1)
        s.put(
            ("agent", state["agent"]),
            f"note-{uuid.uuid4().hex[:6]}",
            {"text": f"I asked: {state['question']}"},
        )
        return {"answer": hits[0].value["text"] if hits else ""}

    builder = StateGraph(State)
    builder.add_node("recall", recall)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", END)
    graph = builder.compile(store=store)
    out = graph.invoke({"agent": "hamlet", "question": "How did my father die?", "answer": ""})
    assert out["answer"] == "The ghost said Claudius poured poison in his ear."
    out = graph.invoke({"agent": "ophelia", "question": "How did the king die?", "answer": ""})
    assert "poison" not in out["answer"]
    # What the node put is an ordinary memory of that agent: Memory's vector search finds it.
    assert mem.semantic.query(("agent", "hamlet"), "I asked: How did my father die?", k=1)[
        0
    ].text.startswith("I asked")
