"""`LocalModel`: llama.cpp in-process, the embedded default; the model side.

The cut between this module and :mod:`dramaturg.models._engine`: the engine
holds everything llama.cpp owns (one loaded context per settings, shared by
every model that asks for it; its single worker thread; the LoRA adapters set
on it per call; the grammars, token masks and schema limits compiled for it).
This module holds what a call means: the :class:`LocalModel` the loader hands
out, its options and defaults, prompt rendering, sampling, and the decoding
strategy of a structured answer (a free pass that stops where the JSON ends,
then token masks or a grammar), run on the engine's thread so the event loop
never blocks.

Example:
    >>> model = LocalModel()                                  # doctest: +SKIP
    >>> model.complete_sync([user("The capital of France is")]).text  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from dramaturg.errors import ConfigError, MissingExtraError, ModelError
from dramaturg.models._bounds import Bounds
from dramaturg.models._decode import answer_opener, common_prefix, generate, heal
from dramaturg.models._engine import Engine, load_engine
from dramaturg.models._json import JsonEnd, parse_structured
from dramaturg.models._mask import available as mask_available
from dramaturg.models._prompt import PromptFormat, render_prompt
from dramaturg.models._text import clean_text
from dramaturg.models._weights import default_weights
from dramaturg.models.base import BaseChatModel, Completion, Message, ModelKind, Usage, check_kind

__all__ = ["LocalModel", "default_threads"]

_KNOWN_OPTS = {
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "json_schema",
    "response_model",
    "caller",
    "responder",
    "repeat_penalty",
    "min_p",
    "top_k",
    "attempt",
    "timeout",
    "raw",
}


def default_threads() -> int:
    """llama.cpp threads: ``$DRAMATURG_THREADS``, else all cores but one (at least one).

    llama.cpp's threads meet at a spinning barrier after every layer. When
    another busy process holds one of the cores, a thread waits for a peer
    that is not running, and a call that takes half a second on an idle
    machine was measured here taking minutes (2 threads on 2 cores next to a
    busy process). Leaving one core free trades some speed on an idle
    machine for calls that never stall.
    """
    env = os.environ.get("DRAMATURG_THREADS")
    if env:
        return max(1, int(env))
    return max(1, (os.cpu_count() or 2) - 1)


class LocalModel(BaseChatModel):
    """Gemma 3 270M (or any GGUF) through llama.cpp in this process.

    Args:
        model_path: a GGUF file; default: the packaged Gemma 3 270M Q4_K_M,
            assembled into the cache on first use.
        n_ctx: context size in tokens.
        n_threads: CPU threads (default: ``$DRAMATURG_THREADS``, else one
            fewer than the cores; see :func:`default_threads`).
        lora_path: a GGUF LoRA adapter to apply (tool agents use this). Models
            on the same base share one llama.cpp model and context whatever
            their adapters: each adapter is loaded once and set per call.
        lora_scale: the adapter's strength.
        prompt_format: how messages become text (``"transcript"`` suits the
            base model; see :mod:`dramaturg.models._prompt`).
        prefix_cache_mb: RAM for saved prompt states, so several alternating
            long prefixes all stay warm; 0 keeps only the last prompt's cache.
        seed: sampling seed; with ``temperature=0`` output is deterministic.
        temperature: default sampling temperature.
        max_tokens: default cap on generated tokens.
        optimistic_json: for structured calls, first decode without the grammar
            and keep the answer if it validates (much faster on a 262k-token
            vocabulary); fall back to grammar-constrained decoding otherwise.
        max_items: for structured calls, the most items the model may write in
            a list (and keys in a ``dict``) whose schema sets no ``max_length``;
            halved on each retry. A schema's own limits always win.
        max_length: likewise, the most characters in a string whose schema sets
            no ``max_length`` (and is not an enum, a constant or a pattern).
        token_healing: end the free pass's prompt on a token boundary the model
            knows (see :func:`~dramaturg.models._decode.heal`).
        constrained: how structured answers are held to their schema:
            ``"mask"``, llguidance token masks (as fast as free decoding; no free
            pass is needed); ``"gbnf"``, llama.cpp's grammar (about 3x slower per
            token, so a free pass is tried first when ``optimistic_json``);
            ``"auto"``, masks where llguidance is installed.
        kind: ``"base"`` (the packaged Gemma 3 270M is a pretrained base
            model) or ``"instruct"`` for an instruction-tuned GGUF; roles pick
            their strategy from it.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        lora_path: str | os.PathLike[str] | None = None,
        lora_scale: float = 1.0,
        prompt_format: PromptFormat = "transcript",
        prefix_cache_mb: int = 0,
        seed: int = 0,
        temperature: float = 0.7,
        max_tokens: int = 256,
        optimistic_json: bool = True,
        max_items: int = 8,
        max_length: int = 200,
        token_healing: bool = True,
        constrained: Literal["auto", "mask", "gbnf"] = "auto",
        kind: ModelKind = "base",
    ) -> None:
        self.kind = check_kind(kind)
        self.model_path = Path(model_path) if model_path is not None else None
        if self.model_path is not None and not self.model_path.is_file():
            raise ConfigError(f"model file not found: {self.model_path}")
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.lora_path = str(lora_path) if lora_path is not None else None
        self.lora_scale = lora_scale
        self.prompt_format = prompt_format
        self.prefix_cache_mb = prefix_cache_mb
        self.seed = seed
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.optimistic_json = optimistic_json
        self.bounds = Bounds(max_items=max_items, max_length=max_length)
        self.token_healing = token_healing
        if constrained not in ("auto", "mask", "gbnf"):
            raise ConfigError(f"constrained must be 'auto', 'mask' or 'gbnf', not {constrained!r}")
        if constrained == "mask" and not mask_available():
            raise MissingExtraError("llguidance", "local", "Token-mask constrained decoding")
        self.constrained = constrained
        stem = self.model_path.stem if self.model_path else "gemma-3-270m-q4_k_m"
        self.name = f"local:{stem}" + (f"+{Path(self.lora_path).stem}" if self.lora_path else "")
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The shared llama.cpp context, loaded on first use."""
        if self._engine is None:
            path = self.model_path or default_weights()
            engine = load_engine(
                path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                prefix_cache_mb=self.prefix_cache_mb,
                seed=self.seed,
            )
            if self.lora_path is not None:  # checked and loaded now, so a bad adapter fails at load
                engine.executor.submit(engine.load_adapter, self.lora_path).result()
            self._engine = engine
        return self._engine

    def load(self) -> float:
        """Load the weights now (normally done on the first call); returns the load time in seconds."""
        return self.engine.load_s

    async def complete(self, messages: Sequence[Message], **opts: Any) -> Completion:
        unknown = set(opts) - _KNOWN_OPTS
        if unknown:
            raise ConfigError(f"unknown option(s) for the local backend: {sorted(unknown)}")
        engine = self.engine
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            engine.executor, self._complete_blocking, engine, list(messages), opts
        )

    def _sampling(self, opts: dict[str, Any], structured: bool, attempt: int) -> dict[str, Any]:
        """Sampling settings; a retry (``attempt`` > 0) samples differently from the attempt before it."""
        temperature = opts.get("temperature")
        if temperature is None:
            temperature = 0.0 if structured else self.temperature
        repeat_penalty = opts.get("repeat_penalty", 1.0 if structured else 1.1)
        seed = opts.get("seed", self.seed)
        if attempt > 0:
            # Greedy decoding ignores the seed: a retry that only changed the seed would write the
            # same answer again. So a retry also samples, and penalises what it already wrote.
            seed = (seed or 0) + 1009 * attempt
            temperature = max(temperature, 0.2 + 0.2 * attempt)
            repeat_penalty = max(repeat_penalty, 1.0 + 0.1 * attempt)
        return {
            "temperature": temperature,
            "top_p": opts.get("top_p", 0.95),
            "top_k": opts.get("top_k", 64),
            "min_p": opts.get("min_p", 0.05),
            "repeat_penalty": repeat_penalty,
            "seed": seed,
        }

    def _complete_blocking(
        self, engine: Engine, messages: list[Message], opts: dict[str, Any]
    ) -> Completion:
        started = time.perf_counter()
        llm = engine.llm
        engine.use_adapter(self.lora_path, self.lora_scale)
        stops: list[str]
        if opts.get("raw"):  # the text itself is the prompt: a base model continues it
            prompt, stops = "".join(m["content"] for m in messages), []
        else:
            prompt, stops = render_prompt(
                messages, fmt=self.prompt_format, responder=opts.get("responder")
            )
        # A lone surrogate (from a page, a file, a model) has no UTF-8 bytes: U+FFFD instead.
        prompt = clean_text(prompt)
        attempt = int(opts.get("attempt") or 0)
        timeout = opts.get("timeout")
        deadline = started + float(timeout) if timeout else None
        schema = opts.get("json_schema")
        if schema is not None:
            # Every unbounded list and string gets a limit, halved on each retry (see _bounds).
            schema = engine.bounded(schema, self.bounds.tightened(attempt))
            stops = []  # the grammar (or the end of the JSON value) ends the answer
        extra_stop = opts.get("stop") or []
        if isinstance(extra_stop, str):
            extra_stop = [extra_stop]
        stops = [*stops, *extra_stop]
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        max_tokens = opts.get("max_tokens")
        if max_tokens is None:  # the default shrinks to the room left in the context
            wanted = self.max_tokens if schema is None else max(self.max_tokens, 512)
            max_tokens = max(16, min(wanted, self.n_ctx - len(tokens)))
        if len(tokens) + max_tokens > self.n_ctx:
            raise ModelError(
                f"the prompt is {len(tokens)} tokens and {max_tokens} more were asked for, but the context "
                f"holds {self.n_ctx}; shorten the prompt or load the model with a larger n_ctx"
            )
        sampling = self._sampling(opts, schema is not None, attempt)
        prompt_tokens = cached = 0
        model = opts.get("response_model")
        run = None
        constrained = False
        masks = engine.masks if schema is not None and self.constrained != "gbnf" else None
        # An adapter learnt its answers after exactly the unhealed prompt (training/_base.py).
        healing = self.token_healing and self.lora_path is None
        if schema is not None and model is not None and self.optimistic_json and masks is None:
            # Grammar-constrained sampling is slower per token. So first generate freely and stop
            # where the JSON value ends: if that validates, it is the answer (for greedy decoding
            # it is what the grammar would have produced); if not, generate again under the
            # grammar, reusing the cached prompt. The answer's first character ("{" for an
            # object) goes into the prompt so a base model sees JSON begin; token healing keeps
            # that from ending the prompt mid-token (see _decode.heal).
            opener = answer_opener(schema) or " "
            free_tokens, first_pieces, skip = heal(engine, prompt + opener, enabled=healing)
            cached += common_prefix(llm, free_tokens)
            prompt_tokens += len(free_tokens)
            run = generate(
                llm,
                free_tokens,
                max_tokens,
                sampling,
                stops,
                deadline=deadline,
                scanner=JsonEnd(max_chars=engine.size_bound(schema)),
                opener=opener.strip(),
                first_pieces=first_pieces,
                skip=skip,
            )
            if run.finish_reason == "stop":
                try:
                    parse_structured(run.text, model)
                except ModelError:
                    run.wasted = True
            elif run.finish_reason != "timeout":
                run.wasted = True
        if run is None or run.wasted:
            constrained = schema is not None
            first = run
            mask, written = None, ""
            grammar = first_pieces = None
            if schema is not None:
                mask = masks.processor(schema) if masks is not None else None
                opener = answer_opener(schema)
                with_opener = llm.tokenize(
                    (prompt + opener).encode("utf-8"), add_bos=True, special=True
                )
                fits = bool(opener) and with_opener[: len(tokens)] == tokens
                healed, allowed, removed = heal(engine, prompt + opener, enabled=healing and fits)
                if allowed is not None and removed == len(opener):
                    # The model writes the answer's first token itself, one that starts with the
                    # opener: " {" is a token, and so is ' {"' that the examples show. Left in the
                    # prompt, " {" reads as the start of pretty-printed JSON of many keys.
                    tokens, first_pieces = healed, allowed
                    grammar = engine.grammar_for(schema) if mask is None else None
                elif fits and (
                    mask.prefeed(with_opener[len(tokens) :])
                    if mask is not None
                    else (grammar := engine.grammar_for(schema, opened=True)) is not None
                ):
                    # An adapter learnt its answers after " {" (training/_base.py): the prompt ends
                    # there, and the mask or the grammar takes it as written.
                    tokens, written = with_opener, opener.strip()
                else:
                    mask = masks.processor(schema) if masks is not None else None  # unfed
                    grammar = engine.grammar_for(schema) if mask is None else None
            cached += common_prefix(llm, tokens)
            prompt_tokens += len(tokens)
            scanner = JsonEnd(max_string=1 << 30, max_space=1 << 30) if schema is not None else None
            run = generate(
                llm,
                tokens,
                max_tokens,
                sampling,
                stops,
                deadline=deadline,
                scanner=scanner,
                grammar=grammar,
                processor=mask,
                opener=written,
                first_pieces=first_pieces,
            )
            if mask is not None:  # with a mask, "constrained" means the mask overruled the model
                constrained = mask.forced
            if first is not None:
                run.n_generated += first.n_generated
                run.ttft = first.ttft
        latency = time.perf_counter() - started
        return Completion(
            text=run.text.strip() if schema is None else run.text,
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=run.n_generated,
                cached_prompt_tokens=cached,
                cost_usd=0.0,
            ),
            latency_s=latency,
            finish_reason=run.finish_reason,
            model=self.name,
            ttft_s=run.ttft,
            constrained=constrained,
        )
