"""Behaviour around a model, kept out of the backends.

* :class:`RetryingModel`: bounded retry. A structured answer that fails
  validation is sent back to the model with the error, so each retry knows
  what was wrong. Transient transport errors are retried with backoff.
* :class:`UsageModel`: tokens, cost and calls per caller (agent name).
* :class:`TracingModel`: one JSONL line per call (messages, answer, tokens,
  latency) with secrets scrubbed.

:func:`wrap` stacks them in the order the library uses:
``Retrying(Usage(Tracing(backend)))``, so every real attempt is traced
and billed, and retries are visible in the trace.

Example:
    >>> from dramaturg.models import ScriptedModel, wrap
    >>> model = wrap(ScriptedModel(["hi"]), retries=2)
    >>> model.complete_sync([{"role": "user", "content": "hello"}]).text
    'hi'
    >>> model.usage.by_caller["-"].calls
    1
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from dramaturg.errors import ModelConnectionError, ModelOutputError, RetryBudgetExceeded
from dramaturg.models._redact import Redactor
from dramaturg.models._text import clean_text, has_surrogates
from dramaturg.models.base import (
    BaseChatModel,
    ChatModel,
    Completion,
    Message,
    Usage,
    current_caller,
    structured_prompt,
    user,
)

__all__ = [
    "CallerUsage",
    "DelayedModel",
    "ModelWrapper",
    "RetryingModel",
    "TracingModel",
    "UsageModel",
    "UsageReport",
    "wrap",
]

T = TypeVar("T", bound=BaseModel)


class ModelWrapper(BaseChatModel):
    """A model that delegates to ``inner``; subclasses override what they change.

    ``structured`` is the generic one from :class:`BaseChatModel`, so it runs
    through this wrapper's ``complete`` and every wrapper below it sees the call.
    Attribute lookups that the wrapper does not define (``usage``, ``backend``,
    ...) fall through to the inner model.
    """

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name = inner.name

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        return await self.inner.complete(messages, **opts)

    # A property over BaseChatModel's plain attribute: the class default would hide the inner
    # model's kind (mypy cannot tell a read-only view from a narrowing).
    @property
    def kind(self) -> Any:  # type: ignore[override]
        return getattr(self.inner, "kind", "instruct")

    def __getattr__(self, item: str) -> Any:
        # Only called for attributes not found normally: reach through wrappers.
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)


class RetryingModel(ModelWrapper):
    """Bounded retry.

    Args:
        inner: the model to call.
        retries: extra attempts after the first for an unusable structured
            answer. Each retry appends the bad answer and the error to the
            conversation, so the model can correct itself.
        transport_retries: extra attempts for transient transport errors
            (connection reset, rate limit, 5xx), with exponential backoff.
        backoff_s: the first backoff delay; doubled each time, with jitter.
    """

    def __init__(
        self,
        inner: ChatModel,
        *,
        retries: int = 2,
        transport_retries: int = 2,
        backoff_s: float = 0.5,
    ) -> None:
        super().__init__(inner)
        if retries < 0 or transport_retries < 0:
            raise ValueError("retries must be >= 0")
        self.retries = retries
        self.transport_retries = transport_retries
        self.backoff_s = backoff_s

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        attempt = 0
        while True:
            try:
                result = await self.inner.complete(messages, **opts)
            except ModelConnectionError as exc:
                if not getattr(exc, "transient", False) or attempt >= self.transport_retries:
                    raise
                delay = self.backoff_s * (2**attempt) * (0.5 + random.random())
                attempt += 1
                await asyncio.sleep(delay)
                continue
            # A model can write a lone surrogate ("\\ud800" in a server's JSON): not text, and
            # fatal to every encoder downstream (checkpoints, traces, the terminal).
            if has_surrogates(result.text):
                result.text = clean_text(result.text)
            return result

    async def structured(self, messages: Sequence[Message], schema: type[T], **opts: Any) -> T:
        first = structured_prompt(messages, schema)
        prompt = first
        errors: list[str] = []
        kinds: list[str] = []
        fields: list[str] = []
        last_raw = ""
        for attempt in range(self.retries + 1):
            try:
                # A retry passes its number: the backend samples differently (see ChatModel).
                return await self._structured_attempt(
                    prompt, schema, **({**opts, "attempt": attempt} if attempt else opts)
                )
            except RetryBudgetExceeded:
                raise
            except ModelOutputError as exc:
                errors.append(exc.feedback)
                kinds.append(exc.kind)
                if exc.field:
                    fields.append(exc.field)
                last_raw = exc.raw
                # Show the model its own answer (shortened) and what was wrong with it, unless
                # it looped or ran long: shown again, a loop is continued, and a base model copies
                # the complaint into its next answer. Then the retry asks the same question and
                # the backend samples it differently (``attempt``). Only the latest mistake is
                # kept: retries do not pile up in the prompt.
                if exc.kind in ("loop", "truncated", "timeout"):
                    prompt = first
                    continue
                shown = exc.raw if len(exc.raw) <= 1000 else exc.raw[:1000] + " ..."
                prompt = [
                    *first,
                    {"role": "assistant", "content": shown},
                    user(
                        f"That answer was not usable: {exc.feedback}. "
                        "Answer again with one JSON object of the shape above."
                    ),
                ]
        raise RetryBudgetExceeded(errors, raw=last_raw, kinds=kinds, fields=fields)


@dataclass(kw_only=True)
class CallerUsage:
    """Totals for one caller."""

    calls: int = 0
    errors: int = 0
    constrained: int = 0  # answers forced into shape by a grammar (Completion.constrained)
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0


@dataclass(kw_only=True)
class UsageReport:
    """Usage per caller and in total; ``-`` is calls made outside any caller."""

    by_caller: dict[str, CallerUsage] = field(default_factory=dict)

    @property
    def total(self) -> CallerUsage:
        out = CallerUsage()
        for item in self.by_caller.values():
            out.calls += item.calls
            out.errors += item.errors
            out.constrained += item.constrained
            out.usage = out.usage + item.usage
            out.latency_s += item.latency_s
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (for reports and the CLI)."""
        return {
            name: {
                "calls": c.calls,
                "errors": c.errors,
                "constrained": c.constrained,
                "prompt_tokens": c.usage.prompt_tokens,
                "completion_tokens": c.usage.completion_tokens,
                "cached_prompt_tokens": c.usage.cached_prompt_tokens,
                "cost_usd": c.usage.cost_usd,
                "latency_s": round(c.latency_s, 6),
            }
            for name, c in sorted(self.by_caller.items())
        }


class UsageModel(ModelWrapper):
    """Accounts tokens, cost, latency and errors per caller.

    The caller is the ``caller=`` option of a call, else the name set by
    :func:`dramaturg.models.caller`, else ``"-"``.
    """

    def __init__(self, inner: ChatModel) -> None:
        super().__init__(inner)
        self.usage = UsageReport()
        self._lock = threading.Lock()

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        who = opts.get("caller") or current_caller() or "-"
        try:
            result = await self.inner.complete(messages, **opts)
        except Exception:
            with self._lock:
                entry = self.usage.by_caller.setdefault(who, CallerUsage())
                entry.calls += 1
                entry.errors += 1
            raise
        with self._lock:
            entry = self.usage.by_caller.setdefault(who, CallerUsage())
            entry.calls += 1
            entry.constrained += bool(getattr(result, "constrained", False))
            entry.usage = entry.usage + result.usage
            entry.latency_s += result.latency_s
        return result


class TracingModel(ModelWrapper):
    """Appends one JSON line per call to ``path``.

    A line holds: time, caller, model, the messages, the options (minus
    anything secret), the answer, finish reason, usage and latency, or the
    error. Every string is passed through a :class:`Redactor`, so API keys
    never reach the file, whether they came from the environment, the
    backend's settings or the text itself.
    """

    def __init__(
        self, inner: ChatModel, path: str | os.PathLike[str], *, secrets: Sequence[str] = ()
    ) -> None:
        super().__init__(inner)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        backend_secrets = list(getattr(inner, "secrets", ()))
        self._redactor = Redactor([*secrets, *backend_secrets])
        self._lock = threading.Lock()
        # One handle for the wrapper's life; each record is flushed as a whole line,
        # so a crash loses at most the call in flight and never leaves half a line.
        self._fh = self.path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        if has_surrogates(line):  # unencodable as UTF-8: keep the escapes, lose nothing else
            line = json.dumps(record, ensure_ascii=True, default=str)
        line = self._redactor.scrub(line)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        """Close the trace file (also done when the wrapper is garbage-collected)."""
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __del__(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None and not fh.closed:
            fh.close()

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        started = time.time()
        record: dict[str, Any] = {
            "ts": round(started, 6),
            "caller": opts.get("caller") or current_caller(),
            "model": self.name,
            "messages": list(messages),
            "opts": {
                k: v for k, v in opts.items() if k not in {"api_key", "caller", "response_model"}
            },
        }
        try:
            result = await self.inner.complete(messages, **opts)
        except Exception as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            record["latency_s"] = round(time.time() - started, 6)
            self._write(record)
            raise
        record.update(
            answer=result.text,
            finish_reason=result.finish_reason,
            usage={
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "cached_prompt_tokens": result.usage.cached_prompt_tokens,
                "cost_usd": result.usage.cost_usd,
            },
            latency_s=round(result.latency_s, 6),
            ttft_s=result.ttft_s,
        )
        self._write(record)
        return result


def wrap(
    model: ChatModel,
    *,
    retries: int = 2,
    transport_retries: int = 2,
    trace: str | os.PathLike[str] | None = None,
    usage: bool = True,
) -> ChatModel:
    """Stack the standard wrappers around ``model``.

    Args:
        model: a backend (or any ChatModel).
        retries: structured-output retries (0 disables retry).
        transport_retries: retries for transient transport errors.
        trace: a JSONL file to trace every call into, or None.
        usage: whether to account usage per caller (``model.usage``).
    """
    out: ChatModel = model
    if trace is not None:
        out = TracingModel(out, trace)
    if usage:
        out = UsageModel(out)
    # Always outermost, even with no retries: it also cleans lone surrogates out of answers.
    return RetryingModel(out, retries=retries, transport_retries=transport_retries)


class DelayedModel(ModelWrapper):
    """Adds a fixed latency to every call: a stand-in for a remote model in
    tests and benchmarks of concurrency (with a zero-latency ScriptedModel inside)."""

    def __init__(self, inner: ChatModel, delay_s: float) -> None:
        super().__init__(inner)
        self.delay_s = delay_s

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        await asyncio.sleep(self.delay_s)
        return await self.inner.complete(messages, **opts)
