"""Rubrics: YAML round trips, and bad files named field by field."""

from __future__ import annotations

import pytest

from dramaturg.errors import ConfigError
from dramaturg.evals.rubric import DEFAULT_DRAMA_RUBRIC, Criterion, Rubric, RubricError
from tests.evals._judging import IDS


def test_rubric_round_trips_through_yaml(tmp_path):
    path = DEFAULT_DRAMA_RUBRIC.save(tmp_path / "drama.yaml")
    assert Rubric.from_yaml(path) == DEFAULT_DRAMA_RUBRIC
    assert DEFAULT_DRAMA_RUBRIC.ids == IDS
    custom = Rubric(
        name="tiny",
        criteria=[Criterion(id="wit", question="Is it witty?", scale="1 = dull; 5 = sparkling.")],
    )
    assert Rubric.from_yaml(custom.save(tmp_path / "tiny.yaml")) == custom


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "criteria:\n  - id: wit\n    scale: '1 = dull; 5 = witty'\n",
            "criteria.0.question: Field required",
        ),
        (
            "criteria:\n  - {id: a, question: q, scale: s}\n  - {id: b, question: q, scale: s, weight: 2}\n",
            "criteria.1.weight: Extra inputs are not permitted",
        ),
        (
            "criteria:\n  - {id: Bad Id, question: q, scale: s}\n",
            "criteria.0.id: String should match pattern",
        ),
        (
            "criteria:\n  - {id: a, question: q, scale: s}\n  - {id: a, question: r, scale: s}\n",
            "'a' appears twice",
        ),
        ("criteria: []\n", "criteria: List should have at least 1 item"),
        ("- id: a\n", "the top level must be a mapping"),
        ("criteria: [unclosed\n", "is not valid YAML"),
    ],
)
def test_rubric_file_errors_name_the_field(tmp_path, text, expected):
    path = tmp_path / "rubric.yaml"
    path.write_text(text)
    with pytest.raises(RubricError) as info:
        Rubric.from_yaml(path)
    assert expected in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_a_missing_rubric_file_says_which(tmp_path):
    with pytest.raises(RubricError, match=r"rubric file .*nope\.yaml cannot read"):
        Rubric.from_yaml(tmp_path / "nope.yaml")


def test_rubric_text_errors_use_the_source_name():
    with pytest.raises(RubricError, match=r"^bad my rubric:\n  criteria\.0\.scale: Field required"):
        Rubric.from_yaml_text("criteria:\n  - {id: a, question: q}\n", source="my rubric")
    with pytest.raises(RubricError, match="rubric is not valid YAML"):
        Rubric.from_yaml_text("criteria: [unclosed\n")
