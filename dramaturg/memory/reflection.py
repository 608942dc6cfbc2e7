"""Reflection: the model turns an agent's memories into a few insights that cite evidence.

As in Generative Agents: when the summed importance of an agent's new
memories passes a threshold, the model is shown the agent's recent memories
and asked for focal questions; for each question the agent's memories are
retrieved and the model writes insights, each citing the numbers of the
memories it rests on. Insights are recorded as ``kind="reflection"`` events
witnessed by the agent alone, with the ids of their evidence in
``data["evidence"]``, so later retrieval finds them like any memory.

The model only ever sees memories the agent could retrieve, and evidence
numbers that point outside what it was shown are dropped (an insight left
with no evidence is dropped too): a model error never plants a false
citation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from dramaturg.memory.records import Event
from dramaturg.models.base import ChatModel, user
from dramaturg.prompts import render

if TYPE_CHECKING:
    from dramaturg.memory.memory import Memory

__all__ = ["FocalQuestions", "Insight", "Insights", "Reflector"]


class FocalQuestions(BaseModel):
    """The model's questions worth reflecting on."""

    model_config = ConfigDict(extra="forbid")
    questions: list[str] = Field(min_length=1)


class Insight(BaseModel):
    """One insight and the numbers of the memories it rests on."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    evidence: list[int]


class Insights(BaseModel):
    model_config = ConfigDict(extra="forbid")
    insights: list[Insight]


class Reflector:
    """Writes reflections for an agent with a chat model.

    Args:
        model: the :class:`~dramaturg.models.ChatModel` that reflects.
        threshold: summed importance of new memories that triggers
            :meth:`maybe_reflect` (150 in Generative Agents).
        n_questions: focal questions per reflection.
        n_insights: insights asked for per question.
        recent: how many recent memories the questions are drawn from.
        evidence_k: memories retrieved per question.

    Example:
        >>> from dramaturg.models import ScriptedModel
        >>> model = ScriptedModel([{"questions": ["Whom does Hamlet trust?"]},
        ...     {"insights": [{"text": "Hamlet trusts Horatio.", "evidence": [1]}]}])
        >>> insights = await Reflector(model, n_questions=1).reflect(memory, "hamlet")  # doctest: +SKIP
    """

    def __init__(
        self,
        model: ChatModel,
        *,
        threshold: float = 150.0,
        n_questions: int = 3,
        n_insights: int = 5,
        recent: int = 100,
        evidence_k: int = 10,
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.n_questions = n_questions
        self.n_insights = n_insights
        self.recent = recent
        self.evidence_k = evidence_k

    async def maybe_reflect(self, memory: Memory, agent: str) -> list[Event]:
        """Reflect when ``agent``'s importance since the last reflection reached the threshold.

        The counter is taken and reset atomically, so concurrent callers
        (other tasks or processes) reflect once per crossing, not once each.
        """
        if memory.episodic.take_counter(f"importance:{agent}", at_least=self.threshold) is None:
            return []
        return await self.reflect(memory, agent)

    async def reflect(self, memory: Memory, agent: str) -> list[Event]:
        """Reflect now; returns the recorded insight events (possibly none)."""
        caller = f"{agent}.reflect"
        recent = memory.episodic.witnessed_by(agent, limit=self.recent, newest_first=True)[::-1]
        if not recent:
            return []
        prompt = render("memory", "reflection_questions.j2", agent=agent, n_questions=self.n_questions,
                        memories=[e.text for e in recent])  # fmt: skip
        focal = await self.model.structured([user(prompt)], FocalQuestions, caller=caller)
        out: list[Event] = []
        for question in focal.questions[: self.n_questions]:
            shown = await memory.aretrieve(agent, question, k=self.evidence_k)
            if not shown:
                continue
            prompt = render("memory", "reflection_insights.j2", agent=agent, n_insights=self.n_insights,
                            question=question, memories=[r.text for r in shown])  # fmt: skip
            answer = await self.model.structured([user(prompt)], Insights, caller=caller)
            records: list[dict[str, Any]] = []
            for ins in answer.insights[: self.n_insights]:
                evidence = sorted({shown[i - 1].id for i in ins.evidence if 1 <= i <= len(shown)})
                if not evidence:
                    continue
                records.append({
                    "text": ins.text, "kind": "reflection", "actor": agent, "witnesses": {agent},
                    "data": {"evidence": evidence, "question": question},
                })  # fmt: skip
            if records:
                out.extend(await memory.arecord_many(records))
        return out
