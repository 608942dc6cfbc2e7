"""Graph-layer benchmarks: framework overhead per step, concurrency, idle session cost.

    python benchmarks/bench_graphs.py

* Overhead: the workforce graph with zero-latency ScriptedModels against a
  bare LangGraph graph making the same number of node transitions (async
  nodes, the same reducer-style dict state), per transition.
* Concurrency: 256 embodied episodes on the theatre stage at once, every
  model call taking 100 ms, against one episode alone.
* Idle sessions: workforce runs paused at plan approval (an interrupt),
  checkpointed to SQLite: resident memory and disk per paused session.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools
import operator

from _results import write_section
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from dramaturg.agents import Critic, Planner, ToolAgent, Worker
from dramaturg.graphs import Episode, embodied, open_checkpointer, workforce
from dramaturg.models import DelayedModel, ScriptedModel
from dramaturg.worlds import make_world

N_SUBTASKS = 10  # the planner schema allows at most 12 subtasks


def _merge(a: dict | None, b: dict | None) -> dict:
    return {**(a or {}), **(b or {})}


class Bare(TypedDict, total=False):
    status: Annotated[dict, _merge]


def bare_graph(transitions: int):
    builder = StateGraph(Bare)
    names = [f"n{i}" for i in range(transitions)]
    for i, name in enumerate(names):

        async def node(state: Bare, i: int = i) -> dict:
            return {"status": {f"s{i}": "done"}}

        builder.add_node(name, node)
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder.compile()


class Shaped(TypedDict, total=False):
    task: str
    status: Annotated[dict, _merge]
    results: Annotated[dict, _merge]
    log: Annotated[list, operator.add]
    answer: str


def shaped_graph(n: int):
    """Bare LangGraph with the workforce graph's topology and no framework work:
    plan -> (conditional) Send to work -> join -> (conditional) ... -> finish.
    Nodes only write dicts; the routing is the same dependency check."""
    builder = StateGraph(Shaped)

    async def plan(state: Shaped) -> dict:
        return {"status": {f"s{i}": "pending" for i in range(n)}}

    async def route(state: Shaped):
        status = state["status"]
        if all(v == "done" for v in status.values()):
            return "finish"
        ready = [
            i
            for i in range(n)
            if status[f"s{i}"] == "pending" and (i == 0 or status[f"s{i - 1}"] == "done")
        ]
        return [Send("work", {"id": f"s{i}"}) for i in ready]

    async def work(job: dict) -> dict:
        return {
            "status": {job["id"]: "done"},
            "results": {job["id"]: "ok"},
            "log": [{"node": "work"}],
        }

    async def join(state: Shaped) -> dict:
        return {}

    async def finish(state: Shaped) -> dict:
        return {"answer": "ok"}

    for name, fn in (("plan", plan), ("work", work), ("join", join), ("finish", finish)):
        builder.add_node(name, fn)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", route, ["work", "finish"])
    builder.add_edge("work", "join")
    builder.add_conditional_edges("join", route, ["work", "finish"])
    builder.add_edge("finish", END)
    return builder.compile()


def team(model_delay: float = 0.0, checkpointer=None, approve: bool = False):
    plan = {
        "subtasks": [
            {"id": f"s{i}", "description": "x", "depends_on": [f"s{i - 1}"] if i else []}
            for i in range(N_SUBTASKS)
        ]
    }
    return workforce(
        planner=Planner(model=ScriptedModel([plan])),
        workers=[Worker(name="w", model=ScriptedModel(["ok"] * N_SUBTASKS))],
        critic=Critic(model=ScriptedModel([{"score": 90, "route": "accept"}] * N_SUBTASKS)),
        checkpointer=checkpointer,
        approve_plans=approve,
    )


async def _timed(graph, inp: dict) -> tuple[float, int]:
    t0 = time.perf_counter()
    steps = [n async for update in graph.astream(inp, stream_mode="updates") for n in update]
    return time.perf_counter() - t0, len(steps)


async def overhead(reps: int) -> dict[str, float]:
    """Per-transition time of the workforce graph, a bare chain and a bare graph of the same shape.

    The three are interleaved, rep by rep, so drift on the machine hits them alike."""
    ours, chain, shaped = [], [], []
    transitions = 0
    for _ in range(reps):
        took, transitions = await _timed(team(), {"task": "t"})
        ours.append(took)
        took, n = await _timed(bare_graph(transitions), {})
        assert n == transitions
        chain.append(took)
        took, n = await _timed(shaped_graph(N_SUBTASKS), {"task": "t"})
        assert n == transitions, (n, transitions)
        shaped.append(took)
    o, c, s = (statistics.median(x) / transitions for x in (ours, chain, shaped))
    return {
        "ours_ms": o * 1e3,
        "bare_ms": c * 1e3,
        "shaped_ms": s * 1e3,
        "ratio": o / c,
        "shaped_ratio": o / s,
        "transitions": transitions,
    }


GOLD = ["open door", "wait", "poison cup", "move north", "wait", "wait", "give letter to ophelia"]


def _next_gold(messages, opts) -> dict:  # earlier turns come back as assistant messages
    return {"command": GOLD[sum(m["role"] == "assistant" for m in messages)]}


def actor_graph(n: int, delay: float):
    """One compiled embodied graph for every episode; each run brings its own world."""
    model = DelayedModel(ScriptedModel([_next_gold] * (len(GOLD) * n)), delay)
    return embodied(tool_agent=ToolAgent(model=model, history_turns=len(GOLD)))


async def episode(graph) -> str:
    with make_world("theatre/elsinore") as world:
        final = await graph.ainvoke({}, context=Episode(world, seed=0))
        return final["outcome"]


class Floor(TypedDict, total=False):
    steps: Annotated[list, operator.add]


def floor_graph(delay: float):
    """Bare LangGraph with the embodied graph's shape: start, 7 model-latency steps, finish."""
    builder = StateGraph(Floor)

    async def start(state: Floor) -> dict:
        return {}

    async def act(state: Floor) -> dict:
        await asyncio.sleep(delay)
        return {"steps": [1]}

    async def finish(state: Floor) -> dict:
        return {}

    builder.add_node("start", start)
    builder.add_node("act", act)
    builder.add_node("finish", finish)
    builder.add_edge(START, "start")
    builder.add_edge("start", "act")
    builder.add_conditional_edges(
        "act", lambda s: "finish" if len(s["steps"]) >= len(GOLD) else "act", ["act", "finish"]
    )
    builder.add_edge("finish", END)
    return builder.compile()


async def concurrency(n: int, delay: float) -> dict[str, float]:
    graph = actor_graph(n + 1, delay)
    t0 = time.perf_counter()
    assert await episode(graph) == "won"
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(episode(graph) for _ in range(n)))
    many = time.perf_counter() - t0
    assert outcomes.count("won") == n, outcomes
    floor = floor_graph(delay)
    t0 = time.perf_counter()
    await floor.ainvoke({})
    floor_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    await asyncio.gather(*(floor.ainvoke({}) for _ in range(n)))
    floor_many = time.perf_counter() - t0
    return {
        "one_s": one,
        "many_s": many,
        "ratio": many / one,
        "floor_one_s": floor_one,
        "floor_many_s": floor_many,
        "floor_ratio": floor_many / floor_one,
    }


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


async def idle_sessions(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sessions.sqlite"
        async with open_checkpointer(db) as saver:
            await team(checkpointer=saver, approve=True).ainvoke(
                {"task": "warm"}, {"configurable": {"thread_id": "w"}}
            )
            before_rss, before_disk = _rss_kb(), sum(p.stat().st_size for p in Path(tmp).iterdir())
            graphs = []
            for i in range(n):
                graph = team(checkpointer=saver, approve=True)
                await graph.ainvoke({"task": f"task {i}"}, {"configurable": {"thread_id": f"s{i}"}})
                graphs.append(graph)  # kept alive: an idle session in a server holds its graph
            after_rss, after_disk = _rss_kb(), sum(p.stat().st_size for p in Path(tmp).iterdir())
    return {
        "rss_kb": (after_rss - before_rss) / n,
        "disk_kb": (after_disk - before_disk) / 1024 / n,
    }


OVERHEAD_ROUNDS = 3  # the overhead measure is repeated; the table shows the median round


def main() -> None:
    rounds = sorted(
        (asyncio.run(overhead(15)) for _ in range(OVERHEAD_ROUNDS)), key=lambda r: r["ratio"]
    )
    o = rounds[len(rounds) // 2]
    ratios = ", ".join(f"{r['ratio']:.2f}" for r in rounds)
    sweep = {n: asyncio.run(concurrency(n, 0.1)) for n in (16, 64, 256)}
    c = sweep[256]
    m = asyncio.run(idle_sessions(200))
    ok = lambda cond: "met" if cond else "**missed**"  # noqa: E731
    rows = "\n".join(
        f"| {n} | {r['many_s'] * 1000:.0f} ms | **{r['ratio']:.2f}x** | {r['floor_many_s'] * 1000:.0f} ms | "
        f"{r['floor_ratio']:.2f}x |"
        for n, r in sweep.items()
    )
    body = f"""## Graphs

| measure | value | target |
|---|---|---|
| workforce, {N_SUBTASKS} chained subtasks, zero-latency ScriptedModels: time per transition | {o["ours_ms"]:.3f} ms | < 1 ms: {ok(o["ours_ms"] < 1)} |
| bare LangGraph chain, same {o["transitions"]} transitions | {o["bare_ms"]:.3f} ms | |
| bare LangGraph graph of the workforce's shape (Send fan-out, routed joins), same {o["transitions"]} transitions | {o["shaped_ms"]:.3f} ms | |
| overhead ratio (ours / bare chain), median of {OVERHEAD_ROUNDS} rounds ({ratios}) | **{o["ratio"]:.2f}** | <= 1.2: {ok(o["ratio"] <= 1.2)} |
| overhead ratio (ours / bare graph of the same shape) | {o["shaped_ratio"]:.2f} | |
| one embodied episode on the theatre stage, 7 model calls of 100 ms | {c["one_s"] * 1000:.0f} ms | |
| 256 such episodes at once | {c["many_s"] * 1000:.0f} ms | |
| concurrency ratio (256 / 1) | **{c["ratio"]:.2f}x** | <= 1.5x: {ok(c["ratio"] <= 1.5)} |
| the same 256 episodes in bare LangGraph (same shape, nodes only sleep 100 ms) | {c["floor_ratio"]:.2f}x | |
| paused session (plan approval interrupt), resident memory each | {m["rss_kb"]:.0f} KiB | |
| paused session, SQLite checkpoint on disk each | {m["disk_kb"]:.1f} KiB | |

Concurrent embodied episodes (one compiled graph, each run with its own world
as its `Episode` context), against bare LangGraph running the same shape:

| episodes at once | ours, wall | ours / one episode | bare LangGraph, wall | bare / one episode |
|---|---|---|---|---|
{rows}

A "transition" is one node execution. Our nodes validate plans and results with
pydantic, render Jinja prompts, call the (scripted) model and apply the critic's
route; the bare nodes only merge a dict, so the ratio is the full cost of the
framework's work per step, not LangGraph's. Each round interleaves 15 runs of
each graph and takes their medians; the rounds show the spread on this shared machine.

History of the overhead ratio: 1.34 on 2026-11-23 (the same code measured 1.39-1.46
on 2026-12-03 before the change). On 2026-12-03 the workforce graph stopped paying
LangGraph for routing: `join` returns its route as a `Command` (a conditional edge
copies every channel to give its router a fresh state), and the routers left on edges
are `Router`s (`dramaturg/graphs/_route.py`), where a plain function got a callback run
and an asyncio task per call (1.23-1.27 after that). The roles then got cheaper:
a prompt template's globals are a flat dict, not a ChainMap every render walks (12 to
5 us a render), and a structured answer that is bare JSON is parsed and validated by
pydantic in one pass, the careful parser kept for everything else. With the roles
stubbed out the graph costs what the bare chain does; what remains above it is the
roles' own work per step (rendering, the scripted model's bookkeeping, validation).

Everything runs on one event loop, so with the model's latency simulated the
wall time of many episodes is bounded by the CPU time of their transitions: at
256 episodes LangGraph itself needs about {c["floor_many_s"]:.1f} s of one core for the
{256 * (len(GOLD) + 2)} transitions. The 1.5x target is below what LangGraph alone reaches
on this machine; ours stays within {c["ratio"] / c["floor_ratio"]:.2f}x of that floor.
"""
    write_section("bench_graphs", body)


if __name__ == "__main__":
    main()
