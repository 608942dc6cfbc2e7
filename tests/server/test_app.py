"""The web app through FastAPI's TestClient: sessions over HTTP, turns over the websocket."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dramaturg.server.app import MAX_MESSAGE, create_app
from dramaturg.testing import SchemaModel

PRIVATE = {"thought", "intent"}


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(model=SchemaModel(), home=tmp_path / "home")) as c:
        yield c


def new_session(client: TestClient, **body: Any) -> tuple[str, str]:
    r = client.post("/api/sessions", json={"stage": "elsinore", "player": "hamlet", **body})
    assert r.status_code == 200, r.text
    data = r.json()
    return data["id"], data["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def private_keys(value: Any) -> set[str]:
    """Every key in ``PRIVATE`` anywhere in a JSON value."""
    if isinstance(value, dict):
        return (PRIVATE & value.keys()) | {k for v in value.values() for k in private_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in private_keys(v)}
    return set()


def until_settled(ws: Any, seen: list[dict]) -> dict:
    """Read messages up to the one that ends a run (waiting, ended, idle); returns it."""
    while True:
        msg = ws.receive_json()
        seen.append(msg)
        if msg["type"] in {"waiting", "ended", "idle"}:
            return msg


def test_the_page_is_served(client):
    r = client.get("/")
    assert r.status_code == 200 and "<title>dramaturg</title>" in r.text and "/ws/" in r.text


def test_sessions_over_http(client):
    sid, token = new_session(client)
    other_sid, other_token = new_session(client)
    assert sid != other_sid and token != other_token

    r = client.get(f"/api/sessions/{sid}", headers=auth(token))
    assert r.status_code == 200
    snap = r.json()
    assert snap["id"] == sid and snap["player"] == "hamlet" and snap["title"] == "Elsinore"
    assert set(snap["cast"]) == {"hamlet", "ophelia", "claudius", "horatio"}
    assert snap["started"] is False and snap["transcript"] == [] and snap["waiting"] is None

    for headers in (
        {},
        auth(other_token),
        auth(""),
        auth(token + "x"),
        {"Authorization": "Basic " + token},
    ):
        r = client.get(f"/api/sessions/{sid}", headers=headers)
        assert r.status_code == 403, headers
        assert "not your token" in r.json()["detail"]
    assert client.get(f"/api/sessions/{sid}", headers={"Authorization": token}).status_code == 200
    # A missing session answers exactly like a wrong token.
    assert (
        client.get("/api/sessions/no-such-id", headers=auth(token)).json()
        == client.get(f"/api/sessions/{sid}", headers=auth(other_token)).json()
    )


@pytest.mark.parametrize(
    "body",
    [
        {"stage": "elsinore", "player": "yorick"},
        {"stage": "../../etc/passwd"},
        {"stage": "no-such-stage"},
        {"player": "hamlet"},
        {"stage": "elsinore", "topic": "both"},
        {"stage": "elsinore", "surprise": True},
        {"stage": "elsinore", "max_turns": 0},
    ],
)
def test_bad_new_session_requests_are_refused(client, body, tmp_path):
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 422, r.text
    assert not any((tmp_path / "home" / "drama").glob("*/session.json"))


def test_a_wrong_token_on_the_websocket_is_refused_with_4403(client):
    sid, token = new_session(client)
    _, other_token = new_session(client)
    for hello in ({"token": other_token}, {"token": None}, {}, "not json", [token]):
        with client.websocket_connect(f"/ws/{sid}") as ws:
            ws.send_text(hello if isinstance(hello, str) else json.dumps(hello))
            assert ws.receive_json() == {
                "type": "error",
                "text": "no such session, or not your token",
            }
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4403
    with client.websocket_connect(f"/ws/{sid}") as ws:  # binary first message
        ws.send_bytes(token.encode())
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403


def test_three_player_turns_over_the_websocket(client):
    sid, token = new_session(client, max_scene_steps=40)
    seen: list[dict] = []
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"token": token})
        hello = ws.receive_json()
        seen.append(hello)
        assert hello["type"] == "snapshot" and hello["session"]["started"] is False
        ws.send_json({})  # let the agents play up to Hamlet's turn
        first = until_settled(ws, seen)
        assert first["type"] == "waiting" and first["prompt"]["character"] == "hamlet"

        lines = ["Who is there?", "Nay, answer me.", "Long live the king!"]
        for n, line in enumerate(lines, 1):
            mark = len(seen)
            ws.send_json({"input": f'"{line}"'})
            end = until_settled(ws, seen)
            run = seen[mark:]
            assert run[0]["type"] == "busy" and end["type"] == "waiting"
            entries = [m["entry"] for m in run if m["type"] == "entry"]
            assert entries[0]["by"] == "player" and entries[0]["public"] == f'Hamlet says: "{line}"'
            players = [e for e in end["session"]["transcript"] if e.get("by") == "player"]
            assert [e["input"] for e in players] == [f'"{x}"' for x in lines[:n]]

    snap = client.get(f"/api/sessions/{sid}", headers=auth(token)).json()
    assert snap == end["session"]
    # Hamlet sees only what he witnessed (here the whole cast shares the hall).
    turns = [e for e in snap["transcript"] if e["kind"] == "turn"]
    assert all(
        t["actor"] == "hamlet" or any("hamlet" in ev["witnesses"] for ev in t["events"])
        for t in turns
    )
    assert {t["actor"] for t in turns} == {"hamlet", "ophelia", "claudius", "horatio"}
    # No message ever carried a private thought, in any form.
    assert private_keys(seen) == set() and private_keys(snap) == set()
    assert "thought " not in json.dumps(seen)


JUNK = [
    ("oversized", "x" * (MAX_MESSAGE + 1), "over"),
    ("oversized input", json.dumps({"input": "y" * MAX_MESSAGE}), "over"),
    ("binary", b"\x00\x01\x02", "Binary"),
    ("empty", "", "JSON"),
    ("not JSON", "say hello", "JSON"),
    ("JSON, not an object", "[1, 2]", "JSON"),
]


def test_junk_messages_get_a_notice_and_change_nothing(client, tmp_path):
    sid, token = new_session(client)
    log = tmp_path / "home" / "drama" / sid / "transcript.jsonl"
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"token": token})
        assert ws.receive_json()["type"] == "snapshot"
        ws.send_json({})
        until_settled(ws, [])
        before = client.get(f"/api/sessions/{sid}", headers=auth(token)).json()
        log_before = log.read_bytes()
        for name, junk, says in JUNK:
            if isinstance(junk, bytes):
                ws.send_bytes(junk)
            else:
                ws.send_text(junk)
            msg = ws.receive_json()
            assert msg["type"] == "notice" and says in msg["text"], name
            assert client.get(f"/api/sessions/{sid}", headers=auth(token)).json() == before, name
            assert log.read_bytes() == log_before, name
        # Refused by the graph (not the server): a notice, then Hamlet is asked again.
        for refused in ("", "   ", "a\x00b", 5, None):
            seen: list[dict] = []
            ws.send_json({"input": refused})
            end = until_settled(ws, seen)
            assert end["type"] == "waiting"
            if refused is not None:
                assert [m["type"] for m in seen] == ["busy", "notice", "waiting"], refused
                assert end["prompt"]["notice"] == seen[1]["text"]
            assert end["session"]["transcript"] == before["transcript"]
            assert log.read_bytes() == log_before
        # ... and the connection still plays.
        ws.send_json({"input": '"Still here."'})
        end = until_settled(ws, seen := [])
        assert any(
            m["type"] == "entry" and m["entry"].get("input") == '"Still here."' for m in seen
        )


def test_hidden_prop_states_never_reach_the_page(client):
    sid, token = new_session(client, max_scene_steps=40)
    seen: list[dict] = []
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"token": token})
        seen.append(ws.receive_json())
        ws.send_json({})
        assert until_settled(ws, seen)["type"] == "waiting"
        ws.send_json(
            {"input": "poison cup"}
        )  # Hamlet poisons the cup: a secret act, a hidden state
        end = until_settled(ws, seen)
    assert any(m["type"] == "entry" and m["entry"].get("input") == "poison cup" for m in seen)
    snap = client.get(f"/api/sessions/{sid}", headers=auth(token)).json()
    assert snap["props"]["cup"]["states"] == {} and snap["props"]["door"]["states"] == {
        "open": False
    }
    assert end["session"]["props"] == snap["props"]
    assert "_poisoned" not in json.dumps(seen) and "_poisoned" not in json.dumps(snap)


def staged_play() -> tuple[dict, list[dict]]:
    """A world and a transcript as the drama graph leaves them: Hamlet reads the letter,
    Ophelia speaks alone in the garden, Claudius toasts and poisons the cup in one turn."""
    from dramaturg.worlds.theatre import TheatreWorld, load_stage

    world = TheatreWorld(
        load_stage("elsinore").model_copy(update={"turns": "free"})
    )  # as the graph plays it
    world.reset()

    def turn(step: int, actor: str, commands: list[str], **extra: Any) -> dict:
        events = []
        for command in commands:
            *_, info = world.step(f"{actor}: {command}")
            assert info["error"] is None, info["error"]
            events += [
                {"text": e.text, "witnesses": sorted(e.witnesses), "kind": e.kind}
                for e in info["events"]
            ]
        return {
            "kind": "turn",
            "actor": actor,
            "by": "agent",
            "action": "act",
            "thought": f"{actor} THINKS-ALOUD",
            "intent": "INTENT-MARK",
            "command": "; ".join(commands),
            "events": events,
            "script": [f"[{e['text']}]" for e in events],
            "public": " ".join(e["text"] for e in events),
            "seconds": 0.5,
            "rejected": ["REJECTED-LINE"],
            "step": step,
            "scene": 0,
            "beat": None,
            **extra,
        }

    transcript = [
        {"kind": "scene", "scene": 0, "title": "Elsinore", "place": "hall", "step": 0},
        turn(
            1,
            "hamlet",
            ["read letter"],
            by="player",
            input="read letter",
            thought=None,
            intent=None,
        ),
        turn(2, "ophelia", ['say "Alone at last."'], action="speak", line="Alone at last."),
        turn(3, "claudius", ['say "A toast."', "poison cup"], line="A toast."),
    ]
    return {
        "world": world.get_state(),
        "transcript": transcript,
        "scene": 0,
        "beats": [],
    }, transcript


@pytest.fixture
def staged(monkeypatch):
    """Sessions whose state and next run are :func:`staged_play` (the real graph cannot be told to poison)."""
    from dramaturg.drama.session import DramaSession

    values, transcript = staged_play()

    async def state(self):
        return {"values": values, "waiting": None, "ended": False, "started": True}

    async def advance(self, player_input=None, *, replay=True, **_):
        for entry in transcript:
            yield entry

    monkeypatch.setattr(DramaSession, "state", state)
    monkeypatch.setattr(DramaSession, "advance", advance)


def page_messages(client: TestClient, player: str | None) -> list[dict]:
    """Everything the page gets: the snapshot, then one run streamed, then the snapshot over HTTP."""
    sid, token = new_session(client, player=player)
    seen: list[dict] = []
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"token": token})
        seen.append(ws.receive_json())
        ws.send_json({})
        until_settled(ws, seen)
    return [*seen, client.get(f"/api/sessions/{sid}", headers=auth(token)).json()]


SECRETS = (
    "THINKS-ALOUD",
    "INTENT-MARK",
    "REJECTED-LINE",
    "_poisoned",
    '"script"',
    '"command"',
    '"seconds"',
)


def test_a_player_gets_only_what_their_character_witnessed(client, staged):
    seen = page_messages(client, "hamlet")
    streamed = [m["entry"] for m in seen if m.get("type") == "entry"]
    for entries in (streamed, seen[0]["session"]["transcript"], seen[-1]["transcript"]):
        turns = {e["actor"]: e for e in entries if e["kind"] == "turn"}
        assert set(turns) == {"hamlet", "claudius"}  # Ophelia spoke where Hamlet could not hear
        claudius = turns["claudius"]
        assert claudius["public"] == 'Claudius says: "A toast."'
        assert [e["kind"] for e in claudius["events"]] == ["say"] and "line" not in claudius
        assert "The letter reads:" in turns["hamlet"]["public"]  # his own turn, whole
    text = json.dumps(seen)
    for secret in (*SECRETS, "vial", "poison cup", "Alone at last"):
        assert secret not in text, secret


def test_a_spectator_sees_every_event_but_no_private_field(client, staged):
    seen = page_messages(client, None)
    streamed = [m["entry"] for m in seen if m.get("type") == "entry"]
    assert [e.get("actor") for e in streamed] == [None, "hamlet", "ophelia", "claudius"]
    assert streamed[-1]["public"].endswith(
        "Claudius pours a vial into the cup."
    )  # the audience sees it
    assert streamed == seen[-1]["transcript"] == seen[0]["session"]["transcript"]
    text = json.dumps(seen)
    for secret in SECRETS:
        assert secret not in text, secret
