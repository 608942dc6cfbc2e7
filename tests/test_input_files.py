"""Hostile user files: every loader refuses them with its own error naming the file.

The attacks (from a hardening run): a deeply nested stage YAML killed the
process (libyaml's C loader recursed into SIGSEGV), binary files gave
``UnicodeDecodeError`` tracebacks, deeply nested blueprints, suites and cards
gave ``RecursionError`` tracebacks. Now each is a ``ConfigError`` subclass
that names the file, raised before a parser can crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dramaturg._files import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    InputFileError,
    check_yaml_depth,
    iter_lines,
    load_json,
    parse_json,
    parse_yaml,
    read_text,
)
from dramaturg.drama.blueprint import Blueprint, BlueprintError
from dramaturg.drama.cards import CardError, load_card
from dramaturg.errors import ConfigError
from dramaturg.evals import DatasetError, load_suite_file
from dramaturg.evals.gaia import load_gaia
from dramaturg.evals.rubric import Rubric, RubricError
from dramaturg.models.adapters import AdapterRegistry
from dramaturg.training.data import load_sft_data, load_splits
from dramaturg.worlds.theatre import StageFileError, load_stage

ROOT = Path(__file__).resolve().parents[1]
DEEP = 60_000  # libyaml's C loader dies (SIGSEGV) somewhere between 20,000 and 50,000 levels
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfd"


def _deep_yaml(n: int = DEEP) -> str:
    return "title: " + "[" * n + "]" * n + "\n"


def _deep_json(n: int = DEEP) -> str:
    return '{"id": ' + "[" * n + "]" * n + "}"


# name, file name, loader, error class, deep text. Each loader reads a file a user hands it.
LOADERS: list[tuple[str, str, Callable[[Path], object], type[Exception], str]] = [
    ("blueprint", "play.yaml", Blueprint.load, BlueprintError, _deep_yaml()),
    ("stage", "stage.yaml", load_stage, StageFileError, _deep_yaml()),
    ("card", "card.json", load_card, CardError, _deep_json()),
    ("suite yaml", "suite.yaml", load_suite_file, DatasetError, "cases:\n- " + _deep_yaml()),
    ("suite jsonl", "suite.jsonl", load_suite_file, DatasetError, _deep_json() + "\n"),
    ("gaia", "metadata.jsonl", load_gaia, DatasetError, _deep_json() + "\n"),
    ("rubric", "rubric.yaml", Rubric.from_yaml, RubricError, _deep_yaml()),
    ("sft data", "data.jsonl", load_sft_data, DatasetError, _deep_json() + "\n"),
    (
        "adapter registry",
        "adapters.json",
        lambda p: AdapterRegistry(p).list(),
        ConfigError,
        _deep_json(),
    ),
    ("splits", "data.jsonl", load_splits, ConfigError, _deep_json()),
]
IDS = [row[0] for row in LOADERS]


def _target(tmp_path: Path, name: str, file: str) -> tuple[Path, Path]:
    """The path the loader is given, and the file the attack goes in (splits sit next to the data)."""
    path = tmp_path / file
    if name == "splits":
        return path, tmp_path / "data.splits.json"
    return path, path


@pytest.mark.parametrize(("name", "file", "load", "error", "deep"), LOADERS, ids=IDS)
def test_a_deeply_nested_file_is_the_loaders_error_not_a_recursion_error(
    tmp_path, name, file, load, error, deep
):
    given, attacked = _target(tmp_path, name, file)
    attacked.write_text(deep, encoding="utf-8")
    with pytest.raises(error) as info:
        load(given)
    assert isinstance(info.value, ConfigError)
    assert f"nests deeper than {MAX_DEPTH} levels" in str(info.value)
    assert attacked.name in str(info.value)


@pytest.mark.parametrize(("name", "file", "load", "error", "deep"), LOADERS, ids=IDS)
def test_a_binary_file_is_the_loaders_error_not_a_unicode_error(
    tmp_path, name, file, load, error, deep
):
    given, attacked = _target(tmp_path, name, file)
    attacked.write_bytes(BINARY if name != "card" else b"{" + BINARY)
    with pytest.raises(error) as info:
        load(given)
    assert "not UTF-8 text" in str(info.value) and attacked.name in str(info.value)


@pytest.mark.parametrize(
    ("name", "file", "load", "error", "deep"),
    [row for row in LOADERS if row[0] not in ("card", "sft data")],
    ids=[i for i in IDS if i not in ("card", "sft data")],
)
def test_a_file_over_the_size_cap_is_refused(tmp_path, name, file, load, error, deep):
    given, attacked = _target(tmp_path, name, file)
    with attacked.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing big is written
    with pytest.raises(error, match="over the 4 MiB limit"):
        load(given)


def test_training_data_caps_each_line(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(b" " * (MAX_FILE_BYTES + 2) + b"\n")
    with pytest.raises(DatasetError, match=r"data\.jsonl line 1.*over the 4 MiB limit for a line"):
        load_sft_data(data)


def test_a_stage_nested_60000_deep_no_longer_kills_the_process(tmp_path):
    """The original attack, in a child process: before the fix it died of SIGSEGV (rc -11)."""
    stage = tmp_path / "deep.yaml"
    stage.write_text(_deep_yaml(), encoding="utf-8")
    block = tmp_path / "block.yaml"  # nesting by indentation, no brackets
    block.write_text(
        "".join(" " * i + "a:\n" for i in range(2000)) + " " * 2000 + "b\n", encoding="utf-8"
    )
    code = (
        "import sys\nfrom dramaturg.worlds.theatre import StageFileError, load_stage\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n        load_stage(path)\n    except StageFileError as exc:\n        print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(stage), str(block)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("nests deeper than 100 levels") == 2 and "deep.yaml" in done.stdout


def test_an_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
    )
    with pytest.raises(StageFileError, match="more than 1,000,000 values"):
        load_stage(bomb)
    with pytest.raises(InputFileError, match="refers to itself"):
        parse_yaml("&a [*a]")


def test_a_device_with_no_size_is_read_with_a_bound():
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(InputFileError, match="over the 4 MiB limit"):
        read_text("/dev/zero")
    with pytest.raises(CardError, match="over the 20 MiB limit"):
        load_card("/dev/zero")  # stat says 0 bytes; reading it would never end


def test_real_files_still_load_however_their_brackets_and_indentation_look(tmp_path):
    # Deep but under the cap, brackets inside strings and prose, wide indentation: no false alarm.
    nested = parse_yaml("[" * 45 + "1" + "]" * 45)
    for _ in range(44):
        nested = nested[0]
    assert nested == [1]
    text = "a: |\n" + "".join(" " * 80 + "text with [ brackets { in prose\n" for _ in range(300))
    assert parse_yaml(text)["a"].count("[") == 300
    assert parse_json(json.dumps({"s": "[" * 500})) == {"s": "[" * 500}
    assert parse_json('["\\\\", "[[[", {"a": "]"}]') == ["\\", "[[[", {"a": "]"}]
    check_yaml_depth("".join(" " * (2 * i) + "- \n" for i in range(48)))  # 48 levels by indentation
    with pytest.raises(InputFileError):
        check_yaml_depth("".join(" " * (2 * i) + "- \n" for i in range(150)))
    assert load_stage("elsinore").title  # bundled stages and plays load as before
    assert Blueprint.load(ROOT / "dramaturg" / "drama" / "plays" / "elsinore.yaml").title


def test_a_broken_json_file_says_what_is_wrong(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": }', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"x\.json is not JSON \(Expecting value at line 1"):
        load_json(path)
    path.write_bytes(b'{"a": 1}\n\xff\n')
    lines = iter_lines(path)
    assert next(lines) == (1, '{"a": 1}\n')
    with pytest.raises(InputFileError, match=r"x\.json line 2 is not UTF-8 text"):
        next(lines)


def test_nesting_by_other_line_breaks_is_counted_too():
    # libyaml breaks lines at NEL, LS and PS as well as "\n": indentation after them nests too.
    for brk in ("\u2028", "\x85", "\r"):
        text = "".join(" " * i + "a:" + brk for i in range(150)) + " " * 150 + "b"
        with pytest.raises(InputFileError, match="nests deeper"):
            check_yaml_depth(text)
