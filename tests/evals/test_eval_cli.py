"""`dramaturg eval run/report/compare/show` end to end on a tiny suite."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dramaturg.cli import app

WORLD = "tests.evals._worlds:StepsWorld"


def test_run_report_compare_and_show(tmp_path, monkeypatch):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        json.dumps(
            {
                "name": "steps",
                "cases": [
                    {"id": f"s/{i}", "task_type": f"len{2 + i % 3}", "world": WORLD, "seed": i}
                    for i in range(4)
                ],
            }
        )
    )
    runner = CliRunner()
    for agent in ("oracle", "random"):
        result = runner.invoke(
            app,
            [
                "eval",
                "run",
                str(suite),
                "--agent",
                agent,
                "--backend",
                "seq",
                "--max-steps",
                "6",
                "--out",
                str(tmp_path / agent),
                "--no-progress",
                "--allow-code",
            ],
        )  # the test world is a module:callable
        assert result.exit_code == 0, result.output
        assert "overall" in result.output
    assert (
        json.loads((tmp_path / "oracle" / "summary.json").read_text())["overall"]["success_rate"]
        == 1.0
    )
    result = runner.invoke(app, ["eval", "report", str(tmp_path / "oracle")])
    assert result.exit_code == 0 and (tmp_path / "oracle" / "report.html").is_file()
    result = runner.invoke(
        app, ["eval", "compare", str(tmp_path / "oracle"), str(tmp_path / "random"), "--markdown"]
    )
    assert result.exit_code == 0, result.output
    assert "len2" in result.output and "mcnemar" in result.output.lower()
    result = runner.invoke(app, ["eval", "show", str(tmp_path / "random")])
    assert result.exit_code == 0 and "len4" in result.output


def test_bad_input_is_a_clear_error(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", "run", "nonsense-suite", "--agent", "oracle", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and "built-in suites" in result.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        '{"id": "a", "task_type": "t", "world": "x/y"}\n{"id": "b", "task_type": 3}\n'
    )
    result = runner.invoke(
        app, ["eval", "run", str(broken), "--agent", "oracle", "--out", str(tmp_path / "o")]
    )
    said = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == 1 and "broken.jsonl line 2, field 'task_type'" in said
    result = runner.invoke(app, ["eval", "report", str(tmp_path)])
    assert result.exit_code == 1


def test_a_suite_file_naming_python_code_needs_allow_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "evil.yaml"
    suite.write_text(
        json.dumps(
            {
                "cases": [
                    {
                        "id": "a",
                        "task_type": "t",
                        "world": "os:system",
                        "world_kwargs": {"command": f"touch {tmp_path / 'pwned'}"},
                    }
                ]
            }
        )
    )
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "run",
            str(suite),
            "--agent",
            "oracle",
            "--backend",
            "seq",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ],
    )
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "field 'world'" in said and "--allow-code" in said
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "run").exists()


def test_tool_agent_settings_on_the_command_line(tmp_path, monkeypatch):
    import dramaturg.evals
    from dramaturg.errors import ConfigError

    seen = {}

    def fake_run_eval(suite, spec, **kwargs):
        seen["options"] = spec.options
        raise ConfigError("stopped here")  # nothing is played

    monkeypatch.setattr(dramaturg.evals, "run_eval", fake_run_eval)
    runner = CliRunner()
    base = ["eval", "run", "textworld", "--agent", "react", "--no-adapter", "--out", str(tmp_path)]
    result = runner.invoke(app, [*base, "--tool-agent", "focus=8", "--tool-agent", "recap=24"])
    assert result.exit_code == 1 and "stopped here" in result.output
    assert seen["options"] == {"tool_agent": {"focus": 8, "recap": 24}}
    for bad, said in (
        ("focus", "write NAME=N with a whole number"),
        ("focus=eight", "write NAME=N with a whole number"),
        ("focus=-1", "focus must be a whole number of 0 or more, not -1"),
        ("[red]fcus=2", "unknown tool agent setting(s) [red]fcus"),
    ):
        seen.clear()
        result = runner.invoke(app, [*base, "--tool-agent", bad])
        assert result.exit_code == 1, result.output
        assert said in " ".join(result.output.split()) and not seen  # refused before the run
