"""EpisodicMemory: recording, the witness queries, and durability under concurrency and SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dramaturg.memory import EpisodicMemory, Event, StoreCorruptError, StoreNotFoundError

from ._fakes import WorldEvent

WRITER = Path(__file__).with_name("_writer.py")


@pytest.fixture
def log(tmp_path):
    with EpisodicMemory(tmp_path / "log.sqlite") as log:
        yield log


def test_records_world_event_objects_and_keywords(log):
    ev = log.record(WorldEvent(id="w1", step=3, place="hall", actor="hamlet", kind="say",
                               text="To be or not to be.", witnesses=frozenset({"hamlet", "ophelia"})))  # fmt: skip
    assert ev.seq == 1 and ev.id == "w1" and ev.step == 3 and ev.witnesses == {"hamlet", "ophelia"}
    assert ev.entities == {"hamlet", "hall"}
    kw = log.record(text="Polonius hides.", actor="polonius", place="hall", witnesses=["polonius"], step=4,
                    entities={"arras"}, importance=5)  # fmt: skip
    assert kw.seq == 2 and kw.entities == {"polonius", "hall", "arras"}
    back = log.get("w1")
    assert back == ev
    assert log.get(kw.id).importance == 5


def test_extra_fields_of_a_world_event_are_kept_in_data(log):
    ev = log.record({"id": "x", "text": "A bell rings.", "witnesses": ["a"], "loudness": 7})
    assert log.get("x").data == {"loudness": 7} == ev.data


def test_same_id_is_recorded_once(log):
    first = log.record(id="e1", text="The ghost appears.", witnesses={"hamlet"})
    again = log.record(id="e1", text="something else", witnesses={"horatio"})
    assert again == first and log.count() == 1
    assert log.witnessed_by("horatio") == []
    other_session = log.record(id="e1", session="act2", text="Another e1.", witnesses={"horatio"})
    assert other_session.seq == 2 and log.count() == 2


def test_witness_queries(log):
    events = [
        dict(id="1", step=1, time=100.0, place="hall", actor="claudius", text="Claudius toasts.", witnesses={"claudius", "hamlet", "gertrude"}),
        dict(id="2", step=2, time=200.0, place="garden", actor="ghost", text="The ghost speaks.", witnesses={"hamlet", "ghost"}, entities={"poison"}),
        dict(id="3", step=3, time=300.0, place="hall", actor="hamlet", text="Hamlet feigns madness.", witnesses={"hamlet", "ophelia"}),
        dict(id="4", step=4, time=400.0, place="chapel", actor="claudius", text="Claudius prays about the poison.", witnesses={"claudius"}, entities={"poison"}),
    ]  # fmt: skip
    log.record_many(events)
    ids = lambda evs: [e.id for e in evs]  # noqa: E731
    assert ids(log.witnessed_by("hamlet")) == ["1", "2", "3"]
    assert ids(log.witnessed_by("hamlet", newest_first=True, limit=2)) == ["3", "2"]
    assert ids(log.witnessed_by("hamlet", since_step=2)) == ["2", "3"]
    assert ids(log.witnessed_by("hamlet", since_time=250.0)) == ["3"]
    assert ids(log.witnessed_by("hamlet", place="hall")) == ["1", "3"]
    assert ids(log.witnessed_by("hamlet", about="poison")) == ["2"]
    assert ids(log.witnessed_by("hamlet", about="claudius")) == ["1"]
    assert ids(log.witnessed_by("claudius", about="poison")) == ["4"]
    assert ids(log.witnessed_by("ophelia")) == ["3"]
    assert log.witnessed_by("polonius") == []
    assert ids(log.at("hall")) == ["1", "3"]
    assert ids(log.by("claudius")) == ["1", "4"]
    assert log.count(agent="hamlet") == 3 and log.count() == 4
    assert log.agents() == ["claudius", "gertrude", "ghost", "hamlet", "ophelia"]


def test_every_query_is_answered_from_an_index(log):
    """The SQL each query method really runs never scans a table (checked with EXPLAIN QUERY PLAN)."""
    log.record_many(
        [
            {"text": f"e{i}", "witnesses": {"a", "b"}, "place": "p", "actor": "x", "step": i}
            for i in range(50)
        ]
    )
    seen: list[str] = []
    log.conn.set_trace_callback(seen.append)
    calls = [
        lambda: log.witnessed_by("a", limit=5, newest_first=True),
        (lambda: log.witnessed_by("a", since_step=40), "witnesses_step"),
        (lambda: log.witnessed_by("a", since_time=0.0, limit=3), "witnesses_time"),
        lambda: log.witnessed_by("a", place="p", limit=5),
        lambda: log.witnessed_by("a", about="x", limit=5),
        lambda: log.at("p", limit=5),
        lambda: log.by("x", limit=5),
    ]
    for call in calls:
        call, index = call if isinstance(call, tuple) else (call, "")
        seen.clear()
        call()
        [sql] = seen
        log.conn.set_trace_callback(None)
        plan = " ".join(str(r[3]) for r in log.conn.execute("EXPLAIN QUERY PLAN " + sql))
        log.conn.set_trace_callback(seen.append)
        assert "SCAN" not in plan, (sql, plan)
        assert index in plan, (
            sql,
            plan,
        )  # a "since" bound must drive the search, not filter a walk


def test_record_many_is_atomic(log):
    log.record(id="a", text="first", witnesses={"x"})
    with pytest.raises(TypeError):
        log.record_many(
            [{"id": "b", "text": "fine", "witnesses": {"x"}}, {"id": "c", "witnesses": {"x"}}]
        )
    # The bad batch failed before writing; now one that fails inside the transaction:
    bad = Event(id="d", text="ok", witnesses=frozenset({"x"}), data={"not json": object()})
    with pytest.raises(TypeError):
        log.record_many([Event(id="e", text="fine", witnesses=frozenset({"x"})), bad])
    assert [e.id for e in log.events()] == ["a"]
    assert log.integrity_check() == "ok"


def test_reflection_counters_sum_importance_per_witness(log):
    log.record(text="a", witnesses={"x", "y"}, importance=3)
    log.record(text="b", witnesses={"x"}, importance=4)
    log.record(text="c", witnesses={"x"}, importance=9, kind="reflection")
    assert log.counters() == {"importance:x": 7.0, "importance:y": 3.0}
    assert log.take_counter("importance:x", at_least=8) is None
    assert log.take_counter("importance:x", at_least=7) == 7.0
    assert log.counters()["importance:x"] == 0


async def test_many_async_writers_lose_nothing(log):
    async def writer(n: int) -> None:
        for i in range(25):
            await log.arecord(
                id=f"{n}-{i}", text=f"task {n} event {i}", witnesses={f"agent{n % 4}"}
            )

    await asyncio.gather(*(writer(n) for n in range(16)))
    assert log.count() == 400
    assert sum(log.count(agent=f"agent{k}") for k in range(4)) == 400
    assert len({e.id for e in log.events()}) == 400


def test_eight_processes_writing_at_once_lose_nothing(tmp_path):
    db = tmp_path / "shared.sqlite"
    EpisodicMemory(db).close()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(db), f"p{n}", "150", "1" if n % 2 else "10"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0, out
    with EpisodicMemory(db) as log:
        assert log.count() == 8 * 150
        ids = {e.id for e in log.events()}
        assert ids == {f"p{n}-{j}" for n in range(8) for j in range(150)}
        assert all(log.count(agent=f"p{n}") == 150 for n in range(8))
        assert log.counters()["importance:p0"] == 300.0
        assert log.integrity_check() == "ok"


def test_sigkill_mid_batch_keeps_every_acknowledged_event(tmp_path):
    db = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), "k", "1000000", "40"],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: list[tuple[int, int]] = []
    assert proc.stdout.readline().strip() == "READY"
    while len(acked) < 30:
        line = proc.stdout.readline()
        assert line.startswith("ACK"), line
        _, first, last = line.split()
        acked.append((int(first), int(last)))
    os.kill(proc.pid, signal.SIGKILL)  # lands while the writer is inside a later batch
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    with EpisodicMemory(db) as log:
        stored = {e.id for e in log.events()}
        for first, last in acked:
            assert {f"k-{j}" for j in range(first, last + 1)} <= stored
        # Batches are all-or-nothing: the count is a whole number of batches.
        assert len(stored) % 40 == 0 and len(stored) >= 30 * 40
        # Witness and entity rows match the events exactly (no half-written event).
        n_w = log.conn.execute("SELECT COUNT(*) FROM witnesses").fetchone()[0]
        assert n_w == sum(len(e.witnesses) for e in log.events())
        assert log.counters()["importance:k"] == 2.0 * len(stored)
        after = log.record(text="life goes on", witnesses={"k"})
        assert after.seq == len(stored) + 1


def test_missing_file_with_create_false_names_the_path(tmp_path):
    with pytest.raises(StoreNotFoundError) as err:
        EpisodicMemory(tmp_path / "nope.sqlite", create=False)
    assert str(tmp_path / "nope.sqlite") in str(err.value) and "create=True" in str(err.value)


def test_corrupt_file_is_reported_and_left_alone(tmp_path):
    bad = tmp_path / "bad.sqlite"
    junk = b"this is not a database" * 100
    bad.write_bytes(junk)
    with pytest.raises(StoreCorruptError) as err:
        EpisodicMemory(bad)
    assert str(bad) in str(err.value) and "move the file aside" in str(err.value)
    assert bad.read_bytes() == junk


def test_foreign_sqlite_file_is_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreCorruptError, match="not a dramaturg episodic log"):
        EpisodicMemory(other)
    con = sqlite3.connect(other)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["users"]


def test_event_dict_round_trip(log):
    ev = log.record(text="Yorick's skull.", witnesses={"hamlet"}, data={"props": ["skull"]}, step=9)
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev
