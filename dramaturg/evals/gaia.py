"""GAIA scoring and loading: the leaderboard's answer check and ``metadata.jsonl`` reader.

:func:`gaia_score` reproduces ``question_scorer`` from the GAIA leaderboard's
``scorer.py`` (huggingface.co/spaces/gaia-benchmark/leaderboard), rule for
rule, so a score here is the score the leaderboard would give:

* **number** -- the ground truth parses with ``float()`` as it stands. The
  model's answer loses every ``$``, ``%`` and ``,`` and must then parse to
  exactly the same float (``"$1,000"`` == ``"1000"``, ``"3.0"`` == ``"3"``,
  but ``"17 km"`` != ``"17"``: no unit is removed besides those three).
* **list** -- the ground truth holds a ``,`` or ``;``. Both sides are split
  on ``[,;]``; the lengths must match and the elements are compared in
  order. A ground-truth element that parses with ``float()`` is compared as
  a number (as above); any other element is compared after removing all
  whitespace and lowercasing, *keeping* punctuation (the official code calls
  ``normalize_str(element, remove_punct=False)``), so ``"st. louis"`` matches
  ``"St. Louis"`` but not ``"St Louis"``.
* **string** -- otherwise both sides lose all whitespace and every character
  of :data:`string.punctuation` and are compared lowercased.

Two consequences of following the official code, kept on purpose:

* The ground truth's number test is ``float(ground_truth)`` on the raw text:
  a ground truth written ``"1,000"`` is therefore a *list* of ``1`` and
  ``000``, and ``"$5"`` is a *string*. GAIA's annotators write numbers bare,
  and so should datasets scored with this function.
* The official scorer maps an unparsable model answer to ``inf``; here it is
  simply wrong. The two differ only for a ground truth of ``"inf"``.

:func:`extract_final_answer` pulls the answer out of a reply that follows
GAIA's prompt ("finish with FINAL ANSWER: ..."), and :func:`load_gaia` reads
a GAIA ``metadata.jsonl``, checking every line (errors are
:class:`DatasetError`, naming the file, the line and the field).
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from pathlib import Path
from typing import Any

from dramaturg._files import InputFileError, parse_json, read_text
from dramaturg.errors import ConfigError

__all__ = [
    "REQUIRED_KEYS",
    "DatasetError",
    "bundled_gaia_dir",
    "extract_final_answer",
    "gaia_score",
    "load_gaia",
]

REQUIRED_KEYS = ("task_id", "Question", "Level", "Final answer", "file_name")
"""The keys every line of a GAIA ``metadata.jsonl`` must have."""

_SPLIT = re.compile(r"[,;]")
_WHITESPACE = re.compile(r"\s")
_NO_PUNCT = str.maketrans("", "", string.punctuation)
_FINAL = re.compile(
    r"^\s*(?P<open>[*_]{0,3})\s*final\s+answer\s*(?P<mid>[*_]{0,3})\s*:\s*(?P<after>[*_]{0,3})(?P<rest>.*)$",
    re.IGNORECASE,
)
_WRAPPED = re.compile(r"(?P<mark>[*_]{1,3})(?P<inner>\S(?:.*\S)?)(?P=mark)")


# ---------------------------------------------------------------- scoring
def _parses(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _as_number(text: str) -> float | None:
    """The model's answer as a number after removing ``$``, ``%`` and ``,``; None if it is not one."""
    for char in "$%,":
        text = text.replace(char, "")
    try:
        return float(text)
    except ValueError:
        return None


def _same_number(model_answer: str, ground_truth: str) -> bool:
    value = _as_number(model_answer)
    return value is not None and value == float(ground_truth)


def _normalize(text: str, *, remove_punct: bool) -> str:
    text = _WHITESPACE.sub("", text).lower()
    return text.translate(_NO_PUNCT) if remove_punct else text


def gaia_score(model_answer: str | None, ground_truth: str) -> bool:
    """True when ``model_answer`` is right by the GAIA leaderboard's rules (see the module doc).

    Args:
        model_answer: the agent's final answer (``None`` when it gave none, scored as the
            string ``"None"``, as GAIA does).
        ground_truth: the dataset's ``Final answer``.

    Example:
        >>> gaia_score("$1,000", "1000"), gaia_score("17 km", "17")
        (True, False)
        >>> gaia_score("New York.", "new york"), gaia_score("3, Apple ;4.50", "3, apple, 4.5")
        (True, True)
    """
    answer = "None" if model_answer is None else str(model_answer)
    if _parses(ground_truth):
        return _same_number(answer, ground_truth)
    if "," in ground_truth or ";" in ground_truth:
        truths, answers = _SPLIT.split(ground_truth), _SPLIT.split(answer)
        if len(truths) != len(answers):
            return False
        return all(
            _same_number(a, t)
            if _parses(t)
            else _normalize(a, remove_punct=False) == _normalize(t, remove_punct=False)
            for a, t in zip(answers, truths, strict=True)
        )
    return _normalize(answer, remove_punct=True) == _normalize(ground_truth, remove_punct=True)


def extract_final_answer(text: str) -> str | None:
    """The answer on the last line that starts with ``FINAL ANSWER:``, or None if no line does.

    The marker is matched case-insensitively after leading whitespace, and may be
    wrapped in markdown emphasis (``**FINAL ANSWER:** 42``, ``**FINAL ANSWER: 42**``);
    emphasis around the whole answer goes too (``FINAL ANSWER: **42**``). The answer
    is the rest of that line, stripped; it may be empty.

    Example:
        >>> extract_final_answer("I think 41.\\nFINAL ANSWER: 41\\nNo wait.\\n**Final answer:** 42")
        '42'
        >>> extract_final_answer("The answer is 42.") is None
        True
    """
    found: str | None = None
    for line in str(text).splitlines():
        match = _FINAL.match(line)
        if match is None:
            continue
        opener, closer, rest = match["open"], match["mid"] or match["after"], match["rest"]
        if not (opener or match["mid"]):
            rest, closer = match["after"] + rest, ""  # "FINAL ANSWER: _x" keeps its underscore
        rest = rest.strip()
        if opener and not closer and rest.endswith(opener):
            rest = rest[: -len(opener)].rstrip()  # **FINAL ANSWER: 42**
        wrapped = _WRAPPED.fullmatch(rest)  # FINAL ANSWER: **42**
        found = wrapped["inner"] if wrapped else rest
    return found


# ---------------------------------------------------------------- loading
class DatasetError(ConfigError):
    """A dataset file is malformed; the message names the file, the line and the field.

    Attributes:
        path: the file that is wrong.
        line: the 1-based line number, or None when the problem is the whole file.
        field: the offending field (a key of the record), or None.
        problem: what is wrong, without the location.

    Example:
        >>> str(DatasetError("expected 1, 2 or 3, got 4", path="metadata.jsonl", line=7, field="Level"))
        "metadata.jsonl line 7, field 'Level': expected 1, 2 or 3, got 4"
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | os.PathLike[str],
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = str(path)
        if line is not None:
            where += f" line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
        self.path = Path(path)
        self.line = line
        self.field = field
        self.problem = problem


def _level(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    else:
        return None
    return number if number in (1, 2, 3) else None


def _check_record(record: dict[str, Any], folder: Path, err: Any) -> None:
    for key in REQUIRED_KEYS:
        if key not in record:
            raise err(f"missing required key; every line needs {', '.join(REQUIRED_KEYS)}", key)
    for key in ("task_id", "Question"):
        if not isinstance(record[key], str) or not record[key].strip():
            raise err(f"expected a non-empty string, got {record[key]!r}", key)
    if not isinstance(record["Final answer"], str):
        raise err(f"expected a string, got {record['Final answer']!r}", "Final answer")
    level = _level(record["Level"])
    if level is None:
        raise err(f"expected 1, 2 or 3, got {record['Level']!r}", "Level")
    record["Level"] = level
    name = record["file_name"]
    if not isinstance(name, str):
        raise err(f"expected a file name or an empty string, got {name!r}", "file_name")
    if name:
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise err(f"{name!r} is outside the dataset folder {str(folder)!r}", "file_name")
        if not target.is_file():
            raise err(f"no file {name!r} in {str(folder)!r}", "file_name")
    meta = record.get("Annotator Metadata")
    if meta is not None and not isinstance(meta, dict):
        raise err(f"expected an object, got {type(meta).__name__}", "Annotator Metadata")


def load_gaia(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read and check a GAIA ``metadata.jsonl`` (or the folder that holds one).

    Each line is one task with the keys of :data:`REQUIRED_KEYS` (and optionally
    ``Annotator Metadata``). ``file_name`` is relative to the metadata's folder, or
    empty when the task has no file. ``Level`` may be written ``2`` or ``"2"`` and
    comes back as an int; everything else comes back as written. Blank lines are skipped.

    Args:
        path: the ``metadata.jsonl`` file, or a folder containing one.

    Returns:
        The tasks, in file order.

    Raises:
        DatasetError: a line is not a JSON object, lacks a key, has a Level outside
            1-3, repeats a task_id, or names a file that is not next to the metadata.
            The message names the file, the line and the field.

    Example:
        >>> tasks = load_gaia(bundled_gaia_dir())
        >>> sorted({t["Level"] for t in tasks})
        [1, 2, 3]
    """
    source = Path(path)
    if source.is_dir():
        source = source / "metadata.jsonl"
    if not source.is_file():
        raise DatasetError("no such file; pass a GAIA metadata.jsonl or its folder", path=source)
    folder = source.parent
    tasks: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    try:  # at most 4 MiB of UTF-8 text
        text = read_text(source)
    except InputFileError as exc:
        raise DatasetError(exc.problem, path=source) from None
    for number, raw in enumerate(text.split("\n"), 1):  # not splitlines(): JSON may hold U+2028
        if not raw.strip():
            continue

        def err(problem: str, field: str | None = None, number: int = number) -> DatasetError:
            return DatasetError(problem, path=source, line=number, field=field)

        try:
            record = parse_json(raw)
        except InputFileError as exc:  # nested too deeply
            raise err(exc.problem) from None
        except json.JSONDecodeError as exc:
            raise err(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise err(f"expected a JSON object, got {type(record).__name__}")
        _check_record(record, folder, err)
        task_id = record["task_id"]
        if task_id in seen:
            raise err(f"task_id {task_id!r} repeats line {seen[task_id]}", "task_id")
        seen[task_id] = number
        tasks.append(record)
    return tasks


def bundled_gaia_dir() -> Path:
    """The folder of the GAIA-style dataset that ships with dramaturg (``metadata.jsonl`` inside).

    Its attachments live in ``files/``; the web questions are answered from the
    local web world after ``reset(seed=0)`` (see the folder's README.md).
    """
    return Path(__file__).resolve().parent / "data" / "gaia-style"
