"""Drama sessions killed with kill -9 at any moment: every turn shown once, and the play ends as if never stopped.

The CLI and the web server run as real child processes (see ``_kill_child.py``:
the real ``dramaturg`` command with a model whose answers follow from the
prompt alone, so a play resumed from its checkpoint goes on exactly as an
uninterrupted one). The kill points are drawn from seeded generators.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from dramaturg.drama.blueprint import Blueprint
from dramaturg.drama.session import DramaSession
from dramaturg.testing import SchemaModel
from dramaturg.worlds.theatre import load_stage
from tests.server import _serve

ROOT = Path(__file__).resolve().parents[2]
DELAY_S = 0.01  # per model call: a turn takes a few tens of milliseconds
SCENE_STEPS, MAX_TURNS = 24, 48


def two_scenes() -> Blueprint:
    data = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore").model_dump()
    data["scenes"] = [
        {
            "id": "s1",
            "title": "The hall",
            "place": "hall",
            "cast": ["hamlet", "claudius", "ophelia", "horatio"],
            "beats": [{"id": "b1", "text": "Hamlet faces the king"}],
        },
        {
            "id": "s2",
            "title": "The garden",
            "place": "garden",
            "cast": ["hamlet", "ophelia"],
            "beats": [{"id": "b1", "text": "Hamlet gives Ophelia the letter"}],
        },
    ]
    return Blueprint.model_validate(data)


def seen(entries: list[dict]) -> list[tuple]:
    """What a spectator sees of each entry."""
    return [(e["kind"], e.get("actor"), e.get("step"), e.get("public")) for e in entries]


def log_of(session: DramaSession) -> list[dict]:
    return [
        json.loads(line)
        for line in (session.folder / "transcript.jsonl").read_text("utf-8").splitlines()
    ]


# ------------------------------------------------------------------ in-process: the pieces of the design
class Killed(Exception):
    """Stands for kill -9 in the middle of a run."""


async def test_a_checkpoint_with_pending_tasks_is_resumed_not_taken_for_the_end(
    tmp_path, monkeypatch
):
    session, _ = DramaSession.create(two_scenes(), home=tmp_path, max_turns=8)
    session.use_model(SchemaModel())
    # Die after six checkpoints: the node running then has finished and its writes are saved, the
    # checkpoint after it is not. LangGraph then reports no next node, though a task is pending.
    real_aput, saved = AsyncSqliteSaver.aput, []

    async def aput(self: Any, *args: Any, **kwargs: Any) -> Any:
        if len(saved) == 6:
            raise Killed
        saved.append(1)
        return await real_aput(self, *args, **kwargs)

    monkeypatch.setattr(AsyncSqliteSaver, "aput", aput)
    shown: list[dict] = []
    with pytest.raises(Killed):
        async for entry in session.advance():
            shown.append(entry)
    monkeypatch.setattr(AsyncSqliteSaver, "aput", real_aput)
    with SqliteSaver.from_conn_string(str(session.folder / "checkpoints.sqlite")) as saver:
        snap = session._graph(saver).get_state(session._config())
    assert snap.next == () and snap.tasks and snap.values and not snap.values.get("ended")

    reopened = DramaSession.open(session.meta.id, home=tmp_path)  # as the next process would
    reopened.use_model(SchemaModel())
    async for entry in reopened.advance():
        shown.append(entry)

    state = await session.state()
    assert state["ended"] and state["values"]["step"] == 8
    assert shown == state["values"]["transcript"]  # every entry once, in order
    assert log_of(session) == shown and (session.folder / "metrics.json").is_file()


async def test_an_entry_is_shown_only_once_its_checkpoint_is_on_disk(tmp_path):
    session, _ = DramaSession.create(two_scenes(), home=tmp_path, max_turns=10)
    session.use_model(SchemaModel())
    shown: list[dict] = []
    with SqliteSaver.from_conn_string(str(session.folder / "checkpoints.sqlite")) as saver:
        graph = session._graph(saver)  # another connection: it sees only what is committed
        async for entry in session.advance():
            on_disk = graph.get_state(session._config()).values["transcript"]
            assert on_disk[: len(shown) + 1] == [*shown, entry]
            # The log (the "shown up to" cursor) has every entry before this one, not this one yet.
            assert log_of(session) == shown
            shown.append(entry)
    assert log_of(session) == shown == (await session.state())["values"]["transcript"]


@pytest.mark.parametrize("replay", [True, False])
async def test_entries_on_disk_but_never_shown_are_shown_first(tmp_path, replay):
    session, _ = DramaSession.create(two_scenes(), home=tmp_path, max_turns=6)
    session.use_model(SchemaModel())
    played = [e async for e in session.advance()]
    # Killed after the last checkpoints were written, before the last turns and the metrics were shown.
    log = session.folder / "transcript.jsonl"
    lines = log.read_text("utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[:3]) + lines[3][:25], encoding="utf-8")  # and half a line
    (session.folder / "metrics.json").unlink()

    reopened = DramaSession.open(session.meta.id, home=tmp_path)
    reopened.use_model(SchemaModel())
    again = [e async for e in reopened.advance(replay=replay)]

    assert again == (played[3:] if replay else [])
    assert log_of(session) == played and (session.folder / "metrics.json").is_file()
    assert [e async for e in session.advance()] == []  # over, and all shown


# ------------------------------------------------------------------ the CLI in a child process
def _child(home: Path, *args: str, out: Path) -> subprocess.Popen:
    with out.open("wb") as stdout, (out.parent / "stderr.txt").open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.drama._kill_child", str(DELAY_S), *args],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "DRAMATURG_HOME": str(home), "COLUMNS": "200"},
        )


def _new_cli_session(home: Path) -> DramaSession:
    session, _ = DramaSession.create(
        two_scenes(), home=home, session_id="killed-nine-times", max_scene_steps=SCENE_STEPS
    )
    return session


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def _split_metrics(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    return [x for x in lines if not x.startswith("metrics:")], [
        x for x in lines if x.startswith("metrics:")
    ]


async def test_drama_play_killed_at_ten_random_moments_ends_as_if_never_stopped(tmp_path):
    play = ["drama", "play", "killed-nine-times", "--auto", "--max-turns", str(MAX_TURNS)]
    ref_home = tmp_path / "uninterrupted"
    reference = _new_cli_session(ref_home)
    proc = _child(ref_home, *play, out=tmp_path / "uninterrupted.txt")
    assert proc.wait(timeout=120) == 0, (tmp_path / "stderr.txt").read_text()
    ref_lines, ref_metrics = _split_metrics((tmp_path / "uninterrupted.txt").read_text("utf-8"))
    assert len(ref_metrics) == 1 and ref_lines.count("") >= 2  # the scene headings

    home = tmp_path / "home"
    session = _new_cli_session(home)
    rng = random.Random(9)
    outputs: list[Path] = []
    kills = 0
    while True:
        out = tmp_path / f"run-{len(outputs)}.txt"
        outputs.append(out)
        proc = _child(home, *play, out=out)
        if kills == 10:
            assert proc.wait(timeout=120) == 0, (tmp_path / "stderr.txt").read_text()
            break
        # Somewhere in the play: after 1-3 lines of this run, then up to two turns more.
        lines, pause = rng.randint(1, 3), rng.uniform(0, 0.08)
        deadline = time.monotonic() + 60
        while _lines(out) < lines and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(pause)
        assert proc.poll() is None, "the play ended before ten kills: give it more turns"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        kills += 1

    shown, metrics = _split_metrics("".join(o.read_text("utf-8") for o in outputs))
    assert shown == ref_lines  # every line once, none lost, none twice, in order
    assert len(metrics) == 1 and _split_metrics(outputs[-1].read_text("utf-8"))[1] == metrics
    final, expected = (await session.state())["values"], (await reference.state())["values"]
    assert final["ended"] and seen(final["transcript"]) == seen(expected["transcript"])
    assert log_of(session) == final["transcript"]
    got = json.loads((session.folder / "metrics.json").read_text())
    want = json.loads((reference.folder / "metrics.json").read_text())
    assert _steady(got) == _steady(want)


def _steady(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics without timings and model calls (those count the last process only)."""
    drop = {"model_calls", "model_calls_per_step", "seconds_per_turn"}
    out = {k: v for k, v in metrics.items() if k not in drop}
    out["per_scene"] = [
        {k: v for k, v in s.items() if k not in drop} for s in metrics.get("per_scene", [])
    ]
    return out


# ------------------------------------------------------------------ the web server in a child process
# `dramaturg serve` itself (argv as _serve.Server passes it: home, port, delay, policy).
LAUNCHER = f"""
import os
import sys

sys.path.insert(0, {str(ROOT)!r})
os.environ["DRAMATURG_HOME"] = sys.argv[1]
from tests.drama._kill_child import main

main([sys.argv[3], "serve", "--port", sys.argv[2]])
"""


class Page:
    """What the page does over its websocket: the snapshot first, then it asks the play to go on."""

    def __init__(self, server: _serve.Server, sid: str, token: str) -> None:
        self.url, self.token = f"{server.ws_url}/ws/{sid}", token

    def __enter__(self) -> Page:
        from websockets.sync.client import connect

        self._conn = connect(self.url, proxy=None, open_timeout=10)
        self.ws = self._conn.__enter__()
        self.ws.send(json.dumps({"token": self.token}))
        first = self.recv()
        assert first["type"] == "snapshot", first
        self.snapshot = first["session"]
        if not self.snapshot["ended"]:
            assert not self.snapshot["waiting"]  # a spectator's play never waits
            self.ws.send("{}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.__exit__(*exc)

    def recv(self) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=30))

    def entries(self, n: int | None = None) -> tuple[list[dict], dict | None]:
        """The next ``n`` entries streamed (all up to the run's end when ``None``), and the end message."""
        got: list[dict] = []
        while n is None or len(got) < n:
            msg = self.recv()
            if msg["type"] == "entry":
                got.append(msg["entry"])
            elif msg["type"] in {"ended", "idle", "waiting", "error"}:
                assert n is None and msg["type"] == "ended", msg
                return got, msg
        return got, None


@pytest.mark.server
def test_serve_killed_mid_play_three_times_loses_and_repeats_nothing(tmp_path, monkeypatch):
    pytest.importorskip("uvicorn")
    pytest.importorskip("websockets")
    monkeypatch.setattr(_serve, "LAUNCHER", LAUNCHER)
    rng = random.Random(3)
    server = _serve.Server(tmp_path / "home", delay_s=DELAY_S)
    try:
        server.start()
        new = {"player": None, "max_turns": 30, "max_scene_steps": 40}
        ref_sid, ref_token = server.new_session(**new)
        sid, token = server.new_session(**new)
        with Page(server, ref_sid, ref_token) as page:
            _, end = page.entries()
        reference = end["session"]["transcript"]

        shown: list[dict] = []  # what the page shows: the snapshot it got, then what streamed in
        for i in range(3):
            with Page(server, sid, token) as page:
                assert page.snapshot["transcript"][: len(shown)] == shown  # nothing shown is gone
                shown = list(page.snapshot["transcript"])
                streamed, _ = page.entries(rng.randint(2, 6))
                shown += streamed
                time.sleep(rng.uniform(0, 0.05) if i else 0.0)  # the first: as the entry arrives
                server.kill()
            server.start()
        with Page(server, sid, token) as page:
            assert page.snapshot["transcript"][: len(shown)] == shown
            shown = list(page.snapshot["transcript"])
            streamed, end = page.entries()
            shown += streamed

        final = end["session"]["transcript"]
        assert shown == final  # the page showed every entry once
        assert seen(final) == seen(reference) and final[-1]["kind"] == "end"
        log = [
            json.loads(x)
            for x in (server.home / "drama" / sid / "transcript.jsonl").read_text().splitlines()
        ]
        assert seen(log) == seen(final)
    finally:
        server.stop()
