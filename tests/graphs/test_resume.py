"""kill -9 in the middle of a run, then resume: nothing lost, nothing repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("_resume_child.py")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.server)])
def checkpoint_db(request, tmp_path) -> str:
    """Where the child keeps its checkpoints: a SQLite file, or a database on a real Postgres."""
    if request.param == "sqlite":
        return str(tmp_path / "cp.sqlite")
    # Looked up here, not declared, so `-m "not server"` never starts the server.
    return request.getfixturevalue("postgres_url")


def test_sigkill_mid_run_then_resume(checkpoint_db, tmp_path):
    db, side = checkpoint_db, tmp_path / "side.txt"
    thread = tmp_path.name  # unique per test, since the Postgres database is shared
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), db, str(side), "start", thread],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while "start s2" not in (side.read_text() if side.exists() else ""):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never reached s2"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # in the middle of s2
    proc.wait()
    out = subprocess.run(
        [sys.executable, str(CHILD), db, str(side), "resume", thread],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    final = json.loads(out.stdout)
    assert final["outcome"] == "done" and final["answer"] == "did s3"
    # Each subtask's work was committed exactly once, in order ...
    assert [e["subtask"] for e in final["log"] if e["node"] == "work"] == ["s1", "s2", "s3"]
    assert [e["node"] for e in final["log"]].count("plan") == 1
    # ... and only the step in flight at the kill ran again.
    assert side.read_text().splitlines() == ["start s1", "start s2", "start s2", "start s3"]
