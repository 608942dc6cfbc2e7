"""The embodied graph: plan, act in a world through the tool agent, critique.

::

    START -> start (reset the world) -> [plan] -> act <-> [critique]
                                                   |
                                                   v
                                                 finish -> END

The world itself lives outside the state (it is a process, a browser, a
game); the state keeps the actions taken, so a resumed run rebuilds the
world by resetting it with the same seed and replaying them. Worlds step in
a thread, so many episodes can run concurrently on one event loop.

A compiled graph can play many worlds: bind one when building it, or pass an
:class:`Episode` as the run's context. Compiling costs milliseconds, so a
server or an evaluation builds the graph once and hands each episode its
own world.

The nodes are the methods of :class:`EmbodiedNodes`; :func:`embodied` only
wires them.

Example:
    >>> world = make_world("textworld/tw-simple")                               # doctest: +SKIP
    >>> graph = embodied(world, tool_agent=ToolAgent(model=load_model()), seed=3)  # doctest: +SKIP
    >>> final = await graph.ainvoke({})                                         # doctest: +SKIP
    >>> final["outcome"], final["score"]                                        # doctest: +SKIP

    >>> graph = embodied(tool_agent=ToolAgent(model=load_model()))              # doctest: +SKIP
    >>> final = await graph.ainvoke({}, context=Episode(world, seed=3))         # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, TypeVar

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from dramaturg.agents.roles import Critic, Planner
from dramaturg.agents.schemas import Subtask, WorkerResult, topological_order
from dramaturg.agents.tool_agent import ToolAgent
from dramaturg.errors import ConfigError, ModelError
from dramaturg.graphs._route import Router

__all__ = ["EmbodiedNodes", "EmbodiedState", "Episode", "embodied"]

_R = TypeVar("_R")


class EmbodiedState(TypedDict, total=False):
    """The graph's state: the episode so far (the world itself lives outside it)."""

    goal: str
    observation: str
    admissible: list[str] | None
    # One entry per action: {action, before, observation, reward, error}.
    steps: Annotated[list[dict[str, Any]], operator.add]
    intents: list[str]
    intent: int
    replans: int
    critiques: Annotated[list[dict[str, Any]], operator.add]
    score: float
    won: bool
    lost: bool
    terminated: bool
    outcome: str  # won | lost | max_steps | crashed | failed


class Episode:
    """One run's live world, with the seed and options it is reset with.

    Passed as the run's context (``graph.ainvoke({}, context=Episode(world, seed=3))``);
    it is not part of the checkpointed state. It also tracks how far the world
    has been played in this process, so give each concurrent run its own.
    """

    def __init__(
        self, world: Any, seed: int | None = 0, options: dict[str, Any] | None = None
    ) -> None:
        self.world, self.seed, self.options = world, seed, options
        self.played = -1  # -1: not reset in this process

    def reset(self) -> tuple[str, dict[str, Any]]:
        obs, info = self.world.reset(seed=self.seed, options=self.options)
        self.played = 0
        return obs, info

    async def call(self, fn: Callable[..., _R], *args: Any) -> _R:
        """Run a world call off the event loop, unless the world says it is quick."""
        if getattr(self.world, "steps_inline", False):
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    def sync(self, actions: list[str]) -> None:
        """Bring the world to the state after ``actions`` (after a resume or a crash)."""
        if self.played == len(actions):
            return
        self.reset()
        for action in actions:
            self.world.step(action)
        self.played = len(actions)


@dataclass(kw_only=True, frozen=True, eq=False)
class EmbodiedNodes:
    """The embodied graph's nodes, bound to the roles and the limits.

    ``start``, ``plan``, ``act``, ``critique`` and ``finish`` are nodes; the
    ``after_*`` methods are the routers after ``start``, ``act`` and
    ``critique``. Each takes a state dict (``start`` and ``act`` also the
    run's :class:`~langgraph.runtime.Runtime`, whose context is the
    :class:`Episode`) and returns a partial update or where to go next, so a
    test calls one alone with a hand-built state.

    Args:
        tool_agent, planner, critic: the roles (see :func:`embodied`).
        bound: the episode played when a run brings none as its context.
        max_steps, critique_every, max_replans: see :func:`embodied`.

    Example:
        >>> nodes = EmbodiedNodes(tool_agent=ToolAgent(model=m), max_steps=3)  # doctest: +SKIP
        >>> await nodes.after_act({"steps": [{}, {}, {}]})                    # doctest: +SKIP
        'finish'
    """

    tool_agent: ToolAgent
    planner: Planner | None = None
    critic: Critic | None = None
    bound: Episode | None = None
    max_steps: int = 50
    critique_every: int = 5
    max_replans: int = 2

    def episode(self, runtime: Runtime[Any]) -> Episode:
        """The run's episode: its context, else the bound one."""
        context = runtime.context
        if isinstance(context, Episode):
            return context
        if context is not None:
            raise ConfigError(
                f"the embodied graph's context must be an Episode, not {type(context).__name__}"
            )
        if self.bound is None:
            raise ConfigError(
                "no world: build the graph with one, or run it with context=Episode(world, seed=...)"
            )
        return self.bound

    async def start(self, state: EmbodiedState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Reset the world; its objective (or first observation) is the goal."""
        episode = self.episode(runtime)
        obs, info = await episode.call(episode.reset)
        goal = str(info.get("objective") or obs)
        return {
            "goal": goal,
            "observation": obs,
            "admissible": info.get("admissible_actions"),
            "score": float(info.get("score") or 0.0),
            "intent": 0,
            "intents": [],
            "replans": 0,
            "won": False,
            "lost": False,
            "terminated": False,
        }

    async def plan(self, state: EmbodiedState) -> dict[str, Any]:
        """Split the goal into intents, in dependency order (after a critique: replan)."""
        assert self.planner is not None
        feedback = state["critiques"][-1]["issues"] if state.get("critiques") else None
        try:
            new = await self.planner.plan(
                state["goal"], feedback="; ".join(feedback) if feedback else None
            )
        except ModelError:
            return {"intents": [], "intent": 0}  # act on the goal itself
        order = topological_order(new.subtasks) or [t.id for t in new.subtasks]
        by_id = {t.id: t.description for t in new.subtasks}
        return {
            "intents": [by_id[i] for i in order],
            "intent": 0,
            "replans": state.get("replans", 0) + (1 if feedback else 0),
        }

    async def act(self, state: EmbodiedState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Have the tool agent pick a command for the current intent and play it."""
        episode = self.episode(runtime)
        steps = state.get("steps", [])
        if episode.played != len(steps):  # a resumed run, or a world reset elsewhere
            await episode.call(episode.sync, [s["action"] for s in steps])
        intents, i = state.get("intents") or [], state.get("intent", 0)
        goal = intents[i] if i < len(intents) else state["goal"]
        try:
            command = await self.tool_agent.command(
                goal=goal,
                observation=state["observation"],
                history=[(s["before"], s["action"]) for s in steps],
                admissible=state.get("admissible"),
            )
        except ModelError as exc:
            return {
                "terminated": True,
                "outcome": "failed",
                "steps": [
                    {
                        "action": "",
                        "before": state["observation"],
                        "observation": "",
                        "reward": 0.0,
                        "error": f"no command: {exc}",
                    }
                ],
            }
        obs, reward, terminated, truncated, info = await episode.call(episode.world.step, command)
        episode.played += 1
        update: dict[str, Any] = {
            "steps": [
                {
                    "action": command,
                    "before": state["observation"],
                    "observation": obs,
                    "reward": float(reward),
                    "error": info.get("error"),
                }
            ],
            "observation": obs,
            "admissible": info.get("admissible_actions"),
            "score": float(info.get("score") or state.get("score", 0.0)),
            "won": bool(info.get("won")),
            "lost": bool(info.get("lost")),
            "terminated": bool(terminated or truncated),
        }
        if info.get("crashed"):
            update["outcome"] = "crashed"
        return update

    async def critique(self, state: EmbodiedState) -> dict[str, Any]:
        """Have the critic review the last steps; accept moves on to the next intent."""
        assert self.critic is not None
        intents, i = state.get("intents") or [], state.get("intent", 0)
        intent = intents[i] if i < len(intents) else state["goal"]
        recent = state["steps"][-self.critique_every :]
        transcript = "\n".join(f"> {s['action']}\n{s['observation'][:300]}" for s in recent)
        try:
            verdict = await self.critic.review(
                Subtask(id="now", description=intent[:400]),
                WorkerResult(subtask_id="now", worker="actor", output=transcript),
            )
        except ModelError:
            return {
                "critiques": [
                    {"route": "retry", "issues": ["the critic failed"], "at": len(state["steps"])}
                ]
            }
        update: dict[str, Any] = {
            "critiques": [
                {
                    "route": verdict.route,
                    "score": verdict.score,
                    "issues": verdict.issues,
                    "at": len(state["steps"]),
                }
            ]
        }
        if verdict.route == "accept" and i < len(intents):
            update["intent"] = i + 1
        return update

    async def after_start(self, state: EmbodiedState) -> str:
        """Plan first if there is a planner."""
        return "plan" if self.planner is not None else "act"

    async def after_act(self, state: EmbodiedState) -> str:
        """Finish when the episode ended; critique every ``critique_every`` steps."""
        if (
            state.get("terminated")
            or state.get("outcome")
            or len(state.get("steps", [])) >= self.max_steps
        ):
            return "finish"
        n = len(state["steps"])
        if self.critic is not None and self.critique_every > 0 and n % self.critique_every == 0:
            return "critique"
        return "act"

    async def after_critique(self, state: EmbodiedState) -> str:
        """Replan when the critic asks and the budget allows; otherwise act on."""
        last = state["critiques"][-1]
        if (
            last["route"] == "replan"
            and self.planner is not None
            and state.get("replans", 0) < self.max_replans
        ):
            return "plan"
        return "act"

    async def finish(self, state: EmbodiedState) -> dict[str, Any]:
        """Name the outcome: won, lost, max_steps or ended (failed and crashed are set earlier)."""
        if state.get("outcome"):
            return {}
        if state.get("won"):
            return {"outcome": "won"}
        if state.get("lost"):
            return {"outcome": "lost"}
        return {"outcome": "max_steps" if not state.get("terminated") else "ended"}


def embodied(
    world: Any = None,
    *,
    tool_agent: ToolAgent,
    planner: Planner | None = None,
    critic: Critic | None = None,
    seed: int | None = 0,
    options: dict[str, Any] | None = None,
    max_steps: int = 50,
    critique_every: int = 5,
    max_replans: int = 2,
    checkpointer: Any = None,
) -> CompiledStateGraph[EmbodiedState, Any, EmbodiedState, EmbodiedState]:
    """Build the embodied graph for one world.

    Args:
        world: a :mod:`dramaturg.worlds` world (anything with reset/step), played
            when a run passes no :class:`Episode` context. Leave it out to build
            one graph for many worlds.
        tool_agent: turns the current intent and observation into a command.
        planner: if given, splits the goal into intents tried in order.
        critic: if given, reviews progress every ``critique_every`` steps:
            accept moves to the next intent, replan asks the planner again.
        seed, options: passed to ``world.reset`` of the bound world.
        max_steps: the episode is cut (``outcome="max_steps"``) after this many actions.
        checkpointer: a LangGraph checkpointer, to resume a stopped episode.

    Returns:
        A compiled graph; ``await graph.ainvoke({})`` plays one episode.
    """
    if max_steps < 1:
        raise ConfigError("max_steps must be at least 1")
    nodes = EmbodiedNodes(
        tool_agent=tool_agent,
        planner=planner,
        critic=critic,
        bound=Episode(world, seed, options) if world is not None else None,
        max_steps=max_steps,
        critique_every=critique_every,
        max_replans=max_replans,
    )
    # Episode is a plain class, not a dataclass, on purpose: LangGraph would build one from a
    # dict context, and a dict context is a mistake EmbodiedNodes.episode names.
    context: type[Any] = Episode
    builder = StateGraph(EmbodiedState, context_schema=context)
    builder.add_node("start", nodes.start)
    builder.add_node("plan", nodes.plan)
    builder.add_node("act", nodes.act)
    builder.add_node("critique", nodes.critique)
    builder.add_node("finish", nodes.finish)
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", Router(nodes.after_start), ["plan", "act"])
    builder.add_edge("plan", "act")
    builder.add_conditional_edges("act", Router(nodes.after_act), ["act", "critique", "finish"])
    builder.add_conditional_edges("critique", Router(nodes.after_critique), ["plan", "act"])
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, name="embodied")
