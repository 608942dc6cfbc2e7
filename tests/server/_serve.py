"""The drama web app in a real server process on 127.0.0.1, played by SchemaModel (for the server tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from dramaturg.testing import free_port

# argv: home, port, seconds of model latency per call, the ServerPolicy's fields as JSON. The latency
# keeps a turn in flight long enough to kill the server in the middle of it.
LAUNCHER = """
import json
import sys
from pathlib import Path

import uvicorn

from dramaturg.models import DelayedModel
from dramaturg.server.app import ServerPolicy, create_app
from dramaturg.testing import SchemaModel

model = DelayedModel(SchemaModel(), float(sys.argv[3]))
policy = ServerPolicy(**json.loads(sys.argv[4]))
uvicorn.run(create_app(model=model, home=Path(sys.argv[1]), policy=policy), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""

# Loopback only, never through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Server:
    """``dramaturg serve`` with a stand-in model; start, kill -9, start again on the same home."""

    def __init__(self, home: Path, *, delay_s: float = 0.0, **policy: Any) -> None:
        self.home, self.delay_s, self.policy = home, delay_s, policy
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = home.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    LAUNCHER,
                    str(self.home),
                    str(self.port),
                    str(self.delay_s),
                    json.dumps(self.policy),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                with _opener.open(self.url + "/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer on {self.url} within {timeout_s} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no flushing."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with _opener.open(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def new_session(self, **body: Any) -> tuple[str, str]:
        status, data = self.request(
            "POST", "/api/sessions", {"stage": "elsinore", "player": "hamlet", **body}
        )
        assert status == 200, data
        return data["id"], data["token"]

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
