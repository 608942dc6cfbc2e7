"""The examples in the docstrings run, so the documentation cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest

import dramaturg.tools as tools

MODULES = ["definition", "errors", "files", "parsing", "records", "sandbox", "toolset"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"dramaturg.tools.{name}")
    globs = {"ToolCall": tools.ToolCall, "ToolError": tools.ToolError}
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_api_is_explicit():
    assert sorted(tools.__all__) == sorted(set(tools.__all__))
    for name in tools.__all__:
        assert hasattr(tools, name), name


async def test_async_callable_objects_are_awaited():
    class Greeter:
        async def __call__(self, who: str) -> str:
            return f"hello {who}"

    t = tools.Tool.from_function(Greeter(), name="greet", description="Greet someone.")
    assert t.is_async
    result = await tools.ToolSet([t]).call(tools.ToolCall(name="greet", arguments={"who": "ada"}))
    assert result.output == "hello ada"
