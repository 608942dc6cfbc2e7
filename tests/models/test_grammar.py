from __future__ import annotations

import json
from typing import Literal

import pytest
from llama_cpp import LlamaGrammar
from pydantic import BaseModel

from dramaturg.models._engine import json_schema_grammar

NASTY = ("look", 'say "<line>"', "a\\b", "two\nlines", 'end with quote"', "")


class Choice(BaseModel):
    command: Literal[NASTY]  # type: ignore[valid-type]


def test_enum_literals_with_quotes_backslashes_and_newlines_make_a_valid_grammar(capfd):
    gbnf = json_schema_grammar(json.dumps(Choice.model_json_schema()))
    LlamaGrammar.from_string(gbnf, verbose=False)
    assert "parse: error" not in capfd.readouterr().err
    # Each JSON-encoded value appears as a correctly escaped GBNF literal.
    assert r'"\"say \\\"<line>\\\"\""' in gbnf


@pytest.mark.model
def test_the_embedded_model_answers_within_such_an_enum():
    from dramaturg.models import LocalModel, user

    model = LocalModel(n_ctx=512, optimistic_json=False)  # force the grammar path
    answer = model.structured_sync([user('Say something: pick say "<line>".')], Choice)
    assert answer.command in NASTY
