"""`dramaturg drama ...`: make a play, play it in the terminal, resume it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from dramaturg.drama._bundled import resolve_play
from dramaturg.errors import ConfigError
from dramaturg.models._redact import redact_spec, restore_spec

__all__ = ["new_session", "play_session", "render_entry"]


async def new_session(
    *,
    topic: str | None,
    characters: list[str],
    cards: list[Path],
    scenes: int,
    stage: str | None,
    blueprint_file: Path | None,
    player: str | None,
    mode: str,
    model: str | None,
    max_turns: int | None,
    max_revisions: int,
    console: Console,
    scene_steps: int = 12,
    reflect_every: int = 4,
    seed: int = 0,
) -> tuple[str, str]:
    """Create a session from a topic (designed by the model), a stage or a blueprint file."""
    from dramaturg.drama.blueprint import Blueprint, design_blueprint
    from dramaturg.drama.session import DramaSession

    loaded = []
    if cards:
        from dramaturg.drama.cards import load_card

        loaded = [load_card(p) for p in cards]  # a broken card stops here, before anything is made
        characters = [*characters, *(c.to_persona().name for c in loaded)]
    sources = sum(x is not None for x in (topic, stage, blueprint_file))
    if sources != 1:
        raise ConfigError("give exactly one of --topic, --stage or --blueprint")
    if blueprint_file is not None:
        bp = Blueprint.load(resolve_play(blueprint_file))
    elif stage is not None:
        from dramaturg.worlds.theatre import load_stage

        bp = Blueprint.from_stage(load_stage(stage), topic=stage)
    else:
        from dramaturg.models import load_model

        chat = load_model(model)
        with console.status(f"designing a play about {topic!r} on {chat.name} ..."):
            bp = await design_blueprint(
                topic or "",
                model=chat,
                characters=characters or None,
                scenes=scenes,
                max_revisions=max_revisions,
                seed=seed,
            )
    if player is not None and player not in bp.cast and topic is not None:
        player = _player_in(bp, player, keep=lambda: _keep_design(bp, topic))
    if loaded:  # {{user}} in a card is the player's character, when it is already in the play
        bp = bp.with_cards(loaded, user=bp.cast[player].name if player in bp.cast else None)
    # session.json keeps the spec without its secrets; `drama play --model` brings them back.
    session, token = DramaSession.create(
        bp,
        player=player,
        model=redact_spec(model),
        mode=mode,  # type: ignore[arg-type]
        max_turns=max_turns,
        max_scene_steps=scene_steps,
        reflect_every=reflect_every,
        seed=seed,
    )
    return session.meta.id, token


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


def _player_in(bp: Any, wanted: str, *, keep: Any) -> str:
    """The id of the designed character ``--player`` means (its id or a word of its name), or a clear error.

    A designed cast is the model's choice, so ``--player keeper`` may name
    nobody: then the play is kept (a minute of design is not thrown away)
    and the error says how to play it with one of its characters.
    """
    word = wanted.strip().lower()
    hits = [
        cid
        for cid, c in bp.cast.items()
        if word == cid or word in cid.split("_") or word in c.name.lower().split()
    ]
    if len(hits) == 1:
        return hits[0]
    path = keep()
    listed = ", ".join(f"{cid} ({c.name})" for cid, c in bp.cast.items())
    raise ConfigError(
        f"the designed play has no character {wanted!r}; its characters: {listed}. The play is kept: "
        f"dramaturg drama new --blueprint {path} --player ID"
    )


def _keep_design(bp: Any, topic: str) -> Path:
    import re
    import time

    from dramaturg._paths import home_dir

    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:40] or "play"
    folder = home_dir() / "drama" / "designs"
    folder.mkdir(parents=True, exist_ok=True)
    return bp.save(folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}.yaml")
