"""Recorded runs: one agent graph on one world (or task), checkpointed, traced and resumable.

A run lives in its own folder under ``<dramaturg home>/runs/<run id>/``:

* ``run.json``: what was asked (graph, world, seed, limits, the model specs
  without their secrets);
* ``checkpoints.sqlite``: LangGraph's checkpoints, so a killed run resumes
  where it stopped;
* ``trace.jsonl``: every model call; ``steps.jsonl``: every graph update, as it came;
* ``usage.json``: tokens and cost per model, written when the run ends.

``dramaturg run`` is this module plus a live table. From Python::

    run = GraphRun.start(graph="react", world="textworld/tw-simple", model="local")
    await run.open()
    async with aclosing(run.updates()) as updates:  # closed at once if the loop breaks
        async for node, update in updates:
            print(node, update)
    print(run.final["outcome"], run.folder)

``GraphRun.resume(run_id, model=...)`` picks a run up again (the model spec's
secrets come back from ``model`` or the environment, never from ``run.json``).
A run that fails before its first step leaves no folder behind.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dramaturg._files import load_json
from dramaturg._paths import home_dir
from dramaturg.errors import ConfigError
from dramaturg.models._redact import redact_spec, restore_spec

__all__ = ["GRAPHS", "GraphRun", "runs_dir"]

#: The graphs a run can play, by name.
GRAPHS = ("react", "embodied", "workforce")
_CHOICES = (None, "auto", "registry", "main")  # tool agent choices that hold no spec


def runs_dir() -> Path:
    """``<dramaturg home>/runs``, created if missing."""
    path = home_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class GraphRun:
    """One recorded run. Make it with :meth:`start` or :meth:`resume`, then :meth:`open`
    it (models loaded, graph built), then iterate :meth:`updates`; :attr:`final` holds
    the last state."""

    run_id: str
    folder: Path
    args: dict[str, Any]
    resumed: bool = False
    #: One line naming the run, its graph, world and models (secrets redacted); set by :meth:`open`.
    title: str = ""
    #: The run had already finished when it was resumed: :meth:`updates` yields nothing.
    finished: bool = False
    #: The graph's last state, once :meth:`updates` is done (or at :meth:`open` when ``finished``).
    final: dict[str, Any] = field(default_factory=dict)
    _stack: AsyncExitStack | None = field(default=None, repr=False)
    _graph: Any = field(default=None, repr=False)
    _start: Any = field(default=None, repr=False)
    _models: tuple[Any, Any] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ making one
    @classmethod
    def start(
        cls,
        *,
        graph: str = "react",
        world: str | None = None,
        model: str | None = None,
        seed: int = 0,
        max_steps: int = 30,
        task: str | None = None,
        tool_model: str = "auto",
    ) -> GraphRun:
        """A new run: checks the request, then makes its folder and ``run.json``.

        Raises:
            ConfigError: an unknown graph, a workforce run without a task, or a
                world graph without a world.
        """
        if graph not in GRAPHS:
            raise ConfigError(f"unknown graph {graph!r}; choose one of {', '.join(GRAPHS)}")
        if graph == "workforce" and not task:
            raise ConfigError("the workforce graph needs --task")
        if graph != "workforce" and not world:
            raise ConfigError(
                f"the {graph} graph acts in a world: pass --world (see `dramaturg worlds`)"
            )
        run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        folder = runs_dir() / run_id
        folder.mkdir(parents=True)
        args = {
            "world": world,
            "graph": graph,
            "model": model,
            "seed": seed,
            "max_steps": max_steps,
            "task": task,
            "tool_model": tool_model,
        }
        stored = {**args, "model": redact_spec(model), "tool_model": redact_spec(tool_model)}
        (folder / "run.json").write_text(json.dumps(stored, indent=2))
        return cls(run_id=run_id, folder=folder, args=args)

    @classmethod
    def resume(cls, run_id: str, *, model: str | None = None, tool_model: str = "auto") -> GraphRun:
        """The run ``run_id`` again. ``run.json`` keeps the specs without their secrets:
        they come back from ``model``/``tool_model`` (or the environment).

        Raises:
            ConfigError: no such run, or its folder holds no run file.
        """
        folder = runs_dir() / run_id
        spec_file = folder / "run.json"
        if not spec_file.is_file():
            raise ConfigError(
                f"no run {run_id!r} in {runs_dir()}; `ls {runs_dir()}` lists the runs"
            )
        args = load_json(spec_file)
        if not isinstance(args, dict) or "graph" not in args:
            raise ConfigError(f"{spec_file} is not a run file; `ls {runs_dir()}` lists the runs")
        how = f"dramaturg run --resume {run_id} --model SPEC"
        args["model"] = restore_spec(args.get("model"), model, how=how)
        if args.get("tool_model") not in _CHOICES:
            given = tool_model if tool_model not in _CHOICES else None
            args["tool_model"] = restore_spec(
                args["tool_model"], given, how=how.replace("--model", "--tool-model")
            )
        return cls(run_id=run_id, folder=folder, args=args, resumed=True)

    # ------------------------------------------------------------------ playing it
    async def open(self) -> None:
        """Load the models, build the graph on its checkpointer, and read where it stands.

        A new run whose start fails (a bad model spec, a world that will not start)
        removes its folder: it would only list a run with nothing to resume.
        """
        try:
            await self._open()
        except BaseException:
            await self.close()
            self._forget_if_empty()
            raise

    async def _open(self) -> None:
        from dramaturg.agents import Critic, Planner, Worker
        from dramaturg.agents.tool_agent import tool_agent_for
        from dramaturg.graphs.checkpoint import open_checkpointer
        from dramaturg.graphs.embodied import embodied
        from dramaturg.graphs.workforce import workforce
        from dramaturg.models import load_model

        args = self.args
        trace = self.folder / "trace.jsonl"
        chat = load_model(args["model"], trace=trace)
        # The tool agent runs on `main` (chat), on `registry` (the adapter registered or shipped
        # for the world, else the main model), on `auto` (`registry` on the embedded model, else
        # `main`) or on a model spec of its own, prompted as its adapter was trained.
        tool_agent = tool_agent_for(
            args.get("tool_model") or "auto", main=chat, world=args["world"], trace=trace
        )
        tool_chat = tool_agent.model
        self._models = (chat, tool_chat)
        self.title = (
            f"run {self.run_id}: {args['graph']} on {args['world'] or 'task'} "
            f"({redact_spec(chat.name)}"
            + (f", tool agent {redact_spec(tool_chat.name)})" if tool_chat is not chat else ")")
        )
        self._stack = AsyncExitStack()
        saver = await self._stack.enter_async_context(
            open_checkpointer(self.folder / "checkpoints.sqlite")
        )
        if args["graph"] == "workforce":
            self._graph = workforce(
                planner=Planner(model=chat),
                workers=[Worker(name="worker", model=chat)],
                critic=Critic(model=chat),
                checkpointer=saver,
            )
            self._start = {"task": args["task"]}
        else:
            from dramaturg.worlds import make_world

            world = self._stack.enter_context(make_world(args["world"]))
            planner = Planner(model=chat) if args["graph"] == "embodied" else None
            critic = Critic(model=chat) if args["graph"] == "embodied" else None
            self._graph = embodied(
                world,
                tool_agent=tool_agent,
                planner=planner,
                critic=critic,
                seed=args["seed"],
                max_steps=args["max_steps"],
                checkpointer=saver,
            )
            self._start = {}
        state = await self._graph.aget_state(self._config)
        if self.resumed and not state.next:
            self.finished, self.final = True, dict(state.values)

    @property
    def _config(self) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": self.run_id},
            "recursion_limit": 4 * self.args["max_steps"] + 50,
        }

    async def updates(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """``(node, update)`` for every step (iterate it inside ``contextlib.aclosing`` so
        that leaving the loop early closes the run at once), each written to ``steps.jsonl`` and
        checkpointed (``durability="sync"``) before it is yielded. At the end
        :attr:`final` holds the last state and ``usage.json`` is written."""
        if self._graph is None:
            await self.open()
        try:
            if self.finished:
                return
            with (self.folder / "steps.jsonl").open("a", encoding="utf-8") as log:
                async for update in self._graph.astream(
                    None if self.resumed else self._start,
                    self._config,
                    stream_mode="updates",
                    durability="sync",
                ):
                    for node, change in update.items():
                        log.write(json.dumps({"node": node, "update": change}, default=str) + "\n")
                        log.flush()
                        yield node, change or {}
            self.final = dict((await self._graph.aget_state(self._config)).values)
            self._write_usage()
        except BaseException:
            self._forget_if_empty()
            raise
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the checkpointer and the world (:meth:`updates` does, at its end)."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    def _write_usage(self) -> None:
        if self._models is None:
            return
        chat, tool_chat = self._models
        usage: dict[str, Any] = chat.usage.as_dict() if hasattr(chat, "usage") else {}
        if tool_chat is not chat and hasattr(tool_chat, "usage"):
            name = redact_spec(tool_chat.name)
            usage |= {f"{k} ({name})": v for k, v in tool_chat.usage.as_dict().items()}
        (self.folder / "usage.json").write_text(json.dumps(usage, indent=2))

    def _forget_if_empty(self) -> None:
        steps = self.folder / "steps.jsonl"
        if not self.resumed and not (steps.is_file() and steps.stat().st_size):
            shutil.rmtree(self.folder, ignore_errors=True)
