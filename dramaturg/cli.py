"""The ``dramaturg`` command."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from dramaturg import __version__
from dramaturg.errors import DramaturgError
from dramaturg.models._redact import redact_spec


def _flags_as_flags(command: Any, ctx: Any) -> None:
    """Give every flag of ``command`` and its sub-commands (``--help`` too) an empty metavar."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_as_flags(sub, ctx)


class _Root(TyperGroup):
    """The ``dramaturg`` group: help shows flags as flags.

    Typer (0.29) writes the type of every option in help, flags included, so
    ``--help <bool>`` reads as if it took a value. An empty metavar makes the
    type column blank for flags; the root parses first on every command line,
    so setting it there covers every sub-command's help.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        _flags_as_flags(self, ctx)
        return super().get_params(ctx)


app = typer.Typer(
    cls=_Root,
    name="dramaturg",
    help="Multi-agent LLM systems that act in worlds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Work with model backends.", no_args_is_help=True)
app.add_typer(models_app, name="models")
drama_app = typer.Typer(
    help="Interactive drama: make a play, play a character, resume.", no_args_is_help=True
)
app.add_typer(drama_app, name="drama")
from dramaturg._eval_cli import eval_app  # noqa: E402 - a sub-app defined in its own module

app.add_typer(eval_app, name="eval")
from dramaturg._train_cli import train_app  # noqa: E402

app.add_typer(train_app, name="train")

console = Console()
err_console = Console(stderr=True)

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Model spec: local, litellm:<provider/model>, openai:<url>#<model>."
    ),
]


class _Place(BaseModel):
    """The schema `models check` asks for: an enum, a nested object and a list."""

    city: str = Field(max_length=40)
    country: str = Field(max_length=40)
    continent: Literal["Africa", "Asia", "Europe", "North America", "South America", "Oceania"]
    landmarks: list[str] = Field(max_length=3)


_CHECK_PROMPT = [
    {"role": "system", "content": "Facts about capital cities, as JSON."},
    {"role": "user", "content": "Rome"},
    {
        "role": "assistant",
        "content": '{"city": "Rome", "country": "Italy", "continent": "Europe", '
        '"landmarks": ["Colosseum", "Pantheon"]}',
    },
    {"role": "user", "content": "Tokyo"},
    {
        "role": "assistant",
        "content": '{"city": "Tokyo", "country": "Japan", "continent": "Asia", '
        '"landmarks": ["Tokyo Tower"]}',
    },
    {"role": "user", "content": "Paris"},
]


_STORY = (
    "A story told by the fire. In a kingdom by the sea there lived an old clockmaker who had built a "
    "clock for every house in the town except his own. Each evening the children came to his shop to "
    "hear the clocks strike together, and each evening he told them about the one clock he had never "
    "finished: a clock that would strike only when someone in the town told the whole truth. One winter "
    "night a stranger in a grey coat knocked at the door, carrying a small wooden box and a letter "
    "sealed with black wax. He said the letter was for the clockmaker alone, and that it must be read "
    "before the first snow fell on the harbour."
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"dramaturg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Multi-agent LLM systems that act in worlds."""


@app.command()
def version() -> None:
    """Print the installed version."""
    console.print(f"dramaturg {__version__}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@models_app.command("check")
def models_check(
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Load a model, run one structured call, and report speed."""
    from dramaturg.models import load_model
    from dramaturg.models.loader import default_spec

    spec = default_spec(model)
    try:
        started = time.perf_counter()
        chat = load_model(spec)
        loader = getattr(chat, "load", None)
        with console.status(f"loading {redact_spec(spec)} ..."):
            if callable(loader):
                loader()
        load_s = time.perf_counter() - started
        with console.status("one structured call ..."):
            answer = chat.structured_sync(_CHECK_PROMPT, _Place, caller="models-check")
        with console.status("measuring speed ..."):
            speed = chat.complete_sync(
                [
                    {"role": "system", "content": _STORY},
                    {"role": "user", "content": "Go on with the story."},
                ],
                max_tokens=64,
                temperature=0.7,
                caller="models-check",
            )
    except DramaturgError as exc:
        err_console.print(f"[bold red]models check failed:[/] {redact_spec(str(exc))}")
        raise typer.Exit(1) from None
    gen = speed.usage.completion_tokens
    # Without a time to first token (a server that does not stream or report timings) the prompt's
    # share of the latency is unknown: prompt speed is n/a (null in JSON), and the generation speed
    # counts the whole call.
    prompt_tps: float | None = None
    gen_tps: float | None = None
    if speed.ttft_s:
        prompt_tps = speed.usage.prompt_tokens / speed.ttft_s
        gen_tps = max(gen - 1, 0) / max(speed.latency_s - speed.ttft_s, 1e-9)
    elif speed.latency_s > 0:
        gen_tps = gen / speed.latency_s
    report = {
        "spec": redact_spec(spec),
        "backend": spec.split(":", 1)[0].split("?", 1)[0],
        "model": redact_spec(chat.name),
        "load_s": round(load_s, 3),
        "structured": answer.model_dump(),
        "prompt_tokens_per_s": _round(prompt_tps),
        "generated_tokens_per_s": _round(gen_tps),
        "usage": chat.usage.as_dict() if hasattr(chat, "usage") else {},
    }
    if as_json:
        console.print_json(json.dumps(report))
        return
    table = Table(title="dramaturg models check", show_header=False)
    table.add_row("backend", report["backend"])
    table.add_row("model", report["model"])
    table.add_row("load time", f"{load_s:.2f} s")
    table.add_row("structured answer", json.dumps(report["structured"]))
    table.add_row("prompt tokens/s", "n/a" if prompt_tps is None else f"{prompt_tps:.1f}")
    table.add_row("generated tokens/s", "n/a" if gen_tps is None else f"{gen_tps:.1f}")
    console.print(table)
    console.print("[bold green]OK[/]")


@app.command()
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

    from dramaturg._run import run_graph

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
        err_console.print(f"[bold red]run failed:[/] {redact_spec(str(exc))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("stopped; resume with --resume <run id> (printed above)")
        raise typer.Exit(130) from None
    if final.get("outcome") in {"crashed", "failed"}:
        raise typer.Exit(2)


@app.command()
def worlds() -> None:
    """List the registered world ids."""
    from dramaturg.worlds import list_worlds

    for world_id in list_worlds():
        console.print(world_id)


@drama_app.command("new")
def drama_new(
    topic: Annotated[
        str | None, typer.Option(help="What the play is about; the model designs it.")
    ] = None,
    stage: Annotated[
        str | None, typer.Option(help="Play a bundled stage (e.g. elsinore) or a stage YAML file.")
    ] = None,
    blueprint: Annotated[
        Path | None,
        typer.Option(
            help="A blueprint YAML file (edited or saved earlier), or a bundled play: elsinore."
        ),
    ] = None,
    character: Annotated[
        list[str] | None, typer.Option(help="A character the play must have (repeatable).")
    ] = None,
    card: Annotated[
        list[Path] | None,
        typer.Option(help="A character card, .json or .png, V2 or V3 (repeatable)."),
    ] = None,
    scenes: Annotated[int, typer.Option(help="Scenes to design.")] = 3,
    player: Annotated[
        str | None, typer.Option(help="The character you play (its id); none: watch.")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(help="per_actor (a model call per character) or ensemble (one per round)."),
    ] = "per_actor",
    model: ModelOpt = None,
    max_turns: Annotated[
        int | None, typer.Option("--max-turns", help="End the play after this many turns.")
    ] = None,
    max_revisions: Annotated[int, typer.Option(help="Reviewer rounds when designing.")] = 2,
    scene_steps: Annotated[
        int, typer.Option("--scene-steps", help="A scene closes after this many turns.")
    ] = 12,
    reflect_every: Annotated[
        int, typer.Option("--reflect-every", help="The director reflects every N turns.")
    ] = 4,
    seed: Annotated[
        int, typer.Option(help="The seed of the design and of every actor's line.")
    ] = 0,
    quiet: Annotated[bool, typer.Option(help="Print only the session id.")] = False,
) -> None:
    """Make a new drama session; prints its id (and the token the web page needs)."""
    import asyncio

    from dramaturg._drama_cli import new_session

    if mode not in {"per_actor", "ensemble"}:
        err_console.print("[bold red]--mode[/] is per_actor or ensemble")
        raise typer.Exit(2)
    try:
        sid, token = asyncio.run(
            new_session(
                topic=topic,
                characters=character or [],
                cards=card or [],
                scenes=scenes,
                stage=stage,
                blueprint_file=blueprint,
                player=player,
                mode=mode,
                model=model,
                max_turns=max_turns,
                max_revisions=max_revisions,
                scene_steps=scene_steps,
                reflect_every=reflect_every,
                seed=seed,
                console=err_console,
            )
        )
    except DramaturgError as exc:
        err_console.print(f"[bold red]cannot make the play:[/] {redact_spec(str(exc))}")
        raise typer.Exit(1) from None
    if quiet:
        print(sid)
        return
    from dramaturg._serve_cli import session_url
    from dramaturg.drama.session import DramaSession

    session = DramaSession.open(sid)
    bp = session.blueprint
    console.print(f"session [bold]{sid}[/]: {escape(bp.title)}")
    console.print(
        "characters: " + ", ".join(f"{cid} ({escape(c.name)})" for cid, c in bp.cast.items()),
        soft_wrap=True,
    )
    console.print(f"play it: dramaturg drama play {sid}" + ("" if player else " --auto"))
    if not player:
        console.print(
            f"to play a part: dramaturg drama new --blueprint {session.folder / 'blueprint.yaml'} "
            "--player ID",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    if model and redact_spec(model) != model:
        console.print(
            "the model spec's secrets are not saved: add --model with the full spec (or set "
            "DRAMATURG_MODEL) when you play",
            markup=False,
            highlight=False,
        )
    console.print(
        f"or in the browser, with `dramaturg serve` running: {session_url(sid, token)}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@drama_app.command("play")
def drama_play(
    session: Annotated[str, typer.Argument(help="The session id (see `dramaturg drama list`).")],
    auto: Annotated[
        bool, typer.Option(help="Agents play every character, the player's too.")
    ] = False,
    max_turns: Annotated[
        int | None, typer.Option("--max-turns", help="Stop the play after this many turns in all.")
    ] = None,
    thoughts: Annotated[bool, typer.Option(help="Show the characters' private thoughts.")] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="The session's model spec again, when it had secrets (?api_key=...): "
            "session.json does not keep them.",
        ),
    ] = None,
) -> None:
    """Play (or go on with) a session in the terminal. Ctrl-C stops; play again to resume."""
    import asyncio

    from dramaturg._drama_cli import play_session

    try:
        asyncio.run(
            play_session(
                session,
                auto=auto,
                max_turns=max_turns,
                thoughts=thoughts,
                console=console,
                model=model,
            )
        )
    except DramaturgError as exc:
        err_console.print(f"[bold red]drama failed:[/] {redact_spec(str(exc))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print(f"stopped; go on with: dramaturg drama play {session}")
        raise typer.Exit(130) from None


@drama_app.command("resume")
def drama_resume(
    session: Annotated[str, typer.Argument(help="The session id.")],
    auto: Annotated[bool, typer.Option(help="Agents play every character.")] = False,
    max_turns: Annotated[int | None, typer.Option("--max-turns")] = None,
    model: ModelOpt = None,
) -> None:
    """Go on with a stopped session (the same as `drama play`)."""
    drama_play(session, auto=auto, max_turns=max_turns, thoughts=False, model=model)


@drama_app.command("list")
def drama_list() -> None:
    """The sessions on this machine."""
    from dramaturg.drama.session import DramaSession

    table = Table("id", "title", "player", "mode", "model")
    for meta in DramaSession.list():
        table.add_row(
            meta.id,
            meta.title,
            meta.player or "-",
            meta.mode,
            redact_spec(meta.model) or "(default)",
        )
    console.print(table)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port, 1-65535.")] = 8765,
    model: ModelOpt = None,
    trusted_host: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-host",
            help="Another host name the page is opened under, NAME or NAME:PORT, e.g. a "
            "reverse proxy's (repeatable).",
        ),
    ] = None,
    max_turns: Annotated[
        int,
        typer.Option(
            "--max-turns", min=1, help="The most turns a session made in the browser may run."
        ),
    ] = 500,
    hello_timeout: Annotated[
        float,
        typer.Option(
            "--hello-timeout",
            min=0.1,
            help="Seconds a websocket has to send its token before it is closed.",
        ),
    ] = 10.0,
) -> None:
    """Serve drama sessions in the browser (a page, a websocket per session).

    Off loopback (--host 0.0.0.0), making a session needs a server key: set
    DRAMATURG_SERVER_TOKEN, or one is made and printed at start.
    """
    from dramaturg._serve_cli import run_server

    run_server(
        host=host,
        port=port,
        model=model,
        trusted_hosts=trusted_host or [],
        max_turns=max_turns,
        hello_timeout_s=hello_timeout,
        console=console,
        err_console=err_console,
    )


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
