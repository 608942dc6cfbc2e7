"""Errors of the tools layer.

:class:`ToolError` is the model-facing kind: a tool raises it to say "this
did not work, and here is why" in words the model can act on; the toolset
turns it into ``ToolResult(ok=False, error=message)``. :class:`ToolDefinitionError`
is the developer-facing kind: a function that cannot become a tool (no type
hints, ``*args``, a clashing name) raises it at once, with the fix.
"""

from __future__ import annotations

from dramaturg.errors import ConfigError, DramaturgError

__all__ = ["ToolDefinitionError", "ToolError"]


class ToolError(DramaturgError):
    """Raised inside a tool to report a failure the model should read and fix.

    The message is shown to the model as is, without a traceback.

    Example:
        >>> def divide(a: float, b: float) -> float:
        ...     if b == 0:
        ...         raise ToolError("b must not be 0; pick another divisor")
        ...     return a / b
    """


class ToolDefinitionError(ConfigError):
    """A function cannot become a tool, or a toolset was built wrongly; the message says how to fix it."""
