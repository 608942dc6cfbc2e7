"""`dramaturg models ...`: check that a model backend loads, answers and how fast."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from dramaturg.cli._common import ModelOpt, console, fail, redacted
from dramaturg.errors import DramaturgError

__all__ = ["models_app"]

models_app = typer.Typer(help="Work with model backends.", no_args_is_help=True)


@models_app.command("check")
def models_check(
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Load a model, run one structured call, and report speed."""
    from dramaturg.models.check import check_model

    try:
        report = check_model(model, status=console.status)
    except DramaturgError as exc:
        fail("models check failed", redacted(exc))
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    prompt_tps, gen_tps = report.prompt_tokens_per_s, report.generated_tokens_per_s
    table = Table(title="dramaturg models check", show_header=False)
    table.add_row("backend", report.backend)
    table.add_row("model", report.model)
    table.add_row("load time", f"{report.load_s:.2f} s")
    table.add_row("structured answer", json.dumps(report.structured))
    table.add_row("prompt tokens/s", "n/a" if prompt_tps is None else f"{prompt_tps:.1f}")
    table.add_row("generated tokens/s", "n/a" if gen_tps is None else f"{gen_tps:.1f}")
    console.print(table)
    console.print("[bold green]OK[/]")
