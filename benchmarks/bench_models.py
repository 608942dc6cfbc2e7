"""Model-layer benchmarks: embedded model speed, prefix reuse, wrapper overhead.

    python benchmarks/bench_models.py            # all three, writes RESULTS.md
    python benchmarks/bench_models.py --quick    # fewer repetitions

Targets (issue "Foundation"): cached prefix at least 3x faster to first
token than uncached; wrapper overhead under 50 microseconds per call.
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
        out = model.complete_sync([system(prompt), user(f"Speak, scene {i}.")], max_tokens=128,
                                  temperature=0.8, stop=["\n\n\n"], seed=i)
        prompt_tps.append(out.usage.prompt_tokens / out.ttft_s)
        gen = out.usage.completion_tokens - 1
        if gen > 8:
            gen_tps.append(gen / (out.latency_s - out.ttft_s))
    return {"prompt_tps": statistics.median(prompt_tps), "gen_tps": statistics.median(gen_tps) if gen_tps else 0.0,
            "prompt_tokens": out.usage.prompt_tokens}


def bench_prefix(model: LocalModel, reps: int) -> dict[str, float]:
    llm = model.engine.llm
    prefix = _prefix(1000, model, PERSONA)
    uncached, cached, n_prompt, n_cached = [], [], 0, 0
    for i in range(reps):
        msgs = [system(prefix), user(f"Line {i}: what now?")]
        llm.reset()
        cold = model.complete_sync(msgs, max_tokens=1, temperature=0)
        warm = model.complete_sync([system(prefix), user(f"Line {i}: and then?")], max_tokens=1, temperature=0)
        uncached.append(cold.ttft_s)
        cached.append(warm.ttft_s)
        n_prompt, n_cached = warm.usage.prompt_tokens, warm.usage.cached_prompt_tokens
    return {"uncached": statistics.median(uncached), "cached": statistics.median(cached),
            "ratio": statistics.median(uncached) / statistics.median(cached), "prompt_tokens": n_prompt,
            "cached_tokens": n_cached}


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
                r = model.complete_sync([system(persona), user(f"Turn {i}.")], max_tokens=1, temperature=0)
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
    return {"bare_us": t_bare * 1e6, "wrapped_us": (t_wrapped - t_bare) * 1e6, "traced_us": (t_traced - t_bare) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 3 if args.quick else 7
    overhead = asyncio.run(_overhead(5_000 if args.quick else 50_000))
    model = LocalModel(n_ctx=2048)
    load_s = model.load()
    speed = bench_speed(model, reps)
    prefix = bench_prefix(model, reps)
    alternating = bench_alternating(max(2, reps // 2))
    all_cores = os.cpu_count() or 1
    speed_all = bench_speed(LocalModel(n_ctx=2048, n_threads=all_cores), reps) if all_cores != model.n_threads else speed
    ok = lambda cond: "met" if cond else "**missed**"  # noqa: E731
    body = f"""## Models (embedded Gemma 3 270M Q4_K_M on llama.cpp, {model.n_threads} thread(s), the default here)

| measure | value | target |
|---|---|---|
| load time (weights already assembled) | {load_s:.2f} s | |
| prompt evaluation | {speed['prompt_tps']:.0f} tokens/s ({speed['prompt_tokens']}-token prompt) | |
| generation | {speed['gen_tps']:.1f} tokens/s | |
| prompt evaluation / generation with all {all_cores} cores (idle machine) | {speed_all['prompt_tps']:.0f} / {speed_all['gen_tps']:.1f} tokens/s | |
| time to first token, {prefix['prompt_tokens']}-token prompt, uncached | {prefix['uncached'] * 1000:.0f} ms | |
| time to first token, same ~1,000-token prefix + new suffix, cached ({prefix['cached_tokens']} tokens reused) | {prefix['cached'] * 1000:.0f} ms | |
| prefix reuse speed-up | **{prefix['ratio']:.1f}x** | >= 3x: {ok(prefix['ratio'] >= 3)} |
| two alternating ~1,000-token personas, TTFT, `prefix_cache_mb=0` | {alternating[0] * 1000:.0f} ms | |
| two alternating ~1,000-token personas, TTFT, `prefix_cache_mb=512` | {alternating[512] * 1000:.0f} ms | |
| ScriptedModel call, bare | {overhead['bare_us']:.1f} us | |
| wrapper overhead (retry + usage) per call | **{overhead['wrapped_us']:.1f} us** | < 50 us: {ok(overhead['wrapped_us'] < 50)} |
| wrapper overhead (retry + usage + JSONL trace) per call | {overhead['traced_us']:.1f} us | |

Medians of {reps} runs; the uncached and cached runs alternate within one process.
"""
    write_section("bench_models", body)


if __name__ == "__main__":
    main()
