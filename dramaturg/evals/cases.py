"""Suites and cases: what an evaluation runs, loaded from YAML or JSONL.

A :class:`Case` is one task with everything needed to replay it: the world
(or the question), the seed, and the task type its score is grouped under.
A :class:`Suite` is a named list of cases. Files users write are checked
strictly (``extra="forbid"``), and a broken file names the line and the field.

Example:
    >>> suite = Suite(name="mine", cases=[
    ...     Case(id="tw/0", task_type="tw-simple", world="textworld/tw-simple", seed=0)])
    >>> suite.task_types()
    ['tw-simple']

File formats (``load_suite_file``):

* ``.yaml``/``.yml``: either a list of cases or a mapping
  ``{name, description, cases: [...]}``.
* ``.jsonl``: one case per line. A GAIA ``metadata.jsonl`` (lines with
  ``task_id`` and ``Question``) is read as GAIA questions; attached files are
  looked up next to it.

A file is at most 4 MiB of UTF-8, nested at most 100 levels, and its cases
name registered worlds: a ``module:callable`` world runs Python code, so it
needs ``allow_code=True`` (``dramaturg eval run --allow-code``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dramaturg._files import InputFileError, check_values, check_yaml_depth, parse_json, read_text
from dramaturg.errors import ConfigError
from dramaturg.evals.gaia import DatasetError, load_gaia

__all__ = ["Case", "DatasetError", "Suite", "load_suite_file"]


class Case(BaseModel):
    """One evaluation task.

    Attributes:
        id: unique in its suite; names the trace files (``/`` allowed).
        kind: ``world`` (play a world to a win), ``gaia`` (answer a question)
            or ``drama`` (play a scene, scored by metrics and judges).
        task_type: what scores are grouped by (ALFWorld task type, TextWorld
            challenge, GAIA level, play).
        split: ``seen``/``unseen`` where the suite has splits.
        world: a registered world id (``alfworld/pick_and_place_simple``) or an
            entry point ``module:callable`` returning a world (from a suite
            file only with ``allow_code``: it runs that code).
        world_kwargs: keyword arguments for the world's factory.
        options: passed to ``world.reset(options=...)`` (TextWorld's
            ``tw-make`` options, for example ``{"level": 3}``).
        seed: the world's seed; every attempt of a case plays the same game.
        max_steps: overrides the run's step budget for this case.
        question, answer, file, level: a GAIA-style question, its key, the
            attached file (relative to the dataset folder) and its level (1-3).
        data: anything else a suite needs (a drama case's play and turns).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: Literal["world", "gaia", "drama"] = "world"
    task_type: str = Field(min_length=1)
    split: str = ""
    world: str | None = None
    world_kwargs: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    max_steps: int | None = Field(default=None, ge=1)
    question: str | None = None
    answer: str | None = None
    file: str | None = None
    level: int | None = Field(default=None, ge=1, le=3)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _no_dots_up(cls, value: str) -> str:
        if ".." in value.split("/") or value.startswith("/"):
            raise ValueError("must not start with '/' or contain '..' parts (it names trace files)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Case:
        if self.kind == "world" and not self.world:
            raise ValueError("a world case needs 'world'")
        if self.kind == "drama" and not self.data.get("play"):
            raise ValueError("a drama case needs data.play (a bundled play or a blueprint file)")
        if self.kind == "gaia" and (self.question is None or self.answer is None):
            raise ValueError("a gaia case needs 'question' and 'answer'")
        return self

    @property
    def slug(self) -> str:
        """The id as a file name."""
        return self.id.replace("/", "__")


class Suite(BaseModel):
    """A named list of cases; ``root`` is where case files (``Case.file``) live."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    cases: list[Case]
    root: Path | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} appears twice")
            seen.add(case.id)
        return self

    def task_types(self) -> list[str]:
        """The task types, in first-seen order."""
        return list(dict.fromkeys(c.task_type for c in self.cases))

    def head(self, n: int) -> Suite:
        """The first ``n`` cases of every task type (and split)."""
        taken: dict[tuple[str, str], int] = {}
        keep = []
        for case in self.cases:
            key = (case.task_type, case.split)
            if taken.get(key, 0) < n:
                taken[key] = taken.get(key, 0) + 1
                keep.append(case)
        return self.model_copy(update={"cases": keep})


def _field_of(error: ValidationError) -> tuple[str | None, str]:
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or None
    return loc, first["msg"]


def _case(raw: Any, *, path: Path, line: int | None) -> Case:
    if not isinstance(raw, dict):
        raise DatasetError(
            f"a case must be a mapping, not {type(raw).__name__}", path=path, line=line
        )
    try:
        return Case.model_validate(raw)
    except ValidationError as exc:
        field, msg = _field_of(exc)
        raise DatasetError(msg, path=path, line=line, field=field) from None


def _gaia_cases(path: Path) -> list[tuple[Case, int]]:
    out = []
    for n, task in enumerate(load_gaia(path), 1):
        level = int(task["Level"])
        out.append(
            (
                _case(
                    {
                        "id": f"gaia/{task['task_id']}",
                        "kind": "gaia",
                        "task_type": f"level {level}",
                        "question": str(task["Question"]),
                        "answer": str(task["Final answer"]),
                        "file": task.get("file_name") or None,
                        "level": level,
                    },
                    path=path,
                    line=n,
                ),
                n,
            )
        )
    return out


def _json_line(text: str, *, path: Path, line: int) -> Any:
    try:
        return parse_json(text)
    except InputFileError as exc:  # nested too deeply
        raise DatasetError(exc.problem, path=path, line=line) from None
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"not JSON ({exc.msg} at column {exc.colno})", path=path, line=line
        ) from None


def _load_jsonl(path: Path, text: str) -> tuple[list[tuple[Case, int]], bool]:
    rows = [
        (n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()
    ]  # JSON may hold U+2028
    if rows:
        try:
            first = parse_json(rows[0][1])
        except (InputFileError, json.JSONDecodeError):
            first = None
        if isinstance(first, dict) and "task_id" in first and "Question" in first:
            return _gaia_cases(path), True
    return [
        (_case(_json_line(line, path=path, line=n), path=path, line=n), n) for n, line in rows
    ], False


def _load_yaml(path: Path, text: str) -> tuple[dict[str, Any], list[tuple[Case, int]]]:
    try:
        # The pure-Python composer (kept for line numbers) recurses per level: check the depth first.
        check_yaml_depth(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except InputFileError as exc:
        raise DatasetError(exc.problem, path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DatasetError(
            f"not YAML: {getattr(exc, 'problem', exc)}",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
    if node is None:
        raise DatasetError("the file is empty", path=path)
    head: dict[str, Any] = {}
    items: list[yaml.Node]
    if isinstance(node, yaml.SequenceNode):
        items = node.value
    elif isinstance(node, yaml.MappingNode):
        items = []
        for key_node, value_node in node.value:
            key = key_node.value
            if key == "cases":
                if not isinstance(value_node, yaml.SequenceNode):
                    raise DatasetError(
                        "must be a list of cases",
                        path=path,
                        line=value_node.start_mark.line + 1,
                        field="cases",
                    )
                items = value_node.value
            elif key in ("name", "description"):
                head[key] = _value(value_node, path=path)
            else:
                raise DatasetError(
                    "unknown key (expected name, description, cases)",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    field=key,
                )
    else:
        raise DatasetError("expected a list of cases or a mapping with 'cases'", path=path, line=1)
    cases = [
        (
            _case(_value(item, path=path), path=path, line=item.start_mark.line + 1),
            item.start_mark.line + 1,
        )
        for item in items
    ]
    return head, cases


def _value(node: yaml.Node, *, path: Path) -> Any:
    value = yaml.safe_load(yaml.serialize(node))
    try:
        check_values(value)  # aliases can make a few lines stand for a billion values
    except InputFileError as exc:
        raise DatasetError(exc.problem, path=path, line=node.start_mark.line + 1) from None
    return value


def _check_worlds(cases: list[tuple[Case, int]], *, path: Path) -> None:
    """A suite file names registered worlds; ``module:callable`` would import and run that code."""
    for case, line in cases:
        if case.world and ":" in case.world:
            raise DatasetError(
                f"world {case.world!r} is Python code to import and run (module:callable); a suite file "
                "may only name registered worlds (`dramaturg worlds` lists them). If you trust this file, "
                "allow it with `dramaturg eval run --allow-code`, or load_suite_file(path, allow_code=True)",
                path=path,
                line=line,
                field="world",
            )


def load_suite_file(path: str | Path, *, allow_code: bool = False) -> Suite:
    """Load a suite from a ``.yaml``/``.yml`` or ``.jsonl`` file (see the module docstring).

    Args:
        path: the file (at most 4 MiB, UTF-8, nested at most 100 levels).
        allow_code: let cases name a world factory ``module:callable``, which
            imports and calls that Python code. Off, such a file is refused:
            a suite file from elsewhere must not run code.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no suite file {path}")
    if path.suffix not in (".yaml", ".yml", ".jsonl"):
        raise ConfigError(f"{path}: a suite file is .yaml, .yml or .jsonl")
    try:
        text = read_text(path)
    except InputFileError as exc:  # too big, not text
        raise DatasetError(exc.problem, path=path) from None
    if path.suffix == ".jsonl":
        cases, gaia = _load_jsonl(path, text)
        head = {"name": "gaia" if gaia else path.stem}
    else:
        head, cases = _load_yaml(path, text)
    if not cases:
        raise DatasetError("no cases", path=path)
    if not allow_code:
        _check_worlds(cases, path=path)
    first: dict[str, int] = {}
    for case, line in cases:
        if case.id in first:
            raise DatasetError(
                f"case id {case.id!r} already used on line {first[case.id]}",
                path=path,
                line=line,
                field="id",
            )
        first[case.id] = line
    try:
        return Suite(
            name=head.get("name") or path.stem,
            description=head.get("description") or "",
            cases=[c for c, _ in cases],
            root=path.parent,
        )
    except ValidationError as exc:
        raise DatasetError(_field_of(exc)[1], path=path) from None
