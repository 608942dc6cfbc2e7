"""Give an agent tools: typed functions, a Python sandbox and a file reader.

    python examples/tools_quickstart.py

Runs offline; no model is needed (the "model answers" below are strings a
tool agent might write).
"""

import tempfile
from pathlib import Path
from typing import Literal

from dramaturg.tools import ToolCall, ToolSet, file_reader, python_tool


def convert(value: float, unit: Literal["km", "mi"] = "km") -> str:
    """Convert a distance between kilometres and miles.

    Args:
        value: the distance to convert.
        unit: the unit `value` is in.
    """
    return f"{value * 0.621371:.2f} mi" if unit == "km" else f"{value / 0.621371:.2f} km"


task = Path(tempfile.mkdtemp())
(task / "trips.csv").write_text("city,km\nOslo,12.5\nBergen,40\n")

tools = ToolSet([convert, python_tool(timeout_s=5), file_reader(task)])
print(tools.describe(), "\n")  # what a small model sees in its prompt

for answer in [
    '{"tool": "read_file", "arguments": {"path": "trips.csv"}}',
    '```json\n{"name": "convert", "args": {"value": 40}}\n```',
    '{"tool": "python", "arguments": {"code": "print(sum([12.5, 40]))"}}',
    '{"tool": "convrt", "arguments": {"value": 1}}',  # a typo: the model gets a hint back
    '{"tool": "python", "arguments": {"code": "import socket; socket.create_connection((\\"1.1.1.1\\", 53))"}}',
]:
    result = tools.call_text_sync(answer)
    print(f"> {answer}\n{result.text}\n")

print(tools.call_sync(ToolCall(name="convert", arguments={"value": "far"})).text)
