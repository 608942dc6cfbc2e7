"""Running one tool function: timeouts, threads, output to text, size caps."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["describe_validation_error", "run_async", "run_in_thread", "to_text", "truncate"]


async def run_async(fn: Callable[..., Any], kwargs: dict[str, Any], timeout_s: float | None) -> Any:
    """Await ``fn(**kwargs)``; on timeout the coroutine is cancelled (``TimeoutError``)."""
    return await asyncio.wait_for(fn(**kwargs), timeout_s)


async def run_in_thread(
    fn: Callable[..., Any], kwargs: dict[str, Any], timeout_s: float | None
) -> Any:
    """Run a sync ``fn(**kwargs)`` in its own daemon thread and await it.

    A thread cannot be killed, so on timeout it is *abandoned*: it runs on to
    completion in the background and its result is dropped. It is a daemon
    thread (not the loop's default executor) so that neither ``asyncio.run``
    nor interpreter exit waits for it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if future.done():  # timed out and abandoned
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            value = context.run(fn, **kwargs)
        except BaseException as exc:
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, value)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop closed while the tool ran
            pass

    threading.Thread(
        target=target, name=f"tool-{getattr(fn, '__name__', 'fn')}", daemon=True
    ).start()
    return await asyncio.wait_for(future, timeout_s)


def to_text(value: Any) -> str:
    """A tool's return value as text: strings as is, models and containers as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, dict | list | tuple | int | float | bool):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to about ``limit`` characters, keeping the head and a little tail.

    The tail often holds the answer or the last line of a traceback, so a
    fifth of the budget goes to it. The marker says how much was left out.
    """
    if len(text) <= limit:
        return text, False
    tail = limit // 5
    head = limit - tail
    dropped = len(text) - head - tail
    marker = f"\n... [output truncated: {dropped} of {len(text)} characters left out] ...\n"
    return text[:head] + marker + (text[-tail:] if tail else ""), True


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, naming the argument, e.g. ``b: missing required argument``."""
    parts = []
    for item in error.errors(include_url=False)[:8]:
        loc = ".".join(str(p) for p in item["loc"]) or "(arguments)"
        kind = item["type"]
        if kind == "missing":
            parts.append(f"{loc}: missing required argument")
        elif kind == "extra_forbidden":
            parts.append(f"{loc}: unexpected argument")
        else:
            shown = json.dumps(item.get("input"), default=str)
            if len(shown) > 60:
                shown = shown[:60] + "..."
            parts.append(f"{loc}: {item['msg']} (got {shown})")
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)
