"""The drama suite: agents play a bundled play; drama metrics and two judges score it."""

from __future__ import annotations

import pytest

from dramaturg.evals import AgentSpec, builtin_suite, read_episodes, run_eval
from tests.evals._worlds import judge_one, judge_two, schema_actor_model


def test_drama_suite_records_metrics_judges_and_their_agreement(tmp_path):
    suite = builtin_suite("drama", n=2)
    assert [c.id for c in suite.cases] == ["drama/elsinore/0", "drama/elsinore/1"]
    agent = AgentSpec(
        kind="drama", model_factory=schema_actor_model, options={"judges": [judge_one, judge_two]}
    )
    summary = run_eval(suite, agent, out=tmp_path, backend="seq", max_steps=6, progress=False)
    episodes = read_episodes(tmp_path)
    assert [e["status"] for e in episodes] == ["done", "done"], episodes[0].get("error")
    metrics = summary["overall"]["metrics"]
    assert {
        "beat_completion",
        "knowledge_leaks",
        "repetition",
        "judge1.in_character",
        "judge2.in_character",
    } <= set(metrics)
    assert metrics["steps"] == 6
    # judge2 scores one point above judge1 everywhere: never exact, always within one.
    marks = episodes[0]["judgements"]
    assert set(marks) == {"judge1", "judge2"} and marks["judge1"]
    agree = summary["judges"]["overall"]
    assert agree["n"] == 2 * len(marks["judge1"])
    assert agree["exact"] == 0.0 and agree["within_one"] == 1.0
    assert summary["judges"]["by_criterion"].keys() == {
        "in_character",
        "coherence",
        "progress",
        "secrecy",
    }
    from dramaturg.evals import write_report

    page = write_report(tmp_path).read_text()
    assert "Agreement of the judges (judge1 and judge2)" in page and "in_character" in page
    trace = (tmp_path / "traces" / "drama__elsinore__0.0.jsonl").read_text().splitlines()
    assert len(trace) == 6


def test_drama_cases_need_the_drama_agent(tmp_path):
    with pytest.raises(Exception, match="cannot play drama cases"):
        run_eval(builtin_suite("drama"), AgentSpec(kind="oracle"), out=tmp_path, progress=False)
