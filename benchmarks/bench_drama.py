"""Drama on the embedded model: one round of a 5-actor scene, actor turns with and
without prefix reuse, a 3-scene --auto play with its metrics, and the web page's
latency from a player's submit.

    python benchmarks/bench_drama.py                 # everything (about 15 minutes on 2 cores)
    python benchmarks/bench_drama.py --skip-play     # leave out the 3-scene play

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
from dramaturg.drama import Actor, ActorView, Blueprint, Director, drama
from dramaturg.errors import ModelError
from dramaturg.models import RetryingModel, load_model
from dramaturg.models.local import LocalModel

ROOT = Path(__file__).resolve().parent.parent


def five_actors() -> Blueprint:
    """The bundled Elsinore with Polonius added: five characters in the hall."""
    data = Blueprint.load(ROOT / "dramaturg" / "drama" / "plays" / "elsinore.yaml").model_dump()
    data["cast"]["polonius"] = {"name": "Polonius", "background": "The king's old counsellor, Ophelia's father.",
                                "goals": ["find out what troubles Hamlet"], "emotion": "busy", "location": "hall"}
    scene = data["scenes"][0]
    scene["cast"] = ["hamlet", "claudius", "horatio", "ophelia", "polonius"]
    data["scenes"] = [scene]
    return Blueprint.model_validate(data)


async def one_round(mode: str) -> dict[str, float]:
    model = load_model("local")
    # A round: every character acts once. Per actor: the director takes turns in order (no calls of
    # its own), one decision per character. Ensemble: one director pick, then one call for all five.
    director = Director(model=None if mode == "per_actor" else model)
    graph = drama(five_actors(), actor=Actor(model=model), director=director,
                  tool_agent=ToolAgent(model=model), mode=mode, max_turns=5, reflect_every=100)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    final = await graph.ainvoke({}, {"recursion_limit": 200})
    took = time.perf_counter() - t0
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    return {"s": took, "calls": model.usage.total.calls, "turns": len(turns),
            "actors": len({t["actor"] for t in turns})}


def actor_turns(reuse: bool, rounds: int = 3) -> dict[str, float]:
    """Actor decisions for 5 characters in turn, with llama.cpp's prefix reuse or with the KV cache cleared."""
    local = LocalModel(prefix_cache_mb=512 if reuse else 0)
    actor = Actor(model=RetryingModel(local, retries=2))
    bp = five_actors()
    heard: list[str] = []
    times: list[float] = []
    from dramaturg.models import run_sync
    for r in range(rounds):
        for cid, c in bp.cast.items():
            view = ActorView(character=cid, name=c.name, persona=f"{c.background}\nGoals: {'; '.join(c.goals)}.",
                             scene="The feast in the hall (hall)", beat="Claudius greets Hamlet as a son",
                             perceived=heard[-8:], surroundings="Great Hall. Torches gutter along the stone walls.",
                             others=[o for o in bp.cast if o != cid])
            if not reuse:
                local.engine.llm.reset()
            t0 = time.perf_counter()
            try:
                line = run_sync(actor.decide(view)).line or "..."
            except ModelError:
                line = "..."
            if r:  # the first round warms the caches
                times.append(time.perf_counter() - t0)
            heard.append(f"{c.name} says: {line}")
    return {"turn_s": statistics.median(times)}


def web_latency(model_spec: str = "local") -> dict[str, float]:
    """Submit a player's line to a real `dramaturg serve` and time the first streamed entries."""
    import websockets.sync.client as wsc

    from dramaturg.testing import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DRAMATURG_HOME": home}
        proc = subprocess.Popen([sys.executable, "-m", "dramaturg.cli", "serve", "--port", str(port),
                                 "--model", model_spec], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            import httpx

            deadline = time.time() + 120
            while True:
                try:
                    r = httpx.post(f"http://127.0.0.1:{port}/api/sessions", json={"stage": "elsinore", "player": "hamlet"},
                                   timeout=5)
                    break
                except httpx.TransportError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "no server") from None
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
    return {"echo_ms": statistics.median(echo) * 1e3, "npc_s": statistics.median(npc) if npc else float("nan")}


def _until(ws, kinds: set[str]) -> dict:
    while True:
        m = json.loads(ws.recv())
        if m["type"] in kinds:
            return m


def three_scene_play() -> dict:
    """`dramaturg drama new --blueprint elsinore` then `drama play --auto`, as a user runs it."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DRAMATURG_HOME": home, "DRAMATURG_MODEL": "local"}
        new = ["dramaturg", "drama", "new", "--blueprint", "elsinore", "--scene-steps", "6", "--quiet"]
        sid = subprocess.run([sys.executable, "-m", "dramaturg.cli", *new[1:]], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dramaturg.cli", "drama", "play", sid, "--auto"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        took = time.perf_counter() - t0
        metrics = json.loads((Path(home) / "drama" / sid / "metrics.json").read_text())
    metrics["wall_s"] = took
    metrics["command"] = " ".join(new) + " && dramaturg drama play <id> --auto"
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-play", action="store_true")
    args = parser.parse_args()
    per_actor = asyncio.run(one_round("per_actor"))
    print("round per_actor", per_actor, flush=True)
    ensemble = asyncio.run(one_round("ensemble"))
    print("round ensemble", ensemble, flush=True)
    cold, warm = actor_turns(False), actor_turns(True)
    print("actor turns", cold, warm, flush=True)
    web = web_latency()
    print("web", web, flush=True)
    play = None if args.skip_play else three_scene_play()
    print("play", play, flush=True)
    rows = [
        f"| one round of a 5-actor scene, a call per actor (+ the tool agent for acts and moves) | "
        f"{per_actor['s']:.1f} s | {per_actor['calls']} | {per_actor['turns']} turns by {per_actor['actors']} actors |",
        f"| the same round, one director pick + one ensemble call for all five | {ensemble['s']:.1f} s | {ensemble['calls']} | "
        f"{ensemble['turns']} turns by {ensemble['actors']} actors |",
    ]
    body = f"""## Drama on the embedded model

| measure | wall time | model calls | notes |
|---|---|---|---|
{chr(10).join(rows)}
| actor turn (one decision), KV cache cleared before each call | {cold['turn_s']:.2f} s | 1 | median over 10 turns |
| actor turn with prefix reuse (llama.cpp KV cache + 512 MB prompt-state cache) | {warm['turn_s']:.2f} s | 1 | speed-up {cold['turn_s'] / warm['turn_s']:.2f}x |
| web: player's submit -> their own turn streamed back | {web['echo_ms']:.0f} ms | 0 | `dramaturg serve`, websocket |
| web: player's submit -> the next character's turn streamed | {web['npc_s']:.1f} s | 2-3 | director pick + actor decision |

For scale, Concordia's users report about 30 minutes for one step of 5 agents.
The web page streams whole turns as each one is decided (token-by-token
streaming of a line is not implemented).
"""
    if play is not None:
        body += f"""
A 3-scene `--auto` play of the bundled Elsinore on the embedded model
(`{play['command']}`, at most 6 turns a scene) finished in {play['wall_s'] / 60:.1f} minutes:

| steps | scenes | beats reached | knowledge leaks | prop-state errors | refused actions | actor-initiated | repetition | model calls / step |
|---|---|---|---|---|---|---|---|---|
| {play['steps']} | {play['scenes']} | {play['beats_done']}/{play['beats_planned']} ({play['beat_completion']:.0%}) | {play['knowledge_leaks']} | {play['prop_state_errors']} | {play['refused_actions']} | {play['actor_initiated_share']:.0%} | {play['repetition']:.0%} | {play['model_calls_per_step'] or float('nan'):.2f} |
"""
    write_section("bench_drama", body)


if __name__ == "__main__":
    main()
