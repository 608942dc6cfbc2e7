"""`ScriptedModel`: a deterministic model for tests.

It replays a script of answers in order, records every call, and fails
loudly on a call its script did not expect or on answers left unconsumed,
so a graph test cannot pass by accident.

Example:
    >>> from dramaturg.models import ScriptedModel, Reply, user
    >>> model = ScriptedModel(["Hello.", Reply('{"ok": true}', expect="structured")])
    >>> model.complete_sync([user("Hi")]).text
    'Hello.'
    >>> len(model.calls), model.remaining
    (1, 1)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

from pydantic import BaseModel

from dramaturg.errors import ScriptError
from dramaturg.models.base import (
    BaseChatModel,
    Completion,
    Message,
    ModelKind,
    Usage,
    check_kind,
    current_caller,
)

__all__ = ["Reply", "ScriptedCall", "ScriptedModel"]

CallKind = Literal["complete", "structured"]
Answer = str | dict[str, Any] | list[Any] | BaseModel | BaseException | Callable[..., Any]


@dataclass(kw_only=True, slots=True)
class ScriptedCall:
    """One call a :class:`ScriptedModel` received."""

    kind: CallKind
    messages: list[Message]
    opts: dict[str, Any]
    caller: str | None

    @property
    def prompt(self) -> str:
        """All message contents joined, handy for ``assert "secret" not in call.prompt``."""
        return "\n".join(m["content"] for m in self.messages)


@dataclass(slots=True)
class Reply:
    """A scripted answer with expectations about the call that consumes it.

    Args:
        answer: text, a dict/list/pydantic instance (sent as JSON), an
            exception to raise, or a callable ``(messages, opts) -> answer``.
        expect: the kind of call that must consume it, if it matters.
        caller: the agent name that must make the call, if it matters.
        check: a predicate on the messages; a false result is a test failure.
        finish_reason: reported on the completion (``"length"`` simulates truncation).
    """

    answer: Answer
    _: KW_ONLY
    expect: CallKind | None = None
    caller: str | None = None
    check: Callable[[list[Message]], bool] | None = None
    finish_reason: str = "stop"


def _approx_tokens(text: str) -> int:
    return (len(text) + 3) // 4


class ScriptedModel(BaseChatModel):
    """Replays ``answers`` in order; see the module docstring.

    Args:
        answers: the script. Plain items accept any call; wrap one in
            :class:`Reply` to also check the call that consumes it.
        name: the name reported in completions and traces.
        kind: the kind of model it stands in for (``"base"`` drives the
            roles' script-completion paths).
    """

    def __init__(
        self,
        answers: Iterable[Answer | Reply] = (),
        *,
        name: str = "scripted",
        kind: ModelKind = "instruct",
    ) -> None:
        self.answers: list[Answer | Reply] = list(answers)
        self.name = name
        self.kind = check_kind(kind)
        self.calls: list[ScriptedCall] = []
        self._cursor = 0

    @property
    def remaining(self) -> int:
        """How many scripted answers have not been consumed yet."""
        return len(self.answers) - self._cursor

    def extend(self, answers: Iterable[Answer | Reply]) -> None:
        """Append more answers to the script."""
        self.answers.extend(answers)

    def assert_consumed(self) -> None:
        """Raise :class:`ScriptError` if any scripted answer was never used."""
        if self.remaining:
            left = self.answers[self._cursor : self._cursor + 3]
            raise ScriptError(
                f"{self.remaining} scripted answer(s) were never consumed "
                f"(next: {left!r}); the code under test made fewer model calls than the script expects"
            )

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.assert_consumed()

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        kind: CallKind = "structured" if opts.get("json_schema") is not None else "complete"
        who = opts.get("caller") or current_caller()
        msgs = list(messages)
        self.calls.append(ScriptedCall(kind=kind, messages=msgs, opts=dict(opts), caller=who))
        if self._cursor >= len(self.answers):
            raise ScriptError(
                f"unexpected {kind} call #{len(self.calls)} (caller={who!r}): the script has "
                f"{len(self.answers)} answer(s) and all were used. Last message: "
                f"{msgs[-1]['content'][:200] if msgs else ''!r}"
            )
        item = self.answers[self._cursor]
        self._cursor += 1
        reply = item if isinstance(item, Reply) else Reply(answer=item)
        if reply.expect is not None and reply.expect != kind:
            raise ScriptError(
                f"call #{len(self.calls)} was a {kind} call; the script expected {reply.expect}"
            )
        if reply.caller is not None and reply.caller != who:
            raise ScriptError(
                f"call #{len(self.calls)} came from {who!r}; the script expected {reply.caller!r}"
            )
        if reply.check is not None and not reply.check(msgs):
            raise ScriptError(f"call #{len(self.calls)} failed the script's check on its messages")
        answer = reply.answer
        if callable(answer) and not isinstance(answer, (BaseModel, BaseException)):
            answer = answer(msgs, opts)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, BaseModel):
            text = answer.model_dump_json()
        elif isinstance(answer, dict | list):
            text = json.dumps(answer)
        else:
            text = str(answer)
        prompt_tokens = sum(_approx_tokens(m["content"]) for m in msgs)
        return Completion(
            text=text,
            usage=Usage(
                prompt_tokens=prompt_tokens, completion_tokens=_approx_tokens(text), cost_usd=0.0
            ),
            latency_s=0.0,
            finish_reason=reply.finish_reason,
            model=self.name,
        )
