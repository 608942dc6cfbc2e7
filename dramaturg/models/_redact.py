"""Scrubbing secrets out of text that is written to disk (traces, logs) and out of model specs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

__all__ = ["Redactor", "is_secret_option", "redact_spec", "restore_spec", "same_spec"]

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
        values.update(
            v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 8
        )
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


# ------------------------------------------------------------------ model specs
# Option names (query string of a spec) that hold secrets, as words of the name:
# api_key, apiKey, x-api-key, access_token, client_secret, password... but not max_tokens.
_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "signature",
        "sig",
    }
)
_OPTION = re.compile(r"(?P<lead>[?&;])(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&;#\s'\"]*)")
# For comparing: a value ends at ")" too, so a spec inside a label ("react (openai:...)") keeps its paren.
_OPTION_IN_TEXT = re.compile(r"(?P<lead>[?&;])(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&;#\s'\")]*)")
_USERINFO = re.compile(
    r"(?P<lead>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s'\"]*:)(?P<password>[^@/\s'\"]+)(?=@)"
)


def is_secret_option(name: str) -> bool:
    """Whether a spec option by this name holds a secret (``api_key``, ``X-Api-Key``, ``token``...)."""
    words = re.split(r"[_.\-]+|(?<=[a-z])(?=[A-Z])", name)
    return any(w.lower() in _SECRET_WORDS for w in [*words, re.sub(r"[_.\-]", "", name)])


def redact_spec(spec: str | None) -> str | None:
    """``spec`` (or any text holding specs, such as a command line) with its secrets masked.

    The values of secret-like options (see :func:`is_secret_option`), a
    password in a URL (``https://user:pw@host``) and key-shaped strings
    (``sk-...``, ``hf_...``) become ``[REDACTED]``. Everything that stores or
    shows a model spec (session and run files, reports, the terminal) passes
    it through here first.

    Example:
        >>> redact_spec("openai:http://127.0.0.1:8080/v1#gemma?api_key=abc&max_tokens=9")
        'openai:http://127.0.0.1:8080/v1#gemma?api_key=[REDACTED]&max_tokens=9'
    """
    if not spec:
        return spec

    def option(m: re.Match[str]) -> str:
        if not m["value"] or m["value"].startswith(MASK) or not is_secret_option(m["name"]):
            return m[0]  # nothing to mask, or masked already (keep what follows it, like a ")")
        return f"{m['lead']}{m['name']}={MASK}"

    text = _USERINFO.sub(lambda m: m["lead"] + MASK, _OPTION.sub(option, spec))
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def _identity(spec: str) -> tuple[str, list[str]]:
    """What two specs must share to name the same model: all but their secrets (and option order)."""
    text = redact_spec(spec) or ""
    options = sorted(
        m[0][1:] for m in _OPTION_IN_TEXT.finditer(text) if not is_secret_option(m["name"])
    )
    return _OPTION_IN_TEXT.sub("", text), options


def same_spec(a: str | None, b: str | None) -> bool:
    """Whether two specs name the same model, whatever their secrets (``api_key=...`` or none)."""
    if not a or not b:
        return a == b
    return _identity(a) == _identity(b)


def restore_spec(
    stored: str | None, given: str | None = None, *, how: str = "--model SPEC"
) -> str | None:
    """The spec to load when resuming from ``stored``, a spec written with :func:`redact_spec`.

    A stored spec without masked secrets is used as it is (unless ``given``
    names the same model, then ``given`` wins: it may carry a fresh key).
    Otherwise the secret must come back from outside the file: ``given`` (the
    spec passed again) or ``$DRAMATURG_MODEL``, if either names the same model
    (:func:`same_spec`; without the secret option it is fine too: the backend
    then reads its own variable, such as ``OPENAI_API_KEY``).

    Raises:
        ConfigError: the stored spec had secrets and nothing names that model
            again; the message says how to pass it (``how``).
    """
    from dramaturg.errors import ConfigError

    for candidate in (given, os.environ.get("DRAMATURG_MODEL")):
        if candidate and stored and same_spec(candidate, stored):
            return candidate
    if stored is None or MASK not in stored:
        return stored
    raise ConfigError(
        f"the saved model spec {stored!r} had secrets, which are never written to disk; give the spec "
        f"again with them ({how}) or set DRAMATURG_MODEL to it. A key the backend reads from its own "
        "environment variable (OPENAI_API_KEY, ...) need not be in the spec at all."
    )
