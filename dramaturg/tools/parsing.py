"""Reading a tool call out of a model's text answer.

Accepted shapes (the first JSON object in the answer, bare, after a short
preamble, or inside a Markdown code fence)::

    {"tool": "add", "arguments": {"a": 1}}
    {"name": "add", "args": {"a": 1}}
    {"function": {"name": "add", "arguments": "{\\"a\\": 1}"}}   # OpenAI's shape

``arguments`` may itself be a JSON string (as OpenAI sends it). Anything
else raises :class:`~dramaturg.errors.ModelOutputError` whose ``feedback``
tells the model how to write the call.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dramaturg.errors import ModelOutputError
from dramaturg.tools.records import ToolCall

__all__ = ["TOOL_CALL_FORMAT", "parse_tool_call"]

TOOL_CALL_FORMAT = (
    'Write the call as JSON: {"tool": "<tool name>", "arguments": {"<argument>": <value>}}'
)

_NAME_KEYS = ("tool", "name", "tool_name", "function")
_ARG_KEYS = ("arguments", "args", "parameters", "input")
_FENCE = re.compile(r"```[\w-]*[ \t]*\n(.*?)```", re.DOTALL)
_decoder = json.JSONDecoder()


def _first_object(text: str) -> Any:
    """The first JSON object in ``text``: a fenced block wins, else the first ``{`` that decodes."""
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = _decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            except RecursionError:
                raise ModelOutputError("the JSON is nested too deeply", raw=text) from None
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    return None


def parse_tool_call(text: str) -> ToolCall:
    """Parse a model's answer into a :class:`ToolCall`.

    Example:
        >>> parse_tool_call('Sure. ```json\\n{"name": "add", "args": {"a": 1}}\\n```')
        ToolCall(name='add', arguments={'a': 1}, id=None)

    Raises:
        ModelOutputError: the answer holds no usable call; ``feedback`` says
            what was wrong and how to write it.
    """
    if not text or not text.strip():
        raise ModelOutputError(f"the answer was empty. {TOOL_CALL_FORMAT}", raw=text or "")
    data = _first_object(text)
    if data is None:
        raise ModelOutputError(f"no JSON object found in the answer. {TOOL_CALL_FORMAT}", raw=text)
    if isinstance(data.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        data = {**data, **data["function"]}
        data.pop("function")
    name = next((data[k] for k in _NAME_KEYS if isinstance(data.get(k), str)), None)
    if not name or not name.strip():
        raise ModelOutputError(f'the JSON has no "tool" name. {TOOL_CALL_FORMAT}', raw=text)
    arguments: Any = next((data[k] for k in _ARG_KEYS if k in data), {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            raise ModelOutputError(
                f'"arguments" of {name!r} is a string that is not valid JSON. {TOOL_CALL_FORMAT}',
                raw=text,
            ) from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ModelOutputError(
            f'"arguments" of {name!r} must be a JSON object, not {type(arguments).__name__}. {TOOL_CALL_FORMAT}',
            raw=text,
        )
    call_id = data.get("id") if isinstance(data.get("id"), str) else None
    return ToolCall(name=name.strip(), arguments=arguments, id=call_id)
