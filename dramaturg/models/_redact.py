"""Scrubbing secrets out of text that is written to disk (traces, logs)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

__all__ = ["Redactor"]

_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
# Well-known key shapes: OpenAI/Anthropic-style sk-..., bearer tokens, AWS ids, Google keys.
_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._\-]{16,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"hf_[A-Za-z0-9]{30,}"),
]
MASK = "[REDACTED]"


class Redactor:
    """Replaces known secret values and key-shaped strings with ``[REDACTED]``.

    Known values are those passed in plus the values of environment variables
    whose names mention KEY, TOKEN, SECRET or PASSWORD (read when the
    redactor is created), if at least 8 characters long.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if s and len(s) >= 8}
        values.update(v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 8)
        # Traces are JSON: a secret with quotes or backslashes appears escaped there.
        values.update(json.dumps(v)[1:-1] for v in list(values))
        # Longest first, so a secret that contains another is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(MASK, text)
        return text
