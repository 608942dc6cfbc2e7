"""Helpers for testing code built on dramaturg.

``block_network()`` makes any attempt to reach a host other than this
machine's loopback fail at once with :class:`NetworkBlockedError`. The
project's own test suite turns it on for every test (see
``tests/conftest.py``); users can do the same in theirs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

from dramaturg.errors import DramaturgError

__all__ = ["NetworkBlockedError", "block_network", "free_port", "is_loopback", "llama_server"]

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
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request

    from dramaturg.models._weights import default_weights
    from dramaturg.models.local import default_threads

    path = model_path or str(default_weights())
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", path, "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(n_threads or default_threads()),
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
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode} while starting:\n{tail}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"llama_cpp.server did not answer on {url} within {startup_timeout_s} s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
