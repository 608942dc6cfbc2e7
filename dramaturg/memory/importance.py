"""How much a memory matters, on the Generative Agents scale of 1 to 10.

Two scorers with one shape: :class:`ModelImportance` asks a chat model for a
structured 1-10 rating (one call per memory, as Generative Agents does);
:class:`HeuristicImportance` scores from the words and the kind of event at
no cost, for tests, for cheap runs, and as the default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from dramaturg.models.base import ChatModel, run_sync, user
from dramaturg.prompts import render

__all__ = ["HeuristicImportance", "ImportanceRating", "ImportanceScorer", "ModelImportance"]


@runtime_checkable
class ImportanceScorer(Protocol):
    """Scores texts 1-10. ``kind`` is the event kind when known."""

    async def score(
        self, texts: Sequence[str], *, agent: str = "", kinds: Sequence[str] | None = None
    ) -> list[float]: ...

    def score_sync(
        self, texts: Sequence[str], *, agent: str = "", kinds: Sequence[str] | None = None
    ) -> list[float]: ...


class ImportanceRating(BaseModel):
    """The model's answer: one integer from 1 to 10."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=10)


# Words that mark the poignant events Generative Agents' prompt rates high.
_STRONG = {
    "death", "dead", "dies", "died", "die", "kill", "killed", "kills", "murder", "murdered", "poison",
    "poisoned", "secret", "betray", "betrayed", "betrayal", "love", "loves", "marry", "married", "war",
    "king", "queen", "crown", "ghost", "revenge", "confess", "confesses", "confession", "sword", "blood",
    "fire", "stolen", "steal", "stole", "treasure", "escape", "attack", "danger", "threat", "promise",
    "hidden", "hide", "lies", "lied", "truth", "plan", "plot", "fail", "failed", "won", "lost", "wound",
}  # fmt: skip
_KIND_BASE = {
    "reflection": 6.0,
    "plan": 4.0,
    "say": 2.0,
    "observation": 2.0,
    "move": 1.0,
    "look": 1.0,
}
_WORD = re.compile(r"[a-z']+")


class HeuristicImportance:
    """Importance from words, event kind and length; deterministic and free.

    A base by kind (moves and looks are mundane, reflections are not), plus
    1.5 for each strong word (death, secret, love, betray, ...), plus a
    little for length, clipped to 1-10.

    Example:
        >>> h = HeuristicImportance()
        >>> h.score_sync(["Hamlet walks to the hall."], kinds=["move"])
        [1.12]
        >>> h.score_sync(["The king was poisoned; it is a secret."])[0] > 5
        True
    """

    def __init__(self, *, strong_words: set[str] | None = None, weight: float = 1.5) -> None:
        self.strong_words = strong_words if strong_words is not None else _STRONG
        self.weight = weight

    def rate(self, text: str, kind: str | None = None) -> float:
        words = _WORD.findall(text.lower())
        base = _KIND_BASE.get(kind or "", 2.0)
        strong = sum(1 for w in words if w in self.strong_words)
        length = min(len(words) / 40.0, 1.0)
        return float(min(10.0, max(1.0, round(base + self.weight * strong + length, 2))))

    async def score(
        self, texts: Sequence[str], *, agent: str = "", kinds: Sequence[str] | None = None
    ) -> list[float]:
        return self.score_sync(texts, agent=agent, kinds=kinds)

    def score_sync(
        self, texts: Sequence[str], *, agent: str = "", kinds: Sequence[str] | None = None
    ) -> list[float]:
        ks = list(kinds) if kinds is not None else [None] * len(texts)
        return [self.rate(t, k) for t, k in zip(texts, ks, strict=True)]


class ModelImportance:
    """Importance rated by a chat model, one structured call per text.

    Args:
        model: any :class:`~dramaturg.models.ChatModel`.
        caller: the agent name the calls are billed to.

    Example:
        >>> from dramaturg.models import ScriptedModel
        >>> scorer = ModelImportance(ScriptedModel([{"score": 9}]))
        >>> scorer.score_sync(["Ophelia is dead."], agent="laertes")
        [9.0]
    """

    def __init__(self, model: ChatModel, *, caller: str = "memory.importance") -> None:
        self.model = model
        self.caller = caller

    async def score(
        self, texts: Sequence[str], *, agent: str = "", kinds: Sequence[str] | None = None
    ) -> list[float]:
        out = []
        for text in texts:
            prompt = render("memory", "importance.j2", agent=agent or "the agent", text=text)
            rating = await self.model.structured(
                [user(prompt)], ImportanceRating, caller=self.caller
            )
            out.append(float(rating.score))
        return out

    def score_sync(
        self, texts: Sequence[str], *, agent: str = "", kinds: Sequence[str] | None = None
    ) -> list[float]:
        return run_sync(self.score(texts, agent=agent, kinds=kinds))
