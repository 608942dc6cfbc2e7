"""A script without the main guard: its worker processes die as they start, and the run says why.

Each worker process imports the main script again as it starts (forkserver and
spawn both do); an unguarded script starts another evaluation there, and the
worker dies. That used to be recorded as an error per episode: a 0% run with
exit code 0, even for the oracle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BODY = """\
from dramaturg.evals import AgentSpec, Case, Suite, run_eval

suite = Suite(name="steps", cases=[Case(id=f"steps/{i}", task_type="walk", world="tests.evals._worlds:StepsWorld",
                                        seed=i) for i in range(4)])
summary = run_eval(suite, AgentSpec(kind="oracle"), out="run", backend=BACKEND, workers=2, progress=False)
print("success rate", summary["overall"]["success_rate"])
"""


def _run_script(folder: Path, *, backend: str, guard: bool) -> subprocess.CompletedProcess:
    body = BODY.replace("BACKEND", repr(backend))
    if guard:
        body = 'if __name__ == "__main__":\n' + textwrap.indent(body, "    ")
    (folder / "evaluate.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the test world lives in tests/
    return subprocess.run(
        [sys.executable, "evaluate.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_workers_that_die_as_they_start_fail_the_run_and_name_the_guard(tmp_path):
    done = _run_script(tmp_path, backend="mp", guard=False)
    assert done.returncode != 0 and "success rate" not in done.stdout
    said = done.stderr.splitlines()[-1]
    assert "WorkerStartError" in said and "before playing any episode" in said
    assert 'if __name__ == "__main__":' in said and 'backend="seq"' in said
    # Nothing was recorded as played, so the fixed script runs every episode.
    assert (tmp_path / "run" / "episodes.jsonl").read_text() == ""
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize(("backend", "guard"), [("mp", True), ("seq", False)])
def test_either_fix_the_error_names_plays_every_episode(tmp_path, backend, guard):
    done = _run_script(tmp_path, backend=backend, guard=guard)
    assert done.returncode == 0, done.stderr
    assert "success rate 1.0" in done.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["overall"]["episodes"] == 4 and summary["overall"]["errors"] == 0
