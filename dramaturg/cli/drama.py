"""`dramaturg drama ...`: make a play, play it in the terminal, resume it, list the sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dramaturg.cli._common import ModelOpt, console, err_console, fail, redacted
from dramaturg.errors import DramaturgError
from dramaturg.models._redact import redact_spec, restore_spec

__all__ = ["drama_app", "play_session", "render_entry"]

drama_app = typer.Typer(
    help="Interactive drama: make a play, play a character, resume.", no_args_is_help=True
)


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

    from dramaturg.drama._start import start_session

    if mode not in {"per_actor", "ensemble"}:
        err_console.print("[bold red]--mode[/] is per_actor or ensemble")
        raise typer.Exit(2)
    try:
        session, token = asyncio.run(
            start_session(
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
                designing=lambda name: err_console.status(
                    f"designing a play about {topic!r} on {name} ..."
                ),
            )
        )
    except DramaturgError as exc:
        fail("cannot make the play", redacted(exc))
    sid = session.meta.id
    if quiet:
        print(sid)
        return
    from dramaturg.cli.serve import session_url

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
        fail("drama failed", redacted(exc))
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


def render_entry(
    entry: dict[str, Any], names: dict[str, str], *, thoughts: bool = False
) -> str | None:
    """One transcript entry as rich markup (``None`` for entries with nothing to show)."""
    kind = entry.get("kind")
    if kind == "scene":
        return f"\n[bold magenta]── {escape(entry.get('title', ''))} ──[/] [dim]{escape(entry.get('place', ''))}[/]"
    if kind == "scene_end":
        return f"[dim]   (scene ends: {entry.get('beats_done', 0)} of {len(entry.get('beats', []))} beats reached)[/]"
    if kind == "end":
        return f"\n[bold magenta]{escape(entry.get('public', 'The end.'))}[/]"
    if kind == "notice":
        return f"[yellow]{escape(entry['text'])}[/]"
    if kind != "turn":
        return None
    who = names.get(entry.get("actor") or "", entry.get("actor") or "?")
    out = []
    if thoughts and entry.get("thought"):
        out.append(f"[dim italic]   {escape(who)} thinks: {escape(entry['thought'])}[/]")
    public = entry.get("public") or ""
    if entry.get("error") and not public:
        out.append(f"{escape(who)} hesitates. [dim]({escape(str(entry['error'])[:120])})[/]")
    else:
        style = "cyan" if entry.get("by") == "player" else "white"
        out.append(f"[{style}]{escape(public)}[/]")
    return "\n".join(out)


async def play_session(
    session_id: str,
    *,
    auto: bool,
    max_turns: int | None,
    thoughts: bool,
    console: Console,
    read_line: Any = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Play in the terminal until the end (or until the input ends); returns the session's state.

    ``model``: the session's model spec again, with the secrets session.json
    does not keep (``?api_key=...``); it must name the same model.
    """
    from dramaturg.drama.session import DramaSession

    session = DramaSession.open(session_id)
    # Only in memory: session.json is written once, when the session is made.
    session.meta.model = restore_spec(
        session.meta.model, model, how=f"dramaturg drama play {session_id} --model SPEC"
    )
    bp = session.blueprint
    names = {cid: c.name for cid, c in bp.cast.items()}
    read_line = read_line or (lambda prompt: console.input(prompt))
    answer: str | None = None
    while True:
        waiting = None
        # Rich prints above a running status. Nothing may come between printing an entry and asking
        # for the next: that is when the session logs it as shown (a kill in between shows it twice).
        with console.status("the actors are thinking ...", spinner="dots"):
            async for entry in session.advance(answer, auto=auto, max_turns=max_turns):
                if entry.get("kind") == "waiting":
                    waiting = entry.get("prompt")
                    continue
                line = render_entry(entry, names, thoughts=thoughts)
                if line:
                    console.print(line)
        state = await session.state()
        if state["ended"] or (waiting is None and state["waiting"] is None):
            break
        prompt = waiting or state["waiting"]
        if prompt.get("notice"):
            console.print(f"[yellow]{escape(prompt['notice'])}[/]")
        console.print(f"[dim]{escape(prompt['surroundings'])}[/]")
        try:
            answer = read_line(f"[bold cyan]{escape(prompt['name'])}>[/] ")
        except EOFError:
            console.print(f"\n[dim]paused; go on with: dramaturg drama play {session_id}[/]")
            return state
    if state["ended"]:
        metrics = (
            json.loads((session.folder / "metrics.json").read_text())
            if (session.folder / "metrics.json").exists()
            else {}
        )
        if metrics:
            console.print(_metrics_line(metrics, session.folder / "metrics.json"), soft_wrap=True)
    return state


def _metrics_line(m: dict[str, Any], path: Path) -> str:
    """The metrics a spectator cares about, in one line."""
    pace = (
        f", {m['seconds_per_turn']:.1f} s a turn" if m.get("seconds_per_turn") is not None else ""
    )
    return (
        f"[dim]metrics: {m['steps']} turns, {round(100 * m.get('shown_share', 0))}% spoken or shown, "
        f"repeats {m.get('exact_repeats', 0)} exact / {m.get('near_repeats', 0)} near, "
        f"prompt copies {m.get('prompt_copies', 0)}, beats {m['beats_done']}/{m['beats_planned']}, "
        f"leaks {m['knowledge_leaks']}{pace} -> {escape(str(path))}[/]"
    )
