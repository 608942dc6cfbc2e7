"""The structured calls dramaturg's roles really make, captured for the model benchmarks.

Each role runs once per input against a model that only records what it was
asked (messages, schema, options) and answers nothing usable; the recorded
calls are then replayed against the embedded model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from dramaturg.agents import Critic, Planner, ToolAgent, Worker
from dramaturg.agents.schemas import Subtask, WorkerResult
from dramaturg.drama import Actor, ActorView, Director
from dramaturg.errors import DramaturgError
from dramaturg.models import Completion, Message
from dramaturg.models.base import BaseChatModel
from dramaturg.tools import ToolSet, python_tool

__all__ = ["RoleCall", "role_calls"]


@dataclass(frozen=True)
class RoleCall:
    role: str
    messages: list[Message]
    schema: type[BaseModel]
    json_schema: dict[str, Any]


class _Recorder(BaseChatModel):
    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[list[Message], dict[str, Any]]] = []

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        self.calls.append((list(messages), dict(opts)))
        return Completion(text="")


TASKS = [
    "Find the capital of Peru and its population.",
    "Write a haiku about rain and translate it into French.",
    "Sum the sales column of sales.csv.",
    "Name the author of Hamlet and the year it was written.",
    "Plan a picnic for six people.",
]
RESULTS = [
    ("Name three primary colours.", "red, blue, yellow"),
    ("Give water's boiling point in Celsius.", "It is quite hot."),
    ("Translate 'hello' into French.", "bonjour"),
    ("Add 17 and 25.", "42"),
    ("Name a play by Shakespeare.", "Hamlet"),
]
SCENES = [
    ("hamlet", "Claudius raises his cup to the court."),
    ("ophelia", "Hamlet tears up a letter."),
    ("horatio", "The ghost walks on the battlements."),
    ("gertrude", "Polonius hides behind the arras."),
    ("claudius", "Hamlet stares at him during the play."),
]
GOALS = [
    (
        "take the cup",
        "A hall. A cup stands on the table.",
        ["take cup", "look", "go north", "wait"],
    ),
    ("open the door", "A corridor. The door is closed.", ["open door", "look", "go south"]),
    (
        "give the letter to ophelia",
        "Ophelia is here. You hold a letter.",
        ["give letter to ophelia", "read letter", "look", "wait"],
    ),
    ("go to the garden", "The hall. Doors lead north and east.", ["go north", "go east", "look"]),
    ("drink from the cup", "You hold a cup.", ["drink cup", "drop cup", "look"]),
]


async def _capture() -> list[RoleCall]:
    recorder = _Recorder()
    actor = Actor(model=recorder)
    names = {
        "hamlet": "Hamlet",
        "ophelia": "Ophelia",
        "horatio": "Horatio",
        "gertrude": "Gertrude",
        "claudius": "Claudius",
    }
    runs: list[tuple[str, Any]] = []
    for task in TASKS:
        runs.append(
            ("planner", Planner(model=recorder).plan(task, capabilities=["general", "python"]))
        )
        worker = Worker(name="analyst", model=recorder, tools=ToolSet([python_tool(timeout_s=5)]))
        runs.append(("worker", worker.attempt(Subtask(id="s1", description=task))))
    for description, output in RESULTS:
        result = WorkerResult(subtask_id="s1", worker="analyst", output=output)
        runs.append(
            (
                "critic",
                Critic(model=recorder).review(Subtask(id="s1", description=description), result),
            )
        )
    for who, event in SCENES:
        others = [c for c in names if c != who][:2]
        view = ActorView(
            character=who,
            name=names[who],
            persona=f"{names[who]} of Elsinore.",
            scene="The hall",
            beat="Hamlet tests the king",
            perceived=[event],
            others=others,
        )
        runs.append(("actor", actor.decide(view)))
        runs.append(
            (
                "director",
                Director(model=recorder).pick(
                    scene="hall",
                    cast=list(names),
                    names=names,
                    beats=[{"id": "b1", "text": "The king drinks", "status": "pending"}],
                    recent=[f"{names[who]}: {event}"],
                    last=who,
                ),
            )
        )
    for goal, observation, admissible in GOALS:
        runs.append(
            (
                "tool agent",
                ToolAgent(model=recorder).command(
                    goal=goal, observation=observation, admissible=admissible
                ),
            )
        )
    out = []
    for role, run in runs:
        before = len(recorder.calls)
        try:
            await run
        except DramaturgError:
            pass
        for messages, opts in recorder.calls[before:]:
            if opts.get("response_model") is not None:
                out.append(RoleCall(role, messages, opts["response_model"], opts["json_schema"]))
                break
    return out


def role_calls() -> list[RoleCall]:
    """One structured call per role and input: planner, worker, critic, actor, director, tool agent (5 each)."""
    return asyncio.run(_capture())
