"""Agreement between two raters' 1-5 scores: exact, within-one, quadratic-weighted kappa, Spearman's rho.

Used by :func:`dramaturg.evals.panel.judge_many`; :class:`Agreement` and
:func:`agreement` are public through :mod:`dramaturg.evals.panel`.

Example:
    >>> a = agreement([1, 2, 3, 4, 5], [1, 2, 3, 4, 4])
    >>> a.n, a.exact, a.within_one
    (5, 0.8, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from dramaturg.errors import ConfigError


class Agreement(BaseModel):
    """How far two raters agree on the items both scored.

    Attributes:
        n: pairs where both scored (a ``None`` on either side drops the pair).
        exact: share of pairs with the same score (``nan`` when ``n == 0``).
        within_one: share of pairs at most one point apart (``nan`` when ``n == 0``).
        kappa: Cohen's quadratic-weighted kappa on the 1-5 scale.
        spearman: Spearman's rank correlation, ties ranked by their average.
        note: why a figure is ``nan`` or a degenerate case, if one is.
    """

    # NaN is written as the string "NaN" in JSON (which has no NaN), so a saved report reads back.
    model_config = ConfigDict(ser_json_inf_nan="strings")

    n: int
    exact: float
    within_one: float
    kappa: float
    spearman: float
    note: str | None = None


def agreement(
    a: Sequence[int | None], b: Sequence[int | None], *, low: int = 1, high: int = 5
) -> Agreement:
    """Agreement between two raters' scores on the same items, in the same order.

    Quadratic-weighted kappa is ``1 - sum(w * observed) / sum(w * expected)``
    with ``w = (i - j)**2``: ``observed`` counts the pairs, ``expected`` is
    the product of the two raters' marginals (what chance would give).
    Degenerate cases: when the expected disagreement is 0 both raters gave
    one and the same score to every item, and kappa is 1.0 (they agree);
    should it be 0 otherwise, kappa is ``nan`` with a note. A rater who
    gives one score throughout against one who varies gets 0.0 (no better
    than chance). Spearman's rho is ``nan`` for fewer than two pairs or when
    either rater's scores are all equal.

    Raises:
        ConfigError: sequences of different lengths, or a score off the scale.
    """
    if len(a) != len(b):
        raise ConfigError(
            f"agreement needs scores for the same items: got {len(a)} and {len(b)} scores"
        )
    for who, seq in (("a", a), ("b", b)):
        for i, x in enumerate(seq):
            if x is not None and (
                isinstance(x, bool) or not isinstance(x, int) or not low <= x <= high
            ):
                raise ConfigError(
                    f"{who}[{i}] = {x!r} is not an integer score from {low} to {high} (or None)"
                )
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    n = len(pairs)
    if n == 0:
        nan = math.nan
        return Agreement(
            n=0, exact=nan, within_one=nan, kappa=nan, spearman=nan, note="no item scored by both"
        )
    notes: list[str] = []
    exact = sum(x == y for x, y in pairs) / n
    within = sum(abs(x - y) <= 1 for x, y in pairs) / n
    kappa = _quadratic_kappa(pairs, notes)
    rho = _spearman([x for x, _ in pairs], [y for _, y in pairs])
    if math.isnan(rho):
        notes.append(
            "spearman undefined: fewer than two pairs or a rater with one score throughout"
        )
    return Agreement(
        n=n,
        exact=exact,
        within_one=within,
        kappa=kappa,
        spearman=rho,
        note="; ".join(notes) or None,
    )


def _quadratic_kappa(pairs: Sequence[tuple[int, int]], notes: list[str]) -> float:
    n = len(pairs)
    # Integer sums; the weights' usual 1/(k-1)**2 normalisation cancels in the ratio.
    observed = sum((x - y) ** 2 for x, y in pairs)  # n * mean observed disagreement
    count_a: dict[int, int] = {}
    count_b: dict[int, int] = {}
    for x, y in pairs:
        count_a[x] = count_a.get(x, 0) + 1
        count_b[y] = count_b.get(y, 0) + 1
    expected = sum(
        ca * cb * (i - j) ** 2 for i, ca in count_a.items() for j, cb in count_b.items()
    )  # n**2 * ...
    if expected == 0:
        if observed == 0:
            notes.append("both raters gave one and the same score throughout: kappa taken as 1.0")
            return 1.0
        notes.append(
            "kappa undefined: no disagreement expected by chance"
        )  # unreachable on a 1-D scale
        return math.nan
    return 1.0 - n * observed / expected


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their average rank
        i = j + 1
    return ranks


def _spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    if len(xs) < 2:
        return math.nan
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((p - mx) * (q - my) for p, q in zip(rx, ry, strict=True))
    vx = sum((p - mx) ** 2 for p in rx)
    vy = sum((q - my) ** 2 for q in ry)
    if vx == 0 or vy == 0:
        return math.nan
    return cov / math.sqrt(vx * vy)
