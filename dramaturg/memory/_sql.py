"""The episodic log's SQLite schema and the few helpers every query and write uses."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dramaturg.memory.records import Event

__all__ = ["EVENT_COLS", "SCHEMA", "SCHEMA_VERSION", "immediate", "row_to_event"]

SCHEMA_VERSION = 1

# witnesses repeats step/time/place so "what did X witness since t / at p"
# is answered from one index without touching the events table.
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    session TEXT NOT NULL,
    step INTEGER,
    time REAL NOT NULL,
    place TEXT,
    actor TEXT,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    importance REAL,
    witnesses TEXT NOT NULL,
    entities TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (session, id)
);
CREATE INDEX events_place ON events (place, seq);
CREATE INDEX events_actor ON events (actor, seq);
CREATE TABLE witnesses (
    agent TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq),
    step INTEGER,
    time REAL NOT NULL,
    place TEXT,
    PRIMARY KEY (agent, seq)
) WITHOUT ROWID;
CREATE INDEX witnesses_step ON witnesses (agent, step);
CREATE INDEX witnesses_time ON witnesses (agent, time);
CREATE INDEX witnesses_place ON witnesses (agent, place, seq);
CREATE TABLE entities (
    entity TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq),
    PRIMARY KEY (entity, seq)
) WITHOUT ROWID;
CREATE TABLE counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE memberships (
    agent TEXT NOT NULL,
    namespace TEXT NOT NULL,
    PRIMARY KEY (agent, namespace)
) WITHOUT ROWID;
"""

EVENT_COLS = "e.seq, e.id, e.session, e.step, e.time, e.place, e.actor, e.kind, e.text, e.importance, e.witnesses, e.entities, e.data"


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction that takes the write lock up front (no upgrade deadlocks)."""
    for attempt in range(50):
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            # busy_timeout covers most contention; this covers its rare early give-ups.
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 49:
                raise
            time.sleep(0.01 * (attempt + 1))
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def row_to_event(r: Sequence[Any]) -> Event:
    return Event(
        seq=r[0], id=r[1], session=r[2], step=r[3], time=r[4], place=r[5], actor=r[6], kind=r[7], text=r[8],
        importance=r[9], witnesses=frozenset(json.loads(r[10])), entities=frozenset(json.loads(r[11])),
        data=json.loads(r[12]),
    )  # fmt: skip
