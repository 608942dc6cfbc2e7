"""Drama on the embedded model: one round of a 5-actor scene next to the floor (one
25-token line on a cached prefix, same run), the web page's latency from a player's
submit, the main job's 8 turns, and three auto-played plays printed verbatim with
their metrics (two designed from a topic).

    python benchmarks/bench_drama.py                 # everything (about 3 minutes on 2 cores)
    python benchmarks/bench_drama.py --structured    # also the structured path's round, for comparison

For scale: Concordia's users report about 30 minutes for one step of 5 agents
on a hosted model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _results import write_section

from dramaturg.agents import ToolAgent
from dramaturg.drama import Actor, Blueprint, Director, drama
from dramaturg.drama.graph import actor_for, director_for
from dramaturg.drama.script import script_heading
from dramaturg.models import load_model, system

ROOT = Path(__file__).resolve().parent.parent


def five_actors() -> Blueprint:
    """The bundled Elsinore with Polonius added: five characters in the hall."""
    data = Blueprint.load(ROOT / "dramaturg" / "drama" / "plays" / "elsinore.yaml").model_dump()
    data["cast"]["polonius"] = {
        "name": "Polonius",
        "background": "The king's old counsellor, Ophelia's father.",
        "goals": ["find out what troubles Hamlet"],
        "emotion": "busy",
        "location": "hall",
    }
    scene = data["scenes"][0]
    scene["cast"] = ["hamlet", "claudius", "horatio", "ophelia", "polonius"]
    scene["opening"] = []  # every line of the round is the model's
    data["scenes"] = [scene]
    return Blueprint.model_validate(data)


async def one_round(mode: str) -> dict[str, float]:
    """One round of the 5-actor scene, every character acting once.

    ``script``: the embedded model's default, script completion (speaker chosen in code, one call a
    line). ``per_actor``/``ensemble``: the structured path instruct models use, on the same model.
    """
    model = load_model("local")
    model.load()
    bp = five_actors()
    if mode == "script":
        actor, director = actor_for(model), director_for(model)
    else:
        actor = Actor(model=model)
        director = Director(model=None if mode == "per_actor" else model)
    graph = drama(
        bp,
        actor=actor,
        director=director,
        tool_agent=ToolAgent(model=model),
        mode="ensemble" if mode == "ensemble" else "per_actor",
        max_turns=5,
        reflect_every=100,
    )
    t0 = time.perf_counter()
    final = await graph.ainvoke({}, {"recursion_limit": 200})
    took = time.perf_counter() - t0
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    lines = [t.get("public", "") for t in turns]
    return {
        "s": took,
        "calls": model.usage.total.calls,
        "turns": len(turns),
        "actors": len({t["actor"] for t in turns}),
        "lines": lines,
        "tokens": model.usage.total.usage.completion_tokens,
    }


async def floor_line() -> dict[str, float]:
    """The floor: one 25-token line on a cached prefix (the round's script), same model, same run."""
    model = load_model("local")
    model.load()
    bp = five_actors()
    graph = drama(bp, actor=actor_for(model), tool_agent=ToolAgent(model=model), max_turns=1)
    final = await graph.ainvoke({}, {"recursion_limit": 50})
    hall = bp.stage.places[bp.scenes[0].place]
    prefix = script_heading(bp, 0, place_name=hall.name, place_text=hall.description)
    prefix += (
        "".join(f"{x}\n" for t in final["transcript"] for x in t.get("script", ())) + "HAMLET."
    )
    times = []
    for i in range(6):
        out = await model.complete(
            [system(prefix)],
            raw=True,
            max_tokens=25,
            temperature=0.8,
            seed=i,
            repeat_penalty=1.3,
            min_p=0.0,
            caller="floor",
        )
        if i:  # the first call fills the cache
            times.append(out.latency_s * 25 / max(1, out.usage.completion_tokens))
    return {"line_s": statistics.median(times)}


def web_latency(model_spec: str = "local") -> dict[str, float]:
    """Submit a player's line to a real `dramaturg serve` and time the first streamed entries."""
    import websockets.sync.client as wsc

    from dramaturg.testing import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DRAMATURG_HOME": home}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramaturg.cli",
                "serve",
                "--port",
                str(port),
                "--model",
                model_spec,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            import httpx

            deadline = time.time() + 120
            while True:
                try:
                    r = httpx.post(
                        f"http://127.0.0.1:{port}/api/sessions",
                        json={"stage": "elsinore", "player": "hamlet"},
                        timeout=5,
                    )
                    break
                except httpx.TransportError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError(
                            proc.stderr.read().decode() if proc.stderr else "no server"
                        ) from None
                    time.sleep(0.5)
            sid, token = r.json()["id"], r.json()["token"]
            echo, npc = [], []
            with wsc.connect(f"ws://127.0.0.1:{port}/ws/{sid}", max_size=2**24) as ws:
                ws.send(json.dumps({"token": token}))
                _until(ws, {"snapshot"})
                ws.send(json.dumps({}))
                _until(ws, {"waiting", "ended"})
                for line in ('"Who is there?"', '"Speak, I am bound to hear."', "examine cup"):
                    t0 = time.perf_counter()
                    ws.send(json.dumps({"input": line}))
                    first_echo = first_npc = None
                    while True:
                        m = json.loads(ws.recv())
                        if m["type"] == "entry" and m["entry"].get("kind") == "turn":
                            if m["entry"].get("by") == "player" and first_echo is None:
                                first_echo = time.perf_counter() - t0
                            elif m["entry"].get("by") == "agent" and first_npc is None:
                                first_npc = time.perf_counter() - t0
                        if m["type"] in {"waiting", "ended"}:
                            break
                    if first_echo is not None:
                        echo.append(first_echo)
                    if first_npc is not None:
                        npc.append(first_npc)
        finally:
            proc.kill()
            proc.wait()
    return {
        "echo_ms": statistics.median(echo) * 1e3,
        "npc_s": statistics.median(npc) if npc else float("nan"),
    }


def _until(ws, kinds: set[str]) -> dict:
    while True:
        m = json.loads(ws.recv())
        if m["type"] in kinds:
            return m


def auto_play(source: list[str], turns: int, seed: int = 0) -> dict:
    """`dramaturg drama new SOURCE` then `drama play --auto --max-turns N`, as a user runs them."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DRAMATURG_HOME": home, "DRAMATURG_MODEL": "local"}
        new = ["drama", "new", *source, "--seed", str(seed), "--quiet"]
        t0 = time.perf_counter()
        sid = subprocess.run(
            [sys.executable, "-m", "dramaturg.cli", *new],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        design_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dramaturg.cli",
                "drama",
                "play",
                sid,
                "--auto",
                "--max-turns",
                str(turns),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        took = time.perf_counter() - t0
        folder = Path(home) / "drama" / sid
        metrics = json.loads((folder / "metrics.json").read_text())
        entries = [json.loads(x) for x in (folder / "transcript.jsonl").read_text().splitlines()]
        title = Blueprint.load(folder / "blueprint.yaml").title
    turns_ = [e for e in entries if e.get("kind") == "turn"]
    return {
        "command": "dramaturg "
        + " ".join(new[:-1])
        + f" && dramaturg drama play <id> --auto --max-turns {turns}",
        "title": title,
        "design_s": design_s,
        "play_s": took,
        "metrics": metrics,
        "model_s": sum(e.get("seconds") or 0 for e in turns_),
        "lines": [(e.get("by"), e.get("public")) for e in turns_],
    }


TOPICS = ["a royal court quarrels over a letter", "two sisters fight over their father's farm"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--structured",
        action="store_true",
        help="also time the structured (instruct-path) round on the embedded model (about 1 minute)",
    )
    parser.add_argument("--skip-web", action="store_true")
    args = parser.parse_args()
    floor = asyncio.run(floor_line())
    rounds = [asyncio.run(one_round("script")) for _ in range(3)]
    print("floor", floor, "rounds", [r["s"] for r in rounds], flush=True)
    structured = asyncio.run(one_round("per_actor")) if args.structured else None
    web = None if args.skip_web else web_latency()
    print("web", web, flush=True)
    main_job = auto_play(["--blueprint", "elsinore"], 8)
    print("main job", main_job["metrics"]["shown_share"], main_job["model_s"], flush=True)
    plays = [auto_play(["--blueprint", "elsinore"], 10, seed=1)]
    plays += [
        auto_play(["--topic", t, "--model", "local"], 10, seed=i) for i, t in enumerate(TOPICS, 2)
    ]
    r = statistics.median(x["s"] for x in rounds)
    per_line = r / 5
    each = ", ".join(f"{x['s']:.2f}" for x in rounds)
    rows = [
        f"| one round of a 5-actor scene, script completion (the embedded model's default) | {r:.2f} s "
        f"(median of 3: {each}) | {rounds[0]['calls']} | "
        f"{per_line:.2f} s a line = **{per_line / floor['line_s']:.2f}x** the floor |",
        f"| floor: one 25-token line on the cached script prefix | {floor['line_s']:.2f} s | 1 | same run |",
    ]
    if structured is not None:
        rows.append(
            f"| the same round on the structured path (JSON decisions, what instruct models use) | "
            f"{structured['s']:.1f} s | {structured['calls']} | {structured['turns']} turns |"
        )
    if web is not None:
        rows.append(
            f"| web: player's submit -> their own turn streamed back | {web['echo_ms']:.0f} ms | 0 | "
            "`dramaturg serve`, websocket |"
        )
        rows.append(
            f"| web: player's submit -> the next character's line streamed | {web['npc_s']:.2f} s | 1 | |"
        )
    m = main_job["metrics"]
    body = f"""## Drama on the embedded model

Script completion on the base model (speaker, beats and stage actions chosen
in code; see `dramaturg/drama/script.py`). `python benchmarks/bench_drama.py`.

| measure | wall time | model calls | notes |
|---|---|---|---|
{chr(10).join(rows)}

The round's lines, verbatim: {" / ".join(rounds[0]["lines"])}

### The main job (`bash scripts/main.sh`: Elsinore, 8 turns, `--auto`)

| turns | spoken or shown | exact repeats | near repeats | prompt copies (8-grams) | model time | play wall time (with model load) |
|---|---|---|---|---|---|---|
| {m["steps"]} | {m["shown_share"]:.0%} | {m["exact_repeats"]} | {m["near_repeats"]} | {m["prompt_copies"]} | {main_job["model_s"]:.1f} s | {main_job["play_s"]:.1f} s |

### Three plays, auto-played, verbatim

Two are designed from a topic by the embedded model (`drama new --topic`), the third is the bundled Elsinore
with another seed. Lines marked (opening) are a scene's opening lines from the blueprint: written by hand in
Elsinore, and by the model while it designed the play in the other two; every other line is an actor's turn.
"""
    for play in plays:
        pm = play["metrics"]
        body += f"""
**{play["title"]}** (`{play["command"]}`; design {play["design_s"]:.0f} s, play {play["play_s"]:.1f} s)
: {pm["steps"]} turns, {pm["shown_share"]:.0%} spoken or shown, repeats {pm["exact_repeats"]} exact / {pm["near_repeats"]} near, prompt copies {pm["prompt_copies"]}, topic words {", ".join(pm.get("topic_words") or []) or "-"}, {pm["seconds_per_turn"] or 0:.2f} s a turn

"""
        body += (
            "\n".join(
                f"> {text}" + (" (opening)" if by == "script" else "") + "  "
                for by, text in play["lines"]
            )
            + "\n"
        )
    write_section("bench_drama", body)


if __name__ == "__main__":
    main()
