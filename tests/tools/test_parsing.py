from __future__ import annotations

import pytest

from dramaturg.errors import ModelOutputError
from dramaturg.tools import ToolCall, parse_tool_call


@pytest.mark.parametrize(
    "text",
    [
        '{"tool": "add", "arguments": {"a": 1}}',
        '{"name": "add", "args": {"a": 1}}',
        'Sure, calling it now: {"tool": "add", "arguments": {"a": 1}} and done.',
        'Thinking {not json}. ```json\n{"tool": "add", "arguments": {"a": 1}}\n```',
        '```\n{"name": "add", "arguments": "{\\"a\\": 1}"}\n```',
        '{"type": "function", "function": {"name": "add", "arguments": "{\\"a\\": 1}"}}',
    ],
    ids=["tool-arguments", "name-args", "preamble", "fenced", "fence-string-args", "openai"],
)
def test_accepted_shapes(text):
    assert parse_tool_call(text) == ToolCall(name="add", arguments={"a": 1})


def test_no_arguments_means_empty():
    assert parse_tool_call('{"tool": "now"}') == ToolCall(name="now", arguments={})


def test_round_trip():
    call = ToolCall(name="add", arguments={"a": [1, "é"]})
    assert parse_tool_call(call.to_json()) == call


@pytest.mark.parametrize(
    ("text", "feedback"),
    [
        ("", "the answer was empty"),
        ("I would add 1 and 2.", "no JSON object found"),
        ('{"arguments": {"a": 1}}', 'the JSON has no "tool" name'),
        ('{"tool": "add", "arguments": [1, 2]}', "\"arguments\" of 'add' must be a JSON object"),
        (
            '{"tool": "add", "arguments": "{a: 1"}',
            "\"arguments\" of 'add' is a string that is not valid JSON",
        ),
    ],
)
def test_failures_give_feedback_with_the_format(text, feedback):
    with pytest.raises(ModelOutputError) as info:
        parse_tool_call(text)
    assert info.value.feedback.startswith(feedback)
    assert '{"tool": "<tool name>", "arguments"' in info.value.feedback
