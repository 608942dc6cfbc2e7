"""`dramaturg eval ...`: run suites, draw reports, compare runs, show a run's summary."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from dramaturg.cli._common import (
    NoAdapterOpt,
    ToolAgentOpt,
    console,
    err_console,
    fail,
    redacted,
    tool_agent_settings,
    without_adapter,
)
from dramaturg.errors import DramaturgError
from dramaturg.models._redact import redact_spec

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluate agents on suites: run, report, compare.", no_args_is_help=True
)


def _fail(what: str, exc: Exception) -> NoReturn:
    # The error may quote a model spec with its api_key; a file's text may look like markup.
    fail(what, escape(redacted(exc)))


def _summary_table(summary: dict, title: str) -> Table:
    table = Table(title=title)
    for col in (
        "task type",
        "n",
        "success",
        "± se",
        f"pass@{summary['overall'].get('k', 1)}",
        "errors",
        "steps",
        "tokens",
    ):
        table.add_column(col, justify="left" if col == "task type" else "right")
    rows = [*summary["by_task_type"].items(), ("overall", summary["overall"])]
    for name, s in rows:
        if not s.get("n"):
            continue
        table.add_row(
            f"[bold]{name}[/]" if name == "overall" else name,
            str(s["n"]),
            f"{s['success_rate']:.1%}",
            f"{s['stderr']:.1%}",
            f"{s['pass_at_k']:.1%}",
            str(s["errors"] + s["timeouts"]),
            f"{s['mean_steps']:.1f}",
            f"{s['prompt_tokens'] + s['completion_tokens']:,}",
        )
    return table


@eval_app.command("run")
def eval_run(
    suite: Annotated[
        str,
        typer.Argument(
            help="alfworld-style, textworld, gaia-style, drama, or a .yaml/.jsonl file."
        ),
    ],
    agent: Annotated[
        str, typer.Option(help="random, oracle, react, embodied, workforce or drama.")
    ] = "react",
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model spec for model agents (default: local)."),
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Cases per task type (and split).")] = None,
    attempts: Annotated[
        int, typer.Option("--attempts", "-k", help="Independent attempts per case (pass@k).")
    ] = 1,
    out: Annotated[Path | None, typer.Option(help="Run directory; reusing one resumes it.")] = None,
    backend: Annotated[str, typer.Option(help="seq, mp (worker processes) or ray.")] = "mp",
    workers: Annotated[
        int | None, typer.Option(help="Worker processes or Ray tasks at once (default: CPUs).")
    ] = None,
    max_steps: Annotated[
        int, typer.Option("--max-steps", help="Actions (or tool calls) per episode.")
    ] = 30,
    timeout: Annotated[
        float, typer.Option(help="Seconds per episode before it is stopped (0: none).")
    ] = 900,
    seed: Annotated[
        int, typer.Option(help="First game's seed, and the seed of the agents' sampling.")
    ] = 0,
    split: Annotated[
        list[str] | None, typer.Option(help="ALFWorld-style split(s): seen, unseen.")
    ] = None,
    level: Annotated[
        int | None,
        typer.Option(help="TextWorld: the coin collector and treasure hunter level (1-30)."),
    ] = None,
    temperature: Annotated[
        float, typer.Option(help="Tool agent's sampling temperature (0: greedy).")
    ] = 0.7,
    tool_model: Annotated[
        str | None,
        typer.Option(
            "--tool-model",
            help="The tool agent's own model (local?lora=ADAPTER); 'registry': each world's registered "
            "(or shipped) adapter; 'main': --model. Default: 'registry' on the embedded model, else 'main'.",
        ),
    ] = None,
    no_adapter: NoAdapterOpt = False,
    tool_agent: ToolAgentOpt = None,
    judge: Annotated[
        list[str] | None, typer.Option(help="Drama: a judge model spec (repeat for two judges).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    allow_code: Annotated[
        bool,
        typer.Option(
            "--allow-code",
            help="Let the suite file's cases name a world factory module:callable, which imports "
            "and runs that Python code. Only for files you trust.",
        ),
    ] = False,
) -> None:
    """Run a suite (resumable: run the same command again to finish a stopped run)."""
    from dramaturg.evals import AgentSpec, load_suite, run_eval
    from dramaturg.evals.agents import trained_on

    tool_model = without_adapter(tool_model, no_adapter, "eval failed")
    settings = tool_agent_settings(tool_agent, "eval failed")
    try:
        kwargs: dict = {"n": n, "seed": seed}
        if split:
            kwargs["splits"] = tuple(split)
        if level is not None:
            from dramaturg.evals.suites import TEXTWORLD_LEVELS

            kwargs["levels"] = {
                ch: ({**opts, "level": level} if "level" in opts else opts)
                for ch, opts in TEXTWORLD_LEVELS.items()
            }
        chosen = load_suite(suite, allow_code=allow_code, **kwargs)
        spec = AgentSpec(
            kind=agent,
            model=model,
            temperature=temperature,
            tool_model=tool_model,
            options={
                **({"judges": list(judge)} if judge else {}),
                **({"tool_agent": settings} if settings else {}),
            },
        )
        out = out or Path("runs") / f"{chosen.name}-{agent}".replace("/", "_")
        command = (
            "dramaturg eval run " + " ".join(shlex.quote(a) for a in sys.argv[3:])
            if sys.argv[1:3] == ["eval", "run"]
            else None
        )
        if progress:
            err_console.print(f"{len(chosen.cases)} cases x {attempts} attempt(s) -> {out}")
        _warn_trained_on(trained_on(spec, chosen.cases), len(chosen.cases))
        summary = run_eval(
            chosen,
            spec,
            out=out,
            attempts=attempts,
            max_steps=max_steps,
            timeout_s=timeout or None,
            backend=backend,
            workers=workers,
            seed=seed,
            progress=progress,
            command=command,
        )
    except DramaturgError as exc:
        _fail("eval failed", exc)
    except KeyboardInterrupt:
        err_console.print(f"stopped; run the same command again to resume ({out})")
        raise typer.Exit(130) from None
    console.print(_summary_table(summary, f"{chosen.name}: {spec.label}"))
    console.print(f"summary: {out / 'summary.json'}   report: dramaturg eval report {out}")


def _warn_trained_on(found: dict[str, str], total: int) -> None:
    """Say which cases are games the tool agent's adapter was trained on (not held out)."""
    if not found:
        return
    names = ", ".join(sorted(set(found.values())))
    shown = ", ".join(list(found)[:3]) + (", ..." if len(found) > 3 else "")
    err_console.print(
        escape(
            f"warning: {len(found)} of {total} cases are games the adapter {names} was trained "
            f"or validated on ({shown}): their success is not a held-out figure. Held-out games: ALFWorld-style "
            "--split unseen; TextWorld seeds the adapter did not train on (the shipped ones: "
            "below 1000)."
        ),
        style="yellow",
    )


@eval_app.command("report")
def eval_report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (from `dramaturg eval run`).")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the HTML (default: RUN_DIR/report.html).")
    ] = None,
) -> None:
    """Write an HTML report with plots (one self-contained file)."""
    from dramaturg.evals.report import write_report

    try:
        path = write_report(run_dir, out=out)
    except DramaturgError as exc:
        _fail("no report", exc)
    console.print(str(path))


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="First run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory.")],
    markdown: Annotated[bool, typer.Option(help="Print a Markdown table instead.")] = False,
) -> None:
    """Success rates of two runs side by side, with the difference and its p-value."""
    from dramaturg.evals.report import compare

    try:
        result = compare(run_a, run_b)
    except DramaturgError as exc:
        _fail("cannot compare", exc)
    if markdown:
        console.print(result.to_markdown(), markup=False, highlight=False)
    else:
        console.print(result.to_rich())


@eval_app.command("show")
def eval_show(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """The summary of a run as a table."""
    path = run_dir / "summary.json"
    if not path.is_file():
        _fail(
            "no summary", FileNotFoundError(f"{path} does not exist; is {run_dir} a finished run?")
        )
    from dramaturg._files import load_json

    try:
        summary = load_json(path)
        if not isinstance(summary, dict) or not all(
            isinstance(summary.get(k), dict) for k in ("overall", "by_task_type")
        ):
            raise DramaturgError(f"{path} is not a run summary")
    except DramaturgError as exc:
        _fail("no summary", exc)
    console.print(
        _summary_table(summary, f"{summary.get('suite')}: {redact_spec(str(summary.get('model')))}")
    )
