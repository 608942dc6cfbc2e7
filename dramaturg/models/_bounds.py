"""Limits for the parts of a JSON schema that set none.

A small model decoding under a grammar can fill an unbounded list or string
until the token limit (``"words": ["Hamlet", "Hamlet", ...]``), and a retry
under the same grammar at the same temperature does the same again. So the
local backend decodes against a *bounded* copy of the schema: every array
without ``maxItems`` gets one, every free string without ``maxLength`` gets
one, every open object (a ``dict`` field) gets ``maxProperties``. Limits the
schema sets itself are kept as they are. Each retry halves the added limits,
so an attempt that ran into them is not repeated.

Validation still uses the caller's own schema: the bounds only shape what
the model can write.

Example:
    >>> bound_schema({"type": "array", "items": {"type": "string"}}, max_items=8, max_length=200)
    {'type': 'array', 'items': {'type': 'string', 'maxLength': 200}, 'maxItems': 8}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Bounds", "bound_schema"]

# A string whose shape is already fixed needs no length limit.
_SHAPED = ("enum", "const", "format", "pattern")
# Where JSON schema nests schemas: maps of name -> schema, lists of schemas, single schemas.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class Bounds:
    """The limits added to unbounded parts of a schema (see :func:`bound_schema`).

    Attributes:
        max_items: ``maxItems`` for arrays, ``maxProperties`` for open objects.
        max_length: ``maxLength`` (characters) for free strings.
    """

    max_items: int = 8
    max_length: int = 200

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.max_length < 1:
            raise ValueError(
                f"bounds must be at least 1, got max_items={self.max_items}, "
                f"max_length={self.max_length}"
            )

    def tightened(self, attempt: int) -> Bounds:
        """The bounds for retry number ``attempt`` (0 = first try): halved each time, never below 2 / 16."""
        if attempt <= 0:
            return self
        return Bounds(
            max_items=max(2, self.max_items >> attempt),
            max_length=max(16, self.max_length >> attempt),
        )


def bound_schema(schema: dict[str, Any], *, max_items: int, max_length: int) -> dict[str, Any]:
    """A copy of ``schema`` where every unbounded array, free string and open object has a limit."""

    def visit(node: Any, depth: int) -> Any:
        if depth > 64 or not isinstance(node, dict):
            return node
        out = dict(node)
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):  # name -> schema
                out[key] = {name: visit(sub, depth + 1) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [visit(sub, depth + 1) for sub in value]
            elif key in _SCHEMA_VALUES:
                out[key] = visit(value, depth + 1)
        kinds = out.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if ("array" in kinds or isinstance(out.get("items"), dict)) and "maxItems" not in out:
            out["maxItems"] = max(max_items, _int(out.get("minItems")))
        if "string" in kinds and "maxLength" not in out and not any(k in out for k in _SHAPED):
            out["maxLength"] = max(max_length, _int(out.get("minLength")))
        if (
            "object" in kinds
            and out.get("additionalProperties", False) is not False
            and "maxProperties" not in out
        ):
            out["maxProperties"] = max(max_items, _int(out.get("minProperties")))
        return out

    bounded: dict[str, Any] = visit(schema, 0)
    return bounded
