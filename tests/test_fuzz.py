"""Fuzzing: every role schema and every graph, driven by a seeded model of malformed outputs.

A model may answer anything: truncated JSON, wrong types, huge strings, lone
surrogates, tools nobody has, actions no world accepts (see
:class:`dramaturg.testing.FuzzModel`). Whatever it answers, a role may raise
only dramaturg's documented errors (:class:`DramaturgError`), and a graph not
even those: a model's mistake becomes feedback, a retry or a recorded
failure. Every graph runs with a checkpointer (SQLite or in-memory; both
serialize every step), and the state it saved must read back as the state it
returned.

A failure names the target, the seed and the traceback: ``FuzzModel(seed)``
replays the same answers.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from dramaturg.agents import Critic, Planner, ToolAgent, Worker
from dramaturg.agents.roles import plan_schema
from dramaturg.agents.schemas import CriticVerdict, Plan, ReactStep
from dramaturg.drama import Actor, ActorView, Director, actor_for, director_for, drama
from dramaturg.drama.blueprint import Blueprint
from dramaturg.drama.design import BlueprintDirector, Reviewer, design_blueprint
from dramaturg.drama.director import Reflection
from dramaturg.drama.drafts import CastDraft, DirectorCut, Review, ScenesDraft, StageDraft
from dramaturg.errors import DramaturgError
from dramaturg.evals.judge import CriterionAnswer, Judge
from dramaturg.graphs import Budget, Episode, embodied, open_checkpointer, react, workforce
from dramaturg.memory import HashingEmbedder, Memory
from dramaturg.memory.importance import ImportanceRating, ModelImportance
from dramaturg.memory.reflection import FocalQuestions, Insights, Reflector
from dramaturg.models import ChatModel, system, user, wrap
from dramaturg.testing import FuzzModel
from dramaturg.tools import ToolSet, file_reader
from dramaturg.worlds import make_world

ELSINORE = Path(__file__).parents[1] / "dramaturg" / "drama" / "plays" / "elsinore.yaml"

# Every fixed schema a role asks a model for. The schemas built per call (the
# director's pick, an actor's decision and the ensemble's, the tool agent's
# commands, free or from a list) are driven through their roles in `roles`.
ROLE_SCHEMAS = [
    Plan, plan_schema(["s1"]), CriticVerdict, ReactStep,  # planner (and replanner), critic, worker
    Reflection,  # director
    CastDraft, StageDraft, ScenesDraft, Review, DirectorCut,  # blueprint designer, reviewer, director
    CriterionAnswer,  # judge
    ImportanceRating, FocalQuestions, Insights,  # memory
]  # fmt: skip
PROMPT = [
    system("Hamlet takes the cup in the hall; Ophelia reads the letter. Tools: add, shout."),
    user("What now? Answer for s1, b1, hamlet, ophelia and the hall."),
]
NAMES = {"hamlet": "Hamlet", "claudius": "Claudius"}
# What a person types at the player's turns in the drama graph, sensible or not.
PLAYER_INPUTS = [
    '"Who is there?"',
    "take cup",
    "fly to the moon",
    "give crown to nobody",
    "x" * 600,
    "",
    "open door",
    "wait",
    "\x00\x01",
    "hamlet: look",
]


def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


def shout(text: str) -> str:
    """Say a text loudly.

    Args:
        text: what to say.
    """
    return text.upper()


def view(character: str, others: list[str]) -> ActorView:
    return ActorView(
        character=character,
        name=character.title(),
        persona="A prince.",
        scene="The hall",
        beat="b1",
        perceived=["Claudius raises his cup."],
        others=others,
    )


class Shared:
    """What the seeds of one test share: worlds and a memory, which take seconds to start."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self._open: dict[str, Any] = {}

    def world(self, world_id: str) -> Any:
        if world_id not in self._open:
            options = {"isolate": False} if world_id.startswith("alfworld/") else {}
            self._open[world_id] = make_world(world_id, **options)
        return self._open[world_id]

    def memory(self) -> Memory:
        if "memory" not in self._open:
            self._open["memory"] = Memory(
                self.where / "memory", embedder=HashingEmbedder(), durability="normal"
            )
        return self._open["memory"]

    def close(self) -> None:
        for thing in self._open.values():
            thing.close()


class Unlisted:
    """A world that does not list its commands: the tool agent writes free text, and the
    world has to refuse whatever the model makes up."""

    steps_inline = True

    def __init__(self, world: Any) -> None:
        self.world = world

    def reset(self, **kwargs: Any) -> tuple[str, dict]:
        obs, info = self.world.reset(**kwargs)
        return obs, {**info, "admissible_actions": None}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.world.step(action)
        return obs, reward, terminated, truncated, {**info, "admissible_actions": None}


# ------------------------------------------------------------------- targets
async def roles(model: ChatModel, shared: Shared) -> None:
    """Every role schema through `structured`, then the roles no graph below plays."""
    for schema in ROLE_SCHEMAS:
        for _ in range(6):
            try:
                await model.structured(PROMPT, schema)
            except DramaturgError:
                pass  # the bounded retry ran out: documented
    memory = shared.memory()
    memory.record(
        text="Claudius pours poison in the king's ear.", actor="claudius", witnesses={"hamlet"}
    )
    beats = [
        {"id": "b1", "text": "Hamlet faces the king", "status": "pending"},
        {"id": "b2", "text": "done already", "status": "done"},
    ]
    bp = Blueprint.load(ELSINORE)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: Director(model=model).pick(
            scene="hall",
            cast=["hamlet", "claudius"],
            names=NAMES,
            beats=beats,
            recent=["Hamlet: Who's there?"],
            last="hamlet",
        ),
        lambda: Actor(model=model).decide(view("hamlet", ["ophelia", "claudius"])),
        lambda: Actor(model=model).ensemble(
            [view("hamlet", ["ophelia"]), view("ophelia", ["hamlet"])]
        ),
        lambda: ToolAgent(model=model).command(
            goal="take the cup", observation="A cup.", admissible=["take cup", "look"]
        ),
        lambda: ToolAgent(model=model).command(
            goal="take the cup", observation="A cup.", history=[("A hall.", "look")]
        ),
        lambda: design_blueprint("a ghost demands revenge", model=model, scenes=2, max_revisions=1),
        lambda: Reviewer(model=model).review(bp),
        lambda: BlueprintDirector(model=model).finalize(bp),
        lambda: Judge(model).judge([("Hamlet", "Who's there?"), ("Horatio", "Friends.")]),
        lambda: ModelImportance(model).score(["Ophelia is dead.", "It rains."]),
        lambda: Reflector(model, n_questions=2, n_insights=2).reflect(memory, "hamlet"),
    ]
    for call in calls:
        for _ in range(3):
            try:
                await call()
            except DramaturgError:
                pass


Built = tuple[Any, Any, Any]  # a compiled graph, its input, its run's context


def build_workforce(model: ChatModel, seed: int, saver: Any, where: Path, shared: Shared) -> Built:
    graph = workforce(
        planner=Planner(model=model),
        workers=[
            Worker(name="scribe", model=model),
            Worker(
                name="clerk",
                model=model,
                tools=ToolSet([add, shout]),
                capabilities=("general", "tools"),
                max_steps=2,
            ),
        ],
        critic=Critic(model=model),
        budget=Budget(max_retries=1, max_replans=1, max_depth=1, max_attempts=6),
        checkpointer=saver,
    )
    return graph, {"task": "Add 2 and 3, then say the sum as Hamlet would."}, None


def build_react(model: ChatModel, seed: int, saver: Any, where: Path, shared: Shared) -> Built:
    (where / "notes.txt").write_text("The king drinks.", encoding="utf-8")
    worker = Worker(
        name="solo", model=model, tools=ToolSet([add, shout, file_reader(where)]), max_steps=3
    )
    return react(worker=worker, checkpointer=saver), {"task": "What is in notes.txt?"}, None


def build_embodied(model: ChatModel, seed: int, saver: Any, where: Path, shared: Shared) -> Built:
    world = shared.world("alfworld/pick_and_place_simple" if seed % 4 == 1 else "theatre/elsinore")
    if seed % 3 == 2:
        world = Unlisted(world)
    graph = embodied(
        tool_agent=ToolAgent(model=model),
        planner=Planner(model=model),
        critic=Critic(model=model),
        max_steps=8,
        critique_every=3,
        max_replans=1,
        checkpointer=saver,
    )
    return graph, {}, Episode(world, seed=0)


def build_drama(model: ChatModel, seed: int, saver: Any, where: Path, shared: Shared) -> Built:
    # Every fourth seed plays a base model: script completion, turns chosen in code.
    graph = drama(
        Blueprint.load(ELSINORE),
        actor=actor_for(model, seed=seed),
        director=director_for(model),
        tool_agent=ToolAgent(model=model),
        player="hamlet" if seed % 3 == 0 else None,
        mode=("per_actor", "ensemble")[seed % 2],
        reflect_every=2,
        max_scene_steps=4,
        max_turns=10,
        memory=shared.memory() if seed % 4 == 1 else None,
        checkpointer=saver,
    )
    return graph, {}, None


GRAPHS = {
    "workforce": build_workforce,
    "react": build_react,
    "embodied": build_embodied,
    "drama": build_drama,
}
SEEDS = {
    "roles": range(4),
    "workforce": range(100),
    "react": range(60),
    "embodied": range(32),
    "drama": range(24),
}
# The least number of model outputs each target must drive; they drive about 2,900 in all.
MIN_OUTPUTS = {"roles": 900, "workforce": 600, "react": 200, "embodied": 300, "drama": 500}


async def play(target: str, model: ChatModel, seed: int, where: Path, shared: Shared) -> None:
    """One graph run with a checkpointer; the state it saved must read back as the state it returned."""
    config = {"configurable": {"thread_id": f"fuzz-{seed}"}, "recursion_limit": 200}
    async with open_checkpointer("memory" if seed % 2 else where / "checkpoints.sqlite") as saver:
        graph, inputs, context = GRAPHS[target](model, seed, saver, where, shared)
        final = await graph.ainvoke(inputs, config, context=context)
        for text in PLAYER_INPUTS:  # a player's turns, until the play ends
            if "__interrupt__" not in final:
                break
            final = await graph.ainvoke(Command(resume=text), config, context=context)
        saved = (await graph.aget_state(config)).values
        returned = {k: v for k, v in final.items() if k != "__interrupt__"}
        lost = sorted(k for k in {*saved, *returned} if saved.get(k) != returned.get(k))
        assert not lost, f"the checkpoint does not read back as the returned state: {lost}"


def test_the_targets_drive_at_least_2000_outputs_in_all():
    assert set(MIN_OUTPUTS) == set(SEEDS) == {"roles", *GRAPHS}
    assert sum(MIN_OUTPUTS.values()) >= 2000


@pytest.mark.parametrize("target", list(SEEDS))
async def test_malformed_model_outputs_never_crash(target, tmp_path):
    outputs, crashes, drawn = 0, [], set()
    shared = Shared(tmp_path)
    try:
        for seed in SEEDS[target]:
            fuzz = FuzzModel(
                seed, kind="base" if target == "drama" and seed % 4 == 3 else "instruct"
            )
            where = tmp_path / f"seed-{seed}"
            where.mkdir()
            try:
                if target == "roles":  # traced: the trace file must take whatever the model wrote
                    await roles(wrap(fuzz, trace=where / "trace.jsonl"), shared)
                else:
                    await play(target, wrap(fuzz), seed, where, shared)
            except Exception:  # `roles` lets documented errors through; a graph, none
                crashes.append(
                    f"--- {target}, FuzzModel({seed}), at output {fuzz.calls}:\n{traceback.format_exc()}"
                )
            outputs += fuzz.calls
            drawn |= set(fuzz.drawn)
    finally:
        shared.close()
    assert not crashes, "\n".join(crashes)
    assert outputs >= MIN_OUTPUTS[target]
    assert drawn == set(FuzzModel.KINDS)
