"""What the two remote backends (openai, litellm) share: request options,
structured-output modes and the mapping of transport errors."""

from __future__ import annotations

from typing import Any, Literal

from dramaturg.errors import ConfigError, ModelConnectionError, ModelError, ModelOutputError
from dramaturg.models._text import clean_text
from dramaturg.models.base import Completion, Usage

__all__ = ["StructuredMode", "build_request", "completion_from", "response_format", "to_model_error"]

# json_schema: OpenAI, vLLM, llama.cpp's C++ server. json_object: llama-cpp-python's
# server (it takes {"type": "json_object", "schema": ...}). prompt: instruction only.
# auto: try json_schema, and on a 400/422 about response_format fall back to json_object.
StructuredMode = Literal["auto", "json_schema", "json_object", "prompt"]
_PASSTHROUGH = ("max_tokens", "temperature", "top_p", "stop", "seed")
# response_model: the pydantic class behind json_schema (the local backend uses it).
_KNOWN = {*_PASSTHROUGH, "json_schema", "response_model", "caller", "responder", "attempt", "timeout", "raw",
          "repeat_penalty"}


def response_format(schema: dict[str, Any], mode: str) -> dict[str, Any] | None:
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    if mode == "prompt":
        return None
    return {
        "type": "json_schema",
        "json_schema": {"name": str(schema.get("title", "answer"))[:64], "schema": schema, "strict": False},
    }


def build_request(messages: list[dict[str, Any]], opts: dict[str, Any], mode: str) -> dict[str, Any]:
    unknown = set(opts) - _KNOWN
    if unknown:
        raise ConfigError(f"unknown option(s): {sorted(unknown)}; known: {sorted(_KNOWN)}")
    if opts.get("raw"):  # a text completion (/v1/completions): the contents are the prompt
        if opts.get("json_schema") is not None:
            raise ConfigError("raw=True continues text; it cannot be combined with json_schema")
        request: dict[str, Any] = {"prompt": "".join(str(m["content"]) for m in messages)}
    else:
        request = {"messages": messages}
    for key in _PASSTHROUGH:
        if opts.get(key) is not None:
            request[key] = opts[key]
    if opts.get("repeat_penalty") is not None:  # llama.cpp's server reads it from the body; OpenAI has none
        request["extra_body"] = {"repeat_penalty": float(opts["repeat_penalty"])}
    attempt = int(opts.get("attempt") or 0)
    if attempt > 0:  # a retry: another seed, and no greedy decoding that would repeat the last answer
        request["seed"] = int(opts.get("seed") or 0) + 1009 * attempt
        request["temperature"] = max(float(opts.get("temperature") or 0.0), 0.2 + 0.2 * attempt)
    if opts.get("timeout"):
        request["timeout"] = float(opts["timeout"])
    schema = opts.get("json_schema")
    if schema is not None:
        fmt = response_format(schema, mode)
        if fmt is not None:
            request["response_format"] = fmt
    return request


def is_response_format_rejection(exc: BaseException) -> bool:
    """True when a server refused the json_schema response format itself.

    OpenAI-style servers answer 400 or 422; llama-cpp-python's server wraps
    its request validation error in a 500.
    """
    status = getattr(exc, "status_code", None)
    return status in (400, 422, 500) and "response_format" in str(exc)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from (openai nests five deep)."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 16:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def to_model_error(exc: BaseException, endpoint: str, model: str) -> ModelError:
    """Translate an openai/litellm/httpx exception into one of ours, naming the endpoint."""
    name = type(exc).__name__
    text = str(exc)
    status = getattr(exc, "status_code", None)
    causes = _chain(exc)
    chain = " ".join(f"{type(c).__name__} {c}" for c in causes).lower()
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "connection refused" in chain:
        return ModelConnectionError(
            f"cannot connect to the model server at {endpoint} (connection refused). "
            f"Is the server running and listening on that address?",
            endpoint=endpoint,
        )
    if "timeout" in name.lower() or "timed out" in chain:
        return ModelConnectionError(f"the model server at {endpoint} timed out", endpoint=endpoint, transient=True)
    if status == 401 or "authentication" in name.lower():
        return ModelConnectionError(
            f"the model server at {endpoint} rejected the credentials (401); check the API key",
            endpoint=endpoint,
        )
    if status == 404 or name == "NotFoundError":
        return ModelConnectionError(
            f"model {model!r} was not found at {endpoint} (404); check the model name", endpoint=endpoint
        )
    if status == 429 or "ratelimit" in name.lower():
        return ModelConnectionError(f"rate limited by {endpoint} (429)", endpoint=endpoint, transient=True)
    if (isinstance(status, int) and status >= 500) or name in {
        "InternalServerError", "ServiceUnavailableError", "APIConnectionError",
    }:
        return ModelConnectionError(
            f"the model server at {endpoint} failed: {text[:300]}", endpoint=endpoint, transient=True
        )
    return ModelError(f"the model server at {endpoint} refused the request: {name}: {text[:500]}")


def token_counts(response: Any) -> tuple[int, int, int]:
    """``(prompt, completion, cached prompt)`` tokens of an OpenAI-shaped response."""
    usage = getattr(response, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    return (
        getattr(usage, "prompt_tokens", 0) or 0,
        getattr(usage, "completion_tokens", 0) or 0,
        getattr(details, "cached_tokens", 0) or 0,
    )


def completion_from(response: Any, *, latency_s: float, model: str, cost_usd: float | None) -> Completion:
    """A :class:`Completion` from an OpenAI-shaped chat response (openai or litellm)."""
    if not response.choices:
        raise ModelOutputError("the server returned no choices", raw="")
    choice = response.choices[0]
    prompt_t, completion_t, cached = token_counts(response)
    message = getattr(choice, "message", None)
    text = message.content if message is not None else getattr(choice, "text", None)  # chat or text completion
    return Completion(
        text=clean_text(text or ""),
        usage=Usage(prompt_tokens=prompt_t, completion_tokens=completion_t, cached_prompt_tokens=cached,
                    cost_usd=cost_usd),
        latency_s=latency_s,
        finish_reason=choice.finish_reason or "stop",
        model=getattr(response, "model", None) or model,
    )
