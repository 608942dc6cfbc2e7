"""`ToolSet`: the registry an agent calls tools through.

Every failure the *model* can cause (an unknown tool, bad arguments, a tool
that raises or runs too long) comes back as ``ToolResult(ok=False,
error=...)`` with an explanation written for the model. Only developer
errors raised by a tool (:class:`~dramaturg.errors.ConfigError`,
:class:`~dramaturg.errors.MissingExtraError`) propagate, because no model
can fix them.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from dramaturg.errors import ConfigError, MissingExtraError, ModelOutputError
from dramaturg.models.base import run_sync
from dramaturg.tools._invoke import (
    describe_validation_error,
    run_async,
    run_in_thread,
    to_text,
    truncate,
)
from dramaturg.tools.definition import Tool
from dramaturg.tools.errors import ToolDefinitionError, ToolError
from dramaturg.tools.parsing import parse_tool_call
from dramaturg.tools.records import ToolCall, ToolResult

__all__ = ["ToolSet"]


class ToolSet:
    """A named collection of tools with safe, validated calling.

    Args:
        tools: :class:`Tool` objects or plain typed functions (turned into
            tools with :meth:`Tool.from_function`).

    Example:
        >>> def add(a: int, b: int = 2) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> tools = ToolSet([add])
        >>> tools.call_sync(ToolCall(name="add", arguments={"a": 1})).output
        '3'
        >>> tools.call_sync(ToolCall(name="ad", arguments={})).error
        "unknown tool 'ad'. Did you mean 'add'? Known tools: add"
        >>> tools.call_sync(ToolCall(name="add", arguments={"a": "one"})).ok
        False
    """

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool | Callable[..., Any]) -> Tool:
        """Register a tool (or a function, made into one); returns the tool.

        Raises:
            ToolDefinitionError: a tool of that name is already registered.
        """
        new = item if isinstance(item, Tool) else Tool.from_function(item)
        if new.name in self._tools:
            raise ToolDefinitionError(
                f"a tool named {new.name!r} is already in this toolset; give one of them "
                "another name with Tool.from_function(fn, name='...')"
            )
        self._tools[new.name] = new
        return new

    @property
    def names(self) -> list[str]:
        """The registered tool names, in registration order."""
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or ``None``."""
        return self._tools.get(name)

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """Every tool in the OpenAI tool-schema shape, for ``tools=`` of a chat API."""
        return [t.schema() for t in self._tools.values()]

    def describe(self, *, arguments: bool = True) -> str:
        """A compact text listing for a small model's prompt, one block per tool."""
        return "\n".join(t.describe(arguments=arguments) for t in self._tools.values())

    def _unknown(self, name: str) -> str:
        known = ", ".join(self._tools) or "(none)"
        close = difflib.get_close_matches(name, list(self._tools), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown tool {name!r}.{hint} Known tools: {known}"

    async def call(self, call: ToolCall) -> ToolResult:
        """Validate the arguments, run the tool under its timeout, and report.

        Never raises for model-caused failures; see the module docstring.
        """
        start = time.perf_counter()

        def fail(error: str, output: str = "", limit: int = 2_000) -> ToolResult:
            error, cut = truncate(error, limit)
            return ToolResult(
                name=call.name,
                ok=False,
                error=error,
                output=output,
                duration_s=time.perf_counter() - start,
                truncated=cut,
                call_id=call.id,
            )

        tool = self._tools.get(call.name)
        if tool is None:
            return fail(self._unknown(call.name))
        if not isinstance(call.arguments, dict):
            return fail(
                f"the arguments of {tool.name!r} must be a JSON object; call it as {tool.signature()}"
            )
        try:
            validated = tool.arguments.model_validate(call.arguments)
        except ValidationError as exc:
            return fail(
                f"invalid arguments for {tool.name!r}: {describe_validation_error(exc)}. "
                f"Call it as {tool.signature()}"
            )
        kwargs = {key: getattr(validated, key) for key in type(validated).model_fields}
        try:
            if tool.is_async:
                value = await run_async(tool.fn, kwargs, tool.timeout_s)
            else:
                value = await run_in_thread(tool.fn, kwargs, tool.timeout_s)
        except TimeoutError:
            return fail(
                f"tool {tool.name!r} timed out after {tool.timeout_s:g} s and was stopped; "
                "try a smaller task or different arguments"
            )
        except ToolError as exc:
            return fail(str(exc), limit=tool.max_output_chars)
        except (ConfigError, MissingExtraError):
            raise  # the developer's to fix (a missing extra, a bad setup); no model can
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return fail(
                f"tool {tool.name!r} failed: {type(exc).__name__}: {exc}",
                limit=tool.max_output_chars,
            )
        text, cut = truncate(to_text(value), tool.max_output_chars)
        return ToolResult(
            name=tool.name,
            ok=True,
            output=text,
            duration_s=time.perf_counter() - start,
            truncated=cut,
            call_id=call.id,
        )

    def call_sync(self, call: ToolCall) -> ToolResult:
        """Synchronous twin of :meth:`call` (not for use inside a running event loop)."""
        return run_sync(self.call(call))

    async def call_many(self, calls: Iterable[ToolCall]) -> list[ToolResult]:
        """Run several calls concurrently; results come back in the same order."""
        return list(await asyncio.gather(*(self.call(c) for c in calls)))

    async def call_text(self, text: str) -> ToolResult:
        """Parse a model's answer as a tool call and run it; a parse failure is a failed result."""
        try:
            parsed = parse_tool_call(text)
        except ModelOutputError as exc:
            return ToolResult(name="", ok=False, error=exc.feedback)
        return await self.call(parsed)

    def call_text_sync(self, text: str) -> ToolResult:
        """Synchronous twin of :meth:`call_text`."""
        return run_sync(self.call_text(text))
