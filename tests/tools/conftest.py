"""Fixtures for the tool tests: which sandbox layers this machine offers, and folders."""

from __future__ import annotations

import pytest

from dramaturg.tools import Sandbox


@pytest.fixture(scope="session")
def available() -> dict:
    """``SandboxRun.layers`` of a run with every layer asked for (the hook off, to see the rest)."""
    box = Sandbox(timeout_s=20, audit_hook=False)
    try:
        return box.run_sync("pass").layers
    finally:
        box.close()


@pytest.fixture
def dirs(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    (work / "inside.txt").write_text("mine")
    return work, outside
