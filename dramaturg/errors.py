"""The one exception hierarchy of dramaturg.

Two kinds of error, kept apart on purpose:

* Errors the **model** caused (bad JSON, unknown tool, illegal action) are
  :class:`ModelOutputError` and friends. Graph nodes turn them into feedback
  for a bounded retry; they never crash a graph.
* Errors the **developer** caused (a bad model spec, a missing extra, a
  broken file) raise at once, with the fix in the message.

Everything derives from :class:`DramaturgError`, so ``except DramaturgError``
catches every failure the package raises on purpose.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "DramaturgError",
    "MissingExtraError",
    "ModelConnectionError",
    "ModelError",
    "ModelOutputError",
    "RetryBudgetExceeded",
    "ScriptError",
    "UntrustedContentWarning",
    "validation_issues",
]


class DramaturgError(Exception):
    """Base class of every error dramaturg raises on purpose."""


class ConfigError(DramaturgError, ValueError):
    """The developer asked for something that cannot work; the message says how to fix it."""


class MissingExtraError(DramaturgError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package, which is not installed. "
            f'Install it with: pip install "dramaturg[{extra}]"'
        )
        self.package = package
        self.extra = extra


class ModelError(DramaturgError):
    """Base class for failures while talking to a model."""


class ModelConnectionError(ModelError, ConnectionError):
    """A model endpoint could not be reached or failed. The message names the endpoint.

    ``transient`` is true for failures worth retrying (timeouts, rate limits,
    server errors), false for ones that will not go away (connection refused,
    bad credentials, unknown model).
    """

    def __init__(
        self, message: str, *, endpoint: str | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.transient = transient


class ModelOutputError(ModelError):
    """The model answered, but the answer is unusable (malformed or invalid).

    Attributes:
        raw: the model's raw text (truncated to 2,000 characters for display).
        feedback: a short explanation meant to be shown back to the model.
        kind: what went wrong: ``"invalid"`` (not JSON, or not the schema),
            ``"truncated"`` (cut off at the token limit), ``"loop"`` (the
            model repeated itself), ``"timeout"`` (the attempt ran past its
            time budget).
        field: the schema field where it went wrong, when known (``words``,
            ``subtasks[2].description``).
    """

    def __init__(
        self, feedback: str, *, raw: str = "", kind: str = "invalid", field: str | None = None
    ) -> None:
        shown = raw if len(raw) <= 200 else raw[:200] + f"... [{len(raw)} characters]"
        super().__init__(f"{feedback} (model answered: {shown!r})")
        self.feedback = feedback
        self.raw = raw[:2000]
        self.kind = kind
        self.field = field


class RetryBudgetExceeded(ModelOutputError):
    """Every attempt produced unusable output.

    ``errors`` lists each attempt's feedback; ``fields`` the schema fields
    that went wrong (looped, ran long or failed validation), most recent last.
    """

    def __init__(
        self,
        errors: list[str],
        *,
        raw: str = "",
        kinds: list[str] | None = None,
        fields: list[str] | None = None,
    ) -> None:
        self.errors = list(errors)
        self.kinds = list(kinds or [])
        self.fields = [f for f in dict.fromkeys(fields or []) if f]
        where = f" (field {', '.join(repr(f) for f in self.fields)})" if self.fields else ""
        super().__init__(
            f"no valid answer after {len(errors)} attempt(s){where}; last error: {errors[-1] if errors else '?'}",
            raw=raw,
            kind=self.kinds[-1] if self.kinds else "invalid",
            field=self.fields[-1] if self.fields else None,
        )


class ScriptError(DramaturgError, AssertionError):
    """A :class:`~dramaturg.models.ScriptedModel` got a call its script did not expect,
    or finished with answers left unconsumed."""


class UntrustedContentWarning(UserWarning):
    """Text from a character card, a web page or a tool looks like a prompt injection.

    It still reaches the model, fenced and labelled as content; the warning
    is for the person running it. ``warnings.simplefilter("error",
    UntrustedContentWarning)`` turns it into a refusal.
    """


def validation_issues(exc: Any) -> list[str]:
    """One ``field.path: message`` line per problem of a pydantic ``ValidationError``.

    A validator's message may hold several lines (a cross-reference check
    listing each bad reference); each becomes its own issue.
    """
    out = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        for line in err["msg"].removeprefix("Value error, ").splitlines():
            out.append(f"{where}: {line}" if where else line)
    return out
