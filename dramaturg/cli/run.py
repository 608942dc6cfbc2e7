"""`dramaturg run` and `dramaturg worlds`: one agent graph on one world (or task), live, traced, resumable."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from dramaturg._files import load_json
from dramaturg._paths import home_dir
from dramaturg.cli._common import ModelOpt, console, err_console, fail, redacted
from dramaturg.errors import ConfigError, DramaturgError
from dramaturg.models._redact import redact_spec, restore_spec

__all__ = ["run", "run_graph", "worlds"]

GRAPHS = ("react", "embodied", "workforce")


def _runs_dir() -> Path:
    path = home_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _table(rows: list[tuple[str, str, str]], title: str) -> Table:
    table = Table(title=title, expand=True)
    table.add_column("#", width=4, justify="right")
    table.add_column("action / decision", ratio=1)
    table.add_column("result", ratio=2)
    for n, (a, b, c) in enumerate(rows[-25:], max(1, len(rows) - 24)):
        table.add_row(str(n), a, f"{b}\n[dim]{c}[/]" if c else b)
    return table


async def run_graph(
    *,
    world: str | None,
    graph: str,
    model: str | None,
    seed: int,
    max_steps: int,
    task: str | None,
    resume: str | None,
    console: Console,
    tool_model: str = "registry",
) -> dict[str, Any]:
    """Build, run (or resume) and return the final state. See ``dramaturg run --help``."""
    if resume:
        folder = _runs_dir() / resume
        spec_file = folder / "run.json"
        if not spec_file.is_file():
            raise ConfigError(
                f"no run {resume!r} in {_runs_dir()}; `ls {_runs_dir()}` lists the runs"
            )
        args = load_json(spec_file)
        if not isinstance(args, dict) or "graph" not in args:
            raise ConfigError(f"{spec_file} is not a run file; `ls {_runs_dir()}` lists the runs")
        # run.json holds the specs without their secrets: they come back from --model (or the environment).
        how = f"dramaturg run --resume {resume} --model SPEC"
        args["model"] = restore_spec(args.get("model"), model, how=how)
        if args.get("tool_model") not in (None, "registry", "main"):
            given = tool_model if tool_model not in ("registry", "main") else None
            args["tool_model"] = restore_spec(
                args["tool_model"], given, how=how.replace("--model", "--tool-model")
            )
        run_id = resume
    else:
        if graph not in GRAPHS:
            raise ConfigError(f"unknown graph {graph!r}; choose one of {', '.join(GRAPHS)}")
        if graph == "workforce" and not task:
            raise ConfigError("the workforce graph needs --task")
        if graph != "workforce" and not world:
            raise ConfigError(
                f"the {graph} graph acts in a world: pass --world (see `dramaturg worlds`)"
            )
        run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        folder = _runs_dir() / run_id
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
    try:
        return await _play(args, folder, run_id, resumed=bool(resume), console=console)
    except Exception:
        steps = folder / "steps.jsonl"
        if not resume and not (steps.is_file() and steps.stat().st_size):
            # Nothing ran (a bad world or model spec, an engine that would not start): the folder
            # would only list a run with nothing to resume.
            shutil.rmtree(folder, ignore_errors=True)
        raise


async def _play(
    args: dict[str, Any], folder: Path, run_id: str, *, resumed: bool, console: Console
) -> dict[str, Any]:
    from dramaturg.agents import Critic, Planner, Worker
    from dramaturg.agents.tool_agent import tool_agent_for
    from dramaturg.graphs import embodied, open_checkpointer, workforce
    from dramaturg.models import load_model

    trace = folder / "trace.jsonl"
    chat = load_model(args["model"], trace=trace)
    # The tool agent runs on `main` (chat), on `registry` (the adapter registered for the world,
    # else the main model) or on a model spec of its own, prompted as its adapter was trained.
    tool_agent = tool_agent_for(
        args.get("tool_model", "registry"), main=chat, world=args["world"], trace=trace
    )
    tool_chat = tool_agent.model
    config = {"configurable": {"thread_id": run_id}, "recursion_limit": 4 * args["max_steps"] + 50}
    rows: list[tuple[str, str, str]] = []
    steps_log = (folder / "steps.jsonl").open("a", encoding="utf-8")
    title = (
        f"run {run_id}: {args['graph']} on {args['world'] or 'task'} ({redact_spec(chat.name)}"
        + (f", tool agent {redact_spec(tool_chat.name)})" if tool_chat is not chat else ")")
    )
    async with open_checkpointer(folder / "checkpoints.sqlite") as saver:
        if args["graph"] == "workforce":
            built = workforce(
                planner=Planner(model=chat),
                workers=[Worker(name="worker", model=chat)],
                critic=Critic(model=chat),
                checkpointer=saver,
            )
            world_obj = None
            start_input: Any = {"task": args["task"]}
        else:
            from dramaturg.worlds import make_world

            world_obj = make_world(args["world"])
            planner = Planner(model=chat) if args["graph"] == "embodied" else None
            critic = Critic(model=chat) if args["graph"] == "embodied" else None
            built = embodied(
                world_obj,
                tool_agent=tool_agent,
                planner=planner,
                critic=critic,
                seed=args["seed"],
                max_steps=args["max_steps"],
                checkpointer=saver,
            )
            start_input = {}
        state = await built.aget_state(config)
        if resumed and not state.next:
            console.print(f"run {run_id} already finished: {state.values.get('outcome')}")
            return state.values
        try:
            with Live(_table(rows, title), console=console, refresh_per_second=4) as live:
                async for update in built.astream(
                    None if resumed else start_input,
                    config,
                    stream_mode="updates",
                    durability="sync",
                ):
                    for node, change in update.items():
                        steps_log.write(
                            json.dumps({"node": node, "update": change}, default=str) + "\n"
                        )
                        steps_log.flush()
                        for step in (change or {}).get("steps", []):
                            rows.append(
                                (
                                    step["action"],
                                    step["observation"][:160].replace("\n", " "),
                                    step.get("error") or "",
                                )
                            )
                        for entry in (change or {}).get("log", []):
                            rows.append(
                                (
                                    f"{entry.get('node')} {entry.get('subtask', '')}",
                                    entry.get("route", ""),
                                    f"score {entry.get('score', '-')}",
                                )
                            )
                        for c in (change or {}).get("critiques", []):
                            rows.append(("critic", c["route"], "; ".join(c.get("issues", []))))
                    live.update(_table(rows, title))
        finally:
            if not console.is_terminal:
                console.line()  # Live ends its table with a new line on a terminal only, not in a file or pipe
            steps_log.close()
            if world_obj is not None:
                world_obj.close()
        final = (await built.aget_state(config)).values
    usage = chat.usage.as_dict() if hasattr(chat, "usage") else {}
    if tool_chat is not chat and hasattr(tool_chat, "usage"):
        usage |= {
            f"{k} ({redact_spec(tool_chat.name)})": v for k, v in tool_chat.usage.as_dict().items()
        }
    (folder / "usage.json").write_text(json.dumps(usage, indent=2))
    console.print(f"[bold]{final.get('outcome')}[/]  run id {run_id}  (folder {folder})")
    return final


def run(
    world: Annotated[
        str | None,
        typer.Option(help="World id, e.g. textworld/tw-simple (see `dramaturg worlds`)."),
    ] = None,
    graph: Annotated[
        str,
        typer.Option(help="react (tool agent only), embodied (plan, act, critique) or workforce."),
    ] = "react",
    model: ModelOpt = None,
    seed: Annotated[int, typer.Option(help="World seed.")] = 0,
    max_steps: Annotated[
        int, typer.Option("--max-steps", help="Actions allowed in the episode.")
    ] = 30,
    task: Annotated[str | None, typer.Option(help="The task, for the workforce graph.")] = None,
    resume: Annotated[str | None, typer.Option(help="Resume the run with this id.")] = None,
    tool_model: Annotated[
        str,
        typer.Option(
            "--tool-model",
            help="The tool agent's model: registry (the adapter `dramaturg train` registered for the world, "
            "else --model), main (--model), or a model spec such as local?lora=ADAPTER.gguf.",
        ),
    ] = "registry",
) -> None:
    """Run an agent graph live, with every step checkpointed and traced."""
    import asyncio

    try:
        final = asyncio.run(
            run_graph(
                world=world,
                graph=graph,
                model=model,
                seed=seed,
                max_steps=max_steps,
                task=task,
                resume=resume,
                console=console,
                tool_model=tool_model,
            )
        )
    except DramaturgError as exc:
        fail("run failed", redacted(exc))
    except KeyboardInterrupt:
        err_console.print("stopped; resume with --resume <run id> (printed above)")
        raise typer.Exit(130) from None
    if final.get("outcome") in {"crashed", "failed"}:
        raise typer.Exit(2)


def worlds() -> None:
    """List the registered world ids."""
    from dramaturg.worlds import list_worlds

    for world_id in list_worlds():
        console.print(world_id)
