"""The workforce graph, driven by ScriptedModels: ordering, every critic route, budgets, parallelism."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from dramaturg.agents import Critic, Planner, Worker
from dramaturg.graphs import Budget, workforce
from dramaturg.models import DelayedModel, RetryingModel, ScriptedModel


def plan(*subtasks: tuple[str, list[str]], capability: str = "general") -> dict:
    return {
        "subtasks": [
            {"id": i, "description": f"do {i}", "depends_on": d, "capability": capability}
            for i, d in subtasks
        ]
    }


def subtask_of(messages) -> str:
    return re.search(r"Subtask (\S+):", messages[0]["content"]).group(1)


def verdict(route: str = "accept", **extra: Any) -> dict:
    return {
        "score": 90 if route == "accept" else 30,
        "issues": [] if route == "accept" else ["not right"],
        "route": route,
        **extra,
    }


class Critics:
    """A critic script keyed by subtask id: a list of routes each, consumed in order."""

    def __init__(self, routes: dict[str, list[dict]] | None = None) -> None:
        self.routes = routes or {}
        self.seen: list[str] = []

    def __call__(self, messages, opts) -> dict:
        sid = subtask_of(messages)
        self.seen.append(sid)
        queue = self.routes.get(sid)
        return queue.pop(0) if queue else verdict()


def endless(answer) -> list:
    return [answer] * 200


def echo_worker(name: str, log: list[str] | None = None, delay: float = 0.0) -> Worker:
    def answer(messages, opts) -> str:
        sid = subtask_of(messages)
        if log is not None:
            log.append(sid)
        return f"{name} did {sid}"

    model: Any = ScriptedModel(endless(answer))
    if delay:
        model = DelayedModel(model, delay)
    return Worker(name=name, model=model)


def build(
    plans: list[dict], workers: list[Worker], critic_routes: Critics, budget: Budget | None = None
):
    planner_model = ScriptedModel(plans)
    graph = workforce(
        planner=Planner(model=planner_model),
        workers=workers,
        critic=Critic(model=ScriptedModel(endless(critic_routes))),
        budget=budget,
    )
    return graph, planner_model


async def test_dependencies_are_respected_and_independent_work_shares_a_round():
    order: list[str] = []
    graph, _ = build(
        [plan(("s1", []), ("s2", ["s1"]), ("s3", ["s1"]), ("s4", ["s2", "s3"]))],
        [echo_worker("w", order)],
        Critics(),
    )
    final = await graph.ainvoke({"task": "build it"})
    assert final["outcome"] == "done"
    assert order[0] == "s1" and set(order[1:3]) == {"s2", "s3"} and order[3] == "s4"
    assert final["answer"] == "w did s4"
    # s2 and s3 went out in one super-step: the log has them between the same joins.
    works = [e["subtask"] for e in final["log"] if e["node"] == "work"]
    assert works == order


async def test_retry_keeps_the_workers_context_and_shows_the_feedback():
    worker_model = ScriptedModel(["first try", "second try"])
    critics = Critics({"s1": [verdict("retry", revised="mention the date")]})
    graph, _ = build([plan(("s1", []))], [Worker(name="w", model=worker_model)], critics)
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "done" and final["answer"] == "second try"
    retry_msgs = worker_model.calls[1].messages
    assert retry_msgs[1] == {"role": "assistant", "content": "first try"}
    assert (
        "not right" in retry_msgs[-1]["content"] and "mention the date" in retry_msgs[-1]["content"]
    )
    assert final["attempts"]["s1"] == 1


async def test_replan_keeps_finished_work_and_tells_the_planner_why():
    critics = Critics({"s2": [verdict("replan")]})
    planner_model_plans = [
        plan(("s1", []), ("s2", ["s1"])),
        {"subtasks": [{"id": "s3", "description": "do s3", "depends_on": ["s1"]}]},
    ]
    graph, planner_model = build(planner_model_plans, [echo_worker("w")], critics)
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "done" and final["answer"] == "w did s3"
    second_prompt = planner_model.calls[1].messages[0]["content"]
    assert "s1: do s1 -> w did s1" in second_prompt and "s2: not right" in second_prompt
    assert final["status"] == {"s1": "done", "s2": "replaced", "s3": "done"}
    assert final["replans"] == 1


async def test_decompose_replaces_a_subtask_and_dependents_wait_for_the_parts():
    parts = [
        {"id": "a", "description": "part a"},
        {"id": "b", "description": "part b", "depends_on": ["a"]},
    ]
    critics = Critics({"s1": [verdict("decompose", subtasks=parts)]})
    order: list[str] = []
    graph, _ = build([plan(("s1", []), ("s2", ["s1"]))], [echo_worker("w", order)], critics)
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "done"
    assert order == ["s1", "s1.1", "s1.2", "s2"]
    assert final["subtasks"]["s2"]["depends_on"] == ["s1.1", "s1.2"]
    assert final["status"]["s1"] == "replaced"


async def test_decomposed_ids_and_dependencies_may_outgrow_what_a_model_may_write():
    # Found by tests/test_fuzz.py: a 24-character id (the most a plan may use) decomposed into
    # "<id>.1", which the work node then refused as a Subtask: a ValidationError killed the run.
    long = "s" * 24
    others = [(f"o{n}", []) for n in range(7)]
    parts = [{"id": "a", "description": "part a"}, {"id": "b", "description": "part b"}]
    critics = Critics({long: [verdict("decompose", subtasks=parts)]})
    order: list[str] = []
    graph, _ = build(
        [plan((long, []), *others, ("last", [long, *(i for i, _ in others)]))],
        [echo_worker("w", order)],
        critics,
    )
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "done"
    assert {f"{long}.1", f"{long}.2"} <= set(order) and order[-1] == "last"
    assert len(final["subtasks"]["last"]["depends_on"]) == 9  # more than a plan's 8


async def test_reassign_moves_the_subtask_to_another_worker():
    critics = Critics({"s1": [verdict("reassign", worker="bob")]})
    graph, _ = build([plan(("s1", []))], [echo_worker("alice"), echo_worker("bob")], critics)
    final = await graph.ainvoke({"task": "t"})
    assert final["answer"] == "bob did s1"
    assert [e["worker"] for e in final["log"] if e["node"] == "work"] == ["alice", "bob"]


async def test_workers_are_chosen_by_capability():
    planner = ScriptedModel(
        [
            {
                "subtasks": [
                    {"id": "s1", "description": "code", "capability": "python"},
                    {"id": "s2", "description": "read", "capability": "files"},
                ]
            }
        ]
    )
    coder, reader = echo_worker("coder"), echo_worker("reader")
    coder.capabilities, reader.capabilities = ("python",), ("files",)
    graph = workforce(
        planner=Planner(model=planner),
        workers=[coder, reader],
        critic=Critic(model=ScriptedModel(endless(Critics()))),
    )
    final = await graph.ainvoke({"task": "t"})
    assert final["assignee"] == {"s1": "coder", "s2": "reader"}


async def test_retry_budget_exhaustion_fails_the_run_cleanly():
    critics = Critics({"s1": [verdict("retry")] * 10})
    graph, _ = build([plan(("s1", []))], [echo_worker("w")], critics, Budget(max_retries=2))
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "failed" and final["status"]["s1"] == "failed"
    assert len([e for e in final["log"] if e["node"] == "work"]) == 3


async def test_replan_budget_exhaustion_ends_with_budget_outcome():
    critics = Critics({"s1": [verdict("replan")] * 5})
    graph, planner_model = build(
        [plan(("s1", []))] * 2, [echo_worker("w")], critics, Budget(max_replans=1)
    )
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "budget"
    planner_model.assert_consumed()


async def test_decompose_depth_budget():
    parts = [{"id": "a", "description": "smaller"}]
    critics = Critics(
        {
            "s1": [verdict("decompose", subtasks=parts)],
            "s1.1": [verdict("decompose", subtasks=parts)],
        }
    )
    graph, _ = build([plan(("s1", []))], [echo_worker("w")], critics, Budget(max_depth=1))
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "failed" and final["status"]["s1.1"] == "failed"


async def test_token_budget_stops_the_run():
    from dramaturg.models import wrap

    worker = Worker(name="w", model=wrap(ScriptedModel(endless("x" * 400))))
    critics = Critics({"s1": [verdict("retry")] * 10})
    graph, _ = build(
        [plan(("s1", []), ("s2", ["s1"]))], [worker], critics, Budget(max_tokens=150, max_retries=9)
    )
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "budget"
    assert len([e for e in final["log"] if e["node"] == "work"]) == 2


async def test_an_invalid_plan_is_sent_back_to_the_planner():
    cyclic = {
        "subtasks": [
            {"id": "a", "description": "x", "depends_on": ["b"]},
            {"id": "b", "description": "y", "depends_on": ["a"]},
        ]
    }
    planner_model = ScriptedModel([cyclic, plan(("s1", []))])
    graph = workforce(
        planner=Planner(model=RetryingModel(planner_model, retries=1)),
        workers=[echo_worker("w")],
        critic=Critic(model=ScriptedModel(endless(Critics()))),
    )
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "done"
    assert "cycle" in planner_model.calls[1].messages[-1]["content"]


async def test_unusable_planner_output_fails_the_run_without_crashing():
    planner_model = ScriptedModel(["not json", "still not", "nope"])
    graph = workforce(
        planner=Planner(model=RetryingModel(planner_model, retries=2)),
        workers=[echo_worker("w")],
        critic=Critic(model=ScriptedModel([])),
    )
    final = await graph.ainvoke({"task": "t"})
    assert final["outcome"] == "failed" and "planning failed" in final["answer"]


async def test_four_independent_subtasks_run_in_parallel():
    """4 subtasks x 100 ms of worker latency: sequential would take 400 ms."""
    workers = [echo_worker(f"w{i}", delay=0.1) for i in range(4)]
    for w in workers:
        w.capabilities = (w.name,)
    planner = ScriptedModel(
        [
            {
                "subtasks": [
                    {"id": f"s{i}", "description": "x", "capability": f"w{i}"} for i in range(4)
                ]
            }
        ]
    )
    graph = workforce(
        planner=Planner(model=planner),
        workers=workers,
        critic=Critic(model=ScriptedModel(endless(Critics()))),
    )
    started = time.perf_counter()
    final = await graph.ainvoke({"task": "t"})
    wall = time.perf_counter() - started
    assert final["outcome"] == "done"
    assert wall < 0.3, f"took {wall:.3f} s (sequential: 0.4 s)"


def test_config_errors_are_raised_at_build_time():
    from dramaturg.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one worker"):
        workforce(
            planner=Planner(model=ScriptedModel()), workers=[], critic=Critic(model=ScriptedModel())
        )
    with pytest.raises(ConfigError, match="unique"):
        workforce(
            planner=Planner(model=ScriptedModel()),
            workers=[echo_worker("a"), echo_worker("a")],
            critic=Critic(model=ScriptedModel()),
        )


async def test_the_graph_is_json_friendly_state():
    graph, _ = build([plan(("s1", []))], [echo_worker("w")], Critics())
    final = await graph.ainvoke({"task": "t"})
    json.dumps(final)  # everything in state serialises (checkpointers need it)


async def test_a_person_approves_reworks_or_rejects_the_plan():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    planner_model = ScriptedModel([plan(("s1", [])), plan(("s2", []))])
    graph = workforce(
        planner=Planner(model=planner_model),
        workers=[echo_worker("w")],
        critic=Critic(model=ScriptedModel(endless(Critics()))),
        checkpointer=InMemorySaver(),
        approve_plans=True,
    )
    config = {"configurable": {"thread_id": "t1"}}
    paused = await graph.ainvoke({"task": "t"}, config)
    assert paused["__interrupt__"][0].value["subtasks"][0]["id"] == "s1"
    paused = await graph.ainvoke(Command(resume={"feedback": "do s2 instead"}), config)
    assert paused["__interrupt__"][0].value["subtasks"][0]["id"] == "s2"
    assert "do s2 instead" in planner_model.calls[1].messages[0]["content"]
    final = await graph.ainvoke(Command(resume=True), config)
    assert final["outcome"] == "done" and final["answer"] == "w did s2"

    graph2 = workforce(
        planner=Planner(model=ScriptedModel([plan(("s1", []))])),
        workers=[echo_worker("w")],
        critic=Critic(model=ScriptedModel([])),
        checkpointer=InMemorySaver(),
        approve_plans=True,
    )
    await graph2.ainvoke({"task": "t"}, config)
    final = await graph2.ainvoke(Command(resume=False), config)
    assert final["outcome"] == "failed" and final["answer"] == "the plan was rejected"


async def test_steps_stream_as_they_happen():
    graph, _ = build([plan(("s1", []), ("s2", []))], [echo_worker("w")], Critics())
    nodes = [
        node
        async for update in graph.astream({"task": "t"}, stream_mode="updates")
        for node in update
    ]
    assert nodes[0] == "plan" and nodes.count("work") == 2 and nodes[-1] == "finish"
