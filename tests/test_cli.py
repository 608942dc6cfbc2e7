from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from dramaturg.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and "dramaturg 0.1.0" in result.output


def test_models_check_names_an_unreachable_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runner.invoke(app, ["models", "check", "--model", f"openai:http://127.0.0.1:{port}/v1#gemma"])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.output and "connection refused" in result.output


def test_models_check_rejects_a_bad_spec():
    result = runner.invoke(app, ["models", "check", "--model", "gpt-4o"])
    assert result.exit_code == 1 and "should start with one of" in result.output


@pytest.mark.model
def test_models_check_on_the_embedded_model_offline():
    """The autouse fixture blocks the network: this proves the check needs none."""
    result = runner.invoke(app, ["models", "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["backend"] == "local"
    assert set(report["structured"]) == {"city", "country", "continent", "landmarks"}
    assert report["generated_tokens_per_s"] > 0 and report["prompt_tokens_per_s"] > 0
    assert report["usage"]["models-check"]["calls"] == 2


def test_run_needs_a_world_or_a_task(tmp_path):
    result = runner.invoke(app, ["run", "--graph", "workforce"])
    assert result.exit_code == 1 and "--task" in result.output
    result = runner.invoke(app, ["run", "--graph", "nonsense", "--world", "theatre/elsinore"])
    assert result.exit_code == 1 and "unknown graph" in result.output
    result = runner.invoke(app, ["run", "--resume", "no-such-run"])
    assert result.exit_code == 1 and "no run 'no-such-run'" in result.output


@pytest.mark.model
def test_run_plays_a_world_on_the_embedded_model_and_keeps_a_resumable_record(_isolated_home):
    result = runner.invoke(app, ["run", "--world", "theatre/elsinore", "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    run_dir = next((_isolated_home / "runs").iterdir())
    assert {"run.json", "trace.jsonl", "steps.jsonl", "checkpoints.sqlite", "usage.json"} <= {
        p.name for p in run_dir.iterdir()}
    assert len((run_dir / "trace.jsonl").read_text().splitlines()) >= 2  # one model call per action at least
    again = runner.invoke(app, ["run", "--resume", run_dir.name])
    assert again.exit_code == 0 and "already finished" in again.output
