"""Which prompt format does the packaged base model complete best?

Gemma 3 270M as packaged is a pretrained base model. This compares the two
renderings the local backend offers on few-shot tasks with exact answers,
greedy decoding, and reports how often a structured call is answered by the
fast unconstrained pass (see ``LocalModel(optimistic_json=...)``).

    python benchmarks/prompt_formats.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _results import write_section
from pydantic import BaseModel, Field

from dramaturg.models import LocalModel, assistant, system, user
from dramaturg.models.base import json_schema_of, structured_prompt

TASKS = {
    "capital": (
        "Name the capital city.",
        [("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome")],
        [
            ("Germany", "Berlin"),
            ("Spain", "Madrid"),
            ("Egypt", "Cairo"),
            ("Canada", "Ottawa"),
            ("Russia", "Moscow"),
            ("China", "Beijing"),
            ("Greece", "Athens"),
            ("Peru", "Lima"),
            ("Kenya", "Nairobi"),
            ("Norway", "Oslo"),
        ],
    ),
    "opposite": (
        "Give the opposite word.",
        [("hot", "cold"), ("up", "down"), ("happy", "sad")],
        [
            ("big", "small"),
            ("fast", "slow"),
            ("light", "dark"),
            ("open", "closed"),
            ("old", "new"),
            ("early", "late"),
            ("hard", "soft"),
            ("left", "right"),
            ("full", "empty"),
            ("win", "lose"),
        ],
    ),
    "plural": (
        "Give the plural.",
        [("cat", "cats"), ("box", "boxes"), ("child", "children")],
        [
            ("dog", "dogs"),
            ("mouse", "mice"),
            ("house", "houses"),
            ("man", "men"),
            ("tooth", "teeth"),
            ("city", "cities"),
            ("foot", "feet"),
            ("bus", "buses"),
            ("woman", "women"),
            ("leaf", "leaves"),
        ],
    ),
}


class Place(BaseModel):
    city: str = Field(max_length=40)
    country: str = Field(max_length=40)
    continent: Literal["Africa", "Asia", "Europe", "North America", "South America", "Oceania"]


def few_shot(task: str, question: str):
    instruction, shots, _ = TASKS[task]
    msgs = [system(instruction)]
    for q, a in shots:
        msgs += [user(q), assistant(a)]
    return [*msgs, user(question)]


def accuracy(fmt: str) -> tuple[dict[str, float], float]:
    model = LocalModel(n_ctx=1024, prompt_format=fmt)
    scores, started, n = {}, time.perf_counter(), 0
    for task, (_, _, tests) in TASKS.items():
        right = 0
        for q, gold in tests:
            out = model.complete_sync(few_shot(task, q), max_tokens=6, temperature=0).text
            first = out.strip().split()[0].strip(".,!\"'").lower() if out.strip() else ""
            right += first == gold.lower()
            n += 1
        scores[task] = right / len(tests)
    return scores, (time.perf_counter() - started) / n


def optimistic_rate() -> tuple[int, int, float, float]:
    cities = [
        "Paris",
        "Cairo",
        "Lima",
        "Sydney",
        "Ottawa",
        "Berlin",
        "Nairobi",
        "Delhi",
        "Madrid",
        "Oslo",
    ]
    shots = [
        system("Facts about capital cities, as JSON."),
        user("Rome"),
        assistant('{"city": "Rome", "country": "Italy", "continent": "Europe"}'),
        user("Tokyo"),
        assistant('{"city": "Tokyo", "country": "Japan", "continent": "Asia"}'),
    ]
    times: dict[bool, float] = {}
    fallbacks = 0
    for optimistic in (True, False):
        model = LocalModel(n_ctx=1024, optimistic_json=optimistic)
        t0 = time.perf_counter()
        for c in cities:
            prompt = structured_prompt([*shots, user(c)], Place)
            done = model.complete_sync(
                prompt, json_schema=json_schema_of(Place), response_model=Place, temperature=0
            )
            Place.model_validate_json(done.text)  # a wrong answer would be a finding, not noise
            if optimistic:
                fallbacks += done.constrained  # the free pass was not a valid answer
        times[optimistic] = (time.perf_counter() - t0) / len(cities)
    return len(cities) - fallbacks, len(cities), times[True], times[False]


def main() -> None:
    rows = []
    for fmt in ("transcript", "gemma"):
        scores, per_call = accuracy(fmt)
        mean = sum(scores.values()) / len(scores)
        rows.append(
            f"| `{fmt}` | "
            + " | ".join(f"{v:.0%}" for v in scores.values())
            + f" | **{mean:.0%}** | {per_call * 1000:.0f} ms |"
        )
    free_ok, total, t_opt, t_grammar = optimistic_rate()
    body = f"""## Prompt format for the base model

Few-shot exact-match accuracy (3 shots, 10 questions per task, greedy):

| format | {" | ".join(TASKS)} | mean | per call |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Structured calls (3-field schema, 2 shots, 10 cities): the unconstrained pass
was valid {free_ok}/{total} times; mean time per call {t_opt * 1000:.0f} ms with
`optimistic_json=True` vs {t_grammar * 1000:.0f} ms grammar-only
({t_grammar / t_opt:.1f}x). With token masks (llguidance, the default where it is
installed) a constrained step costs about what a free one does, so the free pass
saves time only on llama.cpp's own grammar sampler (`constrained="gbnf"`), which
checks the whole 262k vocabulary at every step.
"""
    write_section("prompt_formats", body)


if __name__ == "__main__":
    main()
