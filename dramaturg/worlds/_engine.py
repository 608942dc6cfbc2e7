"""Run a game engine in a child process, so that a crash or a hang ends the episode
as an error instead of taking the caller down with it.

The child builds the engine from ``"module:factory"`` and serves method calls
over a pipe. Every call has a timeout; a dead or silent child raises
:class:`~dramaturg.worlds.WorldCrashedError` and is killed.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from dramaturg.worlds.base import WorldCrashedError

__all__ = ["EngineProcess", "load_factory"]


def load_factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _serve(conn: Any, out: Any, factory: str, kwargs: dict[str, Any]) -> None:
    try:
        engine = load_factory(factory)(**kwargs)
        out.send(("ok", None))
    except BaseException as exc:
        out.send(("err", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
        return
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):
            return
        if method == "__close__":
            return
        try:
            out.send(("ok", getattr(engine, method)(*args)))
        except BaseException as exc:
            out.send(("err", f"{type(exc).__name__}: {exc}"))


class EngineProcess:
    """A child process hosting one engine object.

    Example:
        >>> proc = EngineProcess("dramaturg.worlds.textworld._engine:TextWorldEngine",
        ...                      {"game_file": "game.z8"}, timeout=30)  # doctest: +SKIP
        >>> proc.call("reset")  # doctest: +SKIP
    """

    def __init__(
        self,
        factory: str,
        kwargs: dict[str, Any],
        *,
        timeout: float = 60.0,
        start_timeout: float = 120.0,
    ) -> None:
        self.timeout = timeout
        # A plain subprocess (not multiprocessing) so that it works from any
        # __main__, including a REPL or stdin; two pipes carry pickled messages.
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramaturg.worlds._engine",
                str(to_child_r),
                str(to_parent_w),
                factory,
                json.dumps(kwargs),
            ],
            pass_fds=(to_child_r, to_parent_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(to_parent_w)
        self._send_conn = Connection(to_child_w, readable=False)
        self._conn = Connection(to_parent_r, writable=False)
        status, detail = self._recv(start_timeout, "starting the engine")
        if status != "ok":
            self.close()
            raise WorldCrashedError(f"the game engine failed to start: {detail}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def _recv(self, timeout: float, what: str) -> tuple[str, Any]:
        try:
            if not self._conn.poll(timeout):
                self.kill()
                raise WorldCrashedError(
                    f"the game engine did not answer within {timeout:g}s while {what}; it was stopped"
                )
            reply: tuple[str, Any] = self._conn.recv()
            return reply
        except (EOFError, OSError, ConnectionError) as exc:
            code = self._proc.poll()
            self.kill()
            raise WorldCrashedError(
                f"the game engine died while {what} (exit code {code}): {exc!r}"
            ) from exc

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Call ``engine.method(*args)`` in the child; engine exceptions come back as ``RuntimeError``."""
        if self._proc.poll() is not None:
            raise WorldCrashedError(
                f"the game engine is not running (exit code {self._proc.returncode})"
            )
        try:
            self._send_conn.send((method, args))
        except (OSError, ValueError) as exc:
            self.kill()
            raise WorldCrashedError(
                f"the game engine died (exit code {self._proc.poll()})"
            ) from exc
        status, value = self._recv(
            self.timeout if timeout is None else timeout, f"running {method}"
        )
        if status != "ok":
            raise RuntimeError(value)
        return value

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        """Ask the child to exit, then make sure it has."""
        if self._proc.poll() is None:
            try:
                self._send_conn.send(("__close__", ()))
                self._proc.wait(timeout=2)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self._conn.close()
        self._send_conn.close()


if __name__ == "__main__":
    _serve(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
        sys.argv[3],
        json.loads(sys.argv[4]),
    )
