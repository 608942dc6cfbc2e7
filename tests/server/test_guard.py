"""The attacks on `dramaturg serve` (hardening run), each replayed through the TestClient and refused.

TestClient requests go to ``testserver`` (port 80): that is the address the
connection "came in on", so it is trusted like 127.0.0.1 is on a real server.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import yaml
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from dramaturg.drama import DramaSession
from dramaturg.server import ServerPolicy
from dramaturg.server._guard import Guard
from dramaturg.server._stages import MAX_STAGE_CHARS
from dramaturg.server.app import create_app
from dramaturg.testing import SchemaModel

KEY = "k" * 12 + "-server-key"
ELSINORE = (
    resources.files("dramaturg.worlds.theatre")
    .joinpath("stages/elsinore.yaml")
    .read_text(encoding="utf-8")
)


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def client_for(home, **policy: Any) -> TestClient:
    return TestClient(create_app(model=SchemaModel(), home=home, policy=ServerPolicy(**policy)))


@pytest.fixture
def client(home):
    with client_for(home) as c:
        yield c


def sessions(home) -> list[str]:
    return sorted(p.parent.name for p in (home / "drama").glob("*/session.json"))


def create(client: TestClient, headers: dict[str, str] | None = None, **body: Any):
    return client.post(
        "/api/sessions", json={"stage": "elsinore", "player": "hamlet", **body}, headers=headers
    )


def made(client: TestClient, **body: Any) -> tuple[str, str]:
    r = create(client, **body)
    assert r.status_code == 200, r.text
    return r.json()["id"], r.json()["token"]


# ---------------------------------------------------------------- 1. Host and Origin


def test_a_rebound_host_is_refused_and_changes_nothing(client, home):
    sid, token = made(client)
    evil = {"Host": "attacker.example"}
    r = client.get("/", headers=evil)
    assert (
        r.status_code == 400
        and "attacker.example" in r.json()["detail"]
        and "--trusted-host" in r.json()["detail"]
    )
    assert "<html" not in r.text
    assert create(client, headers=evil).status_code == 400
    assert (
        client.get(
            f"/api/sessions/{sid}", headers={**evil, "Authorization": f"Bearer {token}"}
        ).status_code
        == 400
    )
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect(f"/ws/{sid}", headers=evil),
    ):
        pass
    assert refused.value.status_code == 400
    assert sessions(home) == [sid]
    # Malformed or doubled Host headers are refused the same way.
    for host in ("attacker.example:80@testserver", "testserver:99999", "", "testserver/x"):
        assert client.get("/", headers={"Host": host}).status_code == 400, host


def test_loopback_names_are_trusted_on_the_servers_own_port_only(client):
    assert client.get("/", headers={"Host": "localhost:80"}).status_code == 200
    assert (
        client.get("/", headers={"Host": "127.0.0.1"}).status_code == 200
    )  # no port: 80, the server's
    assert client.get("/", headers={"Host": "[::1]:80"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost:8080"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost.attacker.example"}).status_code == 400


def test_trusted_hosts_from_the_flag(home):
    with client_for(home, trusted_hosts=("play.example.org", "proxy.example.org:8443")) as c:
        assert c.get("/", headers={"Host": "play.example.org"}).status_code == 200
        assert (
            c.get("/", headers={"Host": "PLAY.example.org.:9000"}).status_code == 200
        )  # no port: any
        assert c.get("/", headers={"Host": "proxy.example.org:8443"}).status_code == 200
        assert (
            c.get("/", headers={"Host": "proxy.example.org"}).status_code == 400
        )  # port 80, not 8443
        r = create(c, headers={"Host": "play.example.org", "Origin": "https://play.example.org"})
        assert r.status_code == 200 and r.json()["url"].startswith("http://play.example.org/#")


def test_a_websocket_from_another_sites_page_gets_no_snapshot(client):
    sid, token = made(client)
    for origin in (
        "http://evil.example",
        "null",
        "http://testserver.evil.example",
        "file://",
        "http://testserver:81",
    ):
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect(f"/ws/{sid}", headers={"Origin": origin}) as ws,
        ):
            ws.send_json({"token": token})
            ws.receive_json()
        assert refused.value.status_code == 403, origin
        assert "refused" in refused.value.json()["detail"]
    # The page's own origin, and clients that send no Origin at all, still play.
    for headers in ({"Origin": "http://testserver"}, {}):
        with client.websocket_connect(f"/ws/{sid}", headers=headers) as ws:
            ws.send_json({"token": token})
            assert ws.receive_json()["type"] == "snapshot"


def test_a_post_from_another_sites_page_makes_no_session(client, home):
    r = create(client, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and sessions(home) == []


# ---------------------------------------------------------------- 2. the server key and the turn cap


def test_with_a_key_only_its_holder_makes_sessions(home):
    with client_for(home, key=KEY) as c:
        assert c.get("/").status_code == 200  # the page itself is open
        for headers in (
            None,
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {KEY}x"},
            {"Authorization": "Bearer "},
        ):
            r = create(c, headers=headers)
            assert r.status_code == 401 and "key" in r.json()["detail"], headers
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert sessions(home) == []
        r = create(c, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200
        sid, token = r.json()["id"], r.json()["token"]
        # Playing needs the session's token, not the server key.
        assert (
            c.get(f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
        assert (
            c.get(f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {KEY}"}).status_code
            == 403
        )


def test_a_short_key_is_refused():
    with pytest.raises(ValueError, match="too short"):
        ServerPolicy(key="short")


def test_max_turns_is_capped(client, home):
    r = create(client, max_turns=10_000)
    assert r.status_code == 422 and "at most 500" in r.json()["detail"]
    assert sessions(home) == []
    sid, _ = made(client, max_turns=500)
    assert DramaSession.open(sid, home=home).meta.max_turns == 500
    sid, _ = made(client)  # none asked for: the cap, not "until the play ends"
    assert DramaSession.open(sid, home=home).meta.max_turns == 500


def test_the_turn_cap_is_configurable(home):
    with client_for(home, max_turns=20) as c:
        assert create(c, max_turns=21).status_code == 422
        assert create(c, max_turns=20).status_code == 200


# ---------------------------------------------------------------- 3. silent sockets, big bodies


def test_a_socket_that_never_says_who_it_is_is_closed(home):
    with client_for(home, hello_timeout_s=0.2) as c:
        sid, token = made(c)
        for _ in range(5):
            with c.websocket_connect(f"/ws/{sid}") as ws:
                msg = ws.receive_json()  # sent nothing
                assert msg["type"] == "error" and "no token within 0.2 s" in msg["text"]
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_json()
                assert closed.value.code == 4408
        with c.websocket_connect(f"/ws/{sid}") as ws:  # a prompt hello still plays
            ws.send_json({"token": token})
            assert ws.receive_json()["type"] == "snapshot"


def test_a_big_body_is_refused_with_413(client, home):
    r = client.post(
        "/api/sessions",
        content=json.dumps({"topic": "x" * 70_000}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "65536" in r.json()["detail"]
    assert sessions(home) == []


def run_guard(headers: list[tuple[bytes, bytes]], chunks: Any) -> tuple[list[dict], int]:
    """The guard alone, on a request whose body comes from ``chunks``; returns what it sent, and reads."""
    reads, sent = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return next(chunks)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope, receive, send):  # pragma: no cover - must never be reached
        raise AssertionError("the request reached the app")

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("127.0.0.1", 8765),
        "path": "/",
        "headers": [(b"host", b"127.0.0.1:8765"), *headers],
    }
    asyncio.run(Guard(app, ServerPolicy())(scope, receive, send))
    return sent, reads


def test_a_50_mb_body_is_refused_before_a_byte_of_it_is_read():
    def endless():
        while True:
            yield {"type": "http.request", "body": b"x" * 16_384, "more_body": True}

    sent, reads = run_guard([(b"content-length", b"50000000")], endless())
    assert sent[0]["status"] == 413 and reads == 0
    sent, reads = run_guard(
        [(b"transfer-encoding", b"chunked")], endless()
    )  # no length: read to the limit only
    assert sent[0]["status"] == 413 and reads == 5
    sent, reads = run_guard([(b"content-length", b"12e3")], endless())
    assert sent[0]["status"] == 400 and reads == 0


# ---------------------------------------------------------------- 4. stages: bundled names or uploaded text


def test_stage_names_never_reach_the_servers_disk(client, home, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "secret.yaml").write_text(
        ELSINORE.replace("title: Elsinore", "title: Secret"), encoding="utf-8"
    )
    (cwd / "notes.yaml").write_text("password: hunter2\napi_key: abc\n", encoding="utf-8")
    monkeypatch.chdir(cwd)
    answers = set()
    for name in (
        "secret",
        "secret.yaml",
        "./secret.yaml",
        str(cwd / "secret.yaml"),
        "notes",
        "notes.yaml",
        "no-such-file",
        "../../etc/passwd",
    ):
        r = create(client, stage=name)
        assert r.status_code == 422, name
        answers.add(r.json()["detail"])
    # One answer for a file that exists, one that does not, and a valid stage in the working directory:
    # nothing was opened, nothing is told.
    assert len(answers) == 1
    detail = answers.pop()
    assert "bundled stages: ['elsinore']" in detail
    assert not any(word in detail for word in ("Secret", "password", "api_key", "secret", "notes"))
    assert sessions(home) == []


def test_an_uploaded_stage_is_played(client, home):
    mine = ELSINORE.replace("title: Elsinore", "title: My Hall")
    for text in (
        mine,
        json.dumps(yaml.safe_load(mine)),
    ):  # YAML, or JSON on one line (never taken for a path)
        r = client.post("/api/sessions", json={"stage_yaml": text, "player": "hamlet"})
        assert r.status_code == 200, r.text
        snap = client.get(
            f"/api/sessions/{r.json()['id']}",
            headers={"Authorization": f"Bearer {r.json()['token']}"},
        ).json()
        assert snap["title"] == "My Hall" and "hamlet" in snap["cast"]


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            ELSINORE.replace("    location: hall\n", "    location: attic\n", 1),
            "unknown location 'attic'",
        ),
        (BOMB, "aliases"),
        ("- just\n- a list\n", "mapping"),
        ("title: [unclosed", "not valid YAML"),
        ("!!python/object/apply:os.system ['touch pwned']\n", "not valid YAML"),
        ("[" * 5000 + "]" * 5000, "nested more than"),
    ],
)
def test_a_bad_uploaded_stage_is_refused(client, home, text, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = client.post("/api/sessions", json={"stage_yaml": text})
    assert r.status_code == 422 and says in r.json()["detail"], r.text
    assert sessions(home) == [] and not (tmp_path / "pwned").exists()


def test_an_oversized_or_doubled_stage_is_refused(client, home):
    r = client.post("/api/sessions", json={"stage_yaml": "#" * (MAX_STAGE_CHARS + 1)})
    assert r.status_code == 422
    r = client.post("/api/sessions", json={"stage": "elsinore", "stage_yaml": ELSINORE})
    assert r.status_code == 422 and "one of" in r.json()["detail"]
    assert sessions(home) == []
