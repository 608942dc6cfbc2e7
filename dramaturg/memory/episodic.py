"""`EpisodicMemory`: the event log, in SQLite, with the witnesses of each event.

Every event is written once, with the set of agents that witnessed it. The
witness table is the only way back to an event for an agent, so an agent
cannot recall what it never saw. The log is in WAL mode and each write is
one ``BEGIN IMMEDIATE`` transaction, so any number of threads, async tasks
and processes can append at once without losing an event, and a write that
returned is on disk even if the process is killed right after.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from dramaturg.memory._sql import EVENT_COLS as _EVENT_COLS
from dramaturg.memory._sql import SCHEMA, SCHEMA_VERSION
from dramaturg.memory._sql import immediate as _immediate
from dramaturg.memory._sql import row_to_event as _row_to_event
from dramaturg.memory.errors import StoreCorruptError, StoreNotFoundError
from dramaturg.memory.records import Event, event_from

__all__ = ["EpisodicMemory"]

_FIX = "move the file aside (dramaturg never overwrites it) or restore it from a folder written by Memory.save()"


class EpisodicMemory:
    """An append-only event log with witnesses, in one SQLite file.

    Args:
        path: the SQLite file; ``None`` keeps the log in this process's memory.
        create: make the file when it does not exist (otherwise raise
            :class:`~dramaturg.memory.errors.StoreNotFoundError`).
        durability: ``"full"`` fsyncs every commit (survives power loss);
            ``"normal"`` survives a killed process but not a power cut, and
            appends faster.
        busy_timeout_s: how long a writer waits for another writer's lock.

    Example:
        >>> log = EpisodicMemory()
        >>> _ = log.record(text="Hamlet sees the ghost.", actor="ghost", place="battlements",
        ...                witnesses={"hamlet", "horatio"}, step=1)
        >>> [e.text for e in log.witnessed_by("horatio")]
        ['Hamlet sees the ghost.']
        >>> log.witnessed_by("ophelia")
        []
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        durability: Literal["full", "normal"] = "full",
        busy_timeout_s: float = 60.0,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.durability = durability
        self.busy_timeout_s = busy_timeout_s
        if self.path is not None and not self.path.exists():
            if not create:
                raise StoreNotFoundError(
                    self.path,
                    "episodic log",
                    "pass create=True to start a new one, or check the path",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._conn = self._connect()

    # -- connection -------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        target = str(self.path) if self.path is not None else ":memory:"
        try:
            conn = sqlite3.connect(
                target, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            if self.path is not None:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise sqlite3.DatabaseError(f"could not switch to WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self.durability.upper()}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._ensure_schema(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(
                self.path or ":memory:", f"not a readable episodic log ({exc})", _FIX
            ) from exc
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            with _immediate(conn):
                # Another process may have created it between our check and the lock.
                if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
                    # Not executescript(): it would COMMIT our transaction first.
                    for stmt in SCHEMA.split(";"):
                        if stmt.strip():
                            conn.execute(stmt)
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
            return
        if "meta" not in tables or "events" not in tables:
            raise sqlite3.DatabaseError(
                f"an SQLite file, but not a dramaturg episodic log (tables: {sorted(tables)})"
            )
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {row[0] if row else None}, this dramaturg reads version {SCHEMA_VERSION}"
            )

    @property
    def conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            # A forked child must not share its parent's SQLite connection.
            self._lock = threading.RLock()
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        """Close the connection (the file stays)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EpisodicMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EpisodicMemory {self.path or ':memory:'}>"

    # -- writing ----------------------------------------------------------
    def record(self, event: Any = None, /, **fields: Any) -> Event:
        """Append one event and return it with its ``seq``.

        ``event`` may be an :class:`Event`, a world's event object, a mapping,
        or omitted in favour of keyword fields (see :func:`event_from`).
        Recording an id already in the log for the same session returns the
        stored event unchanged: an event is recorded once.
        """
        return self.record_many([event_from(event, **fields)])[0]

    def record_many(self, events: Iterable[Any]) -> list[Event]:
        """Append several events in one transaction: all of them are stored, or none."""
        return [ev for ev, _ in self.record_new(events)]

    def record_new(self, events: Iterable[Any]) -> list[tuple[Event, bool]]:
        """Like :meth:`record_many`, also telling which events were new (not already logged).

        Each new event's importance is added to the counter
        ``importance:<agent>`` of each witness in the same transaction (what
        reflection watches); reflections themselves are not counted.
        """
        evs = [e if isinstance(e, Event) else event_from(e) for e in events]
        out: list[tuple[Event, bool]] = []
        with self._lock, _immediate(self.conn) as conn:
            for ev in evs:
                out.append(self._insert(conn, ev))
        return out

    def _insert(self, conn: sqlite3.Connection, ev: Event) -> tuple[Event, bool]:
        row = conn.execute(
            f"SELECT {_EVENT_COLS} FROM events e WHERE e.session=? AND e.id=?", (ev.session, ev.id)
        ).fetchone()
        if row is not None:
            return _row_to_event(row), False
        cur = conn.execute(
            "INSERT INTO events(id, session, step, time, place, actor, kind, text, importance,"
            " witnesses, entities, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ev.id, ev.session, ev.step, ev.time, ev.place, ev.actor, ev.kind, ev.text, ev.importance,
                json.dumps(sorted(ev.witnesses)), json.dumps(sorted(ev.entities)),
                json.dumps(dict(ev.data), sort_keys=True),
            ),
        )  # fmt: skip
        seq = cur.lastrowid
        conn.executemany(
            "INSERT INTO witnesses(agent, seq, step, time, place) VALUES (?,?,?,?,?)",
            [(w, seq, ev.step, ev.time, ev.place) for w in sorted(ev.witnesses)],
        )
        conn.executemany(
            "INSERT INTO entities(entity, seq) VALUES (?,?)",
            [(n, seq) for n in sorted(ev.entities)],
        )
        if ev.importance and ev.kind != "reflection":
            conn.executemany(
                "INSERT INTO counters(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                [(f"importance:{w}", ev.importance) for w in sorted(ev.witnesses)],
            )
        return ev.with_(seq=seq), True

    def set_importance(self, seq: int, importance: float) -> None:
        """Set the importance of a recorded event (scored after it was written)."""
        with self._lock, _immediate(self.conn) as conn:
            conn.execute("UPDATE events SET importance=? WHERE seq=?", (importance, seq))

    async def arecord(self, event: Any = None, /, **fields: Any) -> Event:
        """Async :meth:`record`; the write runs in a worker thread."""
        return await asyncio.to_thread(self.record, event, **fields)

    async def arecord_many(self, events: Iterable[Any]) -> list[Event]:
        """Async :meth:`record_many`."""
        evs = list(events)
        return await asyncio.to_thread(self.record_many, evs)

    # -- reading ----------------------------------------------------------
    def witnessed_by(
        self,
        agent: str,
        *,
        since_step: int | None = None,
        since_time: float | None = None,
        after_seq: int | None = None,
        place: str | None = None,
        about: str | None = None,
        kinds: Sequence[str] | None = None,
        session: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events ``agent`` witnessed, oldest first unless ``newest_first``.

        Filters combine with AND: ``since_step``/``since_time`` are inclusive,
        ``after_seq`` exclusive, ``about`` matches an entity (actor, place or
        one named in the event's ``entities``).
        """
        where, args = ["w.agent = ?"], [agent]
        for cond, val in (
            ("w.step >= ?", since_step), ("w.time >= ?", since_time), ("w.seq > ?", after_seq),
            ("w.place = ?", place), ("e.session = ?", session),
        ):  # fmt: skip
            if val is not None:
                where.append(cond)
                args.append(val)
        if about is not None:
            where.append("EXISTS (SELECT 1 FROM entities n WHERE n.entity = ? AND n.seq = w.seq)")
            args.append(about)
        if kinds:
            where.append(f"e.kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        # Without statistics SQLite prefers walking (agent, seq) in order over a
        # range on (agent, step): at 1M events that scans all the agent's rows.
        # A "since" bound is the selective part of such a query, so name its index.
        hint = ""
        if since_step is not None:
            hint = " INDEXED BY witnesses_step"
        elif since_time is not None:
            hint = " INDEXED BY witnesses_time"
        sql = (
            f"SELECT {_EVENT_COLS} FROM witnesses w{hint} JOIN events e ON e.seq = w.seq"
            f" WHERE {' AND '.join(where)} ORDER BY w.seq {'DESC' if newest_first else 'ASC'}"
        )
        return self._select(sql, args, limit)

    def at(self, place: str, *, after_seq: int | None = None, limit: int | None = None,
           newest_first: bool = False) -> list[Event]:  # fmt: skip
        """Everything that happened at ``place`` (whoever saw it)."""
        return self._by_column("place", place, after_seq, limit, newest_first)

    def by(self, actor: str, *, after_seq: int | None = None, limit: int | None = None,
           newest_first: bool = False) -> list[Event]:  # fmt: skip
        """Everything ``actor`` did."""
        return self._by_column("actor", actor, after_seq, limit, newest_first)

    def _by_column(
        self, col: str, val: str, after_seq: int | None, limit: int | None, newest: bool
    ) -> list[Event]:
        where, args = [f"e.{col} = ?"], [val]
        if after_seq is not None:
            where.append("e.seq > ?")
            args.append(after_seq)
        sql = f"SELECT {_EVENT_COLS} FROM events e WHERE {' AND '.join(where)} ORDER BY e.seq {'DESC' if newest else 'ASC'}"
        return self._select(sql, args, limit)

    def get(self, id: str, *, session: str = "default") -> Event | None:
        """The event with this id in ``session``, or ``None``."""
        rows = self._select(
            f"SELECT {_EVENT_COLS} FROM events e WHERE e.session=? AND e.id=?", [session, id], None
        )
        return rows[0] if rows else None

    def get_seqs(self, seqs: Iterable[int]) -> dict[int, Event]:
        """Events by ``seq`` (missing ones are left out)."""
        wanted = sorted(set(seqs))
        out: dict[int, Event] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            sql = (
                f"SELECT {_EVENT_COLS} FROM events e WHERE e.seq IN ({','.join('?' * len(chunk))})"
            )
            out.update((e.seq, e) for e in self._select(sql, chunk, None))
        return out

    def events(self, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """All events in log order."""
        return self._select(
            f"SELECT {_EVENT_COLS} FROM events e WHERE e.seq > ? ORDER BY e.seq", [after_seq], limit
        )

    def iter_events(self, *, batch: int = 10_000) -> Iterator[Event]:
        """All events in log order, read in batches."""
        last = 0
        while True:
            chunk = self.events(after_seq=last, limit=batch)
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].seq

    def count(self, *, agent: str | None = None) -> int:
        """How many events are in the log (or were witnessed by ``agent``)."""
        with self._lock:
            if agent is None:
                return self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            return self.conn.execute(
                "SELECT COUNT(*) FROM witnesses WHERE agent=?", (agent,)
            ).fetchone()[0]

    def agents(self) -> list[str]:
        """Every agent that witnessed at least one event."""
        with self._lock:
            return [
                r[0]
                for r in self.conn.execute("SELECT DISTINCT agent FROM witnesses ORDER BY agent")
            ]

    def last_seq(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    async def awitnessed_by(self, agent: str, **filters: Any) -> list[Event]:
        """Async :meth:`witnessed_by`."""
        return await asyncio.to_thread(self.witnessed_by, agent, **filters)

    def _select(self, sql: str, args: Sequence[Any], limit: int | None) -> list[Event]:
        if limit is not None:
            sql += " LIMIT ?"
            args = [*args, int(limit)]
        with self._lock:
            return [_row_to_event(r) for r in self.conn.execute(sql, args)]

    # -- counters (reflection bookkeeping), atomic across processes --------
    def bump(self, name: str, delta: float) -> float:
        """Add ``delta`` to the counter ``name`` and return its new value, atomically."""
        with self._lock, _immediate(self.conn) as conn:
            conn.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, delta),
            )
            return conn.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()[0]

    def take_counter(self, name: str, *, at_least: float) -> float | None:
        """Reset ``name`` to 0 and return its value, if it is at least ``at_least``.

        Only one caller (thread or process) wins a given crossing, so a
        threshold fires once however many writers race past it.
        """
        with self._lock, _immediate(self.conn) as conn:
            row = conn.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
            if row is None or row[0] < at_least:
                return None
            conn.execute("UPDATE counters SET value = 0 WHERE name=?", (name,))
            return row[0]

    def counters(self) -> dict[str, float]:
        with self._lock:
            return dict(self.conn.execute("SELECT name, value FROM counters ORDER BY name"))

    # -- shared namespaces an agent may read ------------------------------
    def join(self, agent: str, namespace: Sequence[str]) -> None:
        """Let ``agent`` read the shared ``namespace``."""
        with self._lock, _immediate(self.conn) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO memberships VALUES (?, ?)",
                (agent, json.dumps(list(namespace))),
            )

    def leave(self, agent: str, namespace: Sequence[str]) -> None:
        with self._lock, _immediate(self.conn) as conn:
            conn.execute(
                "DELETE FROM memberships WHERE agent=? AND namespace=?",
                (agent, json.dumps(list(namespace))),
            )

    def memberships(self, agent: str | None = None) -> list[tuple[str, tuple[str, ...]]]:
        """``(agent, namespace)`` pairs, sorted; only ``agent``'s when given."""
        sql, args = "SELECT agent, namespace FROM memberships", []
        if agent is not None:
            sql, args = sql + " WHERE agent=?", [agent]
        with self._lock:
            rows = self.conn.execute(sql + " ORDER BY agent, namespace", args).fetchall()
        return [(a, tuple(json.loads(ns))) for a, ns in rows]

    # -- save / restore ---------------------------------------------------
    def backup(self, dest: str | os.PathLike[str]) -> None:
        """Copy the whole log, consistently, to a new SQLite file ``dest``."""
        target = sqlite3.connect(str(dest))
        try:
            with self._lock:
                self.conn.backup(target)
        finally:
            target.close()

    def integrity_check(self) -> str:
        """SQLite's own ``PRAGMA integrity_check`` (``"ok"`` when sound)."""
        with self._lock:
            return "; ".join(r[0] for r in self.conn.execute("PRAGMA integrity_check"))
