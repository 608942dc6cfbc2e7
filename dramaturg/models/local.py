"""`LocalModel`: llama.cpp in-process, the embedded default.

One llama.cpp context per (weights, adapter, context size) is loaded per
process and shared by every ``LocalModel`` that asks for it. llama.cpp is
not thread-safe, so each context has exactly one worker thread: calls from
any number of coroutines or threads queue there, and the event loop never
blocks on them.

Prefix reuse: llama.cpp keeps the KV cache of the last prompt, so a prompt
that repeats a long prefix (a persona, few-shot examples, the story so far)
only evaluates its new suffix. Gemma 3 uses sliding-window attention, which
normally forbids cutting the cache back to a prefix; the context is created
with a full-size SWA cache so the cut is allowed. With ``prefix_cache_mb``
set, the states of recent prompts are also kept in RAM, so several
alternating personas each find their own prefix.

Example:
    >>> model = LocalModel()                                  # doctest: +SKIP
    >>> model.complete_sync([user("The capital of France is")]).text  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError, MissingExtraError, ModelError
from dramaturg.models._bounds import Bounds, bound_schema
from dramaturg.models._gguf import read_gguf_metadata
from dramaturg.models._json import JsonEnd, json_size_bound, parse_structured
from dramaturg.models._prompt import PromptFormat, render_prompt
from dramaturg.models._vocab import Vocab
from dramaturg.models._weights import default_weights
from dramaturg.models.base import BaseChatModel, Completion, Message, Usage

__all__ = ["LocalModel", "check_adapter", "default_threads"]

_KNOWN_OPTS = {"max_tokens", "temperature", "top_p", "stop", "seed", "json_schema", "response_model", "caller",
               "responder", "repeat_penalty", "min_p", "top_k", "attempt", "timeout"}


class _Engine:
    """One loaded llama.cpp context and the single thread allowed to touch it.

    Every LoRA adapter used with this base shares the one model and context:
    each adapter is loaded once (a few MB) and set on the context before the
    call that needs it, so ten tool agents cost ten adapters, not ten models.
    """

    def __init__(self, llm: Any, load_s: float, path: Path) -> None:
        self.llm = llm
        self.load_s = load_s
        self.path = path
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama.cpp")
        self.grammars: OrderedDict[str, Any] = OrderedDict()
        self.bounds: dict[str, int | None] = {}
        self.bounded_schemas: OrderedDict[tuple[str, Bounds], dict[str, Any]] = OrderedDict()
        self._vocab: Vocab | None = None
        self.adapters: dict[str, Any] = {}  # adapter path -> llama.cpp handle (freed with the model)
        self.active: tuple[str, float] | None = None  # the adapter set on the context now

    def load_adapter(self, lora_path: str) -> None:
        """Check ``lora_path`` against the base and load it (once); on the engine's thread."""
        if lora_path in self.adapters:
            return
        import llama_cpp

        from dramaturg.models._adapters import check_adapter_base

        # Architecture, the base identity recorded at export, every tensor's shape:
        # llama.cpp loads a mismatched adapter and then crashes the process.
        check_adapter_base(lora_path, base=self.path)
        with _quiet_stderr():
            handle = llama_cpp.llama_adapter_lora_init(self.llm.model, lora_path.encode("utf-8"))
        if not handle:
            raise ConfigError(
                f"llama.cpp could not load the LoRA adapter {lora_path}. "
                "Check that the adapter is a GGUF LoRA made for this base model."
            )
        self.adapters[lora_path] = handle

    def use_adapter(self, lora_path: str | None, scale: float) -> None:
        """Set (or clear) the context's adapter; on the engine's thread, before a call."""
        wanted = (lora_path, scale) if lora_path is not None else None
        if wanted == self.active:
            return
        import ctypes

        import llama_cpp

        if lora_path is None:
            code = llama_cpp.llama_set_adapters_lora(self.llm.ctx, None, 0, None)
        else:
            self.load_adapter(lora_path)
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self.adapters[lora_path])
            code = llama_cpp.llama_set_adapters_lora(self.llm.ctx, handles, 1, (ctypes.c_float * 1)(scale))
        if code != 0:
            raise ModelError(f"llama.cpp could not set the LoRA adapter {lora_path} (code {code})")
        # The KV cache (and any saved prompt states) were computed under the old adapter.
        self.llm.reset()
        if self.llm.cache is not None:
            self.llm.set_cache(type(self.llm.cache)(capacity_bytes=self.llm.cache.capacity_bytes))
        self.active = wanted

    @property
    def vocab(self) -> Vocab:
        """Every token's bytes, read from the model once (on the engine's thread)."""
        if self._vocab is None:
            self._vocab = Vocab.of(self.llm)
        return self._vocab

    def bounded(self, schema: dict[str, Any], bounds: Bounds) -> dict[str, Any]:
        """``schema`` with limits on its unbounded parts (see :mod:`dramaturg.models._bounds`), cached."""
        key = (json.dumps(schema), bounds)
        out = self.bounded_schemas.get(key)
        if out is None:
            out = bound_schema(schema, max_items=bounds.max_items, max_length=bounds.max_length)
            self.bounded_schemas[key] = out
            if len(self.bounded_schemas) > 256:
                self.bounded_schemas.popitem(last=False)
        return out

    def size_bound(self, schema: dict[str, Any]) -> int | None:
        """The most characters an answer to ``schema`` can take (cached with the grammars)."""
        key = json.dumps(schema)
        if key not in self.bounds:
            self.bounds[key] = json_size_bound(schema)
            if len(self.bounds) > 256:
                self.bounds.pop(next(iter(self.bounds)))
        return self.bounds[key]

    def grammar_for(self, schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        key = json.dumps(schema)  # key order matters: the grammar keeps the schema's field order
        grammar = self.grammars.get(key)
        if grammar is None:
            try:
                grammar = LlamaGrammar.from_string(json_schema_grammar(key), verbose=False)
            except Exception as exc:  # the converter raises bare exceptions
                raise ConfigError(f"llama.cpp cannot turn this JSON schema into a grammar: {exc}") from exc
            self.grammars[key] = grammar
            if len(self.grammars) > 64:
                self.grammars.popitem(last=False)
        else:
            self.grammars.move_to_end(key)
        return grammar


#: Longer ``maxLength`` limits are left to validation: the converter spells a limit out as
#: that many nested optional characters, and llama.cpp refuses a grammar past about 2,000
#: repetitions (it then crashes the process instead of raising).
GRAMMAR_MAX_LENGTH = 300


def _loosen_long_strings(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _loosen_long_strings(v) for k, v in node.items()}
        if isinstance(out.get("maxLength"), int) and out["maxLength"] > GRAMMAR_MAX_LENGTH:
            del out["maxLength"]
        return out
    if isinstance(node, list):
        return [_loosen_long_strings(v) for v in node]
    return node


def json_schema_grammar(schema_json: str) -> str:
    """GBNF for a JSON schema, via llama-cpp-python's converter with one fix.

    The converter does not escape backslashes in literals, so an enum value
    holding a quote (``say "<line>"``, JSON-encoded as ``"say \\"<line>\\""``)
    yields a grammar llama.cpp cannot parse. Literals are escaped fully here.
    String limits above :data:`GRAMMAR_MAX_LENGTH` are dropped from the grammar
    (pydantic still enforces them on the answer).
    """
    from llama_cpp import llama_grammar

    class _Converter(llama_grammar.SchemaConverter):
        def _format_literal(self, literal: str) -> str:
            escaped = (literal.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
                       .replace('"', '\\"'))
            return f'"{escaped}"'

    converter = _Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    schema = converter.resolve_refs(_loosen_long_strings(json.loads(schema_json)), "stdin")
    converter.visit(schema, "")
    # The prompt ends at "Assistant:"; the answer may start with the space the examples put there.
    grammar = converter.format_grammar().replace("root ::=", "value ::=", 1)
    return 'root ::= " "? value\n' + grammar


_engines: dict[tuple[Any, ...], _Engine] = {}
_engines_lock = threading.Lock()


@atexit.register
def _close_engines() -> None:
    """Free llama.cpp contexts before interpreter teardown (its __del__ fails once modules are gone)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.executor.shutdown(wait=True, cancel_futures=True)
            with contextlib.suppress(Exception):
                engine.llm.close()
        _engines.clear()


def _load_engine(path: Path, *, n_ctx: int, n_threads: int, prefix_cache_mb: int, seed: int) -> _Engine:
    """The shared llama.cpp context for these settings (adapters are set per call, not here)."""
    key = (str(path), n_ctx, n_threads, prefix_cache_mb, seed)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        try:
            from llama_cpp import Llama, LlamaRAMCache
        except ImportError:
            raise MissingExtraError("llama-cpp-python", "local", "The embedded model (local backend)") from None
        started = time.perf_counter()
        try:
            with _quiet_stderr():
                llm = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    n_batch=512,
                    seed=seed,
                    swa_full=True,  # allow cutting the KV cache back to a shared prefix
                    verbose=False,
                )
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"llama.cpp could not load the model {path}: {exc}. Check that the file is a complete GGUF model."
            ) from exc
        if prefix_cache_mb > 0:
            llm.set_cache(LlamaRAMCache(capacity_bytes=prefix_cache_mb << 20))
        engine = _Engine(llm, time.perf_counter() - started, path)
        _engines[key] = engine
        return engine


def check_adapter(lora_path: str | os.PathLike[str], *, base: str | os.PathLike[str]) -> None:
    """Refuse, with a clear error, a file that is not a GGUF LoRA adapter for ``base``.

    llama.cpp itself accepts some wrong files silently (a whole model passed
    as an adapter loads without complaint), so the metadata is checked here.
    """
    lora = Path(lora_path)
    if not lora.is_file():
        raise ConfigError(f"LoRA adapter not found: {lora}. Pass the path of a GGUF LoRA adapter file.")
    try:
        meta = read_gguf_metadata(lora)
        base_meta = read_gguf_metadata(base)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the LoRA adapter {lora}: {exc}") from exc
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise ConfigError(
            f"{lora} is not a LoRA adapter (general.type={meta.get('general.type')!r}, "
            f"adapter.type={meta.get('adapter.type')!r}); export the adapter to GGUF LoRA first "
            "(dramaturg train exports it that way)"
        )
    arch, base_arch = meta.get("general.architecture"), base_meta.get("general.architecture")
    if arch != base_arch:
        raise ConfigError(
            f"the LoRA adapter {lora} was made for a {arch!r} model, but the base model {base} is "
            f"{base_arch!r}; use an adapter trained on this base model"
        )


@contextlib.contextmanager
def _quiet_stderr():
    """llama.cpp prints its loading log to fd 2 even with verbose=False; keep the terminal clean."""
    if os.environ.get("DRAMATURG_LLAMA_VERBOSE"):
        yield
        return
    try:
        fd = os.dup(2)
    except OSError:  # no real stderr (embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(io.StringIO()):
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(fd, 2)
    finally:
        os.close(fd)


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
            knows (see :func:`_heal`).
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
    ) -> None:
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
        stem = self.model_path.stem if self.model_path else "gemma-3-270m-q4_k_m"
        self.name = f"local:{stem}" + (f"+{Path(self.lora_path).stem}" if self.lora_path else "")
        self._engine: _Engine | None = None

    @property
    def engine(self) -> _Engine:
        """The shared llama.cpp context, loaded on first use."""
        if self._engine is None:
            path = self.model_path or default_weights()
            engine = _load_engine(path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                  prefix_cache_mb=self.prefix_cache_mb, seed=self.seed)
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
        return await loop.run_in_executor(engine.executor, self._complete_blocking, engine, list(messages), opts)

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

    def _complete_blocking(self, engine: _Engine, messages: list[Message], opts: dict[str, Any]) -> Completion:
        started = time.perf_counter()
        llm = engine.llm
        engine.use_adapter(self.lora_path, self.lora_scale)
        prompt, stops = render_prompt(messages, fmt=self.prompt_format, responder=opts.get("responder"))
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
        if schema is not None and model is not None and self.optimistic_json:
            # Grammar-constrained sampling is slower per token. So first generate freely and stop
            # where the JSON value ends: if that validates, it is the answer (for greedy decoding
            # it is what the grammar would have produced); if not, generate again under the
            # grammar, reusing the cached prompt. The answer's first character ("{" for an
            # object) goes into the prompt so a base model sees JSON begin; token healing keeps
            # that from ending the prompt mid-token (see _heal).
            opener = {"object": " {", "array": " ["}.get(str(schema.get("type")), " ")
            free_tokens, first_pieces, skip = _heal(engine, prompt + opener, enabled=self.token_healing)
            cached += _common_prefix(llm, free_tokens)
            prompt_tokens += len(free_tokens)
            run = _generate(llm, free_tokens, max_tokens, sampling, stops, deadline=deadline,
                            scanner=JsonEnd(max_chars=engine.size_bound(schema)), opener=opener.strip(),
                            first_pieces=first_pieces, skip=skip)
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
            cached += _common_prefix(llm, tokens)
            prompt_tokens += len(tokens)
            scanner = JsonEnd(max_string=1 << 30, max_space=1 << 30) if schema is not None else None
            run = _generate(llm, tokens, max_tokens, sampling, stops, deadline=deadline, scanner=scanner,
                            grammar=engine.grammar_for(schema) if schema is not None else None)
            if first is not None:
                run.n_generated += first.n_generated
                run.ttft = first.ttft
        latency = time.perf_counter() - started
        return Completion(
            text=run.text.strip() if schema is None else run.text,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=run.n_generated,
                        cached_prompt_tokens=cached, cost_usd=0.0),
            latency_s=latency,
            finish_reason=run.finish_reason,
            model=self.name,
            ttft_s=run.ttft,
            constrained=constrained,
        )


@dataclass(kw_only=True, slots=True)
class _Run:
    text: str = ""
    n_generated: int = 0
    finish_reason: str = "stop"
    ttft: float | None = None
    wasted: bool = False


def _heal(engine: _Engine, text: str, *, enabled: bool = True) -> tuple[list[int], Any, int]:
    """Token healing: ``text``'s tokens, less a last token that other tokens extend.

    A prompt that ends with ``{`` is cut mid-token when the examples spell
    ``{"`` as one token: the model, never having seen ``{`` followed by a
    token starting with ``"``, writes ``thought: "`` without the quote. So the
    last token is taken back and the first generated token must start with
    its text. Returns ``(tokens, allowed first token ids or None, characters
    of generated text the prompt already holds)``.
    """
    llm = engine.llm
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
    if not enabled or len(tokens) < 2:
        return tokens, None, 0
    last = engine.vocab.piece(tokens[-1])
    allowed = engine.vocab.extending(last)
    if len(allowed) <= 1:  # nothing longer starts with it: the prompt ends on a real boundary
        return tokens, None, 0
    return tokens[:-1], allowed, len(last.decode("utf-8", errors="ignore"))


def _generate(llm: Any, tokens: list[int], max_tokens: int, sampling: dict[str, Any], stops: list[str], *,
              deadline: float | None = None, scanner: JsonEnd | None = None, grammar: Any = None,
              opener: str = "", first_pieces: Any = None, skip: int = 0) -> _Run:
    """One streamed generation.

    With a ``scanner``, it stops where the JSON value closes, and stops early
    (``finish_reason`` ``"loop"``) when the value cannot be used: not JSON,
    too long, or repeating itself. ``opener`` is text already placed at the
    end of the prompt as the start of the answer; it is counted as part of
    the answer. ``first_pieces`` (token ids) restricts the first token, and
    the first ``skip`` characters generated are the prompt's own (token
    healing, see :func:`_heal`). Past ``deadline`` (``time.perf_counter()``)
    the run stops with ``finish_reason`` ``"timeout"``.
    """
    started = time.perf_counter()
    run = _Run(finish_reason="length")
    pieces: list[str] = [opener] if opener else []
    if scanner is not None and opener:
        scanner.feed(opener)
    processors = None
    if first_pieces is not None:
        processors = [_FirstTokenOnly(first_pieces)]
    try:
        stream = llm.create_completion(
            tokens, max_tokens=max_tokens, stop=stops or None, grammar=grammar, stream=True,
            logits_processor=processors, **sampling
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            if run.ttft is None:
                run.ttft = time.perf_counter() - started
            piece = choice.get("text") or ""
            if skip and piece:
                cut = min(skip, len(piece))
                piece, skip = piece[cut:], skip - cut
            if piece:
                run.n_generated += 1
                if scanner is not None:
                    end = scanner.feed(piece)
                    if end is not None:
                        pieces.append(piece[:end])
                        run.finish_reason = "stop"
                        stream.close()
                        break
                    if scanner.invalid:
                        pieces.append(piece)
                        run.finish_reason = "loop" if scanner.loop is not None else "invalid"
                        stream.close()
                        break
                pieces.append(piece)
            elif choice.get("text") is not None and not choice.get("finish_reason"):
                run.n_generated += 1
            if choice.get("finish_reason"):
                run.finish_reason = choice["finish_reason"]
                if scanner is not None:  # ended before the JSON closed
                    run.finish_reason = "length"
            if deadline is not None and time.perf_counter() > deadline:
                run.finish_reason = "timeout"
                stream.close()
                break
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"llama.cpp failed while generating: {exc}") from exc
    run.text = "".join(pieces)
    return run


class _FirstTokenOnly:
    """A logits processor that allows only ``ids`` for the first token, then anything."""

    def __init__(self, ids: Any) -> None:
        self.ids = ids
        self.done = False

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.done:
            return scores
        import numpy as np

        self.done = True
        out = np.full_like(scores, -np.inf)
        out[self.ids] = scores[self.ids]
        return out


def _common_prefix(llm: Any, tokens: list[int]) -> int:
    """How many leading prompt tokens are already in the KV cache."""
    n = 0
    for a, b in zip(llm._input_ids[: llm.n_tokens], tokens, strict=False):
        if a != b:
            break
        n += 1
    return n
