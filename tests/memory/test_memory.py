"""The Memory facade: recording, durability across reopen, save/restore, and folder errors."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from dramaturg.errors import ConfigError
from dramaturg.memory import (
    HashingEmbedder,
    Memory,
    ModelImportance,
    StoreCorruptError,
    StoreExistsError,
    StoreNotFoundError,
)
from dramaturg.models import ScriptedModel

from ._fakes import WorldEvent


def _populate(mem: Memory) -> None:
    mem.record(WorldEvent(id="1", step=1, place="hall", actor="claudius", kind="say", text="Claudius toasts the court.",
                          witnesses=frozenset({"claudius", "hamlet", "gertrude"})))  # fmt: skip
    mem.record(id="2", step=2, place="battlements", actor="ghost", kind="say",
               text="The ghost says: I was poisoned by my brother.", witnesses={"hamlet"}, entities={"poison"})  # fmt: skip
    mem.record_many([{"id": str(i), "text": f"Guard report {i}: all quiet.", "witnesses": {"horatio"}, "step": i}
                     for i in range(3, 12)])  # fmt: skip
    mem.share("court", ["Denmark is at war with Norway.", "The king's name is Claudius."])
    mem.join("horatio", "court")
    mem.scene.add_place("hall")
    mem.scene.add_place("battlements")
    mem.scene.connect("hall", "battlements")
    mem.scene.add_agent("hamlet", place="battlements", mood="grim")
    mem.scene.add_agent("horatio", place="battlements")
    mem.scene.add_prop("letter", place="hall", sealed=True)
    mem.scene.relate("hamlet", "horatio", "ally")


def test_record_indexes_for_each_witness_only(tmp_path, minilm):
    mem = Memory(tmp_path / "m", embedder=minilm)
    _populate(mem)
    assert mem.semantic.count(("agent", "hamlet")) == 2
    assert mem.semantic.count(("agent", "gertrude")) == 1
    assert mem.semantic.count(("agent", "horatio")) == 9
    [top] = mem.retrieve("hamlet", "who murdered the old king?", k=1)
    assert top.event.id == "2" and top.event.witnesses == {"hamlet"}
    assert all("poison" not in r.text for r in mem.retrieve("gertrude", "poison", k=10))
    assert [r.text for r in mem.retrieve("horatio", "war", k=1)] == [
        "Denmark is at war with Norway."
    ]
    assert mem.record(id="2", text="dup", witnesses={"gertrude"}).text.startswith("The ghost")
    assert mem.semantic.count(("agent", "gertrude")) == 1


def test_model_importance_is_used_when_given(tmp_path, hashing):
    model = ScriptedModel([{"score": 9}, {"score": 2}])
    mem = Memory(tmp_path / "m", embedder=hashing, importance=ModelImportance(model))
    a, b = mem.record_many([{"text": "The queen drinks the poison.", "witnesses": {"h"}},
                            {"text": "It rains.", "witnesses": {"h"}}])  # fmt: skip
    assert (a.importance, b.importance) == (9.0, 2.0)
    assert "The queen drinks the poison." in model.calls[0].prompt
    model.assert_consumed()


async def test_async_record_and_retrieve(tmp_path, hashing):
    mem = Memory(tmp_path / "m", embedder=hashing)
    ev = await mem.arecord(text="Rosencrantz arrives.", witnesses={"hamlet"})
    assert ev.seq == 1 and ev.importance is not None
    assert [r.text for r in await mem.aretrieve("hamlet", "Rosencrantz")] == [
        "Rosencrantz arrives."
    ]


def test_memory_survives_reopening(tmp_path, minilm):
    mem = Memory(tmp_path / "m", embedder=minilm)
    _populate(mem)
    before = mem.dump()
    mem.close()
    again = Memory(tmp_path / "m", embedder=minilm, create=False)
    assert again.dump() == before
    assert again.retrieve("hamlet", "poison", k=1)[0].event.id == "2"


def test_save_and_load_round_trip_exactly(tmp_path, minilm):
    mem = Memory(tmp_path / "live", embedder=minilm)
    _populate(mem)
    mem.episodic.take_counter("importance:hamlet", at_least=0)  # counters are part of the state too
    saved = mem.save(tmp_path / "saved")
    restored = Memory.load(saved, tmp_path / "restored", embedder=minilm)
    a, b = mem.dump(), restored.dump()
    assert a == b
    assert len(a["events"]) == 11 and len(a["semantic"]) == 5 and a["scene"]["nodes"]
    assert restored.scene == mem.scene
    # The restored memory works like the original, including new writes.
    q = "who murdered the old king?"
    assert [r.id for r in restored.retrieve("hamlet", q)] == [
        r.id for r in mem.retrieve("hamlet", q)
    ]
    restored.record(text="Hamlet writes a play.", witnesses={"hamlet"})
    assert restored.episodic.count() == 12 and mem.episodic.count() == 11


def test_save_refuses_to_overwrite(tmp_path, hashing):
    mem = Memory(tmp_path / "live", embedder=hashing)
    mem.record(text="x", witnesses={"a"})
    dest = tmp_path / "saved"
    dest.mkdir()
    (dest / "precious.txt").write_text("keep me")
    with pytest.raises(StoreExistsError) as err:
        mem.save(dest)
    assert str(dest) in str(err.value) and "overwrite=True" in str(err.value)
    assert (dest / "precious.txt").read_text() == "keep me"
    mem.save(dest, overwrite=True)
    assert not (dest / "precious.txt").exists() and (dest / "manifest.json").exists()


def test_load_refuses_a_non_empty_target(tmp_path, hashing):
    mem = Memory(tmp_path / "live", embedder=hashing)
    saved = mem.save(tmp_path / "saved")
    with pytest.raises(StoreExistsError, match="new or empty folder"):
        Memory.load(saved, tmp_path / "live", embedder=hashing)


def test_load_missing_folder_names_the_path(tmp_path, hashing):
    with pytest.raises(StoreNotFoundError) as err:
        Memory.load(tmp_path / "nowhere", tmp_path / "x", embedder=hashing)
    assert str(tmp_path / "nowhere") in str(err.value) and "Memory.save()" in str(err.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "manifest.json").unlink(), "manifest.json"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "scene.json").write_text('{"format": "dramaturg-scene/1", "nodes": [], "edges": []}'), "scene.json does not match"),
        (lambda d: (d / "semantic" / "0000.npy").unlink(), "semantic/0000.npy is missing"),
        (lambda d: (d / "episodic.sqlite").write_bytes(b"garbage"), "episodic.sqlite does not match"),
    ],
)  # fmt: skip
def test_corrupt_saved_folder_is_reported_and_nothing_is_written(
    tmp_path, hashing, damage, message
):
    mem = Memory(tmp_path / "live", embedder=hashing)
    mem.record(text="x", witnesses={"a"})
    saved = mem.save(tmp_path / "saved")
    damage(saved)
    with pytest.raises(StoreCorruptError) as err:
        Memory.load(saved, tmp_path / "restored", embedder=hashing)
    assert str(saved) in str(err.value) and message in str(err.value)
    assert "save it again" in str(err.value)
    assert not (tmp_path / "restored").exists()


def test_live_folder_errors(tmp_path, hashing):
    with pytest.raises(StoreNotFoundError) as err:
        Memory(tmp_path / "missing", embedder=hashing, create=False)
    assert str(tmp_path / "missing") in str(err.value) and "create=True" in str(err.value)

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(StoreCorruptError, match="not a dramaturg memory"):
        Memory(stranger, embedder=hashing)
    assert sorted(p.name for p in stranger.iterdir()) == ["notes.txt"]

    mem = Memory(tmp_path / "m", embedder=hashing)
    mem.record(text="x", witnesses={"a"})
    mem.close()
    (tmp_path / "m" / "memory.json").write_text("[]")
    with pytest.raises(StoreCorruptError, match="marker"):
        Memory(tmp_path / "m", embedder=hashing)
    (tmp_path / "m" / "memory.json").write_text(
        json.dumps({"format": "dramaturg-memory", "version": 1, "embedder": hashing.name})
    )
    with pytest.raises(ConfigError, match="embedder"):
        Memory(tmp_path / "m", embedder=HashingEmbedder(dim=32))
    (tmp_path / "m" / "episodic.sqlite").write_bytes(b"not sqlite at all" * 64)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "m" / f"episodic.sqlite{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreCorruptError) as err:
        Memory(tmp_path / "m", embedder=hashing)
    assert str(tmp_path / "m" / "episodic.sqlite") in str(err.value)
    assert (tmp_path / "m" / "episodic.sqlite").read_bytes() == b"not sqlite at all" * 64

    shutil.rmtree(tmp_path / "m")
    mem = Memory(tmp_path / "m", embedder=hashing)
    mem.close()
    (tmp_path / "m" / "episodic.sqlite").unlink()
    with pytest.raises(StoreCorruptError, match=r"episodic.sqlite .* is missing"):
        Memory(tmp_path / "m", embedder=hashing)


def test_corrupt_scene_file_is_reported(tmp_path, hashing):
    mem = Memory(tmp_path / "m", embedder=hashing)
    mem.close()
    (tmp_path / "m" / "scene.json").write_text("{")
    with pytest.raises(StoreCorruptError, match=r"scene\.json"):
        Memory(tmp_path / "m", embedder=hashing)


def test_reindex_repairs_a_crash_between_log_and_vectors(tmp_path, hashing):
    mem = Memory(tmp_path / "m", embedder=hashing)
    ev = mem.record(text="The arras moves.", witnesses={"polonius", "hamlet"})
    mem.semantic.delete(("agent", "hamlet"), [ev.key])  # as if killed between the two writes
    assert mem.retrieve("hamlet", "arras", config=mem.retrieval.__class__(recent=0)) == []
    assert mem.reindex() == 1
    assert [r.text for r in mem.retrieve("hamlet", "arras")] == ["The arras moves."]
    assert mem.reindex() == 0


def test_memory_on_a_chroma_server_round_trips(tmp_path, minilm, chroma_server):
    pytest.importorskip("chromadb")
    from dramaturg.memory import SemanticMemory

    host, port = chroma_server
    mem = Memory(
        tmp_path / "live",
        semantic=SemanticMemory.http(host, port, embedder=minilm, prefix="srvlive"),
    )
    _populate(mem)
    saved = mem.save(tmp_path / "saved")
    restored = Memory.load(saved, tmp_path / "restored",
                           semantic=SemanticMemory.http(host, port, embedder=minilm, prefix="srvrestored"))  # fmt: skip
    assert restored.dump() == mem.dump()
    with pytest.raises(StoreExistsError, match="another `prefix`"):
        Memory.load(
            saved,
            tmp_path / "again",
            semantic=SemanticMemory.http(host, port, embedder=minilm, prefix="srvlive"),
        )
    assert not (tmp_path / "again").exists()


test_memory_on_a_chroma_server_round_trips = pytest.mark.server(
    test_memory_on_a_chroma_server_round_trips
)


def test_saved_embeddings_are_bit_exact(tmp_path, hashing):
    mem = Memory(tmp_path / "live", embedder=hashing)
    mem.record(text="Alas, poor Yorick.", witnesses={"hamlet"})
    saved = mem.save(tmp_path / "saved")
    stored = np.load(saved / "semantic" / "0000.npy")
    [item] = mem.semantic.get(("agent", "hamlet"), embeddings=True)
    assert (
        stored.dtype == np.float32
        and stored.tobytes() == item.embedding.astype(np.float32).tobytes()
    )
    con = sqlite3.connect(saved / "episodic.sqlite")
    assert con.execute("SELECT text FROM events").fetchall() == [("Alas, poor Yorick.",)]
