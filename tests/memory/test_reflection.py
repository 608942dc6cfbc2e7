"""Reflection: threshold, insights with evidence ids, stored back and retrievable, isolation kept."""

from __future__ import annotations

import pytest

from dramaturg.errors import ModelOutputError
from dramaturg.memory import Memory, Reflector
from dramaturg.models import Reply, ScriptedModel


def _text(msgs) -> str:
    return "\n".join(m["content"] for m in msgs)


@pytest.fixture
def mem(tmp_path, hashing):
    m = Memory(tmp_path / "m", embedder=hashing)
    m.record(
        id="e1",
        text="Horatio swore to keep the ghost a secret.",
        witnesses={"hamlet", "horatio"},
        importance=8,
        step=1,
    )
    m.record(
        id="e2",
        text="Horatio stood by Hamlet at the duel.",
        witnesses={"hamlet", "horatio"},
        importance=7,
        step=2,
    )
    m.record(
        id="e3",
        text="Claudius hides the poisoned cup.",
        witnesses={"claudius"},
        importance=10,
        step=3,
    )
    return m


async def test_reflection_writes_insights_citing_evidence(mem):
    model = ScriptedModel([
        Reply({"questions": ["Can Hamlet trust Horatio?"]}, expect="structured", caller="hamlet.reflect",
              check=lambda msgs: "Horatio swore" in _text(msgs) and "poisoned cup" not in _text(msgs)),
        Reply({"insights": [{"text": "Horatio is loyal to Hamlet.", "evidence": [1, 2]},
                            {"text": "An unsupported claim.", "evidence": [99]}]},
              check=lambda msgs: "Can Hamlet trust Horatio?" in _text(msgs) and "poisoned" not in _text(msgs)),
    ])  # fmt: skip
    with model:
        out = await mem.reflect("hamlet", model, n_questions=1)
    assert [e.text for e in out] == [
        "Horatio is loyal to Hamlet."
    ]  # the one citing nothing real is dropped
    [ins] = out
    assert ins.kind == "reflection" and ins.witnesses == {"hamlet"}
    assert sorted(ins.data["evidence"]) == ["default:e1", "default:e2"]
    assert ins.data["question"] == "Can Hamlet trust Horatio?"
    hits = mem.retrieve("hamlet", "loyal", k=1)
    assert hits[0].text == "Horatio is loyal to Hamlet." and hits[0].event.kind == "reflection"
    assert all(
        r.text != "Horatio is loyal to Hamlet." for r in mem.retrieve("horatio", "loyal", k=10)
    )


async def test_maybe_reflect_fires_once_per_threshold_crossing(mem):
    model = ScriptedModel([
        {"questions": ["q"]},
        {"insights": [{"text": "Hamlet relies on Horatio.", "evidence": [1]}]},
    ])  # fmt: skip
    assert await mem.maybe_reflect("hamlet", model, threshold=16, n_questions=1) == []  # 15 < 16
    assert model.calls == []
    mem.record(text="Hamlet walks.", witnesses={"hamlet"}, importance=1)
    out = await mem.maybe_reflect("hamlet", model, threshold=16, n_questions=1)
    assert len(out) == 1
    model.assert_consumed()
    assert (
        await mem.maybe_reflect("hamlet", model, threshold=16, n_questions=1) == []
    )  # reset; reflections don't count
    assert mem.episodic.counters()["importance:hamlet"] == 0


async def test_bad_model_output_is_a_model_error_and_records_nothing(mem):
    model = ScriptedModel(['{"questions": "not a list"}'])
    with pytest.raises(ModelOutputError):
        await Reflector(model).reflect(mem, "hamlet")
    assert mem.episodic.count() == 3


async def test_agent_with_no_memories_reflects_on_nothing(mem):
    model = ScriptedModel([])
    assert await Reflector(model).reflect(mem, "gertrude") == []
    assert model.calls == []


def test_prompts_render_strictly():
    import jinja2

    from dramaturg.prompts import render

    text = render(
        "memory",
        "reflection_insights.j2",
        agent="hamlet",
        n_insights=2,
        question="Why?",
        memories=["a", "b"],
    )
    assert "1. a" in text and "2. b" in text and "Why?" in text
    with pytest.raises(jinja2.UndefinedError):
        render("memory", "reflection_insights.j2", agent="hamlet")
