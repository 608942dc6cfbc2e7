"""Writing benchmark figures into benchmarks/RESULTS.md.

Each benchmark owns one section, delimited by HTML comments, and replaces
only its own section, so scripts can be rerun in any order.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")

HEADER = """# Benchmark results

Every figure here was written by a script in `benchmarks/`; each section
names the command that reproduces it, the date and the machine. Ratios are
measured within one run, so they hold up better than absolute times on a
shared machine.
"""


def machine() -> str:
    cores = os.cpu_count()
    try:
        mem_kb = int(
            next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]
        )
        mem = f"{mem_kb / (1 << 20):.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "? GiB"
    cpu = ""
    try:
        cpu = (
            next(line for line in open("/proc/cpuinfo") if line.startswith("model name"))
            .split(":", 1)[1]
            .strip()
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    return f"{cores} cores ({cpu}), {mem}, Python {platform.python_version()}"


def write_section(name: str, body: str) -> None:
    """Replace (or add) section ``name`` of RESULTS.md with ``body``."""
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.argv[0]), *sys.argv[1:]]
    )
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- {name}:start -->\n{body.strip()}\n\n"
        f"_Measured {stamp} on {machine()}. Reproduce: `{command}`_\n<!-- {name}:end -->"
    )
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    pattern = re.compile(
        rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S
    )
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    RESULTS.write_text(text)
    print(block)
