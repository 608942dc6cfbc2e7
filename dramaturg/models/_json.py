"""Turning a model's text into a validated pydantic instance, and telling a
model which JSON shape to write.

Everything here is linear in the size of the answer: a model that rambles a
megabyte of text costs one scan, not a quadratic search for JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dramaturg.errors import ModelOutputError
from dramaturg.models._text import has_surrogates

__all__ = [
    "JsonEnd",
    "Loop",
    "find_loop",
    "json_size_bound",
    "parse_structured",
    "schema_instruction",
    "schema_outline",
]

T = TypeVar("T", bound=BaseModel)

# strict=False: raw newlines and tabs inside strings are accepted. llama.cpp's JSON
# grammar lets a small model write them, and the meaning is never in doubt.
_decoder = json.JSONDecoder(strict=False)


def _extract_json(text: str) -> Any:
    """Decode the first JSON value in ``text``.

    Accepts bare JSON, JSON in a Markdown code fence, or JSON after a short
    preamble ("Sure! {...}"). Raises ``ValueError`` with a reason otherwise.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("the answer was empty; write a JSON object")
    if stripped.startswith("```"):
        # ```json\n{...}\n```
        body = stripped[3:]
        newline = body.find("\n")
        body = body[newline + 1 :] if newline != -1 else body
        end = body.rfind("```")
        stripped = (body[:end] if end != -1 else body).strip()
    try:
        return json.loads(stripped, strict=False)
    except json.JSONDecodeError as first_error:
        start = stripped.find("{")
        if start <= 0:
            raise ValueError(_describe_decode_error(first_error, stripped)) from None
        try:
            value, _ = _decoder.raw_decode(stripped, start)
        except json.JSONDecodeError as second_error:
            raise ValueError(_describe_decode_error(second_error, stripped)) from None
        return value


def _describe_decode_error(error: json.JSONDecodeError, text: str) -> str:
    if error.pos >= len(text.rstrip()) - 1:
        return f"the JSON ends too early ({error.msg} at character {error.pos}); write the whole object"
    return f"the answer is not valid JSON ({error.msg} at character {error.pos})"


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:8]:
        loc = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{loc}: {item['msg']}")
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "the JSON does not match the schema: " + "; ".join(parts)


def _surrogate_path(node: Any, path: str = "", depth: int = 0) -> str | None:
    """The field holding a lone surrogate (``"\\ud800"``), which no encoder can write; None if none."""
    if depth > 64:
        return None
    if isinstance(node, str):
        return (path or "(root)") if has_surrogates(node) else None
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if has_surrogates(str(key)):
                return where
            found = _surrogate_path(value, where, depth + 1)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _surrogate_path(value, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None


def parse_structured(text: str, schema: type[T], *, truncated: bool = False) -> T:
    """Validate ``text`` as an instance of ``schema``.

    Raises:
        ModelOutputError: with ``feedback`` written for the model to read,
            ``kind`` and, where it can be told, the ``field`` at fault.
    """
    try:
        # The common case, a bare JSON object that fits: pydantic's own JSON parser, in
        # one pass. Anything else (prose around it, a lone surrogate escape, which it
        # refuses as bad JSON, a bad field) takes the careful path below for its message.
        return schema.model_validate_json(text)
    except (ValidationError, RecursionError, ValueError):
        pass
    try:
        data = _extract_json(text)
    except ValueError as exc:
        if truncated:
            loop = find_loop(text)
            if loop is not None:
                raise ModelOutputError(
                    loop.describe() + " until the token limit; write each value once",
                    raw=text,
                    kind="loop",
                    field=loop.field,
                ) from None
            raise ModelOutputError(
                "the answer was cut off at the token limit; write a shorter JSON object",
                raw=text,
                kind="truncated",
            ) from None
        raise ModelOutputError(str(exc), raw=text) from None
    except RecursionError:
        raise ModelOutputError("the JSON is nested too deeply", raw=text) from None
    bad = _surrogate_path(data)
    if bad is not None:
        raise ModelOutputError(
            f"the field {bad!r} holds a lone surrogate escape (such as \\ud800), which is not "
            "text; write plain characters",
            raw=text,
            field=bad,
        )
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]["loc"] if exc.error_count() else ()
        field = ".".join(str(p) for p in first) or None
        raise ModelOutputError(_describe_validation_error(exc), raw=text, field=field) from None
    except RecursionError:
        raise ModelOutputError("the JSON is nested too deeply", raw=text) from None


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = defs.get(ref.removeprefix("#/$defs/"), {})
        return resolved
    return node


def _outline(node: dict[str, Any], defs: dict[str, Any], depth: int) -> str:
    node = _resolve(node, defs)
    if depth > 6:
        return "..."
    if "enum" in node:
        return "|".join(json.dumps(v) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(_outline(n, defs, depth + 1) for n in node[key])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        inner = ", ".join(f'"{k}": {_outline(v, defs, depth + 1)}' for k, v in props.items())
        return "{" + inner + "}"
    if kind == "array":
        return "[" + _outline(node.get("items", {}), defs, depth + 1) + ", ...]"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind or "any")


def schema_outline(json_schema: dict[str, Any]) -> str:
    """A compact, human-like outline of a JSON schema.

    Small models follow ``{"mood": "calm"|"angry", "lines": [string, ...]}``
    far better than a full JSON-schema document, and it costs fewer tokens.
    A schema may carry its own outline under ``"x-outline"`` (set with
    pydantic's ``json_schema_extra``): a schema whose choices change on every
    call (the commands a world allows now) keeps a fixed outline that way, so
    the prompt prefix stays cacheable.
    """
    custom = json_schema.get("x-outline")
    if isinstance(custom, str):
        return custom
    return _outline(json_schema, json_schema.get("$defs", {}), 0)


def schema_instruction(json_schema: dict[str, Any]) -> str:
    """The instruction appended to a prompt for a structured answer."""
    return "Answer with one JSON object of this shape and nothing else:\n" + schema_outline(
        json_schema
    )


@dataclass(frozen=True, slots=True)
class Loop:
    """A repetition found in a JSON answer: the field it is in and what repeats."""

    field: str
    value: str

    def describe(self) -> str:
        shown = self.value if len(self.value) <= 40 else self.value[:40] + "..."
        return f"the answer repeated {shown!r} over and over in the field {self.field!r}"


class _Frame:
    __slots__ = ("index", "is_array", "items", "key", "start")

    def __init__(self, is_array: bool, start: int) -> None:
        self.is_array = is_array
        self.start = start  # where this value began in the text seen
        self.key: str | None = None  # objects: the key whose value is being written
        self.index = 0  # arrays: the item being written
        self.items: dict[str, int] = {}  # arrays: how often each finished item was written


class JsonEnd:
    """Follows a streamed top-level JSON object or array: where it ends, and whether it went wrong.

    Feed it text as it is generated; :meth:`feed` returns the end offset
    within the chunk once the value is complete. ``invalid`` turns true as
    soon as the text cannot be a usable answer, so a small model caught in a
    loop is cut off at once instead of after hundreds of tokens:

    * it cannot be JSON: it does not start with ``{`` or ``[``, a character
      outside strings cannot appear in JSON, a string is not followed by
      ``,`` ``:`` ``}`` or ``]``;
    * it runs long: a string past ``max_string`` characters, whitespace
      outside strings past ``max_space``, the value past ``max_chars`` (the
      most its schema allows, see :func:`json_size_bound`);
    * it loops (``loop`` says where): an array holds the same string or
      object ``item_repeats`` times, a string repeats a run of ``ngram``
      words ``repeats`` times within a few dozen words (or one character 24
      times), or a number runs past 24 characters.
    """

    __slots__ = (
        "_buf",
        "_frames",
        "_grams",
        "_hex_left",
        "_is_key",
        "_number_len",
        "_run_char",
        "_run_len",
        "_string_start",
        "_text",
        "_word",
        "_words",
        "after_string",
        "depth",
        "escape",
        "in_string",
        "invalid",
        "item_repeats",
        "loop",
        "max_chars",
        "max_space",
        "max_string",
        "ngram",
        "repeats",
        "seen",
        "space_run",
        "started",
        "string_len",
    )

    _BARE = frozenset("{}[],:0123456789.-+eEtrufalsn \t\r\n")
    _NUMBER = frozenset("0123456789.-+eE")

    def __init__(
        self,
        *,
        max_string: int = 600,
        max_space: int = 24,
        max_chars: int | None = None,
        repeats: int = 3,
        item_repeats: int = 4,
        ngram: int = 4,
    ) -> None:
        self.max_space = max_space
        self.max_chars = max_chars
        self.max_string = max_string
        self.repeats = repeats
        self.item_repeats = item_repeats
        self.ngram = ngram
        self.seen = 0
        self.space_run = 0
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.started = False
        self.invalid = False
        self.after_string = False
        self.string_len = 0
        self.loop: Loop | None = None
        self._frames: list[_Frame] = []
        self._buf: list[
            str
        ] = []  # the string being written (keys are kept whole, values only for checks)
        self._is_key = False
        self._word: list[str] = []
        self._words: list[str] = []
        self._grams: dict[tuple[str, ...], list[int]] = {}
        self._run_char = ""
        self._run_len = 0
        self._text: list[str] = []  # everything seen, to compare whole array items
        self._string_start = 0
        self._number_len = 0
        self._hex_left = 0  # hex digits of a \\uXXXX escape still to come

    # -- where we are -----------------------------------------------------------------------
    def path(self) -> str:
        """The field being written now, as ``subtasks[2].description`` (``(root)`` at the top)."""
        out = ""
        for frame in self._frames:
            if frame.is_array:
                out += f"[{frame.index}]"
            elif frame.key is not None:
                out += f".{frame.key}" if out else frame.key
        return out or "(root)"

    def _looped(self, value: str) -> None:
        self.loop = Loop(self.path(), value)
        self.invalid = True

    # -- strings ----------------------------------------------------------------------------
    def _string_char(self, ch: str) -> bool:
        """Check one character inside a string value; False when it loops."""
        if ch == self._run_char:
            self._run_len += 1
            if self._run_len >= 24 and not ch.isspace():
                self._looped(ch * 8)
                return False
        else:
            self._run_char, self._run_len = ch, 1
        if ch.isalnum() or ch in "'-_":
            self._word.append(ch.lower())
            return True
        return self._end_word()

    def _end_word(self) -> bool:
        if not self._word:
            return True
        self._words.append("".join(self._word))
        self._word = []
        if len(self._words) >= self.ngram:
            gram = tuple(self._words[-self.ngram :])
            seen_at = self._grams.setdefault(gram, [])
            seen_at.append(len(self._words))
            # A phrase said three times in a long text is style; three times in a few dozen words, a loop.
            if (
                len(seen_at) >= self.repeats
                and seen_at[-1] - seen_at[-self.repeats] <= 12 * self.ngram
            ):
                self._looped(" ".join(gram))
                return False
        return True

    def _start_string(self) -> None:
        frame = self._frames[-1] if self._frames else None
        self._is_key = frame is not None and not frame.is_array and frame.key is None
        self._buf = []
        self._word, self._words, self._grams = [], [], {}
        self._run_char, self._run_len = "", 0

    def _end_string(self) -> bool:
        if not self._end_word():
            return False
        if self._is_key:
            self._frames[-1].key = "".join(self._buf)[:60]
        return True

    # -- arrays -----------------------------------------------------------------------------
    def _end_item(self, start: int) -> bool:
        """A string, object or array that began at ``start`` just ended: if it is an array's item,
        count it; False when the same item has now been written ``repeats`` times."""
        if not self._frames or not self._frames[-1].is_array:
            return True
        frame = self._frames[-1]
        item = "".join(self._text[start:])
        if len(item) <= 2:  # "", {}, []: repeats are fine
            return True
        count = frame.items.get(item, 0) + 1
        frame.items[item] = count
        if count >= self.item_repeats:
            self._looped(item)
            return False
        return True

    def feed(self, chunk: str) -> int | None:
        for i, ch in enumerate(chunk):
            if not self.started:
                if ch.isspace():
                    continue
                if ch not in "{[":
                    self.invalid = True
                    return None
                self.started = True
            if self.invalid:
                return None
            self.seen += 1
            self._text.append(ch)
            if self.max_chars is not None and self.seen > self.max_chars:
                self.invalid = True
                return None
            if self.in_string:
                self.string_len += 1
                if self._hex_left:
                    self._hex_left -= 1
                    continue
                if self.escape:
                    self.escape = False
                    if ch == "u":
                        self._hex_left = 4
                    continue
                if ch == "\\":
                    self.escape = True
                    if not self._is_key and not self._end_word():
                        return None
                    continue
                elif ch == '"':
                    self.in_string = False
                    self.after_string = True
                    if not self._end_string() or (
                        not self._is_key and not self._end_item(self._string_start)
                    ):
                        return None
                    continue
                elif self.string_len > self.max_string:
                    self.invalid = True
                    return None
                if self._is_key:
                    if len(self._buf) < 80:
                        self._buf.append(ch)
                elif not self._string_char(ch):
                    return None
                continue
            if ch.isspace():
                self.space_run += 1
                if self.space_run > self.max_space:
                    self.invalid = True
                    return None
            else:
                self.space_run = 0
            if self.after_string and not ch.isspace():
                if ch not in ",:}]":
                    self.invalid = True
                    return None
                self.after_string = False
            if ch in self._NUMBER:
                self._number_len += 1
                if self._number_len > 24:  # no answer needs a 25-digit number: "1000000000000..."
                    self._looped("".join(self._text[-8:]))
                    return None
            else:
                self._number_len = 0
            if ch == '"':
                self.in_string = True
                self.string_len = 0
                self._string_start = len(self._text) - 1
                self._start_string()
            elif ch not in self._BARE:
                self.invalid = True
                return None
            elif ch in "{[":
                self.depth += 1
                self._frames.append(_Frame(ch == "[", len(self._text) - 1))
            elif ch in "}]":
                self.depth -= 1
                frame = self._frames.pop() if self._frames else None
                if frame is not None:
                    if self._frames and not self._frames[-1].is_array:
                        self._frames[-1].key = None
                    if not self._end_item(frame.start):
                        return None
                if self.depth == 0:
                    return i + 1
            elif ch == "," and self._frames:
                frame = self._frames[-1]
                if frame.is_array:
                    frame.index += 1
                else:
                    frame.key = None
        return None


def find_loop(text: str) -> Loop | None:
    """The first repetition loop in a (possibly cut-off) JSON answer, if any.

    Used on answers from backends that do not stream, to name the field that
    looped when an answer was cut off at the token limit.
    """
    scanner = JsonEnd(max_string=1 << 30, max_space=1 << 30)
    scanner.feed(text)
    return scanner.loop


def json_size_bound(schema: dict[str, Any], *, slack: int = 64) -> int | None:
    """The most characters a compact JSON value of ``schema`` can take, plus ``slack``.

    ``None`` when the schema sets no bound (a string with no ``maxLength`` or
    ``enum``, a list with no ``maxItems``, an object open to extra keys, a
    number). Every non-ASCII or escaped character counts as six (``\\uXXXX``).
    """
    defs = schema.get("$defs") or schema.get("definitions") or {}

    def size(node: Any, depth: int = 0) -> int | None:
        if not isinstance(node, dict) or depth > 20:
            return None
        if "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            return size(defs.get(name), depth + 1)
        if "const" in node:
            return len(json.dumps(node["const"]))
        if "enum" in node:
            return max((len(json.dumps(v)) for v in node["enum"]), default=2)
        for key in ("anyOf", "oneOf"):
            if key in node:
                parts = [size(n, depth + 1) for n in node[key]]
                known = [p for p in parts if p is not None]
                return None if len(known) < len(parts) else max(known, default=0)
        kind = node.get("type")
        if isinstance(kind, list):
            parts = [size({**node, "type": k}, depth + 1) for k in kind]
            known = [p for p in parts if p is not None]
            return None if len(known) < len(parts) else max(known, default=0)
        if kind == "null":
            return 4
        if kind == "boolean":
            return 5
        if kind == "string":
            limit = node.get("maxLength")
            return None if limit is None else 2 + 6 * int(limit)
        if kind == "array":
            limit = node.get("maxItems")
            item = size(node.get("items", {}), depth + 1)
            # per item: ", " and a new indented line when pretty-printed
            return (
                None
                if limit is None or item is None
                else 4 + 2 * depth + int(limit) * (item + 6 + 2 * depth)
            )
        if kind == "object":
            if node.get("additionalProperties", True) is not False:
                return None
            total = 4 + 2 * depth
            for key, sub in (node.get("properties") or {}).items():
                part = size(sub, depth + 1)
                if part is None:
                    return None
                total += len(json.dumps(key)) + 8 + 2 * depth + part  # ": ", ", " and indentation
            return total
        return None

    bound = size(schema)
    return None if bound is None else bound + slack
