"""Speed of the worlds: wrapper overhead vs raw TextWorld, generation, reset and step times.

Run:  .venv/bin/python benchmarks/bench_worlds.py [--quick] [--no-browser]
Writes benchmarks/results/worlds.md (figures, the command, the date, the machine).
Ratios are measured in the same run, interleaved, because absolute times on a
shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_section  # noqa: E402


def p50(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def bench_textworld_overhead(rounds: int) -> dict[str, float]:
    import textworld

    from dramaturg.worlds.textworld import TextWorldWorld, generate_game
    from dramaturg.worlds.textworld._engine import request_infos

    game = generate_game("tw-cooking", {"recipe": 2, "take": 2, "go": 6, "open": True}, seed=7)
    raw = textworld.start(str(game), request_infos=request_infos())
    ours = TextWorldWorld("tw-cooking", game_file=game, isolate=False)
    iso = TextWorldWorld("tw-cooking", game_file=game, isolate=True)
    plan = raw.reset()["extra.walkthrough"]
    times: dict[str, list[float]] = {"raw": [], "ours": [], "isolated": []}
    for _ in range(rounds):
        raw.reset()
        start = time.perf_counter()
        for cmd in plan:
            raw.step(cmd)
        times["raw"].append((time.perf_counter() - start) / len(plan))
        for name, world in (("ours", ours), ("isolated", iso)):
            world.reset(seed=0)
            start = time.perf_counter()
            for cmd in plan:
                world.step(cmd)
            times[name].append((time.perf_counter() - start) / len(plan))
    raw.close()
    ours.close()
    iso.close()
    r, o, i = (statistics.median(times[k]) for k in ("raw", "ours", "isolated"))
    return {
        "plan_len": len(plan),
        "raw_ms": r * 1000,
        "ours_ms": o * 1000,
        "iso_ms": i * 1000,
        "ratio": o / r,
        "ratio_iso": i / r,
    }


def bench_generation() -> dict[str, float]:
    from dramaturg.worlds.textworld import CHALLENGE_DEFAULTS, generate_game

    out = {}
    for challenge in sorted(CHALLENGE_DEFAULTS):
        start = time.perf_counter()
        generate_game(challenge, seed=4242)
        out[challenge] = time.perf_counter() - start
    return out


def bench_alfworld() -> dict[str, dict[str, float]]:
    from dramaturg.worlds.alfworld import TASK_TYPES, AlfworldWorld, make_game

    out = {}
    for task in TASK_TYPES:
        start = time.perf_counter()
        make_game(task, seed=11)
        gen = time.perf_counter() - start
        with AlfworldWorld(task, isolate=False) as world:
            start = time.perf_counter()
            _, info = world.reset(seed=11)
            first_reset = time.perf_counter() - start
            start = time.perf_counter()
            _, info = world.reset(seed=11)
            again = time.perf_counter() - start
            steps = []
            for cmd in info["gold_plan"]:
                t = time.perf_counter()
                *_, info = world.step(cmd)
                steps.append(time.perf_counter() - t)
            assert info["won"]
        out[task] = {
            "generate_s": gen,
            "first_reset_s": first_reset,
            "reset_s": again,
            "step_p50_ms": p50(steps),
        }
    return out


def bench_theatre(n: int) -> float:
    from dramaturg.worlds import make_world

    actions = [
        'say "Words, words, words."',
        "wait",
        "examine cup",
        'whisper hamlet "hush"',
        "look",
        "inventory",
    ]
    times = []
    with make_world("theatre/elsinore") as world:
        world.reset(seed=0)
        for i in range(n):
            t = time.perf_counter()
            world.step(actions[i % len(actions)])
            times.append(time.perf_counter() - t)
    return p50(times)


def bench_web(mode: str, seeds: int) -> float:
    from dramaturg.worlds.web import WebWorld

    times = []
    for site in ("shop", "wiki"):
        with WebWorld(site, mode=mode) as world:
            for seed in range(seeds):
                _, info = world.reset(seed=seed)
                for action in info["gold_plan"]:
                    t = time.perf_counter()
                    world.step(action)
                    times.append(time.perf_counter() - t)
    return p50(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    os.environ["DRAMATURG_CACHE"] = tempfile.mkdtemp(
        prefix="dramaturg-bench-"
    )  # generation from scratch
    rounds = 3 if args.quick else 20
    print("textworld overhead...", flush=True)
    tw = bench_textworld_overhead(rounds)
    print(tw, flush=True)
    print("generation...", flush=True)
    gen = bench_generation()
    print(gen, flush=True)
    print("alfworld...", flush=True)
    alf = bench_alfworld()
    print(alf, flush=True)
    theatre = bench_theatre(2000 if not args.quick else 300)
    web_text = bench_web("text", 5 if not args.quick else 2)
    web_browser = None if args.no_browser else bench_web("browser", 3 if not args.quick else 1)
    print(
        {"theatre_p50_ms": theatre, "web_text_p50_ms": web_text, "web_browser_p50_ms": web_browser},
        flush=True,
    )

    lines = [
        "## Worlds",
        "",
        "Machine shared with other jobs while measured; compare ratios, not absolute times.",
        "",
        "### TextWorld step overhead (same game, same EnvInfos, interleaved rounds)",
        "",
        f"Game: tw-cooking --recipe 2 --take 2 --go 6 --open, seed 7; {tw['plan_len']}-step walkthrough, {rounds} rounds, median per-step time.",
        "",
        "| | per step (ms) | ratio vs raw | target |",
        "|---|---:|---:|---:|",
        f"| raw `textworld.start(...).step` | {tw['raw_ms']:.2f} | 1.00 | |",
        f"| `TextWorldWorld(isolate=False)` | {tw['ours_ms']:.2f} | {tw['ratio']:.3f} | <= 1.1 |",
        f"| `TextWorldWorld()` (engine in a child process, the default) | {tw['iso_ms']:.2f} | {tw['ratio_iso']:.3f} | <= 1.1 |",
        "",
        "### TextWorld game generation (tw-make in a subprocess, empty cache, seed 4242, default options)",
        "",
        "| challenge | seconds |",
        "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in gen.items()],
        "",
        "### ALFWorld-style games (seed 11, seen split, in-process engine)",
        "",
        "generate = build the PDDL problem; first reset = write the game, load it, plan the gold plan; reset = again, same game.",
        "",
        "| task type | generate (s) | first reset (s) | reset (s) | step p50 (ms) |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {k} | {v['generate_s']:.3f} | {v['first_reset_s']:.2f} | {v['reset_s']:.2f} | {v['step_p50_ms']:.1f} |"
            for k, v in alf.items()
        ],
        "",
        "### Step latency p50",
        "",
        "| world | p50 (ms) | target |",
        "|---|---:|---:|",
        f"| theatre/elsinore (speech, wait, examine, look) | {theatre:.3f} | < 1 |",
        f"| web text mode (gold plans, shop + wiki) | {web_text:.2f} | < 30 |",
        f"| web browser mode (Debian Chromium via Playwright, same plans) | {web_browser:.1f} | - |"
        if web_browser is not None
        else "| web browser mode | not run | - |",
        "",
    ]
    write_section("bench_worlds", "\n".join(lines))


if __name__ == "__main__":
    main()
