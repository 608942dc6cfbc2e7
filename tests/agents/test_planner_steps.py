"""The planner on a base model: a numbered list it continues, numbered, deduped and chained in code."""

from __future__ import annotations

import time

import pytest

from dramaturg.agents import Planner
from dramaturg.agents._steps import MAX_STEPS, parse_steps, plan_steps
from dramaturg.models import ScriptedModel


def test_parse_steps_reads_the_list_and_stops_at_its_end():
    text = (
        " Count the rows of a.csv.\n2. Count the rows of b.csv.\n3) Compare them.\n\nTask: x\n1. y"
    )
    assert parse_steps(text) == [
        "Count the rows of a.csv.",
        "Count the rows of b.csv.",
        "Compare them.",
    ]


def test_parse_steps_drops_a_step_said_again_and_stops_a_loop():
    text = (
        " Collect facts about the French government\n2. Summarise them\n"
        "3. Gather facts about the French government\n"
        + "".join(f"{i}. Step number {i} of many\n" for i in range(4, 40))
    )
    steps = parse_steps(text)
    assert steps[:2] == ["Collect facts about the French government", "Summarise them"]
    assert "Gather facts about the French government" not in steps
    assert len(steps) == MAX_STEPS


def test_parse_steps_keeps_no_escape_control_character_or_lone_surrogate():
    [step] = parse_steps(" Do \ud800 the \x1b[2J\x07 thing\u202e now")
    assert step == "Do \ufffd the  thing now"


def test_plan_steps_chains_numbers_and_assigns_by_shared_words():
    plan = plan_steps(
        ["Research the sources", "Write the summary"],
        capabilities=["general", "research"],
        taken=["s1"],
    )
    assert plan["subtasks"] == [
        {
            "id": "s2",
            "description": "Research the sources",
            "depends_on": [],
            "capability": "research",
        },
        {
            "id": "s3",
            "description": "Write the summary",
            "depends_on": ["s2"],
            "capability": "general",
        },
    ]


async def test_a_base_model_plans_by_list_and_an_instruct_model_by_schema():
    listed = ScriptedModel([" Count the rows.\n2. Compare the counts.\n\n"], kind="base")
    plan = await Planner(model=listed).plan("which file is longer?")
    assert [(t.id, t.depends_on) for t in plan.subtasks] == [("s1", []), ("s2", ["s1"])]
    [call] = listed.calls
    assert call.opts.get("raw") is True and call.prompt.endswith(
        "which file is longer?\nSteps:\n1."
    )

    schema = ScriptedModel([{"subtasks": [{"id": "a", "description": "all of it"}]}])
    assert [t.id for t in (await Planner(model=schema).plan("t")).subtasks] == ["a"]
    assert schema.calls[0].kind == "structured"


async def test_a_list_with_no_step_is_the_task_itself_and_replans_keep_done_ids():
    model = ScriptedModel(["\n\n", " Write it again.\n"], kind="base")
    planner = Planner(model=model)
    assert [t.description for t in (await planner.plan("the task")).subtasks] == ["the task"]
    again = await planner.plan(
        "the task", done=[{"id": "s1", "description": "draft", "output": "x"}], feedback="too short"
    )
    assert [t.id for t in again.subtasks] == ["s2"]
    assert (
        "Done already:\n- draft" in model.calls[1].prompt and "too short" in model.calls[1].prompt
    )


@pytest.mark.model
async def test_the_embedded_model_plans_a_short_list_in_seconds():
    from dramaturg.models import load_model

    planner = Planner(model=load_model("local"))
    started = time.perf_counter()
    plan = await planner.plan(
        "Find the population of Norway and Sweden and say which is larger.",
        capabilities=["general", "research"],
    )
    took = time.perf_counter() - started
    steps = [t.description for t in plan.subtasks]
    assert 1 <= len(steps) <= MAX_STEPS and len(set(steps)) == len(steps)
    assert any("norway" in s.lower() or "sweden" in s.lower() for s in steps), steps
    assert took < 30, f"{took:.1f} s"
