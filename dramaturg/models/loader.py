"""`load_model`: a model from a string.

Specs:

=====================================================  ==========================================
``local``                                              the embedded Gemma 3 270M (llama.cpp)
``local:/path/model.gguf``                             another GGUF, in-process
``local?lora=/path/adapter.gguf&n_ctx=2048``           options as a query string
``litellm:openai/gpt-4o-mini``                         a hosted provider through litellm
``litellm:openai/gemma?api_base=http://h:8080/v1``     a compatible server through litellm
``openai:http://127.0.0.1:8080/v1#gemma``              an OpenAI-compatible server
=====================================================  ==========================================

Keyword arguments to :func:`load_model` override query-string options.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl

from dramaturg.errors import ConfigError
from dramaturg.models.base import ChatModel
from dramaturg.models.wrappers import wrap

__all__ = ["default_spec", "load_model", "parse_spec"]

DEFAULT_SPEC = "local"
_BACKENDS = ("local", "litellm", "openai")


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in {"true", "yes", "on"}:
        return True
    if low in {"false", "no", "off"}:
        return False
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def default_spec(spec: str | None) -> str:
    """``spec``, else ``$DRAMATURG_MODEL``, else :data:`DEFAULT_SPEC` (the embedded model)."""
    return spec or os.environ.get("DRAMATURG_MODEL") or DEFAULT_SPEC


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """Split a spec into ``(backend, target, options)``.

    Raises:
        ConfigError: for an unknown backend or a malformed spec, with examples.
    """
    spec = spec.strip()
    backend, _, rest = spec.partition(":")
    if "?" in backend:  # "local?lora=..."
        backend, _, query = backend.partition("?")
        rest = "?" + query + rest
    backend = backend.lower()
    if backend not in _BACKENDS:
        raise ConfigError(
            f"unknown model spec {spec!r}: it should start with one of {', '.join(_BACKENDS)}. "
            "Examples: 'local', 'litellm:openai/gpt-4o-mini', 'openai:http://127.0.0.1:8080/v1#gemma'"
        )
    query = ""
    if backend == "openai":
        url, hash_, model = rest.partition("#")
        if not hash_ or not model or not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"malformed openai spec {spec!r}: write openai:<base_url>#<model>, "
                "e.g. openai:http://127.0.0.1:8080/v1#gemma"
            )
        model, _, query = model.partition("?")
        target = f"{url}#{model}"
    else:
        target, _, query = rest.partition("?")
        if backend == "litellm" and not target:
            raise ConfigError(f"malformed litellm spec {spec!r}: write litellm:<provider>/<model>")
    options = {k: _coerce(v) for k, v in parse_qsl(query, keep_blank_values=True)}
    return backend, target, options


def load_model(
    spec: str | None = None,
    *,
    retries: int = 2,
    trace: str | os.PathLike[str] | None = None,
    **options: Any,
) -> ChatModel:
    """Turn a spec string into a ready model with the standard wrappers.

    Args:
        spec: see the module docstring; default ``$DRAMATURG_MODEL`` or ``local``.
        retries: structured-output retries, each showing the model its error.
        trace: a JSONL file that records every call (secrets scrubbed).
        **options: backend options (override the spec's query string).

    Returns:
        A :class:`~dramaturg.models.ChatModel` with ``.usage`` per caller.

    Example:
        >>> model = load_model("openai:http://127.0.0.1:8080/v1#gemma")  # doctest: +SKIP
    """
    spec = default_spec(spec)
    backend, target, query_opts = parse_spec(spec)
    opts = {**query_opts, **options}
    try:
        if backend == "local":
            from dramaturg.models.local import LocalModel

            if "lora" in opts:
                opts["lora_path"] = opts.pop("lora")
            model: ChatModel = LocalModel(target or None, **opts)
        elif backend == "litellm":
            from dramaturg.models.hosted import LiteLLMModel

            model = LiteLLMModel(target, **opts)
        else:
            from dramaturg.models.openai_compat import OpenAIModel

            url, _, name = target.partition("#")
            model = OpenAIModel(url, name, **opts)
    except TypeError as exc:  # an unknown option name
        raise ConfigError(f"bad option for the {backend} backend in {spec!r}: {exc}") from None
    return wrap(model, retries=retries, trace=trace)
