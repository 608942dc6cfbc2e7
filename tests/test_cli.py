from __future__ import annotations

import dataclasses
import json
import re
import socket

import pytest
from typer.testing import CliRunner

from dramaturg.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args", [["version"], ["--version"], ["-V"]])
def test_version(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and result.output == "dramaturg 0.1.0\n"


def _help_pages(command, path):
    """Every help page of the command tree: (command line, text)."""
    yield path, runner.invoke(app, [*path, "--help"], terminal_width=200).output
    for name, sub in getattr(command, "commands", {}).items():
        yield from _help_pages(sub, [*path, name])


def test_help_shows_flags_as_flags_without_a_type():
    from typer.main import get_command

    pages = dict((" ".join(path), text) for path, text in _help_pages(get_command(app), []))
    assert len(pages) > 20 and {"", "eval run", "drama new", "train tool-agent"} <= set(pages)
    for line, text in pages.items():
        assert "<bool>" not in text and "--help" in text, (line, text)
    assert re.search(r"--progress\s+--no-progress\s+Show a progress bar", pages["eval run"])
    assert re.search(r"--version\s+-V\s+Print the installed version", pages[""])
    assert "<int>" in pages["eval run"]  # options that take a value keep their type


def test_models_check_names_an_unreachable_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runner.invoke(
        app, ["models", "check", "--model", f"openai:http://127.0.0.1:{port}/v1#gemma"]
    )
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.output and "connection refused" in result.output


def test_models_check_rejects_a_bad_spec():
    result = runner.invoke(app, ["models", "check", "--model", "gpt-4o"])
    assert result.exit_code == 1 and "should start with one of" in result.output


def test_models_check_says_n_a_for_a_speed_the_server_does_not_report(monkeypatch):
    """A server that does not stream or report timings gives no time to first token."""
    from dramaturg.models.wrappers import wrap
    from dramaturg.testing import SchemaModel

    class NoTimings(SchemaModel):
        async def complete(self, messages, **opts):
            return dataclasses.replace(
                await super().complete(messages, **opts), latency_s=0.5, ttft_s=None
            )

    monkeypatch.setattr(
        "dramaturg.models.check.load_model", lambda spec=None, **kw: wrap(NoTimings())
    )
    args = ["models", "check", "--model", "openai:http://127.0.0.1:9/v1#gemma"]
    result = runner.invoke(app, args, terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "nan" not in result.output and re.search(r"prompt tokens/s\s*│\s*n/a\s", result.output)
    assert re.search(r"generated tokens/s\s*│\s*\d+\.\d\s", result.output)
    report = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert report["prompt_tokens_per_s"] is None and report["generated_tokens_per_s"] > 0


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


@pytest.fixture
def schema_model(monkeypatch):
    """`dramaturg run` on a stand-in model that answers anything."""
    from dramaturg.models.loader import default_spec, parse_spec
    from dramaturg.testing import SchemaModel

    def load_model(spec=None, **kw):
        parse_spec(default_spec(spec))  # a bad spec fails as the real loader's does
        return SchemaModel()

    monkeypatch.setattr("dramaturg.models.load_model", load_model)


def _runs(home):
    return sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").is_dir() else []


def test_a_run_that_fails_before_its_first_step_leaves_no_folder(_isolated_home, schema_model):
    result = runner.invoke(app, ["run", "--world", "nowhere/at-all"])
    assert result.exit_code == 1 and "unknown world id 'nowhere/at-all'" in result.output
    result = runner.invoke(app, ["run", "--world", "theatre/elsinore", "--model", "gpt-4o"])
    assert result.exit_code == 1 and "unknown model spec 'gpt-4o'" in result.output
    assert _runs(_isolated_home) == []


def test_a_run_that_fails_after_its_first_step_keeps_its_folder(
    _isolated_home, schema_model, monkeypatch
):
    from dramaturg.cli import run as run_cli
    from dramaturg.errors import ConfigError

    drawn = []

    def table_then_fail(rows, title):
        drawn.append(len(rows))
        if len(drawn) > 2:
            raise ConfigError("broke after a step on purpose")
        return run_cli.Table(title=title)

    monkeypatch.setattr(run_cli, "_table", table_then_fail)
    result = runner.invoke(app, ["run", "--world", "theatre/elsinore", "--max-steps", "3"])
    assert result.exit_code == 1 and "broke after a step on purpose" in result.output
    [run_id] = _runs(_isolated_home)
    assert (_isolated_home / "runs" / run_id / "steps.jsonl").read_text()


def test_a_run_prints_its_outcome_on_its_own_line_and_keeps_a_resumable_folder(
    _isolated_home, schema_model
):
    result = runner.invoke(
        app, ["run", "--world", "theatre/elsinore", "--max-steps", "2"], terminal_width=100
    )
    assert result.exit_code == 0, result.output
    [run_id] = _runs(_isolated_home)
    assert re.search(rf"┘\nmax_steps  run id {run_id} ", result.output), result.output
    again = runner.invoke(app, ["run", "--resume", run_id])
    assert again.exit_code == 0 and f"run {run_id} already finished: max_steps" in again.output


@pytest.mark.model
def test_run_plays_a_world_on_the_embedded_model_and_keeps_a_resumable_record(_isolated_home):
    result = runner.invoke(app, ["run", "--world", "theatre/elsinore", "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    run_dir = next((_isolated_home / "runs").iterdir())
    assert {"run.json", "trace.jsonl", "steps.jsonl", "checkpoints.sqlite", "usage.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert (
        len((run_dir / "trace.jsonl").read_text().splitlines()) >= 2
    )  # one model call per action at least
    again = runner.invoke(app, ["run", "--resume", run_dir.name])
    assert again.exit_code == 0 and "already finished" in again.output


# ---------------------------------------------------------------- drama new / serve: URLs, ports, exposure


def test_drama_new_prints_the_url_that_opens_the_session(_isolated_home):
    import re

    from dramaturg.drama.session import DramaSession

    result = runner.invoke(app, ["drama", "new", "--stage", "elsinore", "--player", "hamlet"])
    assert result.exit_code == 0, result.output
    found = re.search(
        r"http://127\.0\.0\.1:8765/#([a-z0-9-]+):([A-Za-z0-9_-]+)$", result.output, re.M
    )
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

    result = runner.invoke(
        app, ["serve", "--host", "0.0.0.0", "--port", "8800", "--max-turns", "50"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "WARNING" in result.output and "0.0.0.0" in result.output and "plain HTTP" in result.output
    )
    key = result.output.split("server key: ", 1)[1].split()[0]
    assert f"http://127.0.0.1:8800/#key={key}" in result.output
    assert (
        fake_serve["host"] == "0.0.0.0"
        and fake_serve["port"] == 8800
        and fake_serve["ws_max_size"] <= 65536
    )
    with TestClient(fake_serve["app"], base_url="http://127.0.0.1:8800") as client:
        new = {"stage": "elsinore", "max_turns": 50}
        assert client.post("/api/sessions", json=new).status_code == 401
        assert (
            client.post(
                "/api/sessions",
                json={**new, "max_turns": 51},
                headers={"Authorization": f"Bearer {key}"},
            ).status_code
            == 422
        )
        assert (
            client.post(
                "/api/sessions", json=new, headers={"Authorization": f"Bearer {key}"}
            ).status_code
            == 200
        )
        assert client.get("/", headers={"Host": "attacker.example:8800"}).status_code == 400


def test_serve_takes_its_key_from_the_environment(fake_serve, monkeypatch):
    from fastapi.testclient import TestClient

    key = "from-the-environment-0123456789"
    monkeypatch.setenv("DRAMATURG_SERVER_TOKEN", key)
    result = runner.invoke(app, ["serve", "--trusted-host", "play.example.org"])
    assert (
        result.exit_code == 0
        and key not in result.output
        and "DRAMATURG_SERVER_TOKEN" in result.output
    )
    assert "WARNING" not in result.output and "http://127.0.0.1:8765/#ID:TOKEN" in result.output
    with TestClient(fake_serve["app"], base_url="http://play.example.org") as client:
        assert client.post("/api/sessions", json={"stage": "elsinore"}).status_code == 401
        assert (
            client.post(
                "/api/sessions",
                json={"stage": "elsinore"},
                headers={"Authorization": f"Bearer {key}"},
            ).status_code
            == 200
        )


def test_serve_on_loopback_needs_no_key(fake_serve):
    result = runner.invoke(app, ["serve"])
    assert (
        result.exit_code == 0
        and "server key" not in result.output
        and "WARNING" not in result.output
    )
    assert "new play: http://127.0.0.1:8765/" in result.output


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--trusted-host", "http://play.example.org/"], None, "--trusted-host"),
        (["--trusted-host", "*"], None, "wildcard"),
        ([], "short", "too short"),
    ],
)
def test_serve_refuses_a_bad_setting(fake_serve, monkeypatch, args, env, says):
    if env:
        monkeypatch.setenv("DRAMATURG_SERVER_TOKEN", env)
    result = runner.invoke(app, ["serve", *args])
    assert result.exit_code == 2 and says in result.output, result.output
    assert "app" not in fake_serve


def test_drama_new_keeps_a_designed_play_whose_cast_lacks_the_player(_isolated_home, monkeypatch):
    """--player names a character before the model has designed any: a miss keeps the play and says how to use it."""
    import re

    from dramaturg.drama import Blueprint, resolve_play
    from dramaturg.models import ScriptedModel

    async def designed(topic, **_):
        return Blueprint.load(resolve_play("elsinore"))

    monkeypatch.setattr("dramaturg.drama.design.design_blueprint", designed)
    monkeypatch.setattr("dramaturg.models.load_model", lambda spec=None, **_: ScriptedModel())
    result = runner.invoke(
        app, ["drama", "new", "--topic", "a keeper hides a stranger", "--player", "keeper"]
    )
    assert result.exit_code == 1, result.output
    assert "no character 'keeper'" in result.output and "hamlet (Hamlet)" in result.output
    kept = re.search(r"--blueprint (\S+\.yaml)", result.output.replace("\n", ""))
    assert kept and Blueprint.load(kept[1]).title == "Elsinore, in three scenes"
    # A word of a character's name finds it.
    result = runner.invoke(
        app, ["drama", "new", "--topic", "a keeper hides a stranger", "--player", "Horatio"]
    )
    assert result.exit_code == 0, result.output
