"""What ``dramaturg serve`` refuses before a route sees a request.

:class:`Guard` is plain ASGI middleware (no web framework needed to import
it). On every HTTP request and websocket it checks:

* **Host** is one this server answers to: the address the connection came
  in on, ``localhost``/``127.0.0.1``/``[::1]`` with the server's port, and
  the names in :attr:`ServerPolicy.trusted_hosts`. A page on
  ``attacker.example`` whose name was re-pointed at this machine (DNS
  rebinding) sends ``Host: attacker.example`` and gets a 400.
* **Origin**, when there is one, names a trusted host too. Browsers always
  send it on websockets and POSTs, so another site's page cannot open a
  session's socket or make sessions (403). Scripts and ``curl`` send none
  and pass: they have to hold the tokens anyway.
* **The body** is at most :attr:`ServerPolicy.max_body` bytes: a larger
  ``Content-Length`` is answered 413 before a byte of it is read, and a
  chunked body is read only up to the limit.

Example:
    >>> app = Guard(inner_app, ServerPolicy(trusted_hosts=("play.example.org",)))  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dramaturg.errors import ConfigError

__all__ = ["KEY_ENV", "Guard", "ServerPolicy", "is_loopback", "parse_trusted_host", "url_host"]

#: The environment variable that sets the server key (the token that creating a session needs).
KEY_ENV = "DRAMATURG_SERVER_TOKEN"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORT = {"http": 80, "ws": 80, "https": 443, "wss": 443}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(kw_only=True)
class ServerPolicy:
    """The limits one ``dramaturg serve`` runs under.

    Attributes:
        trusted_hosts: more host names (or ``name:port``) the server answers
            to, e.g. the name of a reverse proxy in front of it. A name
            without a port is trusted on any port.
        port: the port the server listens on; by default the port the
            connection came in on.
        key: the server key; when set, creating a session needs it
            (``Authorization: Bearer KEY``). ``None``: anyone past the Host
            and Origin checks may create sessions (fine on loopback only).
        max_turns: the most turns a session made over the web may run; a
            request without ``max_turns`` gets this many.
        hello_timeout_s: a websocket that has not sent its token within
            this many seconds is closed.
        max_body: the largest request body, in bytes.
    """

    trusted_hosts: tuple[str, ...] = ()
    port: int | None = None
    key: str | None = None
    max_turns: int = 500
    hello_timeout_s: float = 10.0
    max_body: int = 64 * 1024

    def __post_init__(self) -> None:
        self._trusted = [parse_trusted_host(h) for h in self.trusted_hosts]
        if self.key is not None and len(self.key) < 16:
            raise ConfigError(
                f"the server key is too short ({len(self.key)} characters): use 16 or more, "
                f'e.g. export {KEY_ENV}="$(python -c "import secrets; print(secrets.token_urlsafe(24))")"'
            )

    @classmethod
    def for_address(cls, host: str, port: int, **kwargs: Any) -> tuple[ServerPolicy, bool]:
        """The policy for listening on ``host``: off loopback, a key is required.

        The key comes from ``$DRAMATURG_SERVER_TOKEN`` (which also turns it on
        for loopback), else a fresh one is made. Returns the policy and
        whether its key was made here (and so must be shown to the user).
        """
        key = os.environ.get(KEY_ENV) or None
        made = key is None and not is_loopback(host)
        if made:
            key = secrets.token_urlsafe(24)
        return cls(port=port, key=key, **kwargs), made

    def key_ok(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries the server key (always, when there is none)."""
        if self.key is None:
            return True
        given = authorization.removeprefix("Bearer ").strip() if authorization else ""
        return hmac.compare_digest(given.encode(), self.key.encode())

    def trusts(self, host: str, port: int, scope: Scope) -> bool:
        """Whether ``host:port`` (from a Host or Origin header) names this server."""
        server = scope.get("server") or (None, None)
        own_port = self.port or server[1]
        if host in _LOOPBACK and (own_port is None or port == own_port):
            return True
        if server[0] is not None and host == _normal(str(server[0])) and port == server[1]:
            return True
        return any(host == name and (want is None or port == want) for name, want in self._trusted)


class Guard:
    """ASGI middleware: the Host, Origin and body-size checks of :class:`ServerPolicy`."""

    def __init__(self, app: Any, policy: ServerPolicy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._check_headers(scope)
        if refusal is not None:
            await _refuse(scope, receive, send, *refusal)
            return
        if scope["type"] == "http":
            receive = await self._read_body(scope, receive, send)  # type: ignore[assignment]
            if receive is None:
                return
        await self.app(scope, receive, send)

    def _check_headers(self, scope: Scope) -> tuple[int, str] | None:
        headers = [
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", ())
        ]
        hosts = [v for k, v in headers if k == "host"]
        if len(hosts) != 1:
            return 400, "a request needs exactly one Host header"
        scheme = scope.get("scheme", "http")
        parsed = _host_port(hosts[0], scheme)
        if parsed is None or not self.policy.trusts(*parsed, scope):
            return 400, (
                f"this server does not answer to Host {hosts[0][:100]!r} (a guard against DNS "
                "rebinding); if that name is yours, start it with --trusted-host NAME"
            )
        origins = [v for k, v in headers if k == "origin"]
        if len(origins) > 1:
            return 403, "a request may carry one Origin header"
        if origins:
            url = urlsplit(origins[0])
            where = _host_port(url.netloc, url.scheme) if url.scheme in ("http", "https") else None
            if where is None or not self.policy.trusts(*where, scope):
                return 403, (
                    f"requests from pages on {origins[0][:100]!r} are refused: only this server's "
                    "own page may use it (add a name with --trusted-host NAME)"
                )
        return None

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The request's receive with the body read up to the limit, or None once refused."""
        limit = self.policy.max_body
        length = next(
            (v for k, v in scope.get("headers", ()) if k.lower() == b"content-length"), None
        )
        if length is not None:
            if not length.isdigit():
                await _refuse(scope, receive, send, 400, "a bad Content-Length header")
                return None
            if int(length) > limit:
                await _refuse(scope, receive, send, 413, f"the request body is over {limit} bytes")
                return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return _replay([message], receive)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _refuse(scope, receive, send, 413, f"the request body is over {limit} bytes")
                return None
            if not message.get("more_body", False):
                break
        return _replay(
            [{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive
        )


def _replay(messages: list[dict[str, Any]], receive: Receive) -> Receive:
    async def replay() -> dict[str, Any]:
        return messages.pop(0) if messages else await receive()

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    body = json.dumps({"detail": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # a server without the denial extension: a plain refusal (HTTP 403)
            await send({"type": "websocket.close", "code": 1008, "reason": text[:120]})
        return
    # Connection: close, so a body left unread is never taken for the next request.
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _normal(host: str) -> str:
    """A host name or address as compared: lower case, no brackets, IPv4 for IPv4-mapped IPv6."""
    host = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def _split(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` -> (host, port or None); None if malformed."""
    value = value.strip()
    if not value or any(c in value for c in "/@?# \\"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
    elif value.count(":") > 1:  # a bare IPv6 address
        host, rest = value, ""
    else:
        host, sep, port_text = value.partition(":")
        rest = sep + port_text
    if rest and (
        not rest.startswith(":") or not rest[1:].isdigit() or not 0 < int(rest[1:]) < 65536
    ):
        return None
    host = _normal(host)
    return (host, int(rest[1:]) if rest else None) if host else None


def _host_port(value: str, scheme: str) -> tuple[str, int] | None:
    """(host, port) of a Host header or an Origin's netloc, the scheme's port when none is given."""
    split = _split(value)
    if split is None:
        return None
    return split[0], split[1] if split[1] is not None else _DEFAULT_PORT.get(scheme, 80)


def parse_trusted_host(value: str) -> tuple[str, int | None]:
    """``name`` or ``name:port`` (``[::1]:8765`` for IPv6) as given to ``--trusted-host``."""
    split = _split(value)
    if split is None or "*" in split[0]:
        raise ConfigError(
            f"--trusted-host {value!r}: give a host name or address, optionally with :PORT "
            "(no scheme, path or wildcard), e.g. --trusted-host play.example.org"
        )
    return split


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the server to this machine."""
    host = _normal(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as it goes in a URL a person opens (brackets for IPv6; this machine for 0.0.0.0)."""
    host = _normal(host)
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"[{host}]" if ":" in host else host
