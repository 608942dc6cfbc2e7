"""`FuzzModel`, a seeded model of malformed answers; public as :class:`dramaturg.testing.FuzzModel`."""

from __future__ import annotations

import collections
import json
import random
import re
from collections.abc import Sequence
from typing import Any

from dramaturg.errors import ConfigError
from dramaturg.models.base import BaseChatModel, Completion, Message, ModelKind, Usage, check_kind

__all__ = ["FuzzModel"]

_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FuzzModel(BaseChatModel):
    """A seeded model of malformed answers: a fuzzer for code that reads a model.

    Each call draws one kind of answer from a seeded :class:`random.Random`:

    * ``valid`` (a share of ``valid``): a valid answer to the schema asked
      for, built from ``json_schema`` (an enum picks one of its options, a
      string is words of the prompt, now and then as long as it may be), or
      a sentence of the prompt's words for a plain call; valid answers let
      graphs make progress and reach their deep nodes;
    * ``truncated``: the answer cut short (``finish_reason="length"`` half the time);
    * ``wrong_types``: one value of the wrong type, or no object at all;
    * ``huge``: a 100,000-character string in a field, or as the answer;
    * ``surrogate_escape``: a lone surrogate escape (``"\\ud800"``) in a JSON string;
    * ``surrogate_text``: a raw lone surrogate character in the text;
    * ``unknown_tool``: a call of a tool nobody has;
    * ``invalid_action``: a command no world accepts, in ``command`` (or any field);
    * ``empty``, ``nested`` (JSON up to 100,000 levels deep) and ``prose`` (no JSON).

    The same seed and the same calls give the same answers. ``calls``
    counts the answers and ``drawn`` counts them by kind.

    Args:
        seed: the seed of the stream.
        kinds: the kinds to draw from (``FuzzModel.KINDS`` lists them all).
        valid: the share of valid answers, when ``"valid"`` is one of ``kinds``.
        kind: the kind of model it plays (``"base"`` drives the script-completion paths).

    Example:
        >>> from pydantic import BaseModel
        >>> from dramaturg.errors import DramaturgError
        >>> class Mood(BaseModel):
        ...     mood: str
        >>> model = FuzzModel(seed=1)
        >>> for _ in range(50):
        ...     try:
        ...         mood = model.structured_sync([], Mood)
        ...     except DramaturgError:
        ...         pass  # what every caller of a model must be ready for
        >>> model.calls, model.drawn["valid"] > 10
        (50, True)
    """

    KINDS = (
        "valid",
        "truncated",
        "wrong_types",
        "huge",
        "surrogate_escape",
        "surrogate_text",
        "unknown_tool",
        "invalid_action",
        "empty",
        "nested",
        "prose",
    )
    HUGE = 100_000
    WRONG = (None, 0, -1, 2**70, 1.5, float("nan"), True, "text", [], {}, ["a", 1], {"a": None})
    ACTIONS = (
        "fly to the moon",
        "take",
        'say "unclosed',
        "give crown to nobody",
        "x" * 500,
        ":::",
        "\x00\x1b[2J",
        "move north; rm -rf /",
        "hamlet: hamlet: wait",
        "look " * 40,
        "\n\t\n",
        "take 🍎 from ☃",
    )
    PROSE = (
        "Sure! Here is my answer.",
        "I cannot help with that.",
        '```json\n{"a": 1',
        "The answer is 42, as everyone knows.",
        "{'single': 'quotes'}",
    )

    def __init__(
        self,
        seed: int = 0,
        *,
        kinds: Sequence[str] = KINDS,
        valid: float = 0.5,
        name: str = "fuzz",
        kind: ModelKind = "instruct",
    ) -> None:
        unknown = sorted(set(kinds) - set(self.KINDS))
        if unknown or not kinds:
            raise ConfigError(f"FuzzModel kinds {unknown or '()'} are not among {list(self.KINDS)}")
        self.rng = random.Random(seed)
        self.kinds = tuple(kinds)
        self.valid = valid if "valid" in kinds else 0.0
        self.name = name
        self.kind = check_kind(kind)  # "base" drives the roles' paths for base models
        self.calls = 0
        self.drawn: collections.Counter[str] = collections.Counter()

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        self.calls += 1
        others = [k for k in self.kinds if k != "valid"]
        kind = "valid" if not others or self.rng.random() < self.valid else self.rng.choice(others)
        self.drawn[kind] += 1
        words = list(dict.fromkeys(_WORDS.findall(" ".join(m["content"] for m in messages)))) or [
            "well"
        ]
        schema = opts.get("json_schema")
        if schema is None and opts.get("response_model") is not None:
            schema = opts["response_model"].model_json_schema()
        if schema is None:
            text = self._plain(kind, " ".join(self.rng.choices(words, k=self.rng.randint(1, 12))))
        else:
            text = self._json(kind, self._valid(schema, schema.get("$defs", {}), words, 0))
        finish = "length" if kind == "truncated" and self.rng.random() < 0.5 else "stop"
        return Completion(
            text=text,
            finish_reason=finish,
            model=self.name,
            usage=Usage(prompt_tokens=1, completion_tokens=1 + len(text) // 4, cost_usd=0.0),
        )

    def _plain(self, kind: str, sentence: str) -> str:
        """A plain-text answer, spoiled the ``kind`` way."""
        if kind == "valid":
            return sentence
        if kind == "truncated":
            return sentence[: self.rng.randrange(len(sentence))]
        if kind == "surrogate_text":
            return f"{sentence} \ud800 {sentence}"
        return self._json(kind, sentence)  # a JSON answer where text was asked for

    def _json(self, kind: str, value: Any) -> str:
        """``value`` (a valid answer) as JSON, spoiled the ``kind`` way."""
        rng = self.rng
        if kind == "valid":
            return json.dumps(value)
        if kind == "truncated":
            text = json.dumps(value)
            return text[: rng.randrange(len(text))]
        if kind == "wrong_types":
            wrong = rng.choice(self.WRONG)
            return json.dumps(self._replace(value, wrong) if rng.random() < 0.7 else wrong)
        if kind == "huge":
            huge = "".join(rng.choices("abc ", k=self.HUGE))
            return json.dumps(self._replace(value, huge)) if rng.random() < 0.7 else huge
        if kind in {"surrogate_escape", "surrogate_text"}:
            spoiled = self._replace(value, rng.choice(["\ud800", "\udfff", "x\udc00y"]))
            # json.dumps writes the escape; ensure_ascii=False leaves the character raw
            return json.dumps(spoiled, ensure_ascii=kind == "surrogate_escape")
        if kind == "unknown_tool":
            call = {
                "tool": rng.choice(["no_such_tool", "rm", "", "python\x00"]),
                "arguments": {"x": 1},
            }
            return json.dumps(
                {**value, **call} if isinstance(value, dict) and "tool" in value else call
            )
        if kind == "invalid_action":
            action = rng.choice(self.ACTIONS)
            if isinstance(value, dict) and value:
                return json.dumps(
                    {**value, "command" if "command" in value else rng.choice(list(value)): action}
                )
            return json.dumps(action)
        if kind == "empty":
            return rng.choice(["", " ", "\n\n", "{}", "``````"])
        if kind == "nested":
            if rng.random() < 0.5:  # past what a JSON parser's recursion takes
                depth = rng.choice([5_000, 100_000])
                return "[" * depth + "]" * depth
            deep: Any = "bottom"
            for _ in range(300):  # past what pydantic's and msgpack's encoders take (255)
                deep = {"a": deep}
            return json.dumps(self._replace(value, deep))
        return rng.choice(self.PROSE)

    def _replace(self, value: Any, new: Any) -> Any:
        """A copy of ``value`` with one value inside it (or itself) set to ``new``."""
        if isinstance(value, dict) and value and self.rng.random() < 0.9:
            key = self.rng.choice(list(value))
            return {**value, key: self._replace(value[key], new)}
        if isinstance(value, list) and value and self.rng.random() < 0.9:
            at = self.rng.randrange(len(value))
            return [*value[:at], self._replace(value[at], new), *value[at + 1 :]]
        return new

    def _valid(self, node: Any, defs: dict[str, Any], words: list[str], depth: int) -> Any:
        """A random value valid for the JSON schema ``node`` (pydantic's dialect); often at a limit."""
        rng = self.rng
        if not isinstance(node, dict) or depth > 12:
            return None
        if "$ref" in node:
            return self._valid(
                defs.get(str(node["$ref"]).rsplit("/", 1)[-1]), defs, words, depth + 1
            )
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return rng.choice(node["enum"])
        for key in ("anyOf", "oneOf"):
            if key in node:
                return self._valid(rng.choice(node[key]), defs, words, depth + 1)
        kind = rng.choice(node["type"]) if isinstance(node.get("type"), list) else node.get("type")
        if kind == "object" or "properties" in node:
            props, required = node.get("properties", {}), set(node.get("required", ()))
            out = {
                k: self._valid(v, defs, words, depth + 1)
                for k, v in props.items()
                if k in required or rng.random() < 0.5
            }
            extra = node.get("additionalProperties", not props)
            if extra is not False:  # a free-keyed mapping: a few keys from the prompt
                item = extra if isinstance(extra, dict) else {"type": "string"}
                out.update(
                    {
                        rng.choice(words): self._valid(item, defs, words, depth + 1)
                        for _ in range(rng.randint(0, 2))
                    }
                )
            return out
        if kind == "array":
            low, high = node.get("minItems", 0), node.get("maxItems")
            # half as short as allowed (fewer ways to be wrong), some as long as allowed
            n = rng.choice([low, low, low + 1, low + 2, high if high is not None else low + 3])
            return [self._valid(node.get("items", {}), defs, words, depth + 1) for _ in range(n)]
        if kind in ("integer", "number"):
            low = node.get("minimum", node.get("exclusiveMinimum", -1) + 1)
            high = node.get("maximum", node.get("exclusiveMaximum", low + 11) - 1)
            return rng.randint(int(low), max(int(low), int(high)))
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        low, high = node.get("minLength", 0), node.get("maxLength")
        text = " ".join(rng.choices(words, k=rng.choice([1, 1, 2, 5])))
        if high is not None and rng.random() < 0.2:
            text = (text + " ") * (high // (len(text) + 1) + 1)  # as long as it may be
        return text.ljust(low, ".")[: high if high is not None else len(text) + low]
