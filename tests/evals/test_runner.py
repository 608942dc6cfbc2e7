"""The episode runner: backends agree, failures are results, runs resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dramaturg.errors import ConfigError
from dramaturg.evals import AgentSpec, Case, Suite, read_episodes, run_eval
from tests.evals._worlds import scripted_tool_agent, walks_east_when_it_sees_a_recap

WORLD = "tests.evals._worlds:StepsWorld"
ROOT = Path(__file__).resolve().parents[2]


def steps_suite(n: int = 6, **world_kwargs) -> Suite:
    return Suite(
        name="steps",
        cases=[
            Case(
                id=f"steps/{i}",
                task_type=f"len{2 + i % 3}",
                world=WORLD,
                world_kwargs=world_kwargs,
                seed=i,
            )
            for i in range(n)
        ],
    )


def comparable(records: list[dict]) -> list[dict]:
    """Records without timings, in a fixed order."""
    return sorted(
        ({k: v for k, v in r.items() if k != "latency_s"} for r in records),
        key=lambda r: (r["case_id"], r["attempt"]),
    )


def test_oracle_wins_everything_and_random_is_reported(tmp_path):
    oracle = run_eval(
        steps_suite(), AgentSpec(kind="oracle"), out=tmp_path / "o", backend="seq", progress=False
    )
    random = run_eval(
        steps_suite(),
        AgentSpec(kind="random"),
        out=tmp_path / "r",
        backend="seq",
        max_steps=3,
        progress=False,
    )
    assert oracle["overall"]["success_rate"] == 1.0
    assert oracle["overall"]["n"] == 6 and set(oracle["by_task_type"]) == {"len2", "len3", "len4"}
    assert random["overall"]["success_rate"] < 1.0
    trace = (tmp_path / "o" / "traces" / "steps__0.0.jsonl").read_text().splitlines()
    assert [json.loads(s)["action"] for s in trace] == ["east", "east"]
    assert {
        "step",
        "action",
        "reasoning",
        "observation",
        "reward",
        "prompt_tokens",
        "completion_tokens",
        "latency_s",
    } <= set(json.loads(trace[0]))


def test_seq_mp_and_ray_give_identical_results(tmp_path):
    pytest.importorskip("ray")
    agent = AgentSpec(kind="react", model_factory=scripted_tool_agent)
    runs = {}
    for backend in ("seq", "mp", "ray"):
        summary = run_eval(
            steps_suite(),
            agent,
            out=tmp_path / backend,
            backend=backend,
            attempts=2,
            max_steps=6,
            workers=2,
            progress=False,
        )
        runs[backend] = (comparable(read_episodes(tmp_path / backend)), summary)
    seq, mp, ray = runs["seq"][0], runs["mp"][0], runs["ray"][0]
    assert len(seq) == 12
    assert seq == mp == ray
    # The scripted agent depends on the attempt's seed, so attempts differ and pass@2 > pass@1.
    assert {r["success"] for r in seq} == {True, False}
    overall = runs["seq"][1]["overall"]
    assert overall["pass_at_k"] > overall["pass_at_1"]
    assert all(r["prompt_tokens"] > 0 for r in seq)
    for backend in ("mp", "ray"):
        assert {k: v for k, v in runs[backend][1]["overall"].items() if "latency" not in k} == {
            k: v for k, v in overall.items() if "latency" not in k
        }


def test_tool_agent_settings_reach_the_tool_agent_and_unknown_ones_are_refused(tmp_path):
    def run(name: str, **settings) -> float:
        spec = AgentSpec(
            kind="react",
            model_factory=walks_east_when_it_sees_a_recap,
            options={"tool_agent": settings},
        )
        return run_eval(
            steps_suite(3), spec, out=tmp_path / name, backend="seq", max_steps=6, progress=False
        )["overall"]["success_rate"]

    assert run("recap", recap=4) == 1.0
    assert run("plain") == 0.0  # the same model without the recap line waits after its first step
    with pytest.raises(
        ConfigError, match=r"different run.*tool_agent: \{'recap': 4\} there, None now"
    ):
        run("recap")  # other prompts are another run, not its resumption
    with pytest.raises(ConfigError, match=r"unknown tool agent setting.*recapp"):
        AgentSpec(kind="react", options={"tool_agent": {"recapp": 4}})
    with pytest.raises(ConfigError, match="recap must be a whole number of 0 or more, not -5"):
        AgentSpec(kind="react", options={"tool_agent": {"recap": -5}})
    with pytest.raises(ConfigError, match="the drama agent has no tool agent settings"):
        AgentSpec(kind="drama", options={"tool_agent": {"recap": 4}})


@pytest.mark.parametrize("backend", ["seq", "mp"])
def test_a_crashing_episode_is_recorded_and_the_run_goes_on(tmp_path, backend):
    summary = run_eval(
        steps_suite(4, fail="raise", fail_seeds=(1,)),
        AgentSpec(kind="oracle"),
        out=tmp_path,
        backend=backend,
        workers=2,
        progress=False,
    )
    records = {r["case_id"]: r for r in read_episodes(tmp_path)}
    assert records["steps/1"]["status"] == "error"
    assert "broke on purpose" in records["steps/1"]["error"]
    assert all(records[f"steps/{i}"]["success"] for i in (0, 2, 3))
    assert summary["overall"]["errors"] == 1 and summary["overall"]["success_rate"] == 0.75
    assert "broke on purpose" in (tmp_path / "traces" / "steps__1.0.jsonl").read_text()


def test_a_worker_that_dies_is_replaced(tmp_path):
    run_eval(
        steps_suite(5, fail="die", fail_seeds=(0, 3)),
        AgentSpec(kind="oracle"),
        out=tmp_path,
        backend="mp",
        workers=2,
        progress=False,
    )
    records = {r["case_id"]: r for r in read_episodes(tmp_path)}
    assert len(records) == 5
    assert [records[f"steps/{i}"]["status"] for i in range(5)] == [
        "error",
        "done",
        "done",
        "error",
        "done",
    ]
    assert "exit code 9" in records["steps/0"]["error"]


@pytest.mark.parametrize("backend", ["seq", "mp"])
def test_an_episode_past_its_timeout_is_stopped(tmp_path, backend):
    t0 = time.monotonic()
    run_eval(
        steps_suite(3, fail="hang", fail_seeds=(1,)),
        AgentSpec(kind="oracle"),
        out=tmp_path,
        backend=backend,
        workers=2,
        timeout_s=2,
        progress=False,
    )
    assert time.monotonic() - t0 < 30
    records = {r["case_id"]: r for r in read_episodes(tmp_path)}
    assert records["steps/1"]["status"] == "timeout"
    assert records["steps/0"]["success"] and records["steps/2"]["success"]


def test_rerun_only_does_unfinished_episodes_and_repairs_a_torn_line(tmp_path):
    suite = steps_suite(4)
    run_eval(
        Suite(name="steps", cases=suite.cases[:2]),
        AgentSpec(kind="oracle"),
        out=tmp_path,
        backend="seq",
        progress=False,
    )
    with (tmp_path / "episodes.jsonl").open("a") as f:
        f.write('{"case_id": "steps/2", "attem')  # a kill in the middle of a write
    seen = []
    run_eval(
        suite,
        AgentSpec(kind="oracle"),
        out=tmp_path,
        backend="seq",
        progress=False,
        on_record=seen.append,
    )
    assert sorted(r["case_id"] for r in seen) == ["steps/2", "steps/3"]
    assert sorted(r["case_id"] for r in read_episodes(tmp_path)) == [f"steps/{i}" for i in range(4)]


def test_a_directory_of_another_run_is_refused(tmp_path):
    run_eval(steps_suite(2), AgentSpec(kind="oracle"), out=tmp_path, backend="seq", progress=False)
    with pytest.raises(ConfigError, match=r"different run.*agent"):
        run_eval(
            steps_suite(2), AgentSpec(kind="random"), out=tmp_path, backend="seq", progress=False
        )


def test_an_agent_that_cannot_play_the_cases_is_refused_before_running(tmp_path):
    with pytest.raises(ConfigError, match="workforce agent cannot play world cases"):
        run_eval(
            steps_suite(2),
            AgentSpec(kind="workforce", model_factory=scripted_tool_agent),
            out=tmp_path,
            progress=False,
        )
    assert not (tmp_path / "episodes.jsonl").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2]
        if Path(f"/proc/{pid}/stat").exists()
        else "X"
    )
    return state != "Z"


def test_a_run_killed_with_sigkill_resumes_with_every_episode_once(tmp_path):
    suite_file = tmp_path / "suite.yaml"
    cases = [
        {
            "id": f"steps/{i}",
            "task_type": "walk",
            "world": WORLD,
            "seed": i,
            "world_kwargs": {"step_sleep": 0.25},
        }
        for i in range(8)
    ]
    suite_file.write_text(json.dumps({"name": "slow-steps", "cases": cases}))  # JSON is YAML
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "dramaturg.cli",
        "eval",
        "run",
        str(suite_file),
        "--agent",
        "oracle",
        "--out",
        str(out),
        "--workers",
        "2",
        "--attempts",
        "2",
        "--no-progress",
        "--allow-code",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    log = out / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    children = [
        int(p)
        for p in subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_episodes(out)
    assert 3 <= len(first) < 16
    # Orphaned workers notice and exit on their own.
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in children)
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    keys = [(r["case_id"], r["attempt"]) for r in read_episodes(out)]
    assert len(keys) == 16 and len(set(keys)) == 16
    assert all(r["success"] for r in read_episodes(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["episodes"] == 16 and summary["overall"]["success_rate"] == 1.0
    assert not list((out / "traces").glob("*.part"))  # killed episodes were replayed to the end


def test_the_tool_agent_can_have_its_own_model(tmp_path):
    from tests.evals._worlds import refusing_model

    agent = AgentSpec(kind="react", model_factory=refusing_model, tool_model=scripted_tool_agent)
    assert "tool agent scripted_tool_agent" in agent.label
    run_eval(steps_suite(3), agent, out=tmp_path, backend="seq", max_steps=6, progress=False)
    records = read_episodes(tmp_path)
    assert all(r["status"] == "done" for r in records), records[0]["error"]
    assert all(r["prompt_tokens"] > 0 for r in records)  # the tool model's tokens are counted


def test_the_tool_agent_choices_are_not_model_specs(tmp_path):
    # --no-adapter is tool_model="main"; "auto" and "registry" name a choice, not a model.
    for choice in ("main", "auto", "registry"):
        agent = AgentSpec(kind="react", model_factory=scripted_tool_agent, tool_model=choice)
        run_eval(
            steps_suite(1), agent, out=tmp_path / choice, backend="seq", max_steps=6, progress=False
        )
        assert [r["status"] for r in read_episodes(tmp_path / choice)] == ["done"]
