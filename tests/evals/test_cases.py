"""Suites and cases: strict files, errors that name the line and the field, built-in suites."""

from __future__ import annotations

import json

import pytest

from dramaturg.errors import ConfigError
from dramaturg.evals import (
    BUILTIN_SUITES,
    Case,
    DatasetError,
    Suite,
    builtin_suite,
    load_suite,
    load_suite_file,
)
from dramaturg.worlds.alfworld import TASK_TYPES

GOOD = {"id": "a", "task_type": "t", "world": "alfworld/pick_and_place_simple", "seed": 3}


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_yaml_and_jsonl_suites_load(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "name: mine\ndescription: two games\ncases:\n"
        "  - {id: a, task_type: t, world: alfworld/pick_and_place_simple, seed: 3}\n"
        "  - id: b\n    task_type: u\n    world: textworld/tw-simple\n    options: {level: 2}\n"
    )
    suite = load_suite_file(tmp_path / "s.yaml")
    assert suite.name == "mine" and [c.id for c in suite.cases] == ["a", "b"]
    assert suite.cases[1].options == {"level": 2} and suite.root == tmp_path
    listed = load_suite_file(write_jsonl(tmp_path / "l.jsonl", [GOOD, {**GOOD, "id": "b"}]))
    assert listed.name == "l" and len(listed.cases) == 2


@pytest.mark.parametrize(
    ("rows", "line", "field", "message"),
    [
        ([GOOD, {**GOOD, "id": "b", "sede": 1}], 2, "sede", "Extra inputs"),
        ([GOOD, GOOD, {**GOOD, "id": "c", "seed": "three"}], 3, "seed", "integer"),
        ([GOOD, '{"id": "b", "task_type": '], 2, None, "not JSON"),
        ([GOOD, {"id": "b", "world": "x/y"}], 2, "task_type", "Field required"),
        ([{**GOOD, "kind": "gaia"}], 1, None, "question"),
        ([GOOD, {**GOOD, "max_steps": 0}], 2, "max_steps", "greater than"),
        ([GOOD, {**GOOD}], 2, "id", "already used on line 1"),
        ([{**GOOD, "id": "../escape"}], 1, "id", "must not"),
        (["[1, 2]"], 1, None, "mapping"),
    ],
)
def test_a_broken_jsonl_names_the_line_and_the_field(tmp_path, rows, line, field, message):
    with pytest.raises(DatasetError, match=message) as info:
        load_suite_file(write_jsonl(tmp_path / "broken.jsonl", rows))
    err = info.value
    assert err.line == line and err.field == field
    assert f"broken.jsonl line {line}" in str(err)
    if field:
        assert f"field {field!r}" in str(err)


def test_a_broken_yaml_names_the_line_and_the_field(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\ncases:\n  - id: a\n    task_type: t\n    world: w/x\n"
        "  - id: b\n    task_type: t\n    world: w/x\n    seed: [1]\n"
    )
    with pytest.raises(DatasetError) as info:
        load_suite_file(path)
    assert info.value.line == 6 and info.value.field == "seed"
    path.write_text("name: x\ncases: [\n")
    with pytest.raises(DatasetError, match="not YAML"):
        load_suite_file(path)
    path.write_text("name: x\ncase: []\n")
    with pytest.raises(DatasetError, match="unknown key") as info:
        load_suite_file(path)
    assert info.value.line == 2 and info.value.field == "case"


def test_gaia_metadata_is_read_as_questions_and_checked(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    row = {
        "task_id": "t1",
        "Question": "Sum?",
        "Level": 2,
        "Final answer": "3",
        "file_name": "data.csv",
    }
    suite = load_suite_file(
        write_jsonl(tmp_path / "metadata.jsonl", [row, {**row, "task_id": "t2", "file_name": ""}])
    )
    case = suite.cases[0]
    assert (case.kind, case.task_type, case.level, case.answer, case.file) == (
        "gaia",
        "level 2",
        2,
        "3",
        "data.csv",
    )
    assert suite.cases[1].file is None
    for bad, field in (
        ({**row, "Level": 4}, "Level"),
        ({**row, "file_name": "nope.pdf"}, "file_name"),
        ({k: v for k, v in row.items() if k != "Final answer"}, "Final answer"),
    ):
        with pytest.raises(DatasetError) as info:
            load_suite_file(write_jsonl(tmp_path / "metadata.jsonl", [row, bad]))
        assert info.value.line == 2 and info.value.field == field


def test_builtin_suites_have_every_task_type_and_split():
    alf = builtin_suite("alfworld-style", n=2)
    assert len(alf.cases) == 2 * 6 * 2
    assert set(alf.task_types()) == set(TASK_TYPES)
    assert {c.split for c in alf.cases} == {"seen", "unseen"}
    assert alf.cases[0].world_kwargs == {"split": "seen"}
    tw = builtin_suite("textworld", n=1)
    assert {c.world for c in tw.cases} == {
        "textworld/tw-simple",
        "textworld/tw-cooking",
        "textworld/tw-coin_collector",
        "textworld/tw-treasure_hunter",
    }
    tw = builtin_suite("textworld", n=2, levels={"tw-treasure_hunter": {"level": 20}})
    assert [c.task_type for c in tw.cases] == ["tw-treasure_hunter (level 20)"] * 2
    assert [c.seed for c in tw.cases] == [0, 1]
    with pytest.raises(ConfigError, match="unknown TextWorld"):
        builtin_suite("textworld", levels={"tw-chess": {}})
    with pytest.raises(ConfigError, match="built-in suites"):
        load_suite("alfworld")
    assert set(BUILTIN_SUITES) == {"alfworld-style", "textworld", "gaia-style", "drama"}


def test_head_keeps_n_per_task_type_and_split():
    suite = Suite(
        name="s",
        cases=[
            Case(id=f"{t}/{s}/{i}", task_type=t, split=s, world="w/x")
            for t in "ab"
            for s in ("seen", "unseen")
            for i in range(3)
        ],
    )
    assert len(suite.head(1).cases) == 4
    with pytest.raises(ValueError, match="appears twice"):
        Suite(name="s", cases=[suite.cases[0], suite.cases[0]])


def test_a_suite_file_may_not_run_code_unless_allowed(tmp_path, monkeypatch):
    """The attack: `world: 'os:system'` in a suite file ran a shell command."""
    import os

    ran = []
    monkeypatch.setattr(os, "system", lambda command: ran.append(command) or 0)
    path = tmp_path / "evil.yaml"
    path.write_text(
        "cases:\n- {id: a, task_type: t, world: 'os:system', world_kwargs: {command: 'touch pwned'}}\n"
    )
    with pytest.raises(
        DatasetError, match=r"evil\.yaml line 2, field 'world'.*--allow-code"
    ) as info:
        load_suite_file(path)
    assert "allow_code=True" in str(info.value)
    with pytest.raises(DatasetError, match="module:callable"):
        load_suite(path)
    jsonl = write_jsonl(tmp_path / "evil.jsonl", [{**GOOD, "world": "os:system"}])
    with pytest.raises(DatasetError, match=r"evil\.jsonl line 1, field 'world'"):
        load_suite_file(jsonl)
    assert ran == []
    # Registered worlds need no permission; a caller who trusts the file can allow code.
    assert (
        load_suite_file(write_jsonl(tmp_path / "ok.jsonl", [GOOD])).cases[0].world == GOOD["world"]
    )
    assert load_suite_file(path, allow_code=True).cases[0].world == "os:system"
    assert load_suite(path, allow_code=True).cases[0].world_kwargs == {"command": "touch pwned"}
