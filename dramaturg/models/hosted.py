"""`LiteLLMModel`: any hosted provider (OpenAI, Anthropic, Gemini, Bedrock,
...) or server litellm knows, through ``litellm``.

litellm fetches a model price map from the internet at import unless told
not to; this module tells it to use the copy bundled in the wheel, so
importing it never touches the network.

Example:
    >>> model = LiteLLMModel("openai/gpt-4o-mini")                  # doctest: +SKIP
    >>> model.complete_sync([user("Say hello")]).text                # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from dramaturg.errors import MissingExtraError
from dramaturg.models._remote import (
    StructuredMode,
    build_request,
    completion_from,
    dropped_connection,
    is_response_format_rejection,
    to_model_error,
)
from dramaturg.models.base import BaseChatModel, Completion, Message, ModelKind, check_kind

__all__ = ["LiteLLMModel"]


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:
        raise MissingExtraError("litellm", "hosted", "The litellm backend") from None
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


class LiteLLMModel(BaseChatModel):
    """A model addressed the litellm way, ``provider/model``.

    Args:
        model: e.g. ``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``,
            or ``openai/<name>`` with ``api_base`` for a compatible server.
        api_base: the endpoint, for self-hosted servers.
        api_key: default: the provider's usual environment variable.
        timeout_s: per-request timeout.
        structured: as for :class:`~dramaturg.models.OpenAIModel`.
        kind: ``"instruct"`` (the default) or ``"base"`` (``?kind=base``);
            a base model's roles continue text through litellm's text completion.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        structured: StructuredMode = "auto",
        kind: ModelKind = "instruct",
    ) -> None:
        self.kind = check_kind(kind)
        self._litellm = _import_litellm()
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.structured_mode: str = structured
        self._dropped = False  # the server closed a connection mid-request (see to_model_error)
        self.secrets = (api_key,) if api_key else ()
        self.name = f"litellm:{model}"

    @property
    def endpoint(self) -> str:
        return self.api_base or f"the {self.model.split('/', 1)[0]} provider"

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        mode = "json_schema" if self.structured_mode == "auto" else self.structured_mode
        request = build_request([dict(m) for m in messages], opts, mode)
        if self.api_base:
            request["api_base"] = self.api_base
        if self.api_key:
            request["api_key"] = self.api_key
        request.setdefault("timeout", self.timeout_s)  # a call's own timeout= wins
        started = time.perf_counter()
        try:
            if "prompt" in request:
                response = await self._litellm.atext_completion(
                    model=self.model, num_retries=0, **request
                )
            else:
                response = await self._litellm.acompletion(
                    model=self.model, num_retries=0, **request
                )
        except Exception as exc:
            if (
                self.structured_mode == "auto"
                and "response_format" in request
                and is_response_format_rejection(exc)
            ):
                self.structured_mode = "json_object"
                return await self.complete(messages, **opts)
            error = to_model_error(exc, self.endpoint, self.model, dropped_before=self._dropped)
            self._dropped = self._dropped or dropped_connection(exc)
            raise error from exc
        self._dropped = False
        latency = time.perf_counter() - started
        try:
            cost = float(self._litellm.completion_cost(completion_response=response))
        except (
            Exception
        ):  # unknown price (self-hosted model): report no cost rather than a wrong one
            cost = None
        return completion_from(
            response,
            latency_s=latency,
            model=self.model,
            cost_usd=cost,
            json_schema=opts.get("json_schema") if "response_format" in request else None,
        )
