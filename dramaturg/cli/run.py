"""`dramaturg run` and `dramaturg worlds`: one agent graph on one world (or task), live, traced, resumable."""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from dramaturg.cli._common import (
    ModelOpt,
    NoAdapterOpt,
    console,
    err_console,
    fail,
    redacted,
    without_adapter,
)
from dramaturg.errors import DramaturgError

__all__ = ["run", "run_graph", "worlds"]


def _table(rows: list[tuple[str, str, str]], title: str) -> Table:
    table = Table(title=title, expand=True)
    table.add_column("#", width=4, justify="right")
    table.add_column("action / decision", ratio=1)
    table.add_column("result", ratio=2)
    for n, (a, b, c) in enumerate(rows[-25:], max(1, len(rows) - 24)):
        table.add_row(str(n), a, f"{b}\n[dim]{c}[/]" if c else b)
    return table


def _rows(change: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The table rows one graph update adds: world steps, workforce routes, critiques."""
    rows = [
        (
            step["action"],
            step["observation"][:160].replace("\n", " "),
            step.get("error") or "",
        )
        for step in change.get("steps", [])
    ]
    rows += [
        (
            f"{entry.get('node')} {entry.get('subtask', '')}",
            entry.get("route", ""),
            f"score {entry.get('score', '-')}",
        )
        for entry in change.get("log", [])
    ]
    rows += [
        ("critic", c["route"], "; ".join(c.get("issues", []))) for c in change.get("critiques", [])
    ]
    return rows


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
    tool_model: str = "auto",
) -> dict[str, Any]:
    """Start (or resume) a :class:`~dramaturg.graphs.runs.GraphRun` and show it live."""
    from dramaturg.graphs.runs import GraphRun

    if resume:
        run = GraphRun.resume(resume, model=model, tool_model=tool_model)
    else:
        run = GraphRun.start(
            graph=graph,
            world=world,
            model=model,
            seed=seed,
            max_steps=max_steps,
            task=task,
            tool_model=tool_model,
        )
    await run.open()
    if run.finished:
        await run.close()
        console.print(f"run {run.run_id} already finished: {run.final.get('outcome')}")
        return run.final
    rows: list[tuple[str, str, str]] = []
    try:
        with Live(_table(rows, run.title), console=console, refresh_per_second=4) as live:
            async with aclosing(run.updates()) as updates:
                async for _node, change in updates:
                    rows += _rows(change)
                    live.update(_table(rows, run.title))
    finally:
        if not console.is_terminal:
            console.line()  # Live ends its table with a new line on a terminal only, not in a file or pipe
    console.print(
        f"[bold]{run.final.get('outcome')}[/]  run id {run.run_id}  (folder {run.folder})"
    )
    return run.final


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
            help="The tool agent's model: auto (registry on the embedded model, else main), registry "
            "(the adapter registered for the world, or the one shipped with dramaturg, else --model), "
            "main (--model), or a model spec such as local?lora=ADAPTER.gguf.",
        ),
    ] = "auto",
    no_adapter: NoAdapterOpt = False,
) -> None:
    """Run an agent graph live, with every step checkpointed and traced."""
    import asyncio

    if resume and no_adapter:
        fail(
            "run failed",
            "a resumed run keeps the tool agent it started with: leave out --no-adapter",
        )
    tool_model = without_adapter(tool_model, no_adapter, "run failed") or "auto"
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
