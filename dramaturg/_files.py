"""Reading the files users write (blueprints, stages, cards, suites, rubrics, data).

Every loader of a user file reads it through here, so each gets the same
guards, and a hostile or broken file ends in one clear error that names it
(:class:`InputFileError`, a :class:`~dramaturg.errors.ConfigError`) rather
than a traceback or a dead process:

* a size cap (:data:`MAX_FILE_BYTES`), checked while reading, so ``/dev/zero``
  or a FIFO is stopped too;
* text must be UTF-8 (a binary file is named as such, not a ``UnicodeDecodeError``);
* a nesting cap (:data:`MAX_DEPTH`), checked *before* libyaml's C loader sees
  the text: its composer recurses in C and kills the process (SIGSEGV) on a
  document nested some 50,000 levels deep. JSON is scanned the same way;
* a cap on the values a YAML document expands to (:data:`MAX_VALUES`): aliases
  let a few lines stand for a billion values.

Loaders catch :class:`InputFileError` and re-raise their own error class with
its message, so callers still catch ``BlueprintError``, ``CardError``...

Example:
    >>> parse_yaml("a: [1, 2]")
    {'a': [1, 2]}
    >>> try:
    ...     parse_yaml("[" * 500 + "]" * 500, label="deep.yaml")
    ... except InputFileError as exc:
    ...     print(exc.problem[:28])
    nests deeper than 100 levels
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from dramaturg.errors import ConfigError, validation_issues

if TYPE_CHECKING:
    from pydantic import BaseModel

_M = TypeVar("_M", bound="BaseModel")

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "InputFileError",
    "check_values",
    "check_yaml_depth",
    "decode_text",
    "iter_lines",
    "load_json",
    "load_model_yaml",
    "load_yaml",
    "parse_json",
    "parse_yaml",
    "read_bytes",
    "read_text",
]

#: Files people write are kilobytes; a few MiB leaves room and stops a flood.
MAX_FILE_BYTES = 4 * 2**20
#: Real files nest fewer than ten levels; Python's and libyaml's recursion is far above this.
MAX_DEPTH = 100
#: Values a YAML document may expand to once its aliases are followed.
MAX_VALUES = 1_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The start of a block line: indentation and the indicators that nest on one line ("- - x", "? - x").
# A line starts after any YAML 1.1 line break, not only "\n" (libyaml also breaks at NEL, LS and PS).
_BLOCK_PREFIX = re.compile(
    r"(?:^|(?<=[\r\x85\u2028\u2029]))(?:[ ]|[-?:](?=[ \r\x85\u2028\u2029]|$))*", re.M
)
# A JSON string, or an unterminated one up to the end (so a stray quote cannot make the scan quadratic).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class InputFileError(ConfigError):
    """A user file is too big, not text, or nested too deeply; the message names it.

    Attributes:
        label: the file (or ``"<yaml string>"``) as the message names it.
        problem: what is wrong, without the name.
    """

    def __init__(self, label: str, problem: str) -> None:
        super().__init__(f"{label} {problem}" if label else problem)
        self.label = label
        self.problem = problem


def _mib(n: int) -> str:
    if n % 2**20 == 0:
        return f"{n // 2**20} MiB"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def read_bytes(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> bytes:
    """The file's bytes, refusing more than ``max_bytes`` (read with a bound, not trusted from ``stat``)."""
    label = str(path) if label is None else label
    try:
        with open(path, "rb") as fh:
            blob = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputFileError(label, "cannot read it: no such file") from None
    except IsADirectoryError:
        raise InputFileError(label, "cannot read it: a folder, not a file") from None
    except OSError as exc:
        raise InputFileError(label, f"cannot read it ({exc.strerror or exc})") from None
    if len(blob) > max_bytes:
        raise InputFileError(
            label,
            f"is over the {_mib(max_bytes)} limit for this kind of file; is it the right file?",
        )
    return blob


def decode_text(blob: bytes, *, label: str = "") -> str:
    """UTF-8 text (a leading BOM dropped); a binary file is an :class:`InputFileError`."""
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            label, f"is not UTF-8 text ({exc.reason} at byte {exc.start}); is it a binary file?"
        ) from None


def read_text(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> str:
    """:func:`read_bytes`, then :func:`decode_text`."""
    label = str(path) if label is None else label
    return decode_text(read_bytes(path, label=label, max_bytes=max_bytes), label=label)


def _too_deep(label: str, max_depth: int) -> InputFileError:
    return InputFileError(
        label,
        f"nests deeper than {max_depth} levels; flatten it (a real file needs fewer than ten)",
    )


def _flow_depth(text: str, max_depth: int) -> int:
    """The deepest run of open brackets, counted only when there could be more than ``max_depth``."""
    if text.count("[") + text.count("{") <= max_depth:
        return 0
    depth = deepest = 0
    for ch in _NOT_BRACKETS.sub("", text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def check_yaml_depth(text: str, *, label: str = "", max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`InputFileError` when the YAML text nests more than ``max_depth`` levels.

    A cheap bound from the text comes first: a block collection needs more
    indentation (or another ``- `` on its line) than its parent, except a
    sequence under a key, so block depth is at most twice the widest line
    start; flow brackets add their own depth. Only text past that bound
    (very deep indentation, brackets in prose) is parsed to count exactly,
    with PyYAML's pure-Python parser, which keeps its stack on the heap and
    stops at the first level over the cap.
    """
    widest = max((len(m) for m in _BLOCK_PREFIX.findall(text)), default=0)
    if 2 * (widest + 1) + _flow_depth(text, max_depth) <= max_depth:
        return
    depth = 0
    try:  # a yaml.YAMLError goes to the caller: text this parser refuses never reaches the C loader
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise _too_deep(label, max_depth)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except RecursionError:
        raise _too_deep(label, max_depth) from None


def check_values(data: Any, *, label: str = "", max_values: int = MAX_VALUES) -> None:
    """Raise :class:`InputFileError` when ``data`` holds more than ``max_values`` values, aliases followed."""
    stack, seen = [data], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > max_values:
            raise InputFileError(
                label,
                f"holds more than {max_values:,} values once its aliases are "
                "expanded (or an alias refers to itself)",
            )
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            stack.extend(item)


def parse_yaml(
    text: str, *, label: str = "", max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES
) -> Any:
    """Safe-load YAML text after :func:`check_yaml_depth`; then :func:`check_values`.

    ``yaml.YAMLError`` is left to the caller, which knows how to word it.
    """
    check_yaml_depth(text, label=label, max_depth=max_depth)
    try:
        data = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise _too_deep(label, max_depth) from None
    check_values(data, label=label, max_values=max_values)
    return data


def parse_json(
    text: str | bytes, *, label: str = "", max_depth: int = MAX_DEPTH, **kwargs: Any
) -> Any:
    """``json.loads`` after checking the nesting (brackets outside strings).

    ``json.JSONDecodeError`` is left to the caller, which knows how to word it.
    """
    if isinstance(text, bytes):
        text = decode_text(text, label=label)
    brackets = text.count("[") + text.count("{")
    if brackets > max_depth and _flow_depth(_JSON_STRING.sub("", text), max_depth) > max_depth:
        raise _too_deep(label, max_depth)
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        raise _too_deep(label, max_depth) from None


def load_yaml(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Any:
    """:func:`read_text` and :func:`parse_yaml` (``yaml.YAMLError`` passes through)."""
    label = str(path) if label is None else label
    return parse_yaml(read_text(path, label=label, max_bytes=max_bytes), label=label)


def load_json(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Any:
    """:func:`read_text` and :func:`parse_json`; bad JSON is an :class:`InputFileError` too."""
    label = str(path) if label is None else label
    try:
        return parse_json(read_text(path, label=label, max_bytes=max_bytes), label=label)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            label, f"is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def iter_lines(
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_line_bytes: int = MAX_FILE_BYTES,
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of a JSONL file, streamed, with both caps and UTF-8 checked.

    ``max_bytes`` caps the whole file (training data may be large: pass a
    bigger cap), ``max_line_bytes`` each line.
    """
    label = str(path) if label is None else label
    total = 0
    try:
        fh = open(path, "rb")  # closed by the `with` below
    except OSError as exc:
        raise InputFileError(label, f"cannot read it ({exc.strerror or exc})") from None
    with fh:
        for number, raw in enumerate(iter(lambda: fh.readline(max_line_bytes + 1), b""), 1):
            total += len(raw)
            if total > max_bytes:
                raise InputFileError(
                    label, f"is over the {_mib(max_bytes)} limit for this kind of file"
                )
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise InputFileError(
                    f"{label} line {number}", f"is over the {_mib(max_line_bytes)} limit for a line"
                )
            yield number, decode_text(raw, label=f"{label} line {number}")


def load_model_yaml(
    model: type[_M],
    source: str | os.PathLike[str] | dict[str, Any],
    *,
    error: type[Exception],
    label: str,
    text: bool = False,
) -> _M:
    """Read YAML into a pydantic ``model``, every failure one ``error`` that names the bad fields.

    ``source`` is a path, YAML text (``text=True``) or an already parsed
    mapping. ``label`` names it in messages ("blueprint file ghost.yaml").
    Each failure is raised as ``error(message)``: a file too big, binary,
    too deep or unreadable; YAML that does not parse; a top level that is
    not a mapping; and a schema failure, with one line per bad field::

        bad blueprint file ghost.yaml:
          cast.hamlet.location: unknown place 'x'

    Example:
        >>> from pydantic import BaseModel
        >>> class Point(BaseModel):
        ...     x: int
        >>> load_model_yaml(Point, "x: 3", error=ValueError, label="point", text=True)
        Point(x=3)
        >>> try:
        ...     load_model_yaml(Point, "x: three", error=ValueError, label="point", text=True)
        ... except ValueError as exc:
        ...     print(exc)
        bad point:
          x: Input should be a valid integer, unable to parse string as an integer
    """
    from pydantic import ValidationError

    data: Any
    if isinstance(source, dict):
        data = source
    else:
        try:
            if text:
                body = str(source)
                if len(body.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
                    raise InputFileError(label, f"is over the {_mib(MAX_FILE_BYTES)} limit")
                data = parse_yaml(body, label=label)
            else:
                data = load_yaml(source, label=label)
        except InputFileError as exc:  # too big, binary, too deep, unreadable
            raise error(str(exc)) from None
        except yaml.YAMLError as exc:
            raise error(f"{label} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{label}: the top level must be a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = "\n".join(f"  {issue}" for issue in validation_issues(exc))
        raise error(f"bad {label}:\n{lines}") from None
