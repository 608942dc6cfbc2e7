"""The runnable examples in the memory docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["embedders", "episodic", "importance", "records", "scene"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"dramaturg.memory.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
