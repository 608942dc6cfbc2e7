from __future__ import annotations

import asyncio
import threading
import time

import pytest
from pydantic import BaseModel

from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.tools import Tool, ToolCall, ToolError, ToolSet


class Point(BaseModel):
    x: int
    y: int


def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


def norm(p: Point, scale: float = 1.0) -> dict:
    """Scale a point."""
    return {"x": p.x * scale, "y": p.y * scale}


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"boom: {reason}")


def refuse(reason: str) -> str:
    """Fails in words meant for the model."""
    raise ToolError(f"cannot do that: {reason}")


@pytest.fixture
def tools() -> ToolSet:
    return ToolSet([add, norm, explode, refuse])


def test_valid_call_runs_and_nested_model_arrives_as_instance(tools):
    result = tools.call_sync(
        ToolCall(name="norm", arguments={"p": {"x": 1, "y": 2}, "scale": 2}, id="c1")
    )
    assert result.ok and result.output == '{"x": 2.0, "y": 4.0}'
    assert result.call_id == "c1" and result.duration_s >= 0 and not result.truncated


def test_unknown_tool_suggests_and_lists(tools):
    result = tools.call_sync(ToolCall(name="ad", arguments={"a": 1}))
    assert not result.ok
    assert (
        result.error
        == "unknown tool 'ad'. Did you mean 'add'? Known tools: add, norm, explode, refuse"
    )
    far = tools.call_sync(ToolCall(name="zzz"))
    assert "Did you mean" not in far.error and "Known tools: add, norm" in far.error


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"a": "one"},
            'a: Input should be a valid integer, unable to parse string as an integer (got "one")',
        ),
        ({}, "a: missing required argument"),
        ({"a": 1, "c": 3}, "c: unexpected argument"),
    ],
    ids=["wrong-type", "missing", "extra"],
)
def test_invalid_arguments_are_refused_before_running(arguments, expected):
    ran = []

    def add_logged(a: int, b: int = 2) -> int:
        """Add."""
        ran.append(a)
        return a + b

    result = ToolSet([add_logged]).call_sync(ToolCall(name="add_logged", arguments=arguments))
    assert not result.ok
    assert expected in result.error
    assert result.error.endswith("Call it as add_logged(a: int, b: int = 2)")
    assert ran == []


def test_nested_argument_errors_name_the_path(tools):
    result = tools.call_sync(ToolCall(name="norm", arguments={"p": {"x": 1}}))
    assert not result.ok and "p.y: missing required argument" in result.error


def test_arguments_that_are_not_an_object(tools):
    result = tools.call_sync(ToolCall(name="add", arguments=[1, 2]))  # type: ignore[arg-type]
    assert not result.ok and "must be a JSON object" in result.error


def test_raising_tool_becomes_a_failed_result(tools):
    result = tools.call_sync(ToolCall(name="explode", arguments={"reason": "fuse"}))
    assert not result.ok
    assert result.error == "tool 'explode' failed: ValueError: boom: fuse"
    assert result.text == "Error: tool 'explode' failed: ValueError: boom: fuse"


def test_tool_error_message_is_shown_as_is(tools):
    result = tools.call_sync(ToolCall(name="refuse", arguments={"reason": "no"}))
    assert (result.ok, result.error) == (False, "cannot do that: no")


def test_developer_errors_raised_inside_a_tool_propagate():
    def needs_extra() -> str:
        """Needs a package."""
        raise MissingExtraError("openpyxl", "files", "reading .xlsx files")

    def misconfigured() -> str:
        """Set up wrongly."""
        raise ConfigError("set DRAMATURG_HOME to a folder")

    tools = ToolSet([needs_extra, misconfigured])
    with pytest.raises(MissingExtraError, match=r'pip install "dramaturg\[files\]"'):
        tools.call_sync(ToolCall(name="needs_extra"))
    with pytest.raises(ConfigError, match="DRAMATURG_HOME"):
        tools.call_sync(ToolCall(name="misconfigured"))


def test_sync_timeout_is_reported_and_the_thread_abandoned():
    release = threading.Event()
    finished = threading.Event()

    def stuck() -> str:
        """Blocks until released."""
        release.wait(10)
        finished.set()
        return "late"

    tools = ToolSet([Tool.from_function(stuck, timeout_s=0.2)])
    start = time.perf_counter()
    result = tools.call_sync(ToolCall(name="stuck"))
    assert time.perf_counter() - start < 2
    assert not result.ok and result.error.startswith("tool 'stuck' timed out after 0.2 s")
    assert not finished.is_set()  # the thread was abandoned, not waited for
    release.set()
    assert finished.wait(5)


async def test_async_timeout_cancels_the_coroutine():
    cancelled = asyncio.Event()

    async def slow() -> str:
        """Sleeps."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    tools = ToolSet([Tool.from_function(slow, timeout_s=0.2)])
    result = await tools.call(ToolCall(name="slow"))
    assert not result.ok and "timed out after 0.2 s" in result.error
    assert cancelled.is_set()


async def test_async_tools_run_concurrently():
    async def nap(seconds: float) -> float:
        """Sleep a while."""
        await asyncio.sleep(seconds)
        return seconds

    tools = ToolSet([nap])
    start = time.perf_counter()
    results = await tools.call_many(
        [ToolCall(name="nap", arguments={"seconds": 0.3}) for _ in range(4)]
    )
    assert [r.output for r in results] == ["0.3"] * 4
    assert time.perf_counter() - start < 1.0


def test_long_output_is_truncated_and_says_so():
    def spew(n: int) -> str:
        """Return n characters."""
        return "a" * (n - 1) + "Z"

    tools = ToolSet([Tool.from_function(spew, max_output_chars=1000)])
    short = tools.call_sync(ToolCall(name="spew", arguments={"n": 1000}))
    assert short.ok and not short.truncated and len(short.output) == 1000
    long = tools.call_sync(ToolCall(name="spew", arguments={"n": 50_000}))
    assert long.ok and long.truncated
    assert "[output truncated: 49000 of 50000 characters left out]" in long.output
    assert long.output.endswith("Z")  # the tail is kept
    assert len(long.output) < 1100


def test_call_text_parses_then_calls(tools):
    assert tools.call_text_sync('```json\n{"name": "add", "args": {"a": 40}}\n```').output == "42"
    bad = tools.call_text_sync("I will add the numbers.")
    assert not bad.ok and bad.error.startswith("no JSON object found")


def test_sync_twin_refuses_inside_a_running_loop(tools):
    async def inside() -> None:
        tools.call_sync(ToolCall(name="add", arguments={"a": 1}))

    with pytest.raises(ConfigError, match="await"):
        asyncio.run(inside())
