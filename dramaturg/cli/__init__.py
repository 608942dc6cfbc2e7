"""The ``dramaturg`` command: the root app, with one module per sub-app.

``run`` and ``worlds`` live in :mod:`dramaturg.cli.run`, ``serve`` in
:mod:`dramaturg.cli.serve`, and the groups ``models``, ``drama``, ``eval`` and
``train`` in the modules of those names.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dramaturg import __version__
from dramaturg.cli import drama, eval, models, run, serve, train
from dramaturg.cli._common import Root, console, print_version

__all__ = ["app", "main"]

app = typer.Typer(
    cls=Root,
    name="dramaturg",
    help="Multi-agent LLM systems that act in worlds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=print_version,
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


# Help lists the commands in this order, then the groups.
app.command("run")(run.run)
app.command("worlds")(run.worlds)
app.command("serve")(serve.serve)
app.add_typer(models.models_app, name="models")
app.add_typer(drama.drama_app, name="drama")
app.add_typer(eval.eval_app, name="eval")
app.add_typer(train.train_app, name="train")


def main() -> None:
    """Entry point of the console script."""
    app()
