"""Tools the agents call: typed functions, validated calls, a Python sandbox, file readers.

Start with a :class:`ToolSet`::

    from dramaturg.tools import ToolSet, ToolCall, file_reader, python_tool

    def add(a: int, b: int = 2) -> int:
        '''Add two numbers.

        Args:
            a: the first number.
            b: the second number.
        '''
        return a + b

    tools = ToolSet([add, python_tool(timeout_s=5), file_reader("task-files/")])
    prompt_part = tools.describe()            # compact text for a small model
    openai_tools = tools.schemas()            # OpenAI tool-schema shape
    result = tools.call_sync(ToolCall(name="add", arguments={"a": 1}))
    result.ok, result.output                  # (True, '3')
    tools.call_text_sync('{"tool": "ad", "arguments": {}}').error
    # "unknown tool 'ad'. Did you mean 'add'? Known tools: add, python, read_file"
"""

from dramaturg.tools.definition import DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_TIMEOUT_S, Tool, tool
from dramaturg.tools.errors import ToolDefinitionError, ToolError
from dramaturg.tools.files import READABLE_TYPES, FileReader, file_reader
from dramaturg.tools.parsing import TOOL_CALL_FORMAT, parse_tool_call
from dramaturg.tools.records import ToolCall, ToolResult
from dramaturg.tools.sandbox import Sandbox, SandboxRun, python_tool
from dramaturg.tools.toolset import ToolSet

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "DEFAULT_TIMEOUT_S",
    "READABLE_TYPES",
    "TOOL_CALL_FORMAT",
    "FileReader",
    "Sandbox",
    "SandboxRun",
    "Tool",
    "ToolCall",
    "ToolDefinitionError",
    "ToolError",
    "ToolResult",
    "ToolSet",
    "file_reader",
    "parse_tool_call",
    "python_tool",
    "tool",
]
