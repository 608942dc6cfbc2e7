"""Cost of the tools layer: validated calls vs bare calls, and a sandboxed run vs a bare interpreter.

Run:  .venv/bin/python benchmarks/bench_tools.py [--rounds N] [--write]
Prints a Markdown table; with --write it also replaces the "bench_tools"
section of benchmarks/RESULTS.md. Ratios are measured in the same run,
interleaved, because absolute times on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dramaturg.tools import Sandbox, ToolCall, ToolSet  # noqa: E402


def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


async def add_async(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


def per_call_us(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


async def calls(rounds: int) -> dict[str, float]:
    tools = ToolSet([add, add_async])
    sync_call = ToolCall(name="add", arguments={"a": 1})
    async_call = ToolCall(name="add_async", arguments={"a": 1})
    bare, sync_t, async_t = [], [], []
    for _ in range(rounds):
        bare.append(per_call_us(lambda: add(a=1), 2000))
        start = time.perf_counter()
        for _ in range(200):
            await tools.call(sync_call)
        sync_t.append((time.perf_counter() - start) / 200 * 1e6)
        start = time.perf_counter()
        for _ in range(200):
            await tools.call(async_call)
        async_t.append((time.perf_counter() - start) / 200 * 1e6)
    return {
        "bare": statistics.median(bare),
        "sync": statistics.median(sync_t),
        "async": statistics.median(async_t),
    }


def sandbox(rounds: int) -> dict[str, float]:
    full = Sandbox(timeout_s=30)
    hook_only = Sandbox(timeout_s=30, landlock=False, network_namespace=False)
    bare, full_t, hook_t = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-I", "-B", "-c", "print(1)"], check=True, capture_output=True
        )
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert full.run_sync("print(1)").ok
        full_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert hook_only.run_sync("print(1)").ok
        hook_t.append(time.perf_counter() - start)
    layers = full.run_sync("pass").layers
    full.close()
    hook_only.close()
    ms = {
        k: statistics.median(v) * 1000
        for k, v in (("bare", bare), ("full", full_t), ("hook", hook_t))
    }
    return {**ms, "layers": layers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="also write benchmarks/RESULTS.md")
    args = parser.parse_args()
    c = asyncio.run(calls(args.rounds))
    s = sandbox(args.rounds)
    body = f"""## Tools

| measure | median | vs bare |
|---|---|---|
| bare `add(a=1)` | {c["bare"]:.2f} µs | 1x |
| `ToolSet.call` of a sync tool (validation + thread) | {c["sync"]:.0f} µs | {c["sync"] / c["bare"]:.0f}x |
| `ToolSet.call` of an async tool (validation + wait_for) | {c["async"]:.0f} µs | {c["async"] / c["bare"]:.0f}x |
| bare `python -I -B -c 'print(1)'` | {s["bare"]:.0f} ms | 1x |
| `Sandbox.run` with every layer ({s["layers"]}) | {s["full"]:.0f} ms | {s["full"] / s["bare"]:.2f}x |
| `Sandbox.run`, audit hook only | {s["hook"]:.0f} ms | {s["hook"] / s["bare"]:.2f}x |

A tool call's overhead is microseconds against a model call's hundreds of
milliseconds; a sandboxed run costs about one interpreter start.
"""
    print(body)
    if args.write:
        from _results import write_section

        write_section("bench_tools", body)


if __name__ == "__main__":
    main()
