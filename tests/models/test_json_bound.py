"""The free decoding pass stops as soon as an answer cannot fit its schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from dramaturg.models._json import JsonEnd, json_size_bound


class Pick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: Literal["go to desk 1", "look"]
    why: str = Field(max_length=10)
    tags: list[Literal["a", "bb"]] = Field(max_length=3)
    ok: bool | None = None


class Open(BaseModel):
    note: str


def test_the_bound_holds_the_longest_valid_answer_and_cuts_a_loop():
    schema = Pick.model_json_schema()
    bound = json_size_bound(schema, slack=0)
    longest = {
        "command": "go to desk 1",
        "why": "\u00e9" * 10,
        "tags": ["bb", "bb", "bb"],
        "ok": False,
    }
    for text in (json.dumps(longest), json.dumps(longest, indent=2)):
        assert len(text) <= bound
        end = JsonEnd(max_chars=bound).feed(text)
        assert end == len(text)
    looping = JsonEnd(max_chars=json_size_bound(schema))
    assert (
        looping.feed('{"command": "go to desk 1", "why": "x", "tags": ["a"' + ', "a"' * 200) is None
    )
    assert looping.invalid


def test_unbounded_schemas_have_no_bound_but_whitespace_runs_are_cut():
    assert json_size_bound(Open.model_json_schema()) is None
    end = JsonEnd()
    assert end.feed('{"note": "fine"' + " " * 10) is None and not end.invalid
    end.feed("\n" * 40)
    assert end.invalid


@pytest.mark.model
def test_every_role_schema_compiles_to_a_grammar_llama_cpp_accepts():
    # llama.cpp does not raise on a grammar it refuses: it crashes the process. So: a child process.
    child = subprocess.run(
        [sys.executable, "-m", "tests.models._grammar_child"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.count("ok ") == 8
