"""What the two remote backends (openai, litellm) share: request options,
structured-output modes and the mapping of transport errors."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal

from dramaturg.errors import ConfigError, ModelConnectionError, ModelError, ModelOutputError
from dramaturg.models._bounds import _SCHEMA_LISTS, _SCHEMA_MAPS, _SCHEMA_VALUES
from dramaturg.models._text import clean_text
from dramaturg.models.base import Completion, Usage

__all__ = [
    "StructuredMode",
    "build_request",
    "completion_from",
    "dropped_connection",
    "response_format",
    "restore_stand_ins",
    "server_schema",
    "to_model_error",
]

# json_schema: OpenAI, vLLM, llama.cpp's C++ server. json_object: llama-cpp-python's
# server (it takes {"type": "json_object", "schema": ...}). prompt: instruction only.
# auto: try json_schema, and on a 400/422 about response_format fall back to json_object.
StructuredMode = Literal["auto", "json_schema", "json_object", "prompt"]
_PASSTHROUGH = ("max_tokens", "temperature", "top_p", "stop", "seed")
# response_model: the pydantic class behind json_schema (the local backend uses it).
_KNOWN = {
    *_PASSTHROUGH,
    "json_schema",
    "response_model",
    "caller",
    "responder",
    "attempt",
    "timeout",
    "raw",
    "repeat_penalty",
}


# ---------------------------------------------------------------- a schema every server's grammar takes

# llama-cpp-python's server turns a schema into a llama.cpp grammar with a converter that does not
# escape the backslash its own json.dumps writes: an enum value with a quote (`say "<line>"`) makes
# a broken grammar, and the server then crashes in libllama while sampling. Its patterns are read
# as raw JSON text, so a quote in one ends the JSON string. So the schema a server gets has a
# stand-in for each character JSON escapes (quote, backslash, control characters) in its enum and
# const values, property names and patterns; the answer gets them back, as JSON escapes, before it
# is validated against the caller's own schema. (A schema that uses the stand-ins itself, rare as
# they are, gets its own ones turned into the characters they stand for: a wrong answer, retried.)
_STAND_IN = {'"': "\uff02", "\\": "\uff3c", **{chr(c): chr(0x2400 + c) for c in range(32)}}
_ESCAPE_OF = {v: json.dumps(k)[1:-1] for k, v in _STAND_IN.items()}
_STAND_INS = re.compile("[" + "".join(_ESCAPE_OF) + "]")
# What neither a pattern's "." nor its negated classes may let through: raw, they break the string.
_JSON_ESCAPED_CLASS = '"\\\\\\x00-\\x1f'
_REGEX_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _swap(text: str) -> str:
    return "".join(_STAND_IN.get(c, c) for c in text)


def _safe_pattern(pattern: str) -> str:
    """``pattern`` with stand-ins for quotes, backslashes and control characters, and with
    ``.`` and negated classes that let none of those through raw."""
    out: list[str] = []
    i, in_class, negated, first = 0, False, False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            meant = _REGEX_ESCAPES.get(pattern[i + 1], pattern[i + 1])
            out.append(_STAND_IN[meant] if meant in _STAND_IN else pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and i > first:  # a "]" first in a class is one of its members
                in_class = False
                if negated:
                    out.append(_JSON_ESCAPED_CLASS)
        elif c == "[":
            in_class, negated = True, pattern[i + 1 : i + 2] == "^"
            first = i + 1 + negated
        elif c == ".":
            c = f"[^{_JSON_ESCAPED_CLASS}]"
        out.append(_STAND_IN.get(c, c))
        i += 1
    return "".join(out)


def _safe(node: Any, depth: int = 0) -> Any:
    if depth > 64 or not isinstance(node, dict):
        return node
    out = dict(node)
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(
            value, dict
        ):  # property names are written in the answer
            out[key] = {
                (_swap(name) if key == "properties" else name): _safe(sub, depth + 1)
                for name, sub in value.items()
            }
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_safe(sub, depth + 1) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = _safe(value, depth + 1)
    if isinstance(out.get("enum"), list):
        out["enum"] = [_swap(v) if isinstance(v, str) else v for v in out["enum"]]
    if isinstance(out.get("const"), str):
        out["const"] = _swap(out["const"])
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _safe_pattern(out["pattern"])
    if isinstance(out.get("required"), list):
        out["required"] = [_swap(v) if isinstance(v, str) else v for v in out["required"]]
    return out


@functools.lru_cache(maxsize=256)
def _server_schema(key: str) -> tuple[str, bool]:
    schema = json.loads(key)
    safe = _safe(schema)
    return json.dumps(safe), safe != schema


def server_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` as a server gets it (a new dict), with stand-ins for the characters JSON escapes.

    >>> server_schema({"enum": ['say "<line>"', "look"]})
    {'enum': ['say \uff02<line>\uff02', 'look']}
    """
    out: dict[str, Any] = json.loads(_server_schema(json.dumps(schema))[0])
    return out


def restore_stand_ins(text: str, schema: dict[str, Any] | None) -> str:
    """An answer to :func:`server_schema` as the answer to ``schema`` itself: each stand-in
    becomes the JSON escape of the character it stands for.

    >>> restore_stand_ins('{"command": "say \uff02hi\uff02"}', {"enum": ['say "hi"']})
    '{"command": "say \\\\"hi\\\\""}'
    """
    if schema is None or not _server_schema(json.dumps(schema))[1]:
        return text
    return _STAND_INS.sub(lambda m: _ESCAPE_OF[m.group(0)], text)


def response_format(schema: dict[str, Any], mode: str) -> dict[str, Any] | None:
    schema = server_schema(schema)
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    if mode == "prompt":
        return None
    return {
        "type": "json_schema",
        "json_schema": {
            "name": str(schema.get("title", "answer"))[:64],
            "schema": schema,
            "strict": False,
        },
    }


def build_request(
    messages: list[dict[str, Any]], opts: dict[str, Any], mode: str
) -> dict[str, Any]:
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
    if (
        opts.get("repeat_penalty") is not None
    ):  # llama.cpp's server reads it from the body; OpenAI has none
        request["extra_body"] = {"repeat_penalty": float(opts["repeat_penalty"])}
    attempt = int(opts.get("attempt") or 0)
    if (
        attempt > 0
    ):  # a retry: another seed, and no greedy decoding that would repeat the last answer
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


# How httpx, openai and litellm say that the server hung up in the middle of a request.
_DROPPED = (
    "server disconnected",
    "remoteprotocolerror",
    "connection reset",
    "connectionreset",
    "connection aborted",
    "broken pipe",
    "brokenpipe",
    "peer closed connection",
    "incompleteread",
    "incomplete chunked read",
)


def dropped_connection(exc: BaseException) -> bool:
    """True when the server closed the connection before it answered (it may have crashed)."""
    causes = _chain(exc)
    if any(
        isinstance(c, ConnectionResetError | ConnectionAbortedError | BrokenPipeError)
        for c in causes
    ):
        return True
    chain = " ".join(f"{type(c).__name__} {c}" for c in causes).lower()
    return any(sign in chain for sign in _DROPPED)


def to_model_error(
    exc: BaseException, endpoint: str, model: str, *, dropped_before: bool = False
) -> ModelError:
    """Translate an openai/litellm/httpx exception into one of ours, naming the endpoint.

    ``dropped_before``: the server closed the connection on an earlier attempt, so a refusal
    now means it stopped then (a server that crashes on a request is refused on the retry).
    """
    name = type(exc).__name__
    text = str(exc)
    status = getattr(exc, "status_code", None)
    causes = _chain(exc)
    chain = " ".join(f"{type(c).__name__} {c}" for c in causes).lower()
    refused = (
        any(isinstance(c, ConnectionRefusedError) for c in causes) or "connection refused" in chain
    )
    if refused and dropped_before:
        return ModelConnectionError(
            f"the model server closed the connection in the middle of a request and now refuses "
            f"connections at {endpoint}: it has stopped (did it crash? Its log says why)",
            endpoint=endpoint,
        )
    if refused:
        return ModelConnectionError(
            f"cannot connect to the model server at {endpoint} (connection refused). "
            f"Is the server running and listening on that address?",
            endpoint=endpoint,
        )
    if dropped_connection(exc):  # worth one more try: a connection can drop without a crash
        return ModelConnectionError(
            f"the model server closed the connection before it answered, at {endpoint} (did it crash? "
            "Its log says why)",
            endpoint=endpoint,
            transient=True,
        )
    if "timeout" in name.lower() or "timed out" in chain:
        return ModelConnectionError(
            f"the model server at {endpoint} timed out", endpoint=endpoint, transient=True
        )
    if status == 401 or "authentication" in name.lower():
        return ModelConnectionError(
            f"the model server at {endpoint} rejected the credentials (401); check the API key",
            endpoint=endpoint,
        )
    if status == 404 or name == "NotFoundError":
        return ModelConnectionError(
            f"model {model!r} was not found at {endpoint} (404); check the model name",
            endpoint=endpoint,
        )
    if status == 429 or "ratelimit" in name.lower():
        return ModelConnectionError(
            f"rate limited by {endpoint} (429)", endpoint=endpoint, transient=True
        )
    if (isinstance(status, int) and status >= 500) or name in {
        "InternalServerError",
        "ServiceUnavailableError",
        "APIConnectionError",
    }:
        return ModelConnectionError(
            f"the model server at {endpoint} failed: {text[:300]}",
            endpoint=endpoint,
            transient=True,
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


def completion_from(
    response: Any,
    *,
    latency_s: float,
    model: str,
    cost_usd: float | None,
    json_schema: dict[str, Any] | None = None,
) -> Completion:
    """A :class:`Completion` from an OpenAI-shaped chat response (openai or litellm);
    ``json_schema``: the caller's schema, whose :func:`server_schema` the server was sent."""
    if not response.choices:
        raise ModelOutputError("the server returned no choices", raw="")
    choice = response.choices[0]
    prompt_t, completion_t, cached = token_counts(response)
    message = getattr(choice, "message", None)
    text = (
        message.content if message is not None else getattr(choice, "text", None)
    )  # chat or text completion
    return Completion(
        text=restore_stand_ins(clean_text(text or ""), json_schema),
        usage=Usage(
            prompt_tokens=prompt_t,
            completion_tokens=completion_t,
            cached_prompt_tokens=cached,
            cost_usd=cost_usd,
        ),
        latency_s=latency_s,
        finish_reason=choice.finish_reason or "stop",
        model=getattr(response, "model", None) or model,
    )
