"""A panel of judges: every judge on every item, with means and pairwise agreement.

:func:`judge_many` runs each :class:`~dramaturg.evals.judge.Judge` on each
:class:`JudgeItem` and returns a :class:`JudgeReport`: the verdicts, each
judge's mean score and missing count per criterion, and for every pair of
judges their :func:`agreement` (exact, within-one, quadratic-weighted kappa,
Spearman's rho) per shared criterion and overall.

Example:
    >>> report = await judge_many([Judge(small, name="small"), Judge(big, name="big")], items)  # doctest: +SKIP
    >>> report.pair("small", "big").overall.kappa                                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from dramaturg.errors import ConfigError
from dramaturg.evals._agreement import Agreement, agreement
from dramaturg.evals.judge import Judge, JudgeContext, TurnLike, Verdict

__all__ = ["Agreement", "JudgeItem", "JudgeReport", "PairAgreement", "agreement", "judge_many"]


@dataclass(kw_only=True)
class JudgeItem:
    """One thing to judge in :func:`judge_many`."""

    id: str
    transcript: Sequence[TurnLike]
    context: JudgeContext | Mapping[str, Any] | None = None


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
