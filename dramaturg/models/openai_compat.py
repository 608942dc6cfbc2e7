"""`OpenAIModel`: any OpenAI-compatible server (vLLM, llama.cpp's server,
Ollama, OpenAI itself) through the official ``openai`` client.

Example:
    >>> model = OpenAIModel("http://127.0.0.1:8080/v1", "gemma")   # doctest: +SKIP
    >>> model.complete_sync([user("Say hello")]).text                # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from dramaturg.models._remote import (
    StructuredMode,
    build_request,
    completion_from,
    dropped_connection,
    is_response_format_rejection,
    to_model_error,
    token_counts,
)
from dramaturg.models.base import BaseChatModel, Completion, Message, ModelKind, check_kind

__all__ = ["OpenAIModel"]


class OpenAIModel(BaseChatModel):
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080/v1``.
        model: the model name the server expects.
        api_key: default ``$OPENAI_API_KEY``, else a placeholder (local
            servers do not check it). Never written to traces.
        timeout_s: per-request timeout.
        structured: how ``json_schema`` is sent; ``auto`` tries OpenAI's
            ``json_schema`` response format and falls back to the
            ``json_object`` + schema form that llama-cpp-python's server takes.
        price_per_mtok: ``(input, output)`` USD per million tokens, to report cost.
        kind: ``"instruct"`` (the default: chat models) or ``"base"`` for a
            base model behind the server (``openai:URL#name?kind=base``); a base
            model's roles continue text through ``/v1/completions``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        structured: StructuredMode = "auto",
        price_per_mtok: tuple[float, float] | None = None,
        kind: ModelKind = "instruct",
    ) -> None:
        self.kind = check_kind(kind)
        try:
            import openai
        except ImportError:  # pragma: no cover - a core dependency
            from dramaturg.errors import MissingExtraError

            raise MissingExtraError("openai", "openai", "The openai backend") from None
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}#{model}"
        key = api_key or os.environ.get("OPENAI_API_KEY") or "sk-no-key-required"
        self.secrets = (key,)
        self.structured_mode: str = structured
        self._dropped = False  # the server closed a connection mid-request (see to_model_error)
        self.price_per_mtok = price_per_mtok
        # The client's own retries are off: RetryingModel owns retry policy.
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=key, timeout=timeout_s, max_retries=0
        )

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        mode = "json_schema" if self.structured_mode == "auto" else self.structured_mode
        request = build_request([dict(m) for m in messages], opts, mode)
        started = time.perf_counter()
        try:
            if "prompt" in request:
                response = await self._client.completions.create(model=self.model, **request)
            else:
                response = await self._client.chat.completions.create(model=self.model, **request)
        except Exception as exc:
            if (
                self.structured_mode == "auto"
                and "response_format" in request
                and is_response_format_rejection(exc)
            ):
                self.structured_mode = "json_object"  # remember for this server
                return await self.complete(messages, **opts)
            error = to_model_error(exc, self.base_url, self.model, dropped_before=self._dropped)
            self._dropped = self._dropped or dropped_connection(exc)
            raise error from exc
        self._dropped = False
        latency = time.perf_counter() - started
        cost = None
        if self.price_per_mtok is not None:
            prompt_t, completion_t, _ = token_counts(response)
            cost = (prompt_t * self.price_per_mtok[0] + completion_t * self.price_per_mtok[1]) / 1e6
        return completion_from(
            response,
            latency_s=latency,
            model=self.model,
            cost_usd=cost,
            json_schema=opts.get("json_schema") if "response_format" in request else None,
        )
