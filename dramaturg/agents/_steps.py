"""Planning on a base model: the plan as a numbered list the model continues, the rest in code.

A 270M base model continues text; asked for a JSON plan it loops ("s1 ... s9", the
same step again and again) or writes a capability where an id belongs. A numbered
list after two worked examples is text it continues well. Code then does what the
model cannot: it numbers the steps, drops a step that repeats an earlier one (four
fifths or more of the longer one's content words), keeps at most :data:`MAX_STEPS`, chains each step
after the one before (a list is an order), and picks each step's capability by the
words it shares with the capability names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dramaturg.models._text import clean_text

__all__ = ["MAX_STEPS", "parse_steps", "plan_steps"]

#: A base model's list runs on; a plan longer than this is a loop, not a plan.
MAX_STEPS = 6

#: Terminal escapes and control or format characters: model text never carries them on.
_CONTROL = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*])\s*(.+?)\s*$")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an of to in on is it be by or as at the and for with that this then from into"
    " over each what which their there them they are was were has have had its our"
    " your you".split()
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def parse_steps(text: str, *, limit: int = MAX_STEPS) -> list[str]:
    """The steps of a continued list (the text after ``"1."``): one per numbered line,
    up to the first line that is not a step; repeats of an earlier step dropped.

    Example:
        >>> parse_steps(" Count the rows.\\n2. Count the rows again.\\n3. Compare them.\\n\\nTask: x")
        ['Count the rows.', 'Compare them.']
    """
    lines = _CONTROL.sub("", clean_text(text)).split("\n")
    found = [lines[0].strip()]
    for line in lines[1:]:
        match = _NUMBERED.match(line)
        if not match:
            break
        found.append(match.group(1))
    steps: list[str] = []
    seen: list[set[str]] = []
    for step in found:
        words = _words(step)
        if not step or len(step) > 400 or not words:
            continue
        if any(len(words & old) * 5 >= 4 * max(len(words), len(old)) for old in seen):
            continue  # the same step again, in other words
        steps.append(step)
        seen.append(words)
        if len(steps) >= limit:
            break
    return steps


def plan_steps(
    steps: Sequence[str], *, capabilities: Sequence[str], taken: Sequence[str] = ()
) -> dict[str, list[dict[str, object]]]:
    """A plan (the planner schema's fields) from ordered steps: ids ``s1, s2, ...``
    (skipping ``taken`` ids of finished work), each depending on the step before."""
    names = [c for c in capabilities if c] or ["general"]
    fallback = "general" if "general" in names else names[0]
    out: list[dict[str, object]] = []
    n = 0
    for step in steps:
        n += 1
        while f"s{n}" in taken:
            n += 1
        words = _words(step)
        capability = next((c for c in names if _words(c.replace("_", " ")) & words), fallback)
        out.append(
            {
                "id": f"s{n}",
                "description": step,
                "depends_on": [out[-1]["id"]] if out else [],
                "capability": capability,
            }
        )
    return {"subtasks": out}
