"""`Tool`: a plain typed Python function, described for a model and called safely.

The function's name, docstring and type hints are the single source of
truth: the description comes from the docstring's summary, per-argument
descriptions from its ``Args:`` section, and the JSON schema of the
arguments from the type hints (through pydantic).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

from pydantic import BaseModel

from dramaturg.tools._schema import argument_model, clean_schema, parse_docstring, render_type
from dramaturg.tools.errors import ToolDefinitionError

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "DEFAULT_TIMEOUT_S", "Tool", "tool"]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_OUTPUT_CHARS = 8_000


@dataclass(kw_only=True)
class Tool:
    """A function a model may call, with its description and argument schema.

    Build one with :meth:`from_function` or the :func:`tool` decorator, put
    it in a :class:`~dramaturg.tools.ToolSet`, and call it through the
    toolset (which validates arguments, enforces the timeout and caps the
    output).

    Example:
        >>> def add(a: int, b: int = 2) -> int:
        ...     '''Add two numbers.
        ...
        ...     Args:
        ...         a: the first number.
        ...         b: the second number.
        ...     '''
        ...     return a + b
        >>> t = Tool.from_function(add)
        >>> t.name, t.description, t.parameters["required"]
        ('add', 'Add two numbers.', ['a'])
        >>> t.signature()
        'add(a: int, b: int = 2)'

    Attributes:
        name: what the model writes to call it.
        description: what it does, for the model.
        fn: the function (sync or async).
        arguments: the pydantic model that validates the arguments.
        timeout_s: seconds before the call is given up (``None``: no limit).
        max_output_chars: longer outputs are cut, and the result says so.
    """

    name: str
    description: str
    fn: Callable[..., Any]
    arguments: type[BaseModel]
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    parameters: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ToolDefinitionError(
                f"tool name {self.name!r} must use only letters, digits, '_' and '-' "
                "(the OpenAI tool format requires it); pass name='...'"
            )
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ToolDefinitionError(f"timeout_s of tool {self.name!r} must be positive or None")
        if self.max_output_chars < 200:
            raise ToolDefinitionError(
                f"max_output_chars of tool {self.name!r} must be at least 200"
            )
        schema = clean_schema(self.arguments.model_json_schema())
        schema.setdefault("properties", {})
        schema.setdefault("required", [])
        self.parameters = schema

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> Tool:
        """Describe ``fn`` as a tool; see the class docstring.

        Raises:
            ToolDefinitionError: ``fn`` lacks type hints, takes ``*args``, or
                has no docstring and no ``description`` was given.
        """
        tool_name = name or getattr(fn, "__name__", "")
        summary, arg_docs = parse_docstring(inspect.getdoc(fn))
        text = description or summary
        if not text:
            raise ToolDefinitionError(
                f"tool {tool_name!r} has no description; give the function a docstring "
                "or pass description='...'"
            )
        return cls(
            name=tool_name,
            description=text,
            fn=fn,
            arguments=argument_model(fn, tool_name, arg_docs),
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )

    @property
    def is_async(self) -> bool:
        """True when the function is a coroutine function."""
        # An object whose __call__ is `async def` counts too.
        return inspect.iscoroutinefunction(self.fn) or inspect.iscoroutinefunction(
            type(self.fn).__call__
        )

    def schema(self) -> dict[str, Any]:
        """The tool in the OpenAI tool-schema shape (``{"type": "function", "function": {...}}``)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def signature(self) -> str:
        """A compact Python-like signature: ``add(a: int, b: int = 2)``."""
        required = set(self.parameters.get("required", []))
        parts = []
        for arg, node in self.parameters["properties"].items():
            text = f"{arg}: {render_type(node)}"
            if arg not in required:
                text += f" = {node.get('default')!r}"
            parts.append(text)
        return f"{self.name}({', '.join(parts)})"

    def describe(self, *, arguments: bool = True) -> str:
        """A few lines for a small model's prompt: signature, summary, argument notes."""
        first = self.description.split("\n\n", 1)[0]
        lines = [f"{self.signature()}: {first}"]
        if arguments:
            for arg, node in self.parameters["properties"].items():
                if node.get("description"):
                    lines.append(f"    {arg}: {node['description']}")
        return "\n".join(lines)


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None, /, **options: Any
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator form of :meth:`Tool.from_function`: ``@tool`` or ``@tool(timeout_s=5)``.

    Example:
        >>> @tool(timeout_s=5)
        ... def shout(text: str) -> str:
        ...     '''Upper-case a text.'''
        ...     return text.upper()
        >>> shout.name, shout.timeout_s
        ('shout', 5)
    """
    if fn is not None:
        return Tool.from_function(fn, **options)
    return lambda f: Tool.from_function(f, **options)
