"""LLM-as-judge: score transcripts against a rubric, and measure how far judges agree.

A :class:`Rubric` lists criteria, each a question answered on a 1-5 scale.
A :class:`Judge` asks a model those questions about one transcript and
returns a :class:`Verdict`; a model failure marks a criterion missing
(``None``, with the error) instead of raising, so one bad answer never kills
an evaluation. :func:`agreement` compares two judges' scores on the same
items (exact, within-one, quadratic-weighted kappa, Spearman's rho), and
:func:`judge_many` runs every judge on every item and reports both.

Example:
    >>> judge = Judge(load_model("local"))                                      # doctest: +SKIP
    >>> verdict = await judge.judge([("Hamlet", "Who's there?"), ("Horatio", "Friends.")],
    ...                             context={"scene": "Elsinore, night"})      # doctest: +SKIP
    >>> verdict.scores                                                          # doctest: +SKIP
    {'in_character': 4, 'coherence': 5, 'progress': 3, 'secrecy': None}
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dramaturg._files import InputFileError, parse_yaml, read_text
from dramaturg.errors import ConfigError, ScriptError, validation_issues
from dramaturg.evals._agreement import Agreement, agreement
from dramaturg.models import ChatModel, Message, system, user
from dramaturg.prompts import render

__all__ = [
    "DEFAULT_DRAMA_RUBRIC",
    "Agreement",
    "Criterion",
    "CriterionAnswer",
    "CriterionScore",
    "Judge",
    "JudgeContext",
    "JudgeItem",
    "JudgeReport",
    "PairAgreement",
    "Rubric",
    "RubricError",
    "Turn",
    "Verdict",
    "agreement",
    "judge_many",
    "turns_of",
]

Score = Literal[1, 2, 3, 4, 5]


class RubricError(ConfigError):
    """A rubric file or definition is malformed; the message names the field."""


# ---------------------------------------------------------------------- rubric
class Criterion(BaseModel):
    """One question a judge answers on a 1-5 scale (5 is best).

    Attributes:
        id: a short name (``in_character``) used as the key of the score.
        question: what the judge is asked, phrased so that "yes" is good.
        scale: what 1 and 5 mean, e.g. ``"1 = ...; 5 = ..."``.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    question: str = Field(min_length=1, max_length=300)
    scale: str = Field(min_length=1, max_length=300)


class Rubric(BaseModel):
    """A named list of criteria, loadable from and savable to YAML.

    Example:
        >>> rubric = Rubric(name="tiny", criteria=[Criterion(
        ...     id="clarity", question="Is every line clear?", scale="1 = muddled; 5 = clear.")])
        >>> Rubric.from_yaml_text(rubric.to_yaml()) == rubric
        True
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="rubric", min_length=1)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} appears twice; ids must be unique")
            seen.add(c.id)
        return self

    @property
    def ids(self) -> list[str]:
        """The criterion ids, in order."""
        return [c.id for c in self.criteria]

    def to_yaml(self) -> str:
        """The rubric as block-style YAML."""
        return yaml.safe_dump(
            self.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
        )

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` and return the path."""
        path = Path(path)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    @classmethod
    def from_yaml_text(cls, text: str, *, source: str = "rubric") -> Rubric:
        """Parse a rubric from YAML text.

        Raises:
            RubricError: invalid YAML, or one line per bad field (``criteria.1.scale: ...``).
        """
        try:
            data = parse_yaml(text, label=source)  # nesting checked before the C loader sees it
        except InputFileError as exc:
            raise RubricError(str(exc)) from None
        except yaml.YAMLError as exc:
            raise RubricError(f"{source} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise RubricError(f"{source}: the top level must be a mapping with a 'criteria' list")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RubricError(
                f"bad {source}:\n" + "\n".join(f"  {i}" for i in validation_issues(exc))
            ) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> Rubric:
        """Read a rubric file (see :meth:`from_yaml_text` for the errors)."""
        path = Path(path)
        try:
            text = read_text(path, label=f"rubric file {path}")
        except InputFileError as exc:  # missing, over 4 MiB, not UTF-8
            raise RubricError(str(exc)) from None
        return cls.from_yaml_text(text, source=f"rubric file {path}")


DEFAULT_DRAMA_RUBRIC = Rubric(
    name="drama",
    criteria=[
        Criterion(
            id="in_character",
            question="Does each line fit the character who says it?",
            scale="1 = the lines could be anyone's or contradict the character; 5 = every line fits.",
        ),
        Criterion(
            id="coherence",
            question="Does each line follow from what came before?",
            scale="1 = the lines ignore each other; 5 = every line answers what came before.",
        ),
        Criterion(
            id="progress",
            question="Does the scene move toward its goal?",
            scale="1 = nothing happens; 5 = the goal is reached.",
        ),
        Criterion(
            id="secrecy",
            question="Do the characters keep their secrets?",
            scale="1 = a secret is told or someone knows what they could not; 5 = every secret is kept.",
        ),
    ],
)


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


@dataclass(kw_only=True)
class JudgeItem:
    """One thing to judge in :func:`judge_many`."""

    id: str
    transcript: Sequence[TurnLike]
    context: JudgeContext | Mapping[str, Any] | None = None


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


# ------------------------------------------------------------------ judge_many
class PairAgreement(BaseModel):
    """Agreement of judges ``a`` and ``b``: per shared criterion, and over all (item, criterion) pairs."""

    a: str
    b: str
    criteria: dict[str, Agreement]
    overall: Agreement


class JudgeReport(BaseModel):
    """Every judge's verdict on every item, with means and pairwise agreement.

    Attributes:
        judges: the judges' names, in the order given.
        items: the items' ids, in the order given.
        verdicts: judge name -> one verdict per item, in item order.
        means: judge name -> criterion id -> mean score over the items it scored (``None`` if none).
        missing: judge name -> criterion id -> how many items lack a score.
        agreement: one entry per pair of judges.
    """

    judges: list[str]
    items: list[str]
    verdicts: dict[str, list[Verdict]]
    means: dict[str, dict[str, float | None]]
    missing: dict[str, dict[str, int]]
    agreement: list[PairAgreement]

    def pair(self, a: str, b: str) -> PairAgreement:
        """The agreement between judges ``a`` and ``b`` (in either order)."""
        for p in self.agreement:
            if {p.a, p.b} == {a, b}:
                return p
        raise ConfigError(f"no pair ({a!r}, {b!r}) in this report; judges: {self.judges}")


async def judge_many(
    judges: Sequence[Judge], items: Iterable[JudgeItem | tuple[Any, Any]], *, concurrency: int = 4
) -> JudgeReport:
    """Run every judge on every item and compare them.

    Args:
        judges: judges with distinct names.
        items: :class:`JudgeItem` records, or ``(transcript, context)`` pairs (ids ``"0"``, ``"1"``, ...).
        concurrency: at most this many verdicts are worked on at once.

    Example:
        >>> report = await judge_many([Judge(small, name="small"), Judge(big, name="big")], items)  # doctest: +SKIP
        >>> report.pair("small", "big").overall.kappa                                            # doctest: +SKIP
    """
    names = [j.name for j in judges]
    if len(set(names)) != len(names):
        raise ConfigError(f"judges need distinct names to be told apart in the report; got {names}")
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
    todo = [
        it if isinstance(it, JudgeItem) else JudgeItem(id=str(i), transcript=it[0], context=it[1])
        for i, it in enumerate(items)
    ]
    gate = asyncio.Semaphore(concurrency)

    async def one(judge: Judge, item: JudgeItem) -> Verdict:
        async with gate:
            return await judge.judge(item.transcript, context=item.context)

    flat = await asyncio.gather(*(one(j, it) for j in judges for it in todo))
    verdicts = {
        name: list(flat[k * len(todo) : (k + 1) * len(todo)]) for k, name in enumerate(names)
    }
    means: dict[str, dict[str, float | None]] = {}
    missing: dict[str, dict[str, int]] = {}
    for j in judges:
        means[j.name], missing[j.name] = {}, {}
        for cid in j.rubric.ids:
            got = [s for v in verdicts[j.name] if (s := v.score(cid)) is not None]
            means[j.name][cid] = sum(got) / len(got) if got else None
            missing[j.name][cid] = len(todo) - len(got)
    pairs = []
    for x in range(len(judges)):
        for y in range(x + 1, len(judges)):
            ja, jb = judges[x], judges[y]
            shared = [c for c in ja.rubric.ids if c in set(jb.rubric.ids)]
            per = {
                c: agreement(
                    [v.score(c) for v in verdicts[ja.name]], [v.score(c) for v in verdicts[jb.name]]
                )
                for c in shared
            }
            overall = agreement(
                [v.score(c) for v in verdicts[ja.name] for c in shared],
                [v.score(c) for v in verdicts[jb.name] for c in shared],
            )
            pairs.append(PairAgreement(a=ja.name, b=jb.name, criteria=per, overall=overall))
    return JudgeReport(
        judges=names,
        items=[it.id for it in todo],
        verdicts=verdicts,
        means=means,
        missing=missing,
        agreement=pairs,
    )
