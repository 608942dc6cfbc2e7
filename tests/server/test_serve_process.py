"""The real server in its own process: kill -9 while idle and in the middle of a turn, restart, resume."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ._serve import Server

pytestmark = pytest.mark.server


class Player:
    """One websocket connection to a session, read message by message (use it in a ``with`` block)."""

    def __init__(self, server: Server, sid: str, token: str) -> None:
        self.url, self.token = f"{server.ws_url}/ws/{sid}", token

    def __enter__(self) -> Player:
        self._conn = connect(self.url, proxy=None, open_timeout=10)
        self.ws = self._conn.__enter__()
        self.ws.send(json.dumps({"token": self.token}))
        first = self.recv()
        assert first["type"] == "snapshot", first
        self.snapshot: dict[str, Any] = first["session"]
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.__exit__(*exc)

    def recv(self) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=30))

    def run(self, message: dict[str, Any]) -> tuple[list[dict], dict]:
        """Send one message; read up to the end of the run it starts (waiting, ended or idle)."""
        self.ws.send(json.dumps(message))
        seen = []
        while True:
            msg = self.recv()
            seen.append(msg)
            if msg["type"] in {"waiting", "ended", "idle"}:
                return seen, msg


def check_transcript(transcript: list[dict], kept: list[dict]) -> None:
    """``kept`` (every turn played before a kill) is still there, in order, and no turn is there twice."""
    assert transcript[: len(kept)] == kept
    turns = [e for e in transcript if e["kind"] == "turn"]
    assert [t["step"] for t in turns] == list(range(1, len(turns) + 1))


def player_inputs(transcript: list[dict]) -> list[str]:
    return [e["input"] for e in transcript if e.get("by") == "player"]


def log_of(server: Server, sid: str) -> list[dict]:
    lines = (
        (server.home / "drama" / sid / "transcript.jsonl").read_text(encoding="utf-8").splitlines()
    )
    return [json.loads(line) for line in lines]


def resume(player: Player) -> dict:
    """What the page does on connecting: let the agents finish a turn cut short, up to the player's turn."""
    snap = player.snapshot
    if not snap["waiting"] and not snap["ended"]:
        _, end = player.run({})
        snap = end["session"]
    assert snap["waiting"] and snap["waiting"]["character"] == "hamlet"
    return snap


PLAYED = [f'"{n}."' for n in ("One", "Two", "Three", "Four", "Five")]


def test_sessions_survive_kill_9_at_any_moment(tmp_path):
    server = Server(tmp_path / "home", delay_s=0.15)
    try:
        server.start()
        sid, token = server.new_session(max_scene_steps=60)
        other_sid, other_token = server.new_session()

        with Player(server, sid, token) as player:
            _, end = player.run({})
            for line in PLAYED[:2]:
                _, end = player.run({"input": line})
                assert end["type"] == "waiting"
        kept = end["session"]["transcript"]
        assert player_inputs(kept) == PLAYED[:2]

        # 1. Killed while idle: everything is there, exactly as it was.
        server.kill()
        server.start()
        status, snap = server.request("GET", f"/api/sessions/{sid}", token=token)
        assert status == 200 and snap == end["session"]

        # 2. Killed right after the player's line reached the server, before any answer.
        with Player(server, sid, token) as player:
            assert player.snapshot == snap
            player.ws.send(json.dumps({"input": PLAYED[2]}))
            assert player.recv()["type"] == "busy"
            server.kill()
        server.start()
        with Player(server, sid, token) as player:
            snap = resume(player)
            check_transcript(snap["transcript"], kept)
            if (
                player_inputs(snap["transcript"]) == PLAYED[:2]
            ):  # the turn in flight was lost: play it again
                _, end = player.run({"input": PLAYED[2]})
                snap = end["session"]
        assert player_inputs(snap["transcript"]) == PLAYED[:3]
        kept = snap["transcript"]

        # 3. Killed while the agents answer: the player's own turn has already been streamed back.
        with Player(server, sid, token) as player:
            player.ws.send(json.dumps({"input": PLAYED[3]}))
            while (msg := player.recv())["type"] != "entry":
                pass
            assert msg["entry"]["input"] == PLAYED[3]
            server.kill()
        server.start()
        with Player(server, sid, token) as player:
            snap = resume(player)
            check_transcript(snap["transcript"], kept)
            assert player_inputs(snap["transcript"]) in (PLAYED[:3], PLAYED[:4])
            for line in PLAYED[len(player_inputs(snap["transcript"])) :]:
                _, end = player.run({"input": line})
                snap = end["session"]
        check_transcript(snap["transcript"], kept)
        assert player_inputs(snap["transcript"]) == PLAYED
        # The readable log on disk is mended to match the checkpoint: no turn in it twice.
        logged = log_of(server, sid)
        assert [e["step"] for e in logged if e["kind"] == "turn"] == [
            e["step"] for e in snap["transcript"] if e["kind"] == "turn"
        ]
        assert [e.get("public") for e in logged] == [e.get("public") for e in snap["transcript"]]

        # After all the restarts, tokens still keep sessions apart.
        assert server.request("GET", f"/api/sessions/{sid}", token=other_token)[0] == 403
        assert server.request("GET", f"/api/sessions/{other_sid}", token=token)[0] == 403
        assert server.request("GET", f"/api/sessions/{other_sid}", token=other_token)[0] == 200
        with connect(f"{server.ws_url}/ws/{sid}", proxy=None) as ws:
            ws.send(json.dumps({"token": other_token}))
            assert json.loads(ws.recv(timeout=10))["type"] == "error"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd.code == 4403
    finally:
        server.stop()


def test_a_page_closed_mid_run_lets_the_agents_finish(tmp_path):
    with Server(tmp_path / "home", delay_s=0.1) as server:
        sid, token = server.new_session(max_scene_steps=40)
        with Player(server, sid, token) as player:
            player.run({})
            player.ws.send(json.dumps({"input": '"Farewell."'}))
            while player.recv()["type"] != "entry":
                pass
        # Gone right after Hamlet's own line: the others still answer, up to Hamlet's turn. (While the
        # run is in flight the last checkpoint still shows the old prompt: wait for the turns too.)
        deadline = time.monotonic() + 15
        while True:
            snap = server.request("GET", f"/api/sessions/{sid}", token=token)[1]
            actors = [e["actor"] for e in snap["transcript"] if e["kind"] == "turn"]
            if (snap["waiting"] and len(actors) >= 4) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert actors == ["hamlet", "ophelia", "claudius", "horatio"]
        assert snap["waiting"]["character"] == "hamlet"
