"""Helpers for testing code built on dramaturg.

``block_network()`` makes any attempt to reach a host other than this
machine's loopback fail at once with :class:`NetworkBlockedError`. The
project's own test suite turns it on for every test (see
``tests/conftest.py``); users can do the same in theirs.

:class:`SchemaModel` answers every call with a valid, rule-built answer: a
stand-in model for tests of servers and pages, where the model is not what
is under test.

:class:`FuzzModel` answers from a seeded stream of malformed outputs
(truncated JSON, wrong types, huge strings, lone surrogates, unknown tools,
invalid actions, ...) with a share of valid ones: a fuzzer for everything
that reads a model's answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import ipaddress
import json
import socket
import subprocess
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any

import annotated_types
from pydantic import BaseModel

from dramaturg._fuzz import FuzzModel
from dramaturg.errors import DramaturgError, ScriptError
from dramaturg.models.base import BaseChatModel, Completion, Message, Usage

__all__ = [
    "FuzzModel",
    "NetworkBlockedError",
    "SchemaModel",
    "block_network",
    "free_port",
    "is_loopback",
    "llama_server",
    "stop_process",
]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlockedError(DramaturgError, OSError):
    """A test tried to reach a host that is not this machine's loopback."""


def is_loopback(host: Any) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names for them."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: Any, family: int) -> None:
    if family == getattr(socket, "AF_UNIX", object()):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback(host):
        raise NetworkBlockedError(
            f"network access to {address!r} is blocked during tests; only 127.0.0.1/::1 are allowed"
        )


@contextlib.contextmanager
def block_network() -> Iterator[None]:
    """Forbid connections and name lookups for anything but loopback.

    Example:
        >>> with block_network():
        ...     socket.create_connection(("example.com", 80))  # doctest: +SKIP
        Traceback (most recent call last):
        NetworkBlockedError: network access to 'example.com' is blocked during tests; ...
    """
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        _check(address, self.family)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        _check(address, self.family)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            _check(host, socket.AF_INET)
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo


class SchemaModel(BaseChatModel):
    """A deterministic model that answers anything: a stand-in for servers and browsers.

    Where the model is not what is under test (a web server, a page, a
    session store), scripting every answer with
    :class:`~dramaturg.models.ScriptedModel` is brittle: the number and the
    order of calls depend on timing and on the player. This model never runs
    out. A structured call gets a valid instance of the requested schema,
    built by rule:

    * a ``Literal`` or an enum takes, of the options offered, the one this
      field of this schema got least recently (the first listed when there is
      a tie), so a director picks every character in turn, even when the cast
      it is offered changes from call to call;
    * a required string is a short phrase holding the field name and the call
      number (``"line 7"``), cut or padded to the field's length limits;
    * numbers take their lowest allowed value, booleans ``False``, lists their
      minimum length, nested models are built by the same rules;
    * a field with a default keeps it, so optional fields are null;
    * a model with a ``kind`` field offering ``"speak"`` (an actor's decision)
      speaks, with a ``line`` when it has one.

    A plain ``complete`` call gets ``text``. Use it only where any valid
    answer will do: it tests nothing about prompts or model behaviour.

    Example:
        >>> from typing import Literal
        >>> from pydantic import create_model
        >>> Pick = create_model("Pick", actor=(Literal["hamlet", "ophelia"], ...), why=(str, ...))
        >>> model = SchemaModel()
        >>> [model.structured_sync([], Pick).actor for _ in range(3)]
        ['hamlet', 'ophelia', 'hamlet']
        >>> model.structured_sync([], Pick).why
        'why 4'
    """

    def __init__(self, *, text: str = "All is quiet.", name: str = "schema") -> None:
        self.text = text
        self.name = name
        self.calls = 0
        self._picked: dict[
            tuple[str, str], dict[Any, int]
        ] = {}  # (schema, field) -> option -> when
        self._picks = 0

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        self.calls += 1
        schema = opts.get("response_model")
        if schema is not None:
            text = json.dumps(self._model(schema))
        elif opts.get("json_schema") is not None:
            raise ScriptError(
                "SchemaModel builds answers from a pydantic class; call `structured`, "
                "not `complete(json_schema=...)`"
            )
        else:
            text = self.text
        prompt = sum(len(m["content"]) for m in messages)
        return Completion(
            text=text,
            usage=Usage(
                prompt_tokens=(prompt + 3) // 4,
                completion_tokens=(len(text) + 3) // 4,
                cost_usd=0.0,
            ),
            model=self.name,
        )

    def _model(self, schema: type[BaseModel]) -> dict[str, Any]:
        fields = schema.model_fields
        data = {
            name: self._value(f.annotation, f.metadata, (schema.__name__, name))
            for name, f in fields.items()
            if f.is_required()
        }
        kind = fields.get("kind")
        if kind is not None and "speak" in _literal_options(kind.annotation):
            data["kind"] = "speak"
            if "line" in fields:
                data["line"] = self._text("line", fields["line"].metadata)
        return data

    def _value(self, tp: Any, meta: Sequence[Any], where: tuple[str, str]) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        name = where[1]
        if origin is typing.Annotated:
            return self._value(args[0], [*meta, *args[1:]], where)
        if origin is typing.Literal:
            return self._rotate(args, where)
        if origin in (typing.Union, types.UnionType):
            # A required "X | None": build the X.
            return self._value(next(a for a in args if a is not type(None)), meta, where)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self._model(tp)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self._rotate(tuple(m.value for m in tp), where)
        if origin in (list, set, frozenset, tuple) or tp in (list, set, frozenset, tuple):
            item = args[0] if args else str
            return [
                self._value(item, (), where) for _ in range(_bound(meta, annotated_types.MinLen, 0))
            ]
        if origin is dict or tp is dict:
            return {}
        if tp is bool:
            return False
        if tp in (int, float):
            low = max(_bound(meta, annotated_types.Ge, 0), _bound(meta, annotated_types.Gt, -1) + 1)
            high = min(
                _bound(meta, annotated_types.Le, low), _bound(meta, annotated_types.Lt, low + 1) - 1
            )
            return tp(min(low, high))
        if tp is str or tp is Any:
            return self._text(name, meta)
        raise ScriptError(
            f"SchemaModel cannot build a value of type {tp!r} (field {name!r}); "
            "script this call with ScriptedModel"
        )

    def _rotate(self, options: tuple[Any, ...], where: tuple[str, str]) -> Any:
        picked = self._picked.setdefault(where, {})
        choice = min(options, key=lambda o: picked.get(o, -1))  # min() keeps the first of equals
        self._picks += 1
        picked[choice] = self._picks
        return choice

    def _text(self, name: str, meta: Sequence[Any]) -> str:
        text = f"{name} {self.calls}"
        low = _bound(meta, annotated_types.MinLen, 0)
        return text.ljust(low, ".")[: _bound(meta, annotated_types.MaxLen, max(low, len(text)))]


def _bound(meta: Sequence[Any], kind: type, default: Any) -> Any:
    """The value of the first ``annotated_types`` constraint of ``kind`` (``Ge``, ``MaxLen`` ...) in ``meta``."""
    for m in meta:
        if isinstance(m, kind):
            return getattr(m, dataclasses.fields(m)[0].name)
    return default


def _literal_options(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    return tuple(o for a in typing.get_args(tp) for o in _literal_options(a))


def stop_process(proc: subprocess.Popen, *, grace_s: float = 10) -> None:
    """Ask a server started for a test to stop; kill it if it has not within ``grace_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(
    model_path: str | None = None,
    *,
    alias: str = "gemma",
    n_ctx: int = 4096,
    n_threads: int | None = None,
    chat_format: str | None = None,
    startup_timeout_s: float = 120.0,
    log_path: str | None = None,
) -> Iterator[str]:
    """Run llama-cpp-python's OpenAI-compatible server on 127.0.0.1 for the
    duration of the block; yields its base URL (``http://127.0.0.1:PORT/v1``).

    The server serves the embedded model unless ``model_path`` says otherwise,
    and is stopped (then killed, if it does not stop) when the block ends.

    Example:
        >>> with llama_server() as url:                                   # doctest: +SKIP
        ...     model = load_model(f"openai:{url}#gemma")
    """
    import sys
    import tempfile
    import time
    import urllib.request

    from dramaturg.models._weights import default_weights
    from dramaturg.models.local import default_threads

    path = model_path or str(default_weights())
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        path,
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads or default_threads()),
    ]
    if chat_format:
        cmd += ["--chat_format", chat_format]
    log = open(log_path, "wb") if log_path else tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read()[-3000:].decode("utf-8", "replace")
                raise RuntimeError(
                    f"llama_cpp.server exited with {proc.returncode} while starting:\n{tail}"
                )
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"llama_cpp.server did not answer on {url} within {startup_timeout_s} s"
                )
            time.sleep(0.25)
        yield url
    finally:
        stop_process(proc)
        log.close()
