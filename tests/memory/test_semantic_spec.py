"""The shared spec suite for SemanticMemory: every test runs on the embedded
chroma (PersistentClient) and on a real chroma server (HttpClient, marked
``server``) started on 127.0.0.1 by the ``chroma_server`` fixture."""

from __future__ import annotations

import numpy as np
import pytest

from dramaturg.errors import ConfigError
from dramaturg.memory import HashingEmbedder

HAMLET = ("agent", "hamlet")
OPHELIA = ("agent", "ophelia")


def test_add_then_query_finds_the_nearest_by_meaning(semantic_factory):
    sem = semantic_factory()
    sem.add(HAMLET, ["The king was poisoned in the garden.", "Ophelia gathers flowers by the brook.",
                     "The players rehearse a comedy."], ids=["poison", "flowers", "players"])  # fmt: skip
    hits = sem.query(HAMLET, "How was the monarch murdered?", k=3)
    assert hits[0].id == "poison"
    assert hits[0].similarity > hits[1].similarity >= hits[2].similarity
    assert all(h.namespace == HAMLET for h in hits)


def test_namespaces_are_isolated(semantic_factory):
    sem = semantic_factory()
    sem.add(HAMLET, ["Claudius killed my father."], ids=["secret"])
    sem.add(OPHELIA, ["My father forbids me to see Hamlet."], ids=["o1"])
    assert [h.id for h in sem.query(OPHELIA, "Claudius killed my father.", k=10)] == ["o1"]
    assert sem.get(OPHELIA, ["secret"]) == []
    both = sem.query([HAMLET, OPHELIA], "father", k=10)
    assert {(h.namespace, h.id) for h in both} == {(HAMLET, "secret"), (OPHELIA, "o1")}


def test_get_returns_what_was_stored(semantic_factory, minilm):
    sem = semantic_factory()
    meta = {"importance": 7.5, "step": 3, "kind": "say", "secret": True, "dropped": None}
    sem.add(("shared", "court"), ["Long live the king."], ids=["k"], metadatas=[meta])
    [item] = sem.get(("shared", "court"), ["k"], embeddings=True)
    assert item.text == "Long live the king."
    assert item.metadata == {"importance": 7.5, "step": 3, "kind": "say", "secret": True}
    assert isinstance(item.metadata["step"], int) and isinstance(item.metadata["importance"], float)
    np.testing.assert_allclose(
        item.embedding, minilm.embed(["Long live the king."])[0], rtol=1e-5, atol=1e-6
    )
    assert abs(float(np.linalg.norm(item.embedding)) - 1.0) < 1e-4


def test_upsert_replaces_and_delete_removes(semantic_factory):
    sem = semantic_factory()
    sem.add(HAMLET, ["first version"], ids=["x"], metadatas=[{"v": 1}])
    sem.add(HAMLET, ["second version"], ids=["x"], metadatas=[{"v": 2}])
    assert sem.count(HAMLET) == 1
    [item] = sem.get(HAMLET, ["x"])
    assert (item.text, item.metadata["v"]) == ("second version", 2)
    sem.delete(HAMLET, ["x", "never-there"])
    assert sem.count(HAMLET) == 0 and sem.query(HAMLET, "version") == []


def test_where_filters_on_metadata(semantic_factory):
    sem = semantic_factory()
    sem.add(HAMLET, ["a sword fight", "a quiet prayer", "a duel with rapiers"], ids=["1", "2", "3"],
            metadatas=[{"kind": "act"}, {"kind": "pray"}, {"kind": "act"}])  # fmt: skip
    hits = sem.query(HAMLET, "fencing", k=5, where={"kind": "act"})
    assert {h.id for h in hits} == {"1", "3"}
    assert {it.id for it in sem.get(HAMLET, where={"kind": "pray"})} == {"2"}


def test_namespaces_list_and_drop(semantic_factory):
    sem = semantic_factory()
    sem.add(HAMLET, ["x"])
    sem.add(("shared", "court"), ["y"])
    sem.add(("shared", "court", "whispers"), ["z"])
    assert sem.namespaces() == [HAMLET, ("shared", "court"), ("shared", "court", "whispers")]
    assert sem.namespaces(("shared",)) == [("shared", "court"), ("shared", "court", "whispers")]
    sem.drop(("shared", "court"))
    assert sem.namespaces() == [HAMLET, ("shared", "court", "whispers")]
    # Another memory with another prefix on the same backend sees none of it.
    assert semantic_factory(prefix="other" + sem.prefix).namespaces() == []


def test_a_second_client_sees_the_same_data(semantic_factory):
    semantic_factory().add(HAMLET, ["The rest is silence."], ids=["last"])
    again = semantic_factory()
    assert [h.id for h in again.query(HAMLET, "silence", k=1)] == ["last"]


def test_vectors_from_another_embedder_are_refused(semantic_factory):
    semantic_factory().add(HAMLET, ["x"], ids=["1"])
    other = semantic_factory(embedder=HashingEmbedder(dim=384))
    with pytest.raises(ConfigError, match="embedder"):
        other.add(HAMLET, ["y"])


def test_bad_input_is_a_config_error(semantic_factory):
    sem = semantic_factory()
    with pytest.raises(ConfigError):
        sem.add(HAMLET, ["a", "b"], ids=["1"])
    with pytest.raises(ConfigError):
        sem.add(HAMLET, ["a"], metadatas=[{"nested": {"no": 1}}])
    with pytest.raises(ConfigError):
        sem.add(HAMLET, ["a"], embeddings=np.zeros((1, 3)))
    with pytest.raises(ConfigError):
        sem.add((), ["a"])


def test_export_lists_everything_sorted(semantic_factory):
    sem = semantic_factory()
    sem.add(OPHELIA, ["b", "a"], ids=["2", "1"], metadatas=[{"n": 2}, {"n": 1}])
    sem.add(HAMLET, ["c"], ids=["3"])
    exported = {
        ns: [(it.id, it.text, dict(it.metadata)) for it in items] for ns, items in sem.export()
    }
    assert exported == {
        HAMLET: [("3", "c", {})],
        OPHELIA: [("1", "a", {"n": 1}), ("2", "b", {"n": 2})],
    }
