"""The habits CI holds the tree to: ruff's formatter and linter, and mypy (strict where
pyproject.toml says). Each runs as a test, so ``bash scripts/test.sh`` (what CI runs)
fails on an unformatted file, a lint error or a type error, and names it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_every_file_is_formatted():
    done = run("ruff", "format", "--check", ".")
    assert done.returncode == 0, (
        "run `.venv/bin/python -m ruff format .`\n" + done.stdout + done.stderr
    )


def test_ruff_finds_nothing():
    done = run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing():
    done = run("mypy")  # files and strictness: [tool.mypy] in pyproject.toml
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
