"""Fixtures for the memory tests.

The MiniLM embedder is loaded once per session (with the network blocked:
loading it must never reach out), and a real chroma server is started once
per session on 127.0.0.1 for the tests marked ``server``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from dramaturg.memory import HashingEmbedder, MiniLMEmbedder, SemanticMemory
from dramaturg.testing import block_network, stop_process


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real offline embedder, loaded once, under a network block."""
    emb = MiniLMEmbedder()
    with block_network():
        emb.embed(["warm up"])
    return emb


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_bin() -> str:
    exe = Path(sys.executable).with_name("chroma")
    return str(exe) if exe.exists() else (shutil.which("chroma") or "chroma")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on 127.0.0.1 with its data in a temp folder; stopped after the session."""
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_SERVER_NOFILE": "4096"}
    proc = subprocess.Popen(
        [
            _chroma_bin(),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(data / "db"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # loopback only
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"chroma server did not start; see {data / 'server.log'}")
        time.sleep(0.2)
    yield ("127.0.0.1", port)
    stop_process(proc)
    log.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def semantic_factory(request, tmp_path, minilm):
    """Builds SemanticMemory instances on the embedded client or the chroma server.

    Each call gives a fresh client on the same backend data, so tests can
    check that what one client wrote another one reads.
    """
    prefix = "t" + uuid.uuid4().hex[:10]
    if request.param == "embedded":
        path = tmp_path / "chroma"

        def make(embedder=None, prefix=prefix):
            return SemanticMemory(path, embedder=embedder or minilm, prefix=prefix)
    else:
        host, port = request.getfixturevalue("chroma_server")

        def make(embedder=None, prefix=prefix):
            return SemanticMemory.http(host, port, embedder=embedder or minilm, prefix=prefix)

    make.backend = request.param
    return make
