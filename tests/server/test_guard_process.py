"""The hardening attacks against the real `dramaturg serve` command, on 127.0.0.1, over real sockets."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from dramaturg.testing import free_port, stop_process

pytestmark = pytest.mark.server

# Never called: sessions made from a stage need no model until they are played.
STAND_IN = "openai:http://127.0.0.1:9/v1#stand-in"


@contextlib.contextmanager
def serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[int, Path]]:
    """``dramaturg serve`` itself in a process; yields its port and its log."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramaturg.cli",
                "serve",
                "--port",
                str(port),
                "--model",
                STAND_IN,
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    try:
        deadline = time.monotonic() + 60
        while request(port, "GET", "/")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield port, log
    finally:
        stop_process(proc)


def request(
    port: int, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(
            method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        r = conn.getresponse()
        text = r.read()
        return r.status, json.loads(text) if r.headers.get(
            "content-type"
        ) == "application/json" else text
    except OSError:
        return 0, None
    finally:
        conn.close()


def sessions(home: Path) -> list[str]:
    return sorted(p.parent.name for p in (home / "drama").glob("*/session.json"))


def test_the_real_server_refuses_a_rebound_host_and_a_foreign_origin(tmp_path, _isolated_home):
    with serve(tmp_path, "--trusted-host", "play.test") as (port, log):
        assert "/#ID:TOKEN" in log.read_text()
        new = {"stage": "elsinore", "player": "hamlet"}
        status, data = request(port, "POST", "/api/sessions", new, {"Host": "attacker.example"})
        assert status == 400 and "DNS rebinding" in data["detail"]
        status, data = request(
            port, "POST", "/api/sessions", new, {"Origin": "http://evil.example"}
        )
        assert status == 403
        assert sessions(_isolated_home) == []

        status, data = request(port, "POST", "/api/sessions", new, {"Host": "play.test"})
        assert status == 200 and data["url"] == f"http://play.test/#{data['id']}:{data['token']}"
        sid, token = data["id"], data["token"]
        status, data = request(
            port, "POST", "/api/sessions", new, {"Origin": f"http://127.0.0.1:{port}"}
        )
        assert status == 200  # the page's own POST
        assert data["url"] == f"http://127.0.0.1:{port}/#{data['id']}:{data['token']}"

        url = f"ws://127.0.0.1:{port}/ws/{sid}"
        with pytest.raises(InvalidStatus) as refused:
            connect(url, proxy=None, origin="http://evil.example", open_timeout=10)
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as refused:
            connect(
                url, proxy=None, additional_headers={"Host": "attacker.example"}, open_timeout=10
            )
        assert refused.value.response.status_code == 400
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", None):
            with connect(url, proxy=None, origin=origin, open_timeout=10) as ws:
                ws.send(json.dumps({"token": token}))
                assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"


def test_the_real_server_drops_silent_sockets_and_big_bodies(tmp_path, _isolated_home):
    with serve(tmp_path, "--hello-timeout", "1") as (port, _):
        status, data = request(port, "POST", "/api/sessions", {"stage": "elsinore"})
        assert status == 200
        url = f"ws://127.0.0.1:{port}/ws/{data['id']}"
        # 200 sockets that never say who they are: all closed after the timeout.
        with contextlib.ExitStack() as stack:
            silent = [
                stack.enter_context(connect(url, proxy=None, open_timeout=20)) for _ in range(200)
            ]
            codes = []
            for ws in silent:
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        ws.recv(timeout=20)
                codes.append(closed.value.rcvd.code if closed.value.rcvd else None)
            assert codes == [4408] * 200

        # A 50 MB Content-Length: answered 413 though not one byte of the body was sent.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                f"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                "Content-Length: 50000000\r\n\r\n".encode()
            )
            answer = read_all(s)
        assert answer.startswith(b"HTTP/1.1 413") and b"over 65536 bytes" in answer
        # Chunked, no length: refused once the limit is passed, the connection closed.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                f"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"%x\r\n%s\r\n" % (16_384, b" " * 16_384)
            with contextlib.suppress(OSError):  # the server may close while we still send
                for _ in range(8):
                    s.sendall(chunk)
            answer = read_all(s)
        assert answer.startswith(b"HTTP/1.1 413")
        # A websocket message far over the limit closes that socket (uvicorn's ws_max_size), nothing else.
        with connect(url, proxy=None, open_timeout=10, max_size=None) as ws:
            ws.send("x" * 200_000)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert request(port, "GET", "/")[0] == 200
        assert len(sessions(_isolated_home)) == 1


def read_all(s: socket.socket) -> bytes:
    out = b""
    with contextlib.suppress(OSError):
        while chunk := s.recv(65536):
            out += chunk
    return out
