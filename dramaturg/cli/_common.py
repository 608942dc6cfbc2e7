"""What the sub-apps of the ``dramaturg`` command share: consoles, errors, the root group."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from dramaturg import __version__
from dramaturg.models._redact import redact_spec

__all__ = [
    "ModelOpt",
    "NoAdapterOpt",
    "Root",
    "ToolAgentOpt",
    "console",
    "err_console",
    "fail",
    "print_version",
    "redacted",
    "tool_agent_settings",
    "without_adapter",
]

console = Console()
err_console = Console(stderr=True)

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Model spec: local, litellm:<provider/model>, openai:<url>#<model>."
    ),
]


def fail(what: str, message: str, *, code: int = 1) -> NoReturn:
    """Print ``what: message`` in red on stderr and exit with ``code``.

    ``message`` is printed as rich markup: the caller escapes and redacts
    what needs it.
    """
    err_console.print(f"[bold red]{what}:[/] {message}")
    raise typer.Exit(code) from None


def redacted(exc: BaseException) -> str:
    """An error's text with the secrets of any model spec in it masked."""
    return redact_spec(str(exc)) or ""


def print_version(value: bool) -> None:
    """The ``--version`` flag's callback."""
    if value:
        console.print(f"dramaturg {__version__}")
        raise typer.Exit()


def _flags_as_flags(command: Any, ctx: Any) -> None:
    """Give every flag of ``command`` and its sub-commands (``--help`` too) an empty metavar."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_as_flags(sub, ctx)


class Root(TyperGroup):
    """The ``dramaturg`` group: help shows flags as flags.

    Typer (0.29) writes the type of every option in help, flags included, so
    ``--help <bool>`` reads as if it took a value. An empty metavar makes the
    type column blank for flags; the root parses first on every command line,
    so setting it there covers every sub-command's help.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        _flags_as_flags(self, ctx)
        return super().get_params(ctx)


NoAdapterOpt = Annotated[
    bool,
    typer.Option(
        "--no-adapter",
        help="Play the base model: no registered or shipped adapter (--tool-model main).",
    ),
]


def without_adapter(tool_model: str | None, no_adapter: bool, what: str) -> str | None:
    """``tool_model``, or ``"main"`` with ``--no-adapter`` (which a model of its own contradicts)."""
    if not no_adapter:
        return tool_model
    if tool_model not in (None, "auto", "main"):
        fail(what, "--no-adapter plays the base model: leave out --tool-model")
    return "main"


ToolAgentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tool-agent",
        metavar="NAME=N",
        help="A tool agent setting (repeatable): history_turns, max_observation_chars, recap, "
        "focus, notes; over those the adapter was trained with. With --no-adapter, an adapter's "
        "own settings give the base model the prompts the adapter plays with.",
    ),
]


def tool_agent_settings(pairs: list[str] | None, what: str) -> dict[str, int]:
    """``--tool-agent NAME=N`` options as checked tool agent settings (else exit 1 with a clear error)."""
    from rich.markup import escape

    from dramaturg.agents.tool_agent import check_settings
    from dramaturg.errors import ConfigError

    settings: dict[str, int] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        try:
            number = int(value.strip()) if sep else None
        except ValueError:
            number = None
        if number is None:
            fail(
                what,
                escape(f"--tool-agent {pair!r}: write NAME=N with a whole number, like focus=8"),
            )
        settings[name.strip()] = number
    try:
        return check_settings(settings, "--tool-agent")
    except ConfigError as exc:
        fail(what, escape(str(exc)))
