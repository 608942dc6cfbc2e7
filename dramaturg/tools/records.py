"""The two records that cross the tool boundary: a call and its result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolCall", "ToolResult"]


@dataclass(kw_only=True)
class ToolCall:
    """A request to run one tool, usually parsed from a model's answer.

    Example:
        >>> ToolCall(name="add", arguments={"a": 1, "b": 2})
        ToolCall(name='add', arguments={'a': 1, 'b': 2}, id=None)
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_json(self) -> str:
        """The call in the JSON shape :func:`~dramaturg.tools.parse_tool_call` reads."""
        return json.dumps(
            {"tool": self.name, "arguments": self.arguments}, ensure_ascii=False, default=str
        )


@dataclass(kw_only=True)
class ToolResult:
    """What came back from a tool call, success or failure, ready to show a model.

    Attributes:
        name: the tool that was asked for (as the model spelled it).
        ok: true when the tool ran and returned normally.
        output: the tool's output as text (capped; see ``truncated``).
        error: on failure, an explanation written for the model to read.
        duration_s: wall-clock seconds spent, validation included.
        truncated: true when ``output`` or ``error`` was cut to the size cap.
        call_id: the id of the :class:`ToolCall`, if it had one.
    """

    name: str
    ok: bool
    output: str = ""
    error: str = ""
    duration_s: float = 0.0
    truncated: bool = False
    call_id: str | None = None

    @property
    def text(self) -> str:
        """The observation to give the model: the output, or ``Error: ...``."""
        if self.ok:
            return self.output
        if self.output:
            return f"Error: {self.error}\n{self.output}"
        return f"Error: {self.error}"
