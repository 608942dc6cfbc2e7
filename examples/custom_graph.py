"""Compose dramaturg's roles into your own LangGraph StateGraph: python examples/custom_graph.py"""

import asyncio
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from dramaturg import ModelError, load_model
from dramaturg.agents import Critic, Subtask, Worker, WorkerResult


class State(TypedDict, total=False):
    question: str
    draft: str
    verdict: str


model = load_model()  # the embedded model; any spec works ("litellm:openai/gpt-4o-mini", ...)
writer, critic = Worker(name="writer", model=model), Critic(model=model)


async def write(state: State) -> dict:
    print("writer: drafting an answer ...", flush=True)
    result, _ = await writer.attempt(Subtask(id="q", description=state["question"]))
    return {"draft": result.output if result.ok else f"(no draft: {result.error})"}


async def review(state: State) -> dict:
    print("critic: scoring the draft ...", flush=True)
    draft = WorkerResult(subtask_id="q", worker="writer", output=state["draft"])
    try:
        verdict = await critic.review(Subtask(id="q", description=state["question"]), draft)
    except ModelError as exc:  # no valid verdict within the retries: report it, do not crash
        return {"verdict": f"none: {exc}"}
    return {"verdict": f"{verdict.route} ({verdict.score}/100)"}


builder = StateGraph(State)
builder.add_node("write", write)
builder.add_node("review", review)
builder.add_edge(START, "write")
builder.add_edge("write", "review")
builder.add_edge("review", END)
graph = builder.compile()
final = asyncio.run(graph.ainvoke({"question": "Name three props a ghost scene needs."}))
print("draft:", final["draft"])
print("verdict:", final["verdict"])
