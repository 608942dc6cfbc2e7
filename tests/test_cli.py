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


# ---------------------------------------------------------------- drama new / serve: URLs, ports, exposure


def test_drama_new_prints_the_url_that_opens_the_session(_isolated_home):
    import re

    from dramaturg.drama.session import DramaSession

    result = runner.invoke(app, ["drama", "new", "--stage", "elsinore", "--player", "hamlet"])
    assert result.exit_code == 0, result.output
    found = re.search(r"http://127\.0\.0\.1:8765/#([a-z0-9-]+):([A-Za-z0-9_-]+)$", result.output, re.M)
    assert found, result.output
    assert DramaSession.open(found[1]).check_token(found[2])


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1"])
def test_serve_refuses_a_port_out_of_range(port, monkeypatch):
    started = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(k))
    result = runner.invoke(app, ["serve", "--port", port])
    assert result.exit_code == 2 and "--port" in result.output, result.output
    assert started == []


@pytest.fixture
def fake_serve(monkeypatch):
    """`serve` up to uvicorn.run: the app and the arguments it would have run with."""
    pytest.importorskip("fastapi")
    from dramaturg.testing import SchemaModel

    ran: dict = {}
    monkeypatch.setattr("uvicorn.run", lambda the_app, **kw: ran.update(app=the_app, **kw))
    monkeypatch.setattr("dramaturg.models.load_model", lambda spec=None, **kw: SchemaModel())
    monkeypatch.delenv("DRAMATURG_SERVER_TOKEN", raising=False)
    return ran


def test_serve_off_loopback_warns_and_needs_its_key(fake_serve, _isolated_home):
    from fastapi.testclient import TestClient

    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8800", "--max-turns", "50"])
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output and "0.0.0.0" in result.output and "plain HTTP" in result.output
    key = result.output.split("server key: ", 1)[1].split()[0]
    assert f"http://127.0.0.1:8800/#key={key}" in result.output
    assert fake_serve["host"] == "0.0.0.0" and fake_serve["port"] == 8800 and fake_serve["ws_max_size"] <= 65536
    with TestClient(fake_serve["app"], base_url="http://127.0.0.1:8800") as client:
        new = {"stage": "elsinore", "max_turns": 50}
        assert client.post("/api/sessions", json=new).status_code == 401
        assert client.post("/api/sessions", json={**new, "max_turns": 51},
                           headers={"Authorization": f"Bearer {key}"}).status_code == 422
        assert client.post("/api/sessions", json=new, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/", headers={"Host": "attacker.example:8800"}).status_code == 400


def test_serve_takes_its_key_from_the_environment(fake_serve, monkeypatch):
    from fastapi.testclient import TestClient

    key = "from-the-environment-0123456789"
    monkeypatch.setenv("DRAMATURG_SERVER_TOKEN", key)
    result = runner.invoke(app, ["serve", "--trusted-host", "play.example.org"])
    assert result.exit_code == 0 and key not in result.output and "DRAMATURG_SERVER_TOKEN" in result.output
    assert "WARNING" not in result.output and "http://127.0.0.1:8765/#ID:TOKEN" in result.output
    with TestClient(fake_serve["app"], base_url="http://play.example.org") as client:
        assert client.post("/api/sessions", json={"stage": "elsinore"}).status_code == 401
        assert client.post("/api/sessions", json={"stage": "elsinore"},
                           headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_serve_on_loopback_needs_no_key(fake_serve):
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0 and "server key" not in result.output and "WARNING" not in result.output
    assert "new play: http://127.0.0.1:8765/" in result.output


@pytest.mark.parametrize(("args", "env", "says"), [
    (["--trusted-host", "http://play.example.org/"], None, "--trusted-host"),
    (["--trusted-host", "*"], None, "wildcard"),
    ([], "short", "too short"),
])
def test_serve_refuses_a_bad_setting(fake_serve, monkeypatch, args, env, says):
    if env:
        monkeypatch.setenv("DRAMATURG_SERVER_TOKEN", env)
    result = runner.invoke(app, ["serve", *args])
    assert result.exit_code == 2 and says in result.output, result.output
    assert "app" not in fake_serve
