"""The workforce graph's nodes one at a time, each called with a hand-built state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langgraph.types import Command, Send

from dramaturg.agents import Critic, Planner, Worker
from dramaturg.errors import ConfigError, ModelOutputError
from dramaturg.graphs import Budget
from dramaturg.graphs.workforce import WorkforceNodes, WorkforceState
from dramaturg.models import ScriptedModel


def subtask(i: str, *deps: str, capability: str = "general") -> dict[str, Any]:
    return {
        "id": i,
        "description": f"do {i}",
        "depends_on": list(deps),
        "capability": capability,
        "done_when": "",
    }


def nodes(
    *,
    plans: Sequence[Any] = (),
    worker_answers: Sequence[Any] = (),
    verdicts: Sequence[Any] = (),
    workers: tuple[str, ...] = ("w",),
    budget: Budget | None = None,
) -> WorkforceNodes:
    return WorkforceNodes(
        planner=Planner(model=ScriptedModel(list(plans))),
        workers=[Worker(name=n, model=ScriptedModel(list(worker_answers))) for n in workers],
        critic=Critic(model=ScriptedModel(list(verdicts))),
        budget=budget or Budget(),
    )


def job(sid: str = "s1", *, worker: str = "w", attempt: int = 0, **extra: Any) -> Any:
    plan = {sid: subtask(sid), "s2": subtask("s2", sid)}
    return {
        "subtask": plan[sid],
        "worker": worker,
        "attempt": attempt,
        "context": {},
        "transcript": [],
        "feedback": None,
        "plan": plan,
        **extra,
    }


# coordinate


async def test_coordinate_sends_the_ready_subtasks_with_what_they_depend_on():
    state: WorkforceState = {
        "subtasks": {
            "s1": subtask("s1"),
            "s2": subtask("s2", "s1"),
            "s3": subtask("s3", "s1"),
            "s4": subtask("s4", "s2", "s3"),
            "old": subtask("old"),
        },
        "status": {
            "s1": "done",
            "s2": "pending",
            "s3": "pending",
            "s4": "pending",
            "old": "replaced",
        },
        "assignee": {"s1": "w", "s2": "w", "s3": "v", "s4": "w", "old": "w"},
        "attempts": {"s3": 1},
        "results": {"s1": {"output": "one"}},
        "transcripts": {"s3": [{"role": "assistant", "content": "before"}]},
        "feedback": {"s3": "shorter"},
        "log": [],
    }
    sends = await nodes(workers=("w", "v")).coordinate(state)
    assert isinstance(sends, list) and all(isinstance(s, Send) and s.node == "work" for s in sends)
    jobs = {s.arg["subtask"]["id"]: s.arg for s in sends}
    assert set(jobs) == {"s2", "s3"}  # s4 waits for both; s1 is done; old was replaced
    assert jobs["s2"]["context"] == {"s1": "one"} and jobs["s2"]["attempt"] == 0
    assert jobs["s3"]["worker"] == "v" and jobs["s3"]["attempt"] == 1
    assert (
        jobs["s3"]["feedback"] == "shorter" and jobs["s3"]["transcript"][0]["content"] == "before"
    )
    assert jobs["s2"]["plan"] is state["subtasks"]


@pytest.mark.parametrize(
    ("state", "route"),
    [
        ({"outcome": "failed", "status": {"s1": "pending"}}, "finish"),
        ({"replan_requests": ["s1: wrong"], "replans": 0}, "plan"),
        ({"replan_requests": ["s1: wrong"], "replans": 2}, "finish"),  # max_replans=2
        ({"subtasks": {"s1": subtask("s1")}, "status": {"s1": "failed"}}, "finish"),
        ({"subtasks": {"s1": subtask("s1")}, "status": {"s1": "done"}}, "finish"),
        ({"subtasks": {"s1": subtask("s1", "s0")}, "status": {"s1": "pending"}}, "finish"),
    ],
    ids=["outcome set", "replan", "replans spent", "failed", "all done", "nothing ready"],
)
async def test_coordinate_routes_to_plan_or_finish(state: Any, route: str):
    assert await nodes().coordinate(state) == route


async def test_coordinate_stops_when_the_attempt_budget_is_spent():
    state: Any = {
        "subtasks": {"s1": subtask("s1")},
        "status": {"s1": "pending"},
        "assignee": {"s1": "w"},
        "log": [{"node": "plan"}, {"node": "work"}, {"node": "work"}],
    }
    assert await nodes(budget=Budget(max_attempts=2)).coordinate(state) == "finish"
    assert isinstance(await nodes(budget=Budget(max_attempts=3)).coordinate(state), list)


async def test_a_round_never_sends_more_attempts_than_the_budget_has_left():
    twelve = {f"s{i}": subtask(f"s{i}") for i in range(12)}
    state: Any = {
        "subtasks": twelve,
        "status": dict.fromkeys(twelve, "pending"),
        "assignee": dict.fromkeys(twelve, "w"),
        "log": [{"node": "plan"}, {"node": "work"}],
    }
    sends = await nodes(budget=Budget(max_attempts=5)).coordinate(state)
    assert [s.arg["subtask"]["id"] for s in sends] == ["s0", "s1", "s2", "s3"]
    assert len(await nodes(budget=Budget(max_attempts=50)).coordinate(state)) == 12


async def test_join_returns_the_route_of_coordinate_as_a_command():
    state: WorkforceState = {
        "subtasks": {"s1": subtask("s1"), "s2": subtask("s2", "s1")},
        "status": {"s1": "done", "s2": "pending"},
        "assignee": {"s1": "w", "s2": "w"},
        "results": {"s1": {"output": "one"}},
    }
    command = await nodes().join(state)
    assert isinstance(command, Command) and command.update is None
    assert [(s.node, s.arg["subtask"]["id"]) for s in command.goto] == [("work", "s2")]
    assert (await nodes().join({**state, "outcome": "failed"})).goto == "finish"


# work


async def test_work_accepts_a_good_result():
    n = nodes(worker_answers=["the answer"], verdicts=[{"score": 90, "route": "accept"}])
    update = await n.work(job())
    assert update["status"] == {"s1": "done"}
    assert update["results"]["s1"]["output"] == "the answer"
    assert update["log"] == [
        {
            "node": "work",
            "subtask": "s1",
            "worker": "w",
            "attempt": 0,
            "score": 90,
            "route": "accept",
        }
    ]


async def test_work_retry_keeps_the_transcript_and_the_revised_subtask():
    verdict = {"score": 20, "route": "retry", "issues": ["too vague"], "revised": "do s1 well"}
    n = nodes(worker_answers=["meh"], verdicts=[verdict])
    update = await n.work(job())
    assert update["attempts"] == {"s1": 1}
    assert update["feedback"] == {"s1": "too vague; do s1 well"}
    assert [m["content"] for m in update["transcripts"]["s1"]][-1] == "meh"
    assert update["subtasks"]["s1"]["description"] == "do s1 well"
    assert "status" not in update


async def test_work_fails_the_subtask_when_its_retries_are_spent():
    n = nodes(
        worker_answers=["meh"],
        verdicts=[{"score": 0, "route": "retry"}],
        budget=Budget(max_retries=1),
    )
    update = await n.work(job(attempt=1))
    assert update["status"] == {"s1": "failed"}
    assert update["log"][0]["route"] == "retry (retries exhausted)"


async def test_work_reassigns_to_another_worker_who_starts_fresh():
    n = nodes(
        workers=("w", "v"),
        worker_answers=["meh"],
        verdicts=[{"score": 10, "route": "reassign", "worker": "nobody"}],
    )
    update = await n.work(job())
    assert update["assignee"] == {"s1": "v"}  # an unknown name: the next able worker
    assert update["transcripts"] == {"s1": []}


async def test_work_treats_a_failing_critic_as_a_retry():
    n = nodes(worker_answers=["x"], verdicts=[ModelOutputError("no JSON")])
    update = await n.work(job())
    assert update["attempts"] == {"s1": 1}
    assert update["feedback"]["s1"].startswith("the critic failed: ")
    assert update["log"][0]["route"] == "retry" and "score" not in update["log"][0]


async def test_work_asks_for_a_replan():
    n = nodes(worker_answers=["x"], verdicts=[{"score": 5, "route": "replan", "issues": ["no"]}])
    assert (await n.work(job()))["replan_requests"] == ["s1: no"]


async def test_work_decomposes_and_the_dependents_wait_for_every_part():
    parts = [{"id": "a", "description": "part a"}, {"id": "b", "description": "part b"}]
    n = nodes(
        worker_answers=["x"], verdicts=[{"score": 5, "route": "decompose", "subtasks": parts}]
    )
    update = await n.work(job())
    assert update["status"] == {"s1": "replaced", "s1.1": "pending", "s1.2": "pending"}
    assert update["subtasks"]["s2"]["depends_on"] == ["s1.1", "s1.2"]
    assert update["assignee"] == {"s1.1": "w", "s1.2": "w"}


async def test_work_refuses_to_decompose_past_the_depth_budget():
    parts = [{"id": "a", "description": "part a"}]
    n = nodes(
        worker_answers=["x"],
        verdicts=[{"score": 5, "route": "decompose", "subtasks": parts}],
        budget=Budget(max_depth=1),
    )
    update = await n.work(job("s1.1"))
    assert update["status"] == {"s1.1": "failed"}
    assert update["log"][0]["route"] == "decompose (depth budget exhausted)"


# plan, finish


async def test_plan_replaces_unfinished_work_and_tells_the_planner_what_is_done():
    new_plan = {"subtasks": [{"id": "s3", "description": "do s3", "depends_on": ["s1"]}]}
    n = nodes(plans=[new_plan])
    state: WorkforceState = {
        "task": "t",
        "subtasks": {"s1": subtask("s1"), "s2": subtask("s2", "s1")},
        "status": {"s1": "done", "s2": "pending"},
        "results": {"s1": {"output": "one"}},
        "replan_requests": ["s2: wrong"],
        "replans": 0,
    }
    update = await n.plan(state)
    assert update["status"] == {"s2": "replaced", "s3": "pending"}
    assert update["replan_requests"] is None and update["replans"] == 1
    assert update["assignee"] == {"s3": "w"}
    prompt = n.planner.model.calls[0].messages[0]["content"]
    assert "s1: do s1 -> one" in prompt and "s2: wrong" in prompt


async def test_plan_fails_the_run_when_the_planner_cannot_answer():
    update = await nodes(plans=["not json"]).plan({"task": "t"})
    assert update["outcome"] == "failed" and update["answer"].startswith("planning failed")


async def test_finish_answers_with_the_subtasks_nothing_depends_on():
    state: WorkforceState = {
        "subtasks": {"s1": subtask("s1"), "s2": subtask("s2", "s1"), "s3": subtask("s3")},
        "status": {"s1": "done", "s2": "done", "s3": "done"},
        "results": {"s1": {"output": "a"}, "s2": {"output": "b"}, "s3": {"output": "c"}},
    }
    # In dependency order: s1, then s3 (ready with s1), then s2; s1 feeds s2, so not an answer.
    assert await nodes().finish(state) == {"outcome": "done", "answer": "c\nb"}
    state["status"] = {"s1": "done", "s2": "failed", "s3": "done"}
    assert await nodes().finish(state) == {"outcome": "failed", "answer": "subtasks failed: ['s2']"}
    state["status"] = {"s1": "done", "s2": "pending", "s3": "done"}
    assert (await nodes().finish(state))["outcome"] == "budget"
    assert await nodes().finish({"outcome": "failed"}) == {}


def test_the_nodes_refuse_no_workers_or_twins():
    with pytest.raises(ConfigError, match="at least one worker"):
        nodes(workers=())
    with pytest.raises(ConfigError, match="unique"):
        nodes(workers=("a", "a"))


def test_pick_worker_prefers_the_capability_and_avoids_the_last_one():
    n = WorkforceNodes(
        planner=Planner(model=ScriptedModel()),
        workers=[
            Worker(name="a", model=ScriptedModel(), capabilities=("python",)),
            Worker(name="b", model=ScriptedModel(), capabilities=("python",)),
            Worker(name="c", model=ScriptedModel()),
        ],
        critic=Critic(model=ScriptedModel()),
    )
    assert n.pick_worker("python") == "a"
    assert n.pick_worker("python", avoid="a") == "b"
    assert n.pick_worker("files") == "a"  # nobody has it: anyone
    assert n.pick_worker("general", avoid="c") == "c"  # the only able one
