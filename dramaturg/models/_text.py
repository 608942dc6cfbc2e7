"""Text a model wrote that no encoder accepts."""

from __future__ import annotations

import re

__all__ = ["clean_text", "has_surrogates"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (U+D800..U+DFFF), which UTF-8 cannot encode."""
    return _SURROGATE.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the replacement character)."""
    return _SURROGATE.sub("\ufffd", text)
