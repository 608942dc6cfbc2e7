"""The LLM judge: one model scores one transcript on every criterion of a rubric.

A :class:`Judge` asks a model each question of a :class:`~dramaturg.evals.rubric.Rubric`
about one transcript and returns a :class:`Verdict`; a model failure marks a
criterion missing (``None``, with the error) instead of raising, so one bad
answer never kills an evaluation. Transcripts come in several shapes
(:func:`turns_of`); :class:`JudgeContext` is what the judge knows besides them.
To run several judges over many items and compare them, see
:func:`dramaturg.evals.panel.judge_many`.

Example:
    >>> judge = Judge(load_model("local"))                                      # doctest: +SKIP
    >>> verdict = await judge.judge([("Hamlet", "Who's there?"), ("Horatio", "Friends.")],
    ...                             context={"scene": "Elsinore, night"})      # doctest: +SKIP
    >>> verdict.scores                                                          # doctest: +SKIP
    {'in_character': 4, 'coherence': 5, 'progress': 3, 'secrecy': None}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dramaturg.errors import ConfigError, ScriptError, validation_issues
from dramaturg.evals.rubric import DEFAULT_DRAMA_RUBRIC, Criterion, Rubric, Score
from dramaturg.models import ChatModel, Message, system, user
from dramaturg.prompts import render

__all__ = [
    "CriterionAnswer",
    "CriterionScore",
    "Judge",
    "JudgeContext",
    "Turn",
    "TurnLike",
    "Verdict",
    "turns_of",
]


# ---------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class Turn:
    """One line of a transcript: who, and what they said or did."""

    speaker: str
    text: str


TurnLike = Turn | tuple[str, str] | Mapping[str, Any]


def turns_of(transcript: Iterable[TurnLike]) -> list[Turn]:
    """Normalise a transcript to :class:`Turn` records.

    Accepts ``Turn``, ``(speaker, text)`` pairs, ``{"speaker", "text"}``
    dicts, and the drama graph's transcript entries (``kind == "turn"``:
    the line said, the player's input, or else the public description);
    other drama entries (scene openings and ends) and empty turns are skipped.

    Raises:
        ConfigError: an item of none of these shapes.
    """
    out: list[Turn] = []
    for i, t in enumerate(transcript):
        if isinstance(t, Turn):
            out.append(t)
        elif isinstance(t, tuple) and len(t) == 2:
            out.append(Turn(str(t[0]), str(t[1])))
        elif isinstance(t, Mapping) and "text" in t:
            out.append(Turn(str(t.get("speaker") or "someone"), str(t["text"])))
        elif isinstance(t, Mapping) and "kind" in t:
            if t["kind"] != "turn":
                continue
            text = t.get("line") or t.get("input") or t.get("public") or ""
            if text.strip():
                out.append(Turn(str(t.get("actor") or "someone"), text))
        else:
            raise ConfigError(
                f"transcript item {i} is {t!r}; give a Turn, a (speaker, text) pair, "
                "a {'speaker', 'text'} dict or a drama transcript entry"
            )
    return out


class JudgeContext(BaseModel):
    """What the judge knows besides the transcript.

    Attributes:
        scene: where and when (``"Elsinore, the battlements at night"``).
        goal: the beat or goal the scene should reach.
        personas: character name -> a one-line persona.
        secrets: character name -> the secrets that character keeps.
    """

    model_config = ConfigDict(extra="forbid")

    scene: str = ""
    goal: str = ""
    personas: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def from_blueprint(cls, blueprint: Any, scene: int | str = 0) -> JudgeContext:
        """The context of one scene of a drama ``Blueprint`` (by index or id).

        Personas and secrets are keyed by character id, as drama transcripts name speakers.
        """
        sc = blueprint.scene(scene) if isinstance(scene, str) else blueprint.scenes[scene]
        cast = {cid: blueprint.cast[cid] for cid in sc.cast if cid in blueprint.cast}
        return cls(
            scene=f"{sc.title} ({sc.place})",
            goal=" Then: ".join(b.text for b in sc.beats),
            personas={cid: f"{m.name}, {m.background}".strip(", ") for cid, m in cast.items()},
            secrets={cid: [s.text for s in m.secrets] for cid, m in cast.items() if m.secrets},
        )


# --------------------------------------------------------------------- outputs
class CriterionAnswer(BaseModel):
    """What the model writes for one criterion: the reason first, so the score can follow from it."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=300)
    score: Score


class CriterionScore(BaseModel):
    """One criterion's result: a score, or ``None`` with the error that prevented it."""

    criterion: str
    score: int | None = Field(default=None, ge=1, le=5)
    reason: str = ""
    error: str | None = None


class Verdict(BaseModel):
    """A judge's scores for one transcript.

    Attributes:
        judge: the judge's name.
        results: one entry per criterion, in rubric order.
        turns_shown: transcript turns the judge saw.
        turns_cut: earlier turns left out to keep the prompt short.
    """

    judge: str
    results: list[CriterionScore]
    turns_shown: int
    turns_cut: int = 0

    @property
    def scores(self) -> dict[str, int | None]:
        """Criterion id -> score (``None`` where missing)."""
        return {r.criterion: r.score for r in self.results}

    @property
    def errors(self) -> dict[str, str]:
        """Criterion id -> error, for the missing ones."""
        return {r.criterion: r.error for r in self.results if r.error is not None}

    @property
    def missing(self) -> list[str]:
        """Ids of the criteria without a score."""
        return [r.criterion for r in self.results if r.score is None]

    def score(self, criterion: str) -> int | None:
        """The score of ``criterion``, or ``None`` (missing, or not in this judge's rubric)."""
        return self.scores.get(criterion)


# ----------------------------------------------------------------------- judge
class Judge:
    """Scores a transcript on every criterion of a rubric.

    One structured call per criterion, not one call for all, for three
    reasons. A failure costs one criterion, not the whole verdict. A small
    model keeps to one question: on the embedded 270M base model, asked for
    all four drama scores in one object, it copied the few-shot example's
    reasons and scores for half the criteria word for word; asked one
    question at a time, it wrote about the scene it was shown (both forms
    gave valid JSON every time). And the extra calls are cheap: the stable
    instructions and example come first, the transcript next and the
    question last, so llama.cpp (and providers' prompt caches) reuse the
    prefix; four calls took about 1.5 times as long as one. Do not expect
    judgement from a 270M model (its scores did not separate a sound scene
    from nonsense): use it to smoke-test a pipeline, a larger model to
    judge.

    Args:
        model: any :class:`~dramaturg.models.ChatModel`; wrap it with
            retries (``load_model`` does) to let it correct invalid JSON.
        rubric: the criteria (default :data:`DEFAULT_DRAMA_RUBRIC`).
        name: the judge's name, in verdicts and as the calls' ``caller``.
        max_turns: only the last ``max_turns`` turns are shown; the prompt says how many were cut.
        max_chars: each line and persona is cut to this many characters.
        temperature: sampling temperature (0: the same transcript gets the same verdict).

    Example:
        >>> from dramaturg.models import ScriptedModel, run_sync
        >>> judge = Judge(ScriptedModel([{"reason": "Fits.", "score": 4}] * 4))
        >>> run_sync(judge.judge([("Hamlet", "To be, or not to be.")])).scores
        {'in_character': 4, 'coherence': 4, 'progress': 4, 'secrecy': 4}
    """

    def __init__(
        self,
        model: ChatModel,
        rubric: Rubric = DEFAULT_DRAMA_RUBRIC,
        name: str = "judge",
        *,
        max_turns: int = 12,
        max_chars: int = 240,
        temperature: float = 0.0,
    ) -> None:
        if max_turns < 1:
            raise ConfigError(f"max_turns must be at least 1, not {max_turns}")
        self.model = model
        self.rubric = rubric
        self.name = name
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.temperature = temperature

    def __repr__(self) -> str:
        return f"<Judge {self.name} rubric={self.rubric.name} model={self.model.name}>"

    async def judge(
        self,
        transcript: Sequence[TurnLike],
        *,
        context: JudgeContext | Mapping[str, Any] | None = None,
    ) -> Verdict:
        """Score ``transcript`` on every criterion; never raises for a model failure.

        Raises:
            ConfigError: a malformed transcript or context (a developer error).
        """
        ctx = _context(context)
        turns = turns_of(transcript)
        cut = max(0, len(turns) - self.max_turns)
        shown = [Turn(t.speaker, _clip(t.text, self.max_chars)) for t in turns[cut:]]
        personas = []
        for who in dict.fromkeys([*ctx.personas, *ctx.secrets]):
            parts = [_clip(ctx.personas.get(who, ""), self.max_chars)]
            parts += [f"Secret: {_clip(s, self.max_chars)}" for s in ctx.secrets.get(who, ())]
            text = " ".join(_sentence(p) for p in parts if p)
            personas.append(f"{who}: {text}" if text else who)
        intro = render("judge", "criterion.j2")
        results = []
        for criterion in self.rubric.criteria:
            scene = render(
                "judge",
                "scene.j2",
                context=ctx,
                personas=personas,
                turns=shown,
                cut=cut,
                criterion=criterion,
            )
            # The scene is a user message: the schema instruction then joins the stable
            # system prefix, and the prompt ends "Scale: ...\nAnswer:" as the examples do.
            results.append(await self._ask(criterion, [system(intro), user(scene)]))
        return Verdict(judge=self.name, results=results, turns_shown=len(shown), turns_cut=cut)

    async def _ask(self, criterion: Criterion, messages: list[Message]) -> CriterionScore:
        try:
            answer = await self.model.structured(
                messages,
                CriterionAnswer,
                caller=f"{self.name}:{criterion.id}",
                temperature=self.temperature,
                responder="Answer",
            )
        except (ConfigError, ScriptError):
            raise  # the developer's mistake (a bad option, a test script out of step): fix it, don't score it
        except (
            Exception
        ) as exc:  # any model failure: this criterion is missing, the evaluation goes on
            return CriterionScore(
                criterion=criterion.id, error=f"{type(exc).__name__}: {_clip(str(exc), 500)}"
            )
        return CriterionScore(
            criterion=criterion.id, score=answer.score, reason=answer.reason.strip()
        )


def _context(context: JudgeContext | Mapping[str, Any] | None) -> JudgeContext:
    if context is None:
        return JudgeContext()
    if isinstance(context, JudgeContext):
        return context
    try:
        return JudgeContext.model_validate(dict(context))
    except (ValidationError, TypeError, ValueError) as exc:
        detail = (
            "\n".join(f"  {i}" for i in validation_issues(exc))
            if isinstance(exc, ValidationError)
            else f"  {exc}"
        )
        raise ConfigError(
            f"bad judge context:\n{detail}\nExpected keys: scene, goal, personas, secrets"
        ) from exc


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", '"', "'")) else text + "."


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
