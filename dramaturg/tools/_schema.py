"""From a typed Python function to an argument model and a JSON schema.

The argument model is a pydantic model with ``extra="forbid"``, so a model
that invents an argument gets told so instead of having it silently dropped.
Descriptions come from the Google-style ``Args:`` section of the docstring.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from dramaturg.tools.errors import ToolDefinitionError

__all__ = ["argument_model", "clean_schema", "parse_docstring", "render_type"]

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Example|Examples|Note|Notes)\s*:\s*$"
)
_ARG = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (summary, {argument: description}).

    The summary is everything before the first section header, joined into
    one paragraph per blank-line-separated block.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            current, arg_indent = None, None
            continue
        if section is None:
            summary.append(line.strip())
            continue
        if section not in ("Args", "Arguments", "Parameters") or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        match = _ARG.match(line)
        if match and (arg_indent is None or indent <= arg_indent):
            arg_indent = indent
            current = match.group(1)
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = (args[current] + " " + line.strip()).strip()
    text = "\n".join(summary).strip()
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n\n".join(paragraphs), args


def argument_model(
    fn: Callable[..., Any], name: str, descriptions: dict[str, str]
) -> type[BaseModel]:
    """Build the pydantic model that validates ``fn``'s keyword arguments.

    Raises:
        ToolDefinitionError: for ``*args``/``**kwargs``, positional-only or
            unannotated parameters, with the fix in the message.
    """
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and inspect.isfunction(
        type(fn).__call__
    ):
        fn = type(fn).__call__.__get__(fn)  # an object with a Python __call__: describe that
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a forward reference that does not resolve
        raise ToolDefinitionError(
            f"cannot read the type hints of tool {name!r}: {exc}. "
            "Import every type the signature names at module level."
        ) from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"tool {name!r} takes *{param.name}; a tool's arguments must be named. "
                "Replace it with an explicit parameter such as `items: list[str]`."
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"tool {name!r} has positional-only parameter {param.name!r}; tools are called "
                "with keyword arguments. Remove the `/` from the signature."
            )
        if param.name not in hints:
            raise ToolDefinitionError(
                f"parameter {param.name!r} of tool {name!r} has no type hint; annotate it "
                f"(e.g. `{param.name}: str`) so its JSON schema can be generated"
            )
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (
            hints[param.name],
            Field(default, description=descriptions.get(param.name)),
        )
    model_name = (
        "".join(part.capitalize() for part in re.split(r"\W+|_", name) if part) + "Arguments"
    )
    return create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)


_NO_RECURSE = {"default", "enum", "const", "examples"}


def clean_schema(node: Any) -> Any:
    """Drop pydantic's auto-generated ``title`` keys (noise for a model's prompt)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {prop: clean_schema(sub) for prop, sub in value.items()}
            elif key in _NO_RECURSE:
                out[key] = value
            else:
                out[key] = clean_schema(value)
        return out
    if isinstance(node, list):
        return [clean_schema(item) for item in node]
    return node


_SIMPLE = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
    "object": "dict",
}


def render_type(node: dict[str, Any]) -> str:
    """A short Python-like type for a JSON schema node: ``list[str]``, ``'a' | 'b'``, ``int | None``."""
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    if "enum" in node:
        return " | ".join(repr(v) for v in node["enum"])
    if "const" in node:
        return repr(node["const"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " | ".join(render_type(sub) for sub in node[key])
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        return f"list[{render_type(items)}]" if isinstance(items, dict) and items else "list"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"dict[str, {render_type(node['additionalProperties'])}]"
    if isinstance(kind, list):
        return " | ".join(_SIMPLE.get(k, str(k)) for k in kind)
    return _SIMPLE.get(kind, "any") if kind else "any"
