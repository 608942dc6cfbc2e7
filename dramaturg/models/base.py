"""The `ChatModel` protocol and the records it passes around.

A chat model has two async methods, ``complete`` and ``structured``, and a
``_sync`` twin of each. Backends implement ``complete`` only: ``structured``
is built on it here, once, by asking ``complete`` for JSON constrained by a
schema (``json_schema=``) and validating the answer with pydantic. Retry,
usage accounting and tracing are wrappers around a model (see
:mod:`dramaturg.models.wrappers`), never part of a backend.

Example:
    >>> from pydantic import BaseModel
    >>> from dramaturg.models import ScriptedModel, user
    >>> class Mood(BaseModel):
    ...     mood: str
    >>> model = ScriptedModel(['{"mood": "wary"}'])
    >>> model.structured_sync([user("How does Hamlet feel?")], Mood)
    Mood(mood='wary')
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Protocol, TypedDict, TypeVar, runtime_checkable

from pydantic import BaseModel

from dramaturg.errors import ConfigError, ModelOutputError
from dramaturg.models._json import parse_structured, schema_instruction

__all__ = [
    "BaseChatModel",
    "ChatModel",
    "Completion",
    "Message",
    "ModelKind",
    "Usage",
    "assistant",
    "caller",
    "current_caller",
    "json_schema_of",
    "model_kind",
    "run_sync",
    "structured_prompt",
    "system",
    "user",
]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
Role = Literal["system", "user", "assistant"]
#: What a model is: a ``"base"`` model continues text (the embedded Gemma 3 270M);
#: an ``"instruct"`` model follows instructions and fills schemas. Roles pick
#: their strategy from it (script completion and short forms on a base model,
#: structured calls on an instruct model).
ModelKind = Literal["base", "instruct"]
MODEL_KINDS = ("base", "instruct")


def model_kind(model: Any) -> ModelKind:
    """``model.kind`` (through any wrappers), ``"instruct"`` for a model that does not say."""
    return "base" if getattr(model, "kind", "instruct") == "base" else "instruct"


def check_kind(kind: str) -> ModelKind:
    """``kind`` if it is a model kind, else :class:`ConfigError` naming the choices."""
    if kind not in MODEL_KINDS:
        raise ConfigError(f"kind must be 'base' or 'instruct', not {kind!r}")
    return kind  # type: ignore[return-value]


class Message(TypedDict):
    """One chat message, in the OpenAI shape every backend understands."""

    role: Role
    content: str
    name: NotRequired[str]


def system(content: str) -> Message:
    """A system message."""
    return {"role": "system", "content": content}


def user(content: str, *, name: str | None = None) -> Message:
    """A user message, optionally naming the speaker."""
    msg: Message = {"role": "user", "content": content}
    if name:
        msg["name"] = name
    return msg


def assistant(content: str, *, name: str | None = None) -> Message:
    """An assistant message, optionally naming the speaker."""
    msg: Message = {"role": "assistant", "content": content}
    if name:
        msg["name"] = name
    return msg


@dataclass(kw_only=True, frozen=True, slots=True)
class Usage:
    """Token counts for one call (or a sum of calls).

    ``cached_prompt_tokens`` counts prompt tokens served from a reused prefix
    (llama.cpp's KV cache, or a provider's prompt cache). ``cost_usd`` is
    ``None`` when the backend cannot price the call (an unknown server).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            cost_usd=cost,
        )


@dataclass(kw_only=True, slots=True)
class Completion:
    """What ``complete`` returns.

    Attributes:
        text: the generated text.
        usage: token counts and cost for this call.
        latency_s: wall time of the call in seconds.
        finish_reason: ``"stop"`` (natural end or stop sequence), ``"length"``
            (hit ``max_tokens``), or a backend-specific reason.
        model: the model's name as the backend reports it.
        ttft_s: time to first token, where the backend measures it.
        constrained: the answer was forced into shape by grammar-constrained
            decoding (the local backend's free attempt was not a valid answer).
    """

    text: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str = "stop"
    model: str = ""
    ttft_s: float | None = None
    constrained: bool = False


_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dramaturg_caller", default=None
)


def current_caller() -> str | None:
    """The agent name that model calls are attributed to right now, if any."""
    return _caller.get()


@contextlib.contextmanager
def caller(name: str) -> Iterator[None]:
    """Attribute every model call inside the block to ``name`` (an agent).

    Usage accounting and traces group calls by this name. A ``caller=``
    argument on a single call wins over the block.

    Example:
        >>> with caller("planner"):
        ...     pass  # model calls here are billed to "planner"
    """
    token = _caller.set(name)
    try:
        yield
    finally:
        _caller.reset(token)


@runtime_checkable
class ChatModel(Protocol):
    """What every model backend and wrapper provides.

    ``complete`` accepts these options (backends ignore none silently):
    ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``,
    ``json_schema`` (constrain the answer to this JSON schema), ``caller``
    (the agent the call is billed to), ``timeout`` (seconds for this call;
    the answer so far comes back with ``finish_reason="timeout"``) and
    ``attempt`` (0 for a first try; a retry passes 1, 2, ... and the backend
    samples differently each time: another seed, some temperature, tighter
    bounds on the local model), and ``raw`` (the messages' contents, joined,
    are the whole prompt: continued as text, with no chat template and no
    stop sequences but ``stop``; what a base model is for).

    ``kind`` says whether the model is a base or an instruction-tuned model
    (read it with :func:`model_kind`, which defaults to ``"instruct"``).
    """

    name: str

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion: ...

    async def structured(self, messages: Sequence[Message], schema: type[T], **opts: Any) -> T: ...

    def complete_sync(self, messages: Sequence[Message], **opts: Any) -> Completion: ...

    def structured_sync(self, messages: Sequence[Message], schema: type[T], **opts: Any) -> T: ...


@functools.lru_cache(maxsize=512)
def json_schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    """``schema.model_json_schema()``, computed once per class (it costs about a millisecond).

    Callers must not mutate the returned dict.
    """
    return schema.model_json_schema()


@functools.lru_cache(maxsize=512)
def _instruction(schema: type[BaseModel]) -> str:
    return schema_instruction(json_schema_of(schema))


def structured_prompt(messages: Sequence[Message], schema: type[BaseModel]) -> list[Message]:
    """``messages`` with the request for one JSON object of ``schema``'s shape.

    The request goes right after the leading system messages, not at the
    end: it is the same on every call with this schema, so it belongs to the
    stable prefix that llama.cpp and hosted providers cache, and few-shot
    examples that follow it keep their pattern intact.
    """
    msgs = list(messages)
    at = 0
    while at < len(msgs) and msgs[at]["role"] == "system":
        at += 1
    instruction = system(_instruction(schema))
    return [*msgs[:at], instruction, *msgs[at:]]


_local = threading.local()


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Run ``coro`` to completion from synchronous code.

    One event loop per thread is kept and reused, so repeated sync calls do
    not pay for a new loop each time. Calling this from inside a running
    event loop is a developer error (it would deadlock): await instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise ConfigError(
            "a *_sync method was called inside a running event loop; "
            "use `await model.complete(...)` / `await model.structured(...)` there instead"
        )
    runner = getattr(_local, "runner", None)
    if runner is None:
        runner = asyncio.Runner()
        _local.runner = runner
    # Run in a copy of the caller's context so context variables set around
    # the sync call (the agent name for usage accounting) are seen inside.
    return runner.run(coro, context=contextvars.copy_context())


class BaseChatModel(abc.ABC):
    """Shared behaviour for backends and wrappers.

    Subclasses implement :meth:`complete`. :meth:`structured` asks for JSON
    constrained by the schema and validates it; on unusable output it raises
    :class:`~dramaturg.errors.ModelOutputError` (wrap the model in
    :class:`~dramaturg.models.RetryingModel` to turn that into a bounded
    retry that shows the model its error).
    """

    name: str = "model"
    kind: ModelKind = "instruct"

    @abc.abstractmethod
    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        """Generate a continuation of ``messages``."""

    async def structured(self, messages: Sequence[Message], schema: type[T], **opts: Any) -> T:
        """Answer with an instance of the pydantic model ``schema``."""
        return await self._structured_attempt(structured_prompt(messages, schema), schema, **opts)

    async def _structured_attempt(
        self, prompt: Sequence[Message], schema: type[T], **opts: Any
    ) -> T:
        """One constrained call on a prompt that already asks for the schema.

        ``timeout`` (seconds) bounds the attempt: backends that stream stop
        generating at the deadline; for the others the call is abandoned a
        second after it.
        """
        call = self.complete(
            prompt, json_schema=json_schema_of(schema), response_model=schema, **opts
        )
        timeout = opts.get("timeout")
        try:
            completion = await (asyncio.wait_for(call, float(timeout) + 1.0) if timeout else call)
        except TimeoutError:
            completion = Completion(text="", finish_reason="timeout")
        if completion.finish_reason == "timeout":
            raise ModelOutputError(
                f"the answer took longer than the time budget ({timeout} s); write a shorter "
                "JSON object",
                raw=completion.text,
                kind="timeout",
            )
        return parse_structured(
            completion.text,
            schema,
            truncated=completion.finish_reason in ("length", "loop", "invalid"),
        )

    def complete_sync(self, messages: Sequence[Message], **opts: Any) -> Completion:
        """Blocking twin of :meth:`complete`."""
        return run_sync(self.complete(messages, **opts))

    def structured_sync(self, messages: Sequence[Message], schema: type[T], **opts: Any) -> T:
        """Blocking twin of :meth:`structured`."""
        return run_sync(self.structured(messages, schema, **opts))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
