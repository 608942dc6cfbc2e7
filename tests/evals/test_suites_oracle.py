"""The oracle wins every built-in world suite on real generated games; random is the floor.

One game per task type and split here (the benchmark plays more: see
benchmarks/bench_evals.py); the games are generated at test time.
"""

from __future__ import annotations

import pytest

from dramaturg.evals import AgentSpec, builtin_suite, run_eval

pytest.importorskip("textworld")


@pytest.mark.parametrize("name", ["alfworld-style", "textworld"])
def test_the_oracle_wins_every_task_type_and_random_does_worse(name, tmp_path):
    suite = builtin_suite(name, n=1)
    oracle = run_eval(
        suite, AgentSpec(kind="oracle"), out=tmp_path / "oracle", workers=2, progress=False
    )
    assert oracle["overall"]["errors"] == 0
    assert {t: s["success_rate"] for t, s in oracle["by_task_type"].items()} == dict.fromkeys(
        suite.task_types(), 1.0
    )
    if name == "alfworld-style":
        assert (
            oracle["by_split"]["seen"]["success_rate"]
            == oracle["by_split"]["unseen"]["success_rate"]
            == 1.0
        )
    random = run_eval(
        suite,
        AgentSpec(kind="random"),
        out=tmp_path / "random",
        workers=2,
        max_steps=15,
        progress=False,
    )
    assert random["overall"]["episodes"] == len(suite.cases)
    assert random["overall"]["success_rate"] < 1.0
