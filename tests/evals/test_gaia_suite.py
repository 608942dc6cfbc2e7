"""GAIA-style questions through the runner: oracle, random, and a react worker with tools."""

from __future__ import annotations

import json

from dramaturg.evals import AgentSpec, builtin_suite, load_suite_file, read_episodes, run_eval
from tests.evals._worlds import gaia_reader


def test_oracle_answers_every_bundled_question_and_random_almost_none(tmp_path):
    suite = builtin_suite("gaia-style")
    assert len(suite.cases) >= 60 and set(suite.task_types()) == {"level 1", "level 2", "level 3"}
    oracle = run_eval(
        suite, AgentSpec(kind="oracle"), out=tmp_path / "o", backend="seq", progress=False
    )
    random = run_eval(
        suite, AgentSpec(kind="random"), out=tmp_path / "r", backend="seq", progress=False
    )
    assert oracle["overall"]["success_rate"] == 1.0
    assert random["overall"]["success_rate"] < 0.2


def test_a_react_worker_reads_the_file_browses_and_is_scored_by_gaia_rules(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "data.csv").write_text("item,amount\na,1000\nb,234\n")
    (data / "metadata.jsonl").write_text(
        json.dumps(
            {
                "task_id": "t1",
                "Question": "What is the total amount?",
                "Level": 1,
                "Final answer": "1234",
                "file_name": "data.csv",
            }
        )
        + "\n"
    )
    suite = load_suite_file(data / "metadata.jsonl")
    summary = run_eval(
        suite,
        AgentSpec(kind="react", model_factory=gaia_reader),
        out=tmp_path / "run",
        backend="seq",
        max_steps=5,
        progress=False,
    )
    (episode,) = read_episodes(tmp_path / "run")
    assert episode["status"] == "done", episode["error"]
    assert (
        episode["answer"] == "1,234" and episode["success"] is True
    )  # "$ % ," are stripped for numbers
    assert summary["by_task_type"]["level 1"]["success_rate"] == 1.0
    steps = [
        json.loads(s)
        for s in (tmp_path / "run" / "traces" / "gaia__t1.0.jsonl").read_text().splitlines()
    ]
    assert "1000" in steps[0]["observation"]
    assert (
        "Final answer" not in steps[1]["observation"]
    )  # the answer key is not within the tool's reach
    assert (
        "Rivers of Freedonia" in steps[2]["observation"]
        and "/wiki/article/rivers" in steps[2]["observation"]
    )
    assert all(s["prompt_tokens"] > 0 for s in steps)
