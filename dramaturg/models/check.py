"""A model's smoke test: load it, one structured call, one timed completion, its speed.

``dramaturg models check`` prints what :func:`check_model` returns.

Example:
    >>> report = check_model("openai:http://127.0.0.1:8080/v1#gemma")  # doctest: +SKIP
    >>> report.to_json()["generated_tokens_per_s"]  # doctest: +SKIP
    41.7
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from dramaturg.models._redact import redact_spec
from dramaturg.models.base import Message
from dramaturg.models.loader import default_spec, load_model

__all__ = ["ModelCheck", "check_model"]

#: The caller name the check's calls are counted under in the model's usage.
CALLER = "models-check"


class _Place(BaseModel):
    """The schema the check asks for: an enum, a nested object and a list."""

    city: str = Field(max_length=40)
    country: str = Field(max_length=40)
    continent: Literal["Africa", "Asia", "Europe", "North America", "South America", "Oceania"]
    landmarks: list[str] = Field(max_length=3)


_CHECK_PROMPT: list[Message] = [
    {"role": "system", "content": "Facts about capital cities, as JSON."},
    {"role": "user", "content": "Rome"},
    {
        "role": "assistant",
        "content": '{"city": "Rome", "country": "Italy", "continent": "Europe", '
        '"landmarks": ["Colosseum", "Pantheon"]}',
    },
    {"role": "user", "content": "Tokyo"},
    {
        "role": "assistant",
        "content": '{"city": "Tokyo", "country": "Japan", "continent": "Asia", '
        '"landmarks": ["Tokyo Tower"]}',
    },
    {"role": "user", "content": "Paris"},
]

_STORY = (
    "A story told by the fire. In a kingdom by the sea there lived an old clockmaker who had built a "
    "clock for every house in the town except his own. Each evening the children came to his shop to "
    "hear the clocks strike together, and each evening he told them about the one clock he had never "
    "finished: a clock that would strike only when someone in the town told the whole truth. One winter "
    "night a stranger in a grey coat knocked at the door, carrying a small wooden box and a letter "
    "sealed with black wax. He said the letter was for the clockmaker alone, and that it must be read "
    "before the first snow fell on the harbour."
)


@dataclass(kw_only=True)
class ModelCheck:
    """What :func:`check_model` found. Specs and names have their secrets masked.

    A speed is ``None`` where it cannot be known: without a time to first
    token the prompt's share of the latency is unknown.
    """

    spec: str
    backend: str
    model: str
    load_s: float
    structured: dict[str, Any]
    prompt_tokens_per_s: float | None
    generated_tokens_per_s: float | None
    usage: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data, times and speeds rounded."""
        return {
            "spec": self.spec,
            "backend": self.backend,
            "model": self.model,
            "load_s": round(self.load_s, 3),
            "structured": self.structured,
            "prompt_tokens_per_s": _round(self.prompt_tokens_per_s),
            "generated_tokens_per_s": _round(self.generated_tokens_per_s),
            "usage": self.usage,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _quiet(what: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def check_model(
    spec: str | None = None,
    *,
    status: Callable[[str], AbstractContextManager[object]] = _quiet,
) -> ModelCheck:
    """Load a model, run one structured call, and measure its speed on a story.

    Args:
        spec: a model spec (default ``$DRAMATURG_MODEL`` or ``local``).
        status: called with what is being done (``loading ...``, ``one
            structured call ...``, ``measuring speed ...``); the context
            manager it returns spans that step (a spinner, say).

    Raises:
        DramaturgError: the model did not load or a call failed.
    """
    spec = default_spec(spec)
    started = time.perf_counter()
    chat = load_model(spec)
    loader = getattr(chat, "load", None)
    with status(f"loading {redact_spec(spec)} ..."):
        if callable(loader):
            loader()
    load_s = time.perf_counter() - started
    with status("one structured call ..."):
        answer = chat.structured_sync(_CHECK_PROMPT, _Place, caller=CALLER)
    with status("measuring speed ..."):
        speed = chat.complete_sync(
            [
                {"role": "system", "content": _STORY},
                {"role": "user", "content": "Go on with the story."},
            ],
            max_tokens=64,
            temperature=0.7,
            caller=CALLER,
        )
    gen = speed.usage.completion_tokens
    # Without a time to first token (a server that does not stream or report timings) the prompt's
    # share of the latency is unknown: prompt speed is n/a, and the generation speed counts the
    # whole call.
    prompt_tps: float | None = None
    gen_tps: float | None = None
    if speed.ttft_s:
        prompt_tps = speed.usage.prompt_tokens / speed.ttft_s
        gen_tps = max(gen - 1, 0) / max(speed.latency_s - speed.ttft_s, 1e-9)
    elif speed.latency_s > 0:
        gen_tps = gen / speed.latency_s
    usage = getattr(chat, "usage", None)
    return ModelCheck(
        spec=redact_spec(spec) or "",
        backend=spec.split(":", 1)[0].split("?", 1)[0],
        model=redact_spec(chat.name) or "",
        load_s=load_s,
        structured=answer.model_dump(),
        prompt_tokens_per_s=prompt_tps,
        generated_tokens_per_s=gen_tps,
        usage=usage.as_dict() if usage is not None else {},
    )
