"""A worker with tools inside the workforce graph: unknown tools and bad arguments become feedback."""

from __future__ import annotations

from dramaturg.agents import Critic, Planner, Worker
from dramaturg.graphs import Budget, workforce
from dramaturg.models import RetryingModel, ScriptedModel
from dramaturg.tools import ToolSet

ran: list[tuple[int, int]] = []


def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: the first number.
        b: the second number.
    """
    ran.append((a, b))
    return a + b


PLAN = {"subtasks": [{"id": "s1", "description": "add 1 and 2"}]}


async def test_unknown_tool_and_invalid_arguments_are_fed_back_and_the_worker_recovers():
    ran.clear()
    worker_model = ScriptedModel(
        [
            {"thought": "use the adder", "tool": "ad", "arguments": {"a": 1}},
            {"thought": "the right name", "tool": "add", "arguments": {"a": "one", "c": 3}},
            {"thought": "numbers", "tool": "add", "arguments": {"a": 1, "b": 2}},
            {"thought": "done", "answer": "3"},
        ]
    )
    worker = Worker(name="w", model=worker_model, tools=ToolSet([add]))
    graph = workforce(
        planner=Planner(model=ScriptedModel([PLAN])),
        workers=[worker],
        critic=Critic(model=ScriptedModel([{"score": 95, "route": "accept"}])),
    )
    final = await graph.ainvoke({"task": "arithmetic"})
    assert final["outcome"] == "done" and final["answer"] == "3"
    observations = [c.messages[-1]["content"] for c in worker_model.calls[1:]]
    assert "unknown tool 'ad'" in observations[0] and "add" in observations[0]
    assert "a" in observations[1] and ("integer" in observations[1] or "int" in observations[1])
    assert "c" in observations[1]  # the extra argument is named
    assert observations[2] == "Observation: <output>3</output>"  # fenced: tool output is data
    assert ran == [(1, 2)]  # bad calls never reached the function
    assert (
        "add(" in worker_model.calls[0].messages[0]["content"]
        or "add" in worker_model.calls[0].messages[0]["content"]
    )


async def test_a_worker_that_never_answers_runs_out_of_steps_and_the_run_fails_cleanly():
    looping = ScriptedModel([{"thought": "again", "tool": "add", "arguments": {"a": 1}}] * 40)
    worker = Worker(name="w", model=looping, tools=ToolSet([add]), max_steps=3)
    graph = workforce(
        planner=Planner(model=ScriptedModel([PLAN])),
        workers=[worker],
        critic=Critic(model=ScriptedModel([])),
        budget=Budget(max_retries=1),
    )
    final = await graph.ainvoke({"task": "arithmetic"})
    assert final["outcome"] == "failed"
    assert "no answer after 3 tool calls" in final["results"]["s1"]["error"]


async def test_react_baseline_answers_a_task_with_tools():
    from dramaturg.graphs import react

    model = ScriptedModel([{"tool": "add", "arguments": {"a": 40}}, {"answer": "42"}])
    final = await react(worker=Worker(name="solo", model=model, tools=ToolSet([add]))).ainvoke(
        {"task": "40+2?"}
    )
    assert final["ok"] and final["answer"] == "42" and final["steps"] == 2
    assert final["transcript"][-2]["content"] == "Observation: <output>42</output>"


async def test_arguments_nested_too_deeply_go_back_to_the_model_instead_of_crashing():
    from dramaturg.graphs import react

    # Found by tests/test_fuzz.py: arguments 300 levels deep passed validation, then dumping
    # the step into the transcript raised PydanticSerializationError and killed the graph.
    deep: object = 40
    for _ in range(300):
        deep = [deep]
    model = ScriptedModel(
        [
            {"tool": "add", "arguments": {"a": deep}},
            {"tool": "add", "arguments": {"a": 40}},
            {"answer": "42"},
        ]
    )
    worker = Worker(name="solo", model=RetryingModel(model, retries=1), tools=ToolSet([add]))
    final = await react(worker=worker).ainvoke({"task": "40+2?"})
    assert final["ok"] and final["answer"] == "42"
    assert "nested more than 16 levels deep" in model.calls[1].messages[-1]["content"]
