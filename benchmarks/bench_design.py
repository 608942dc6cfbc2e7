"""Plays designed from a topic on the embedded model: on topic, no copies, distinct scenes.

Five topics that share no words with the designer's examples, each designed
by `design_blueprint(topic, model=load_model("local"))` (the text form on a
base model), then checked: a content word of the topic in the title,
premise or cast; no 8-gram copied from a prompt file (the form's examples
included); scenes that differ. Also the structured JSON path on the same
model for one topic, as it was before the form.

    python benchmarks/bench_design.py            # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _results import write_section

from dramaturg.drama._copies import copied
from dramaturg.drama._topic import play_texts, shared_words
from dramaturg.drama.design import design_blueprint
from dramaturg.drama.form import _examples
from dramaturg.errors import ModelError
from dramaturg.models import load_model
from dramaturg.models.wrappers import ModelWrapper

TOPICS = [
    "a royal court quarrels over a letter",
    "two sisters fight over their father's farm",
    "a chess champion suspects her coach",
    "astronauts argue about returning to Earth",
    "a baker's apprentice steals a recipe",
]


class _AsInstruct(ModelWrapper):
    """The embedded model taken for an instruct model: the structured JSON path, as it was."""

    kind = "instruct"  # type: ignore[assignment]


async def design(topic: str, model, seed: int) -> dict:
    before = model.usage.total.calls
    t0 = time.perf_counter()
    bp = await design_blueprint(topic, model=model, scenes=3, seed=seed)
    took = time.perf_counter() - t0
    cast = [f"{c.name}: {c.background}" for c in bp.cast.values()]
    texts = [
        bp.title,
        bp.premise,
        *cast,
        *(p.name for p in bp.stage.places.values()),
        *(b.text for s in bp.scenes for b in s.beats),
        *(ln.text for s in bp.scenes for ln in s.opening),
    ]
    copies = sorted({g for t in texts for g in copied(t, extra=[_examples().text])})
    shared = shared_words(topic, play_texts(bp))
    scenes = [" / ".join(b.text for b in s.beats) for s in bp.scenes]
    return {
        "topic": topic,
        "s": took,
        "calls": model.usage.total.calls - before,
        "title": bp.title,
        "premise": bp.premise,
        "cast": cast,
        "places": [p.name for p in bp.stage.places.values()],
        "scenes": [
            (t, [f"{bp.cast[ln.speaker].name}: {ln.text}" for ln in s.opening])
            for t, s in zip(scenes, bp.scenes, strict=True)
        ],
        "shared": shared,
        "copies": copies,
        "distinct": len(set(scenes)) == len(scenes),
    }


async def run(seed: int) -> tuple[list[dict], dict]:
    model = load_model("local")
    model.load()
    results = [await design(t, model, seed) for t in TOPICS]
    old = _AsInstruct(model)
    t0 = time.perf_counter()
    try:
        bp = await design_blueprint(TOPICS[0], model=old, scenes=3, max_revisions=1)
        structured = {"s": time.perf_counter() - t0, "outcome": f"title {bp.title!r}"}
    except ModelError as exc:
        structured = {
            "s": time.perf_counter() - t0,
            "outcome": f"{type(exc).__name__}: {str(exc)[:160]}",
        }
    return results, structured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results, structured = asyncio.run(run(args.seed))
    on_topic = sum(bool(r["shared"]) for r in results)
    clean = sum(not r["copies"] for r in results)
    distinct = sum(r["distinct"] for r in results)
    rows = "\n".join(
        f"| {r['topic']} | {r['s']:.1f} s | {r['calls']} | {', '.join(r['shared']) or '**none**'} | "
        f"{len(r['copies'])} | {'yes' if r['distinct'] else '**no**'} |"
        for r in results
    )
    body = f"""## Designing a play from a topic on the embedded model

`design_blueprint(topic, model=load_model("local"), scenes=3, seed={args.seed})`, which is what
`dramaturg drama new --topic T --model local` runs: on a base model the designer fills in a text form field by
field (two example outlines on other topics; a field that copies an example or repeats another is sampled
again), and code lays out the blueprint. Topics chosen to share no words with the examples.

| topic | time | model calls | topic words in title, premise or cast | 8-grams copied from a prompt file | scenes distinct |
|---|---|---|---|---|---|
{rows}

On topic {on_topic} of {len(results)}; free of copies {clean} of {len(results)}; distinct scenes
{distinct} of {len(results)}. Same run, the structured JSON path on the same model (as before the form) for
"{TOPICS[0]}": {structured["s"]:.1f} s, {structured["outcome"]}.

Verbatim:
"""
    for r in results:
        body += f"\n**{r['topic']}**: *{r['title']}*. {r['premise']}\n"
        body += f"- cast: {'; '.join(r['cast'])}\n- places: {'; '.join(r['places'])}\n"
        for i, (beat, opening) in enumerate(r["scenes"], 1):
            body += (
                f"- scene {i}: {beat}"
                + (f" (opens: {' / '.join(opening)})" if opening else "")
                + "\n"
            )
    write_section("bench_design", body)
    print(body)


if __name__ == "__main__":
    main()
