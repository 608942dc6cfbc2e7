"""Copies of prompt text in model output: 8-grams shared with any prompt file.

A small base model that cannot do a task copies its few-shot examples
instead, word for word. This finds that: every run of ``n`` words (lower
case, punctuation dropped) in the text that also occurs in one of the
package's prompt templates (``dramaturg/prompts/**/*.j2``) or in extra
texts the caller names (a prompt built in code, a bundled play's examples).

Example:
    >>> copied("On a stormy night, a lighthouse keeper hides a wounded smuggler from an officer")
    ['on a stormy night a lighthouse keeper hides', ...]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

__all__ = ["N", "copied", "prompt_ngrams", "words"]

N = 8  # words; shorter runs are common phrases ("at the end of the"), longer ones rarer than copies
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """The text's words, lower case, without punctuation (Jinja markup is dropped first)."""
    text = re.sub(r"\{[{%#].*?[}%#]\}", " ", text, flags=re.S)
    return _WORD.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


@functools.cache
def prompt_ngrams(n: int = N) -> frozenset[tuple[str, ...]]:
    """Every ``n``-gram of every packaged prompt template."""
    out: set[tuple[str, ...]] = set()
    root = resources.files("dramaturg.prompts")
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.iterdir():
            if child.is_dir():
                stack.append(child)
            elif child.name.endswith(".j2"):
                out.update(_ngrams(words(child.read_text(encoding="utf-8")), n))
    return frozenset(out)


def copied(text: str, *, extra: Iterable[str] = (), n: int = N) -> list[str]:
    """The ``n``-grams of ``text`` found in a prompt template or in ``extra`` texts, in order, once each."""
    known: frozenset[tuple[str, ...]] | set[tuple[str, ...]] = prompt_ngrams(n)
    extra = list(extra)
    if extra:  # a copy only when there is something to add: this runs for every sampled line
        known = set(known).union(*(_ngrams(words(e), n) for e in extra))
    seen: dict[str, None] = {}
    for gram in _ngrams(words(text), n):
        if gram in known:
            seen.setdefault(" ".join(gram))
    return list(seen)
