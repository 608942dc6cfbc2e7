"""Model-layer benchmarks: embedded model speed, prefix reuse, wrapper overhead, structured output.

    python benchmarks/bench_models.py               # speed, prefix reuse, overhead; writes RESULTS.md
    python benchmarks/bench_models.py --quick       # fewer repetitions
    python benchmarks/bench_models.py --structured  # constrained decoding and structured calls

Targets (issue "Foundation"): cached prefix at least 3x faster to first
token than uncached; wrapper overhead under 50 microseconds per call.
Targets (issue "Structured output that converges"): constrained decoding
within 1.5x of free decoding; each of six user schemas answered 5 of 5,
no call over 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from _results import write_section

from dramaturg.models import LocalModel, ScriptedModel, system, user, wrap
from tests.models.schemas import USER_SCHEMAS

PERSONA = (
    "You are Hamlet, Prince of Denmark, son of the late King Hamlet and nephew of King Claudius. "
    "You are melancholy, witty, suspicious of your uncle, and torn between thought and action. "
)


def _prefix(tokens_wanted: int, model: LocalModel, seed_text: str) -> str:
    llm = model.engine.llm
    text = seed_text
    while len(llm.tokenize(text.encode(), add_bos=True)) < tokens_wanted:
        text += seed_text
    return text


def bench_speed(model: LocalModel, reps: int) -> dict[str, float]:
    llm = model.engine.llm
    prompt = _prefix(512, model, PERSONA)
    prompt_tps, gen_tps = [], []
    for i in range(reps):
        llm.reset()  # nothing cached: every prompt token is evaluated
        out = model.complete_sync(
            [system(prompt), user(f"Speak, scene {i}.")],
            max_tokens=128,
            temperature=0.8,
            stop=["\n\n\n"],
            seed=i,
        )
        prompt_tps.append(out.usage.prompt_tokens / out.ttft_s)
        gen = out.usage.completion_tokens - 1
        if gen > 8:
            gen_tps.append(gen / (out.latency_s - out.ttft_s))
    return {
        "prompt_tps": statistics.median(prompt_tps),
        "gen_tps": statistics.median(gen_tps) if gen_tps else 0.0,
        "prompt_tokens": out.usage.prompt_tokens,
    }


def bench_prefix(model: LocalModel, reps: int) -> dict[str, float]:
    llm = model.engine.llm
    prefix = _prefix(1000, model, PERSONA)
    uncached, cached, n_prompt, n_cached = [], [], 0, 0
    for i in range(reps):
        msgs = [system(prefix), user(f"Line {i}: what now?")]
        llm.reset()
        cold = model.complete_sync(msgs, max_tokens=1, temperature=0)
        warm = model.complete_sync(
            [system(prefix), user(f"Line {i}: and then?")], max_tokens=1, temperature=0
        )
        uncached.append(cold.ttft_s)
        cached.append(warm.ttft_s)
        n_prompt, n_cached = warm.usage.prompt_tokens, warm.usage.cached_prompt_tokens
    return {
        "uncached": statistics.median(uncached),
        "cached": statistics.median(cached),
        "ratio": statistics.median(uncached) / statistics.median(cached),
        "prompt_tokens": n_prompt,
        "cached_tokens": n_cached,
    }


def bench_alternating(reps: int) -> dict[str, float]:
    """Two personas taking turns: only the RAM state cache keeps both prefixes warm."""
    out = {}
    for mb in (0, 512):
        model = LocalModel(n_ctx=2048, prefix_cache_mb=mb)
        a = _prefix(1000, model, PERSONA)
        b = _prefix(1000, model, PERSONA.replace("Hamlet", "Ophelia").replace("Prince", "Lady"))
        model.engine.llm.reset()
        times = []
        for i in range(reps + 1):
            for persona in (a, b):
                r = model.complete_sync(
                    [system(persona), user(f"Turn {i}.")], max_tokens=1, temperature=0
                )
                if i:  # the first round fills the cache
                    times.append(r.ttft_s)
        out[mb] = statistics.median(times)
    return out


async def _overhead(n: int) -> dict[str, float]:
    msgs = [user("hello")]

    async def run(model) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await model.complete(msgs, caller="bench")
        return (time.perf_counter() - t0) / n

    bare = ScriptedModel(["x"] * n)
    wrapped = wrap(ScriptedModel(["x"] * n))
    with tempfile.TemporaryDirectory() as tmp:
        traced = wrap(ScriptedModel(["x"] * n), trace=Path(tmp) / "t.jsonl")
        await run(ScriptedModel(["x"] * n))  # warm up
        t_bare = await run(bare)
        t_wrapped = await run(wrapped)
        t_traced = await run(traced)
    return {
        "bare_us": t_bare * 1e6,
        "wrapped_us": (t_wrapped - t_bare) * 1e6,
        "traced_us": (t_traced - t_bare) * 1e6,
    }


def _decode(model: LocalModel, call, *, schema: bool) -> dict[str, float | str | bool]:
    """One greedy call from an empty KV cache (every method starts alike); speed after the first token."""
    model.engine.llm.reset()
    opts = (
        {"json_schema": call.json_schema, "response_model": call.schema}
        if schema
        else {"max_tokens": 48}
    )
    out = model.complete_sync(call.messages, temperature=0, **opts)
    gen = max(out.usage.completion_tokens - 1, 0)
    tps = gen / (out.latency_s - out.ttft_s) if gen and out.latency_s > out.ttft_s else 0.0
    valid = True
    if schema:
        try:
            call.schema.model_validate_json(out.text)
        except ValueError:
            valid = False
    return {
        "tps": tps,
        "ttft": out.ttft_s or 0.0,
        "text": out.text.strip(),
        "valid": valid,
        "n": gen,
        "forced": out.constrained,
    }


def _free_pass_valid(model: LocalModel, call) -> bool:
    """The local backend's free pass alone (no grammar fallback): does its answer validate?"""
    from dramaturg.models._decode import answer_opener, generate, heal
    from dramaturg.models._json import JsonEnd, parse_structured
    from dramaturg.models._prompt import render_prompt
    from dramaturg.models.base import structured_prompt

    engine = model.engine
    engine.llm.reset()
    prompt, _ = render_prompt(structured_prompt(call.messages, call.schema))
    schema = engine.bounded(call.json_schema, model.bounds)
    opener = answer_opener(schema) or " "
    tokens, first, skip = heal(engine, prompt + opener, enabled=model.token_healing)
    run = generate(
        engine.llm,
        tokens,
        256,
        model._sampling({}, True, 0),
        [],
        scanner=JsonEnd(max_chars=engine.size_bound(schema)),
        opener=opener.strip(),
        first_pieces=first,
        skip=skip,
    )
    try:
        parse_structured(run.text, call.schema)
    except Exception:  # not valid: that is the figure
        return False
    return run.finish_reason == "stop"


def bench_structured(quick: bool) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _role_calls import role_calls

    every = role_calls()
    healing_calls = {
        role: [c for c in every if c.role == role] for role in dict.fromkeys(c.role for c in every)
    }
    calls = [
        c for i, c in enumerate(every) if i % 5 < (2 if quick else 3)
    ]  # GBNF is slow: fewer for speed
    free = LocalModel(n_ctx=2048, constrained="gbnf", optimistic_json=False)
    free.load()
    gbnf = LocalModel(n_ctx=2048, constrained="gbnf", optimistic_json=False)
    mask = LocalModel(n_ctx=2048, constrained="mask")
    mask.engine.masks  # built once per process (in the background from load); not part of any call  # noqa: B018
    unhealed = LocalModel(n_ctx=2048, constrained="gbnf", token_healing=False)
    healed = LocalModel(n_ctx=2048, constrained="gbnf", token_healing=True)
    roles = list(dict.fromkeys(c.role for c in calls))
    rows, heal_rows = [], []
    totals = {"free": [], "gbnf": [], "mask": []}
    same = total = 0
    for role in roles:
        mine = [c for c in calls if c.role == role]
        got: dict[str, list] = {"free": [], "gbnf": [], "mask": []}
        for call in mine:
            got["free"].append(_decode(free, call, schema=False))
            got["gbnf"].append(_decode(gbnf, call, schema=True))
            got["mask"].append(_decode(mask, call, schema=True))
            same += got["gbnf"][-1]["text"] == got["mask"][-1]["text"]
            total += 1
        for key in totals:
            totals[key] += got[key]
        med = {k: statistics.median(r["tps"] for r in v) for k, v in got.items()}
        ttft = {k: statistics.median(r["ttft"] for r in v) * 1000 for k, v in got.items()}
        rows.append(
            f"| {role} ({mine[0].schema.__name__}) | {med['free']:.1f} | {med['gbnf']:.1f} "
            f"({ttft['gbnf']:.0f} ms) | {med['mask']:.1f} ({ttft['mask']:.0f} ms) | "
            f"{med['free'] / med['mask']:.2f}x | {sum(r['valid'] for r in got['gbnf'])}/{len(mine)} / "
            f"{sum(r['valid'] for r in got['mask'])}/{len(mine)} | "
            f"{sum(a['text'] == b['text'] for a, b in zip(got['gbnf'], got['mask'], strict=True))}/{len(mine)} |"
        )
        valid = {
            name: sum(_free_pass_valid(model, call) for call in healing_calls[role])
            for name, model in (("before", unhealed), ("after", healed))
        }
        n_heal = len(healing_calls[role])
        heal_rows.append(f"| {role} | {valid['before']}/{n_heal} | {valid['after']}/{n_heal} |")
    all_med = {k: statistics.median(r["tps"] for r in v) for k, v in totals.items()}
    ratio = all_med["free"] / all_med["mask"]
    speedup = all_med["mask"] / all_med["gbnf"]

    # Six schemas a user might write, nothing bounded, through the default stack.
    backend = LocalModel()
    model = wrap(backend)
    backend.engine.masks  # noqa: B018
    schema_rows, samples = [], []
    for schema, prompts in USER_SCHEMAS.items():
        times, answered, first = [], 0, None
        before = model.usage.total.calls
        for prompt in prompts[: 2 if quick else 5]:
            started = time.perf_counter()
            try:
                answer = model.structured_sync([user(prompt)], schema)
                answered += 1
                first = first or (prompt, answer.model_dump_json())
            except Exception as exc:
                first = first or (prompt, f"{type(exc).__name__}: {exc}")
            times.append(time.perf_counter() - started)
        attempts = model.usage.total.calls - before
        schema_rows.append(
            f"| `{schema.__name__}` | {answered}/{len(times)} | {statistics.median(times):.1f} s | "
            f"{max(times):.1f} s | {attempts} |"
        )
        samples.append(f'- `{schema.__name__}`, "{first[0]}": `{first[1][:220]}`')
    ok = lambda cond: "met" if cond else "**missed**"  # noqa: E731
    n_ok = all(" 5/5 " in r or (quick and " 2/2 " in r) for r in schema_rows)
    worst = max(float(r.split("|")[4].strip().rstrip(" s")) for r in schema_rows)
    return f"""## Structured output on the embedded model

Gemma 3 270M Q4_K_M, greedy, {backend.n_threads} llama.cpp thread(s). The role calls are the prompts and
schemas dramaturg's roles send (captured from the roles themselves; {3 if not quick else 2} inputs per role
for decoding speed, 5 for the free pass); each method starts from an empty KV cache. Tokens/s counts the tokens after the first; the time to first token
(TTFT) includes evaluating the whole prompt.

### Constrained decoding: llama.cpp GBNF vs llguidance token masks (same prompts, same run)

| role (schema) | free tokens/s | GBNF tokens/s (TTFT) | token mask tokens/s (TTFT) | free / mask | valid GBNF / mask | same answer |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
| **all** | {all_med["free"]:.1f} | {all_med["gbnf"]:.1f} | {all_med["mask"]:.1f} | **{ratio:.2f}x** | | {same}/{total} |

Token masks are **{speedup:.1f}x** faster than GBNF (adopted when at least 2x: {ok(speedup >= 2)}); constrained
decoding within 1.5x of free decoding: {ok(ratio <= 1.5)}. Where the two differ in text, both are valid:
they allow the same JSON but not always the same spacing (GBNF lets a space stand before a comma), and a
different token early leads the model elsewhere.

### Free-pass validity before and after token healing

The free pass (the GBNF path's first try; the token-mask path needs none) decodes without a grammar
and keeps the answer when it validates. Before: the prompt ends
`Assistant: {{` (the `{{` a token of its own, where the examples spell `{{"` as one); after: that token is
taken back and the first generated token must start with it.

| role | valid before | valid after |
|---|---|---|
{chr(10).join(heal_rows)}

### Six user schemas with nothing bounded (`wrap(LocalModel())`, default bounds)

| schema | answered | p50 | max | model calls |
|---|---|---|---|---|
{chr(10).join(schema_rows)}

Every call answered and none over 15 s: {ok(n_ok and worst < 15)}. One answer per schema, verbatim:

{chr(10).join(samples)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--structured", action="store_true", help="only the structured-output benchmark"
    )
    args = parser.parse_args()
    if args.structured:
        write_section("bench_structured", bench_structured(args.quick))
        return
    reps = 3 if args.quick else 7
    overhead = asyncio.run(_overhead(5_000 if args.quick else 50_000))
    model = LocalModel(n_ctx=2048)
    load_s = model.load()
    speed = bench_speed(model, reps)
    prefix = bench_prefix(model, reps)
    alternating = bench_alternating(max(2, reps // 2))
    all_cores = os.cpu_count() or 1
    speed_all = (
        bench_speed(LocalModel(n_ctx=2048, n_threads=all_cores), reps)
        if all_cores != model.n_threads
        else speed
    )
    ok = lambda cond: "met" if cond else "**missed**"  # noqa: E731
    body = f"""## Models (embedded Gemma 3 270M Q4_K_M on llama.cpp, {model.n_threads} thread(s), the default here)

| measure | value | target |
|---|---|---|
| load time (weights already assembled) | {load_s:.2f} s | |
| prompt evaluation | {speed["prompt_tps"]:.0f} tokens/s ({speed["prompt_tokens"]}-token prompt) | |
| generation | {speed["gen_tps"]:.1f} tokens/s | |
| prompt evaluation / generation with all {all_cores} cores (idle machine) | {speed_all["prompt_tps"]:.0f} / {speed_all["gen_tps"]:.1f} tokens/s | |
| time to first token, {prefix["prompt_tokens"]}-token prompt, uncached | {prefix["uncached"] * 1000:.0f} ms | |
| time to first token, same ~1,000-token prefix + new suffix, cached ({prefix["cached_tokens"]} tokens reused) | {prefix["cached"] * 1000:.0f} ms | |
| prefix reuse speed-up | **{prefix["ratio"]:.1f}x** | >= 3x: {ok(prefix["ratio"] >= 3)} |
| two alternating ~1,000-token personas, TTFT, `prefix_cache_mb=0` | {alternating[0] * 1000:.0f} ms | |
| two alternating ~1,000-token personas, TTFT, `prefix_cache_mb=512` | {alternating[512] * 1000:.0f} ms | |
| ScriptedModel call, bare | {overhead["bare_us"]:.1f} us | |
| wrapper overhead (retry + usage) per call | **{overhead["wrapped_us"]:.1f} us** | < 50 us: {ok(overhead["wrapped_us"] < 50)} |
| wrapper overhead (retry + usage + JSONL trace) per call | {overhead["traced_us"]:.1f} us | |

Medians of {reps} runs; the uncached and cached runs alternate within one process.
"""
    write_section("bench_models", body)


if __name__ == "__main__":
    main()
