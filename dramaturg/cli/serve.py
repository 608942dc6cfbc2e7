"""`dramaturg serve`: check the address, choose the policy, say clearly what is exposed, run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dramaturg.cli._common import ModelOpt, console, err_console, fail
from dramaturg.errors import DramaturgError
from dramaturg.models._redact import redact_spec
from dramaturg.server._guard import KEY_ENV, ServerPolicy, is_loopback, url_host

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "base_url", "run_server", "serve", "session_url"]

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def base_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    return f"http://{url_host(host)}:{port}/"


def session_url(sid: str, token: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """The address that opens a session in the browser: ``http://HOST:PORT/#ID:TOKEN``."""
    return f"{base_url(host, port)}#{sid}:{token}"


def _say(text: str) -> None:
    # URLs and tokens whole, never wrapped, never read as markup ([::1] looks like a tag).
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def run_server(
    *,
    host: str,
    port: int,
    model: str | None,
    trusted_hosts: list[str],
    max_turns: int,
    hello_timeout_s: float,
) -> None:
    """Check the address and the settings, load the model, say what is exposed, and serve."""
    try:
        import uvicorn

        from dramaturg.models import load_model
        from dramaturg.server.app import create_app
    except ImportError:
        err_console.print("[bold red]serve[/] needs the web extra: pip install 'dramaturg[web]'")
        raise typer.Exit(1) from None
    try:
        policy, made = ServerPolicy.for_address(
            host,
            port,
            trusted_hosts=tuple(trusted_hosts),
            max_turns=max_turns,
            hello_timeout_s=hello_timeout_s,
        )
    except DramaturgError as exc:
        fail("cannot serve", str(exc), code=2)
    try:
        chat = load_model(model)
    except DramaturgError as exc:
        fail("no model", str(exc))

    url = base_url(host, port)
    if not is_loopback(host):
        err_console.print(
            f"[bold yellow]WARNING:[/] listening on {host}, not only on this machine: anyone who can reach "
            f"port {port} can load the page. Making a session needs the server key below, playing one needs "
            "its own token, and the traffic is plain HTTP that others on the network can read: beyond a "
            "network you trust, put a TLS proxy in front (and name it with --trusted-host).",
            soft_wrap=True,
        )
    _say(
        f"dramaturg on {url} (model {redact_spec(chat.name)}; at most {max_turns} turns a session)",
    )
    if policy.key is not None:
        if made:
            _say(f"server key: {policy.key} (set {KEY_ENV} to choose your own)")
            _say(f"new play: {url}#key={policy.key}")
        else:
            _say(f"server key: the one in ${KEY_ENV}; new play: {url}#key=<that key>")
    else:
        _say(f"new play: {url}")
    _say(f"a session made with `dramaturg drama new`: {url}#ID:TOKEN (as it printed)")
    if host in ("0.0.0.0", "::"):
        _say(
            f"from another machine: http://<this machine's address>:{port}/ "
            "(a name instead of an address needs --trusted-host NAME)",
        )
    app: Any = create_app(model=chat, model_spec=redact_spec(model), policy=policy)
    # ws_max_size: uvicorn would otherwise buffer 16 MB websocket messages before the app sees one.
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=policy.max_body)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port, 1-65535.")] = DEFAULT_PORT,
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
    run_server(
        host=host,
        port=port,
        model=model,
        trusted_hosts=trusted_host or [],
        max_turns=max_turns,
        hello_timeout_s=hello_timeout,
    )
