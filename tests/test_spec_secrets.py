"""An ``?api_key=`` in a model spec never reaches a file or the terminal, and runs still resume.

The attack: the key was written in clear to session.json, run.json, an
eval's run.json and summary.json, and printed.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaturg.cli import app
from dramaturg.errors import ConfigError
from dramaturg.evals import AgentSpec, Case, Suite, run_eval

KEY = "SECRET-k3y-0123456789"
runner = CliRunner()


@pytest.fixture
def spec() -> str:
    with socket.socket() as s:  # a port nobody listens on: calls fail at once, offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"openai:http://127.0.0.1:{port}/v1#gemma?api_key={KEY}"


def _leaks(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


def test_an_eval_run_keeps_no_key_and_resumes_with_another(tmp_path, spec):
    suite = Suite(
        name="steps",
        cases=[Case(id="s/0", task_type="walk", world="tests.evals._worlds:StepsWorld")],
    )
    out = tmp_path / "run"
    command = f"dramaturg eval run steps.yaml --model '{spec}'"
    summary = run_eval(
        suite,
        AgentSpec(kind="react", model=spec),
        out=out,
        backend="seq",
        max_steps=1,
        progress=False,
        command=command,
    )
    assert summary["overall"]["n"] == 1 and _leaks(out) == []
    meta = json.loads((out / "run.json").read_text())
    assert meta["model"].endswith("api_key=[REDACTED])") and "api_key=[REDACTED]" in meta["command"]
    # Resuming: the same model with a fresh key, or with none (then the backend reads OPENAI_API_KEY).
    for again in (spec.replace(KEY, "another-key-99999"), spec.split("?")[0]):
        run_eval(
            suite,
            AgentSpec(kind="react", model=again),
            out=out,
            backend="seq",
            max_steps=1,
            progress=False,
        )
    with pytest.raises(ConfigError, match="holds a different run"):
        run_eval(
            suite,
            AgentSpec(kind="react", model=spec.replace("gemma", "other")),
            out=out,
            max_steps=1,
            progress=False,
        )


def test_episode_errors_quoting_the_spec_keep_no_key(tmp_path, spec):
    suite = tmp_path / "steps.yaml"
    suite.write_text(
        json.dumps(
            {"cases": [{"id": "s", "task_type": "t", "world": "tests.evals._worlds:StepsWorld"}]}
        )
    )
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            str(suite),
            "--agent",
            "react",
            "--model",
            spec + "&bogus=1",
            "--out",
            str(tmp_path / "r"),
            "--backend",
            "seq",
            "--no-progress",
            "--allow-code",
        ],
    )
    assert result.exit_code == 0 and KEY not in result.output and "[REDACTED]" in result.output
    episode = json.loads((tmp_path / "r" / "episodes.jsonl").read_text())
    assert (
        "bogus" in episode["error"] and "api_key=[REDACTED]" in episode["error"]
    )  # the loader quoted the spec
    assert _leaks(tmp_path) == []


def test_dramaturg_run_stores_no_key_and_asks_for_it_on_resume(_isolated_home, spec):
    result = runner.invoke(
        app,
        [
            "run",
            "--world",
            "theatre/elsinore",
            "--model",
            spec,
            "--max-steps",
            "1",
            "--tool-model",
            "main",
        ],
    )
    assert KEY not in result.output
    run_dir = next((_isolated_home / "runs").iterdir())
    assert json.loads((run_dir / "run.json").read_text())["model"].endswith("api_key=[REDACTED]")
    assert _leaks(_isolated_home) == []
    again = runner.invoke(app, ["run", "--resume", run_dir.name])
    said = " ".join(again.output.split())
    assert again.exit_code == 1 and f"dramaturg run --resume {run_dir.name} --model SPEC" in said
    again = runner.invoke(app, ["run", "--resume", run_dir.name, "--model", spec])
    assert "secrets" not in again.output and KEY not in again.output


def test_a_drama_session_stores_no_key_and_asks_for_it_on_play(_isolated_home, spec):
    result = runner.invoke(app, ["drama", "new", "--stage", "elsinore", "--model", spec, "--quiet"])
    assert result.exit_code == 0, result.output
    sid = result.output.strip()
    session = json.loads((_isolated_home / "drama" / sid / "session.json").read_text())
    assert session["model"].endswith("api_key=[REDACTED]") and _leaks(_isolated_home) == []
    listed = runner.invoke(app, ["drama", "list"])
    assert listed.exit_code == 0 and KEY not in listed.output
    played = runner.invoke(app, ["drama", "play", sid, "--auto", "--max-turns", "1"])
    said = " ".join(played.output.split())
    assert played.exit_code == 1 and f"dramaturg drama play {sid} --model SPEC" in said


def test_models_check_prints_no_key(spec):
    result = runner.invoke(app, ["models", "check", "--model", spec])
    assert result.exit_code == 1 and "127.0.0.1" in result.output and KEY not in result.output
