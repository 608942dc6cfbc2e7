"""`dramaturg train ...`: fine-tune tool agents, compare them, register their adapters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.table import Table

from dramaturg.cli._common import console, err_console, fail
from dramaturg.errors import DramaturgError

if TYPE_CHECKING:
    from dramaturg.training.build import DataSummary

__all__ = ["train_app"]

train_app = typer.Typer(
    help="Fine-tune small tool agents (LoRA adapters on the embedded model).", no_args_is_help=True
)
adapters_app = typer.Typer(
    help="The adapter registry: which adapter serves which world or tool.", no_args_is_help=True
)
train_app.add_typer(adapters_app, name="adapters")


def _fail(what: str, exc: Exception) -> NoReturn:
    fail(what, str(exc))


def _repeats(items: list[str]) -> dict[str, int]:
    """``--repeat PATTERN=N`` options as a mapping (the pattern is checked by the build)."""
    found: dict[str, int] = {}
    for item in items:
        pattern, sep, times = item.rpartition("=")
        if not sep or not pattern or not times.strip().isdigit():
            _fail(
                "train failed", ValueError(f"--repeat {item!r}: write PATTERN=N (N a whole number)")
            )
        found[pattern] = int(times)
    return found


def _last_line(failure: str) -> str:
    """``game (reason)`` cut to the game and the reason's last line."""
    game, _, reason = failure.partition(" ")
    lines = [line.strip() for line in reason.strip("()").splitlines() if line.strip()]
    return f"{game} ({lines[-1]})" if lines else game


@train_app.command("tool-agent")
def train_tool_agent(
    world: Annotated[
        list[str],
        typer.Option("--world", "-w", help="World id or family (textworld, alfworld); repeatable."),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for the data, the training run and the adapter.")
    ],
    games: Annotated[
        int, typer.Option(help="Games per world (and ALFWorld split); see --first-game.")
    ] = 20,
    first_game: Annotated[
        int,
        typer.Option(
            "--first-game",
            min=0,
            help="Seed of the first game (games play seeds FIRST..FIRST+N-1); start above the "
            "evaluation suites' seeds (0..) to keep them held out.",
        ),
    ] = 0,
    split: Annotated[
        list[str] | None, typer.Option(help="ALFWorld-style split(s) to draw games from.")
    ] = None,
    test_split: Annotated[
        str | None,
        typer.Option(
            "--test-split",
            help="Hold out every game of this ALFWorld-style split (unseen) for test.",
        ),
    ] = None,
    search: Annotated[
        int,
        typer.Option(
            help="ALFWorld-style: search up to this many places (drawn per game) for each thing the gold "
            "plan takes or uses, taking the first one seen (teaches searching for what the agent cannot see)."
        ),
    ] = 0,
    rename: Annotated[
        float,
        typer.Option(
            help="Share of training games whose objects that can be taken each get a made-up name "
            "everywhere (teaches taking what the goal names; for unseen object types)."
        ),
    ] = 0.0,
    repeat: Annotated[
        list[str] | None,
        typer.Option(
            help="PATTERN=N: write each train example whose command matches the regular expression "
            "PATTERN N times (the rare commands that decide a game: '^cook =5'); repeatable.",
        ),
    ] = None,
    recap: Annotated[
        int,
        typer.Option(
            min=0,
            help="The tool agent's prompt recaps up to this many distinct commands already played "
            "(where it has been); 0: none. `train eval` plays with the same setting.",
        ),
    ] = 0,
    focus: Annotated[
        int,
        typer.Option(
            min=0,
            help="The tool agent's prompt lists up to this many admissible commands that act on a "
            "thing the goal names (take the mug it sees); 0: none. `train eval` plays with the same setting.",
        ),
    ] = 0,
    notes: Annotated[
        int,
        typer.Option(
            min=0,
            help="The tool agent's prompt keeps up to this many characters of what the latest read "
            "or examine showed as lists (a recipe's directions); 0: none. `train eval` plays with the same setting.",
        ),
    ] = 0,
    test_games: Annotated[
        int | None,
        typer.Option(
            "--test-games",
            help="With --test-split: play only this many held-out games into the data "
            "(one task type in turn; `train eval --limit` takes the same ones).",
        ),
    ] = None,
    traces: Annotated[
        list[Path] | None,
        typer.Option(help="Eval run folder whose won episodes are added; repeatable."),
    ] = None,
    test_frac: Annotated[
        float, typer.Option(help="Share of games held out for `train eval`.")
    ] = 0.2,
    valid_frac: Annotated[
        float, typer.Option(help="Share of games for the validation loss.")
    ] = 0.1,
    steps: Annotated[
        int | None, typer.Option(help="Optimizer steps (default: --epochs passes).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training examples.")] = 2,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 2e-4,
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    alpha: Annotated[float, typer.Option(help="LoRA alpha.")] = 16.0,
    batch: Annotated[int, typer.Option(help="Examples per step.")] = 4,
    max_len: Annotated[
        int, typer.Option("--max-len", help="Longer examples (in tokens) are left out.")
    ] = 1024,
    seed: Annotated[
        int, typer.Option(help="Seed of the adapter's initialisation and the example order.")
    ] = 0,
    base: Annotated[
        Path | None, typer.Option(help="Base GGUF (default: the packaged Gemma 3 270M).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (GPU when present), cpu or cuda.")] = "auto",
    dtype: Annotated[str, typer.Option(help="Adapter tensors: f32 or f16.")] = "f32",
    register: Annotated[
        bool, typer.Option(help="Register the adapter for the worlds trained on.")
    ] = True,
    resume: Annotated[bool, typer.Option(help="Resume a stopped run in --out.")] = True,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes playing the games into data (default: one per CPU core)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Build data from gold plans, train a LoRA adapter, export it to GGUF and register it."""
    from dramaturg.training.pipeline import PipelineReporter
    from dramaturg.training.pipeline import train_tool_agent as run_pipeline

    class Report(PipelineReporter):
        def data_built(self, data: DataSummary) -> None:
            console.print(
                f"data: {data.examples['train']} train / {data.examples['valid']} valid / "
                f"{data.examples['test']} test examples from {sum(map(len, data.games.values()))} games "
                f"({data.duplicates} duplicates, {data.leaks} held-out copies dropped) -> {data.path}"
            )
            if data.failed_games:
                # one line each: a tw-make failure quotes a whole traceback
                lines = [_last_line(f) for f in data.failed_games[:5]]
                err_console.print(
                    f"[yellow]{len(data.failed_games)} game(s) left out:[/] {'; '.join(lines)}"
                )

    if dtype not in ("f32", "f16"):
        _fail("train failed", ValueError("--dtype must be f32 or f16"))
    try:
        run = run_pipeline(
            world,
            out,
            games=games,
            first_game=first_game,
            splits=tuple(split or ("seen", "unseen")),
            test_split=test_split,
            search=search,
            rename=rename,
            repeat=_repeats(repeat or []),
            recap=recap,
            focus=focus,
            notes=notes,
            test_games=test_games,
            traces=list(traces or []),
            test_frac=test_frac,
            valid_frac=valid_frac,
            steps=steps,
            epochs=epochs,
            lr=lr,
            rank=rank,
            alpha=alpha,
            batch=batch,
            max_len=max_len,
            seed=seed,
            base=base,
            device=device,
            dtype=dtype,
            register=register,
            resume=resume,
            workers=workers,
            progress=progress,
            reporter=Report(),
        )
    except DramaturgError as exc:
        _fail("train failed", exc)
    result, adapter = run.train, run.adapter
    valid = f", valid loss {result.valid_loss:.3f}" if result.valid_loss is not None else ""
    console.print(
        f"trained {result.steps} steps on {result.examples} examples ({result.skipped} longer than "
        f"{max_len} tokens left out) in {result.wall_s:.0f} s on {result.device}: "
        f"loss {result.final_loss:.3f}{valid}"
    )
    console.print(
        f"adapter: {adapter} ({adapter.stat().st_size / 1e6:.1f} MB)"
        + (f", registered for {', '.join(run.keys)}" if run.registered else "")
    )
    console.print(f"compare on the held-out games: dramaturg train eval {out}")


@train_app.command("dagger")
def train_dagger(
    out: Annotated[Path, typer.Argument(help="The folder `train tool-agent --out` wrote.")],
    rounds: Annotated[int, typer.Option(min=0, help="Rounds after round 0.")] = 2,
    games: Annotated[
        int | None,
        typer.Option(min=1, help="Train games played per round (default: all of them)."),
    ] = None,
    beta: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="The expert plays a share beta**round of the steps (0: the adapter plays all).",
        ),
    ] = 0.5,
    max_steps: Annotated[
        int, typer.Option("--max-steps", min=1, help="Commands per game played for data.")
    ] = 40,
    temperature: Annotated[
        float, typer.Option(help="The adapter's sampling temperature while it plays.")
    ] = 0.7,
    replay: Annotated[
        float,
        typer.Option(min=0.0, help="Examples replayed from the data so far per example added."),
    ] = 1.0,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 2e-4,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Held-out games played after each round (default: all)."),
    ] = None,
    eval_steps: Annotated[
        int | None,
        typer.Option("--eval-steps", min=1, help="Their step budget (default: --max-steps)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the games drawn, the mixing and sampling.")] = 0,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes playing side by side (each loads the model).")
    ] = 2,
    base: Annotated[
        Path | None, typer.Option(help="Base GGUF (default: the one the run was trained on).")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option(help="Adapter tensors, f32 or f16 (default: the run's).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (GPU when present), cpu or cuda.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """DAgger: play the trained adapter, label where it goes with an expert, train on; repeat.

    Each round's held-out success goes to OUT/dagger/rounds.json; run it again to go on.
    """
    from dramaturg.training.rounds import DaggerReporter, DaggerRound, dagger_rounds

    if dtype not in (None, "f32", "f16"):
        _fail("dagger failed", ValueError("--dtype must be f32 or f16"))

    class Report(DaggerReporter):
        played = total = 0

        def playing(self, round: int, games: int, beta: float) -> None:
            self.played, self.total = 0, games
            err_console.print(
                f"round {round}: playing {games} train games (expert share {beta:.2f})"
            )

        def game_done(self, round: int, won: bool) -> None:
            self.played += 1
            if progress:
                err_console.print(
                    f"round {round}: game {self.played}/{self.total} {'won' if won else 'lost'}"
                )

        def training(self, round: int, examples: int) -> None:
            err_console.print(f"round {round}: training on {examples} examples")

        def round_done(self, row: DaggerRound) -> None:
            console.print(
                f"round {row.round}: +{row.added} examples, held-out {row.heldout_success:.0%} "
                f"± {row.heldout_stderr:.0%} of {row.heldout_games}, own valid {row.own_valid:.0%}"
            )

    try:
        rows = dagger_rounds(
            out,
            rounds=rounds,
            games=games,
            beta=beta,
            max_steps=max_steps,
            temperature=temperature,
            replay=replay,
            lr=lr,
            eval_limit=limit,
            eval_steps=eval_steps,
            seed=seed,
            workers=workers,
            base=base,
            dtype=dtype,
            device=device,
            progress=progress,
            reporter=Report(),
        )
    except DramaturgError as exc:
        _fail("dagger failed", exc)
    table = Table(title=f"DAgger rounds of {out}")
    for col in (
        "round",
        "expert share",
        "games won (mix)",
        "agreement",
        "added",
        "trained on",
        "train min",
        "valid loss",
        "held-out",
        "own valid",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r.round),
            f"{r.beta:.2f}",
            f"{r.played_success:.0%}" if r.games else "-",
            f"{r.agreement:.0%}" if r.games else "-",
            str(r.added),
            str(r.examples),
            f"{r.train_minutes:.1f}",
            f"{r.valid_loss:.3f}" if r.valid_loss is not None else "-",
            f"{r.heldout_success:.0%} ± {r.heldout_stderr:.0%} ({r.heldout_games})",
            f"{r.own_valid:.0%}",
        )
    console.print(table)
    best = max(rows, key=lambda r: (r.heldout_success, r.round))
    console.print(f"best: round {best.round}, {best.adapter}")


@train_app.command("eval")
def train_eval(
    out: Annotated[Path, typer.Argument(help="The folder `train tool-agent --out` wrote.")],
    adapter: Annotated[
        Path | None, typer.Option(help="GGUF adapter (default: OUT/tool-agent.gguf).")
    ] = None,
    split: Annotated[
        str, typer.Option(help="Which games to play: test (held out), valid or train.")
    ] = "test",
    scale: Annotated[float, typer.Option(help="Adapter strength.")] = 1.0,
    base: Annotated[
        Path | None, typer.Option(help="Base GGUF (default: the packaged Gemma 3 270M).")
    ] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Actions per episode.")] = 30,
    attempts: Annotated[int, typer.Option("--attempts", "-k", help="Attempts per game.")] = 1,
    temperature: Annotated[
        float, typer.Option(help="Tool agent's sampling temperature (0: greedy).")
    ] = 0.0,
    backend: Annotated[str, typer.Option(help="seq, mp or ray.")] = "mp",
    workers: Annotated[int, typer.Option(help="Episodes at once.")] = 1,
    limit: Annotated[
        int | None,
        typer.Option(help="Play at most this many games (taken in turn from each task type)."),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            help="The runs' seed (with temperature > 0, another seed is another sample of play); "
            "seed 0 goes to OUT/eval, seed N to OUT/eval-seedN."
        ),
    ] = 0,
    only: Annotated[
        str | None,
        typer.Option(
            help="Play only this side: base or adapter (the other's row is kept from an "
            "earlier run in the same folder)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Play the held-out games with the tool agent, without and with the adapter, side by side."""
    from dramaturg.training.evaluate import compare_adapter

    try:
        rows = compare_adapter(
            out / "data.jsonl",
            adapter or out / "tool-agent.gguf",
            out=out / ("eval" if seed == 0 else f"eval-seed{seed}"),
            split=split,
            scale=scale,
            base_model=f"local:{base.resolve()}" if base else "local",
            max_steps=max_steps,
            attempts=attempts,
            temperature=temperature,
            backend=backend,
            workers=workers,
            limit=limit,
            seed=seed,
            which=(only,) if only else ("base", "adapter"),
            progress=progress,
        )
    except DramaturgError as exc:
        _fail("eval failed", exc)
    table = Table(title=f"tool agent on the {split} games of {out}")
    columns = (
        "",
        "games",
        "success",
        "± se",
        "accepted",
        "valid w/o grammar",
        "tokens/step",
        "s/step",
    )
    for col in columns:
        table.add_column(col, justify="left" if not col else "right")
    for label, row in rows.items():
        table.add_row(
            label,
            str(row["games"]),
            f"{row['success_rate']:.1%}",
            f"{row['stderr']:.1%}",
            f"{row['valid_rate']:.1%}",
            f"{row['free_valid_rate']:.1%}",
            f"{row['completion_tokens']:.1f}",
            f"{row['latency_s']:.2f}",
        )
    console.print(table)


@adapters_app.command("list")
def adapters_list() -> None:
    """Show the registered adapters."""
    from dramaturg.models.adapters import AdapterRegistry

    try:
        entries = AdapterRegistry().list()
    except DramaturgError as exc:
        _fail("cannot read the registry", exc)
    if not entries:
        console.print(
            "no adapters registered or shipped (dramaturg train tool-agent registers one)"
        )
        return
    table = Table()
    for col in ("key", "adapter", "scale", "base", "from"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(
            e.key,
            str(e.path) + ("" if e.path.is_file() else " [red](missing)[/]"),
            f"{e.scale:g}",
            e.base or "-",
            "shipped with dramaturg" if e.shipped else "registered",
        )
    console.print(table)
    if any(e.shipped for e in entries):
        console.print(
            "shipped adapters serve the keys you have not registered; --no-adapter (run, eval run) "
            "plays without them"
        )


@adapters_app.command("add")
def adapters_add(
    key: Annotated[str, typer.Argument(help="World id, world prefix ending in '/', or tool name.")],
    adapter: Annotated[Path, typer.Argument(help="GGUF LoRA adapter.")],
    scale: Annotated[float, typer.Option(help="Adapter strength.")] = 1.0,
    base: Annotated[
        Path | None, typer.Option(help="Base GGUF it must fit (default: the packaged model).")
    ] = None,
) -> None:
    """Register an adapter (checked against the base model first)."""
    from dramaturg.models.adapters import AdapterRegistry

    try:
        entry = AdapterRegistry().add(key, adapter, scale=scale, base=base)
    except DramaturgError as exc:
        _fail("not registered", exc)
    console.print(f"{entry.key} -> {entry.path} (scale {entry.scale:g})")


@adapters_app.command("remove")
def adapters_remove(key: Annotated[str, typer.Argument(help="The key to unregister.")]) -> None:
    """Unregister an adapter (the file stays)."""
    from dramaturg.models.adapters import AdapterRegistry

    try:
        entry = AdapterRegistry().remove(key)
    except DramaturgError as exc:
        _fail("not removed", exc)
    console.print(f"removed {entry.key} ({entry.path})")
