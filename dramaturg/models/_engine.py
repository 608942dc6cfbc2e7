"""The engine side of the embedded model: loaded llama.cpp contexts, and what is compiled for them.

One llama.cpp context per (weights, context size, threads, prefix cache, seed)
is loaded per process (:func:`load_engine`) and shared by every
``LocalModel`` that asks for it, whatever its LoRA adapter: each adapter is
checked against the base (:func:`dramaturg.models.adapters.check_adapter_base`),
loaded once, and set on the context per call. llama.cpp is not thread-safe,
so each context has exactly one worker thread: calls from any number of
coroutines or threads queue there.

Prefix reuse: llama.cpp keeps the KV cache of the last prompt, so a prompt
that repeats a long prefix (a persona, few-shot examples, the story so far)
only evaluates its new suffix. Gemma 3 uses sliding-window attention, which
normally forbids cutting the cache back to a prefix; the context is created
with a full-size SWA cache so the cut is allowed. With ``prefix_cache_mb``
set, the states of recent prompts are also kept in RAM, so several
alternating personas each find their own prefix.

What a JSON schema compiles to, cached per engine: its bounded form (limits on
unbounded lists and strings), the most characters an answer can take, the
GBNF grammar (:func:`json_schema_grammar`) and llguidance token masks. The
engine knows nothing of messages, prompts or sampling: that is the model side,
:mod:`dramaturg.models.local`.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError, MissingExtraError, ModelError
from dramaturg.models._bounds import Bounds, bound_schema
from dramaturg.models._json import json_size_bound
from dramaturg.models._mask import Masks
from dramaturg.models._mask import available as mask_available
from dramaturg.models._vocab import Vocab
from dramaturg.models.adapters import check_adapter_base

__all__ = [
    "GRAMMAR_MAX_LENGTH",
    "JSON_SPACE_GBNF",
    "Engine",
    "json_schema_grammar",
    "load_engine",
    "quiet_stderr",
]


class Engine:
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
        self._vocab_lock = threading.Lock()
        # Token masks need llguidance's view of the vocabulary (about 1.5 s to build): it is
        # built in the background from the moment the model loads, ready for the first
        # structured call.
        self._masks: Future[Masks | None] | None = None
        if mask_available():
            self._masks = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="token-masks"
            ).submit(self._build_masks)
        self.adapters: dict[
            str, Any
        ] = {}  # adapter path -> llama.cpp handle (freed with the model)
        self.active: tuple[str, float] | None = None  # the adapter set on the context now

    def load_adapter(self, lora_path: str) -> None:
        """Check ``lora_path`` against the base and load it (once); on the engine's thread."""
        if lora_path in self.adapters:
            return
        import llama_cpp

        # Architecture, the base identity recorded at export, every tensor's shape:
        # llama.cpp loads a mismatched adapter and then crashes the process.
        check_adapter_base(lora_path, base=self.path)
        with quiet_stderr():
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
            code = llama_cpp.llama_set_adapters_lora(
                self.llm.ctx, handles, 1, (ctypes.c_float * 1)(scale)
            )
        if code != 0:
            raise ModelError(f"llama.cpp could not set the LoRA adapter {lora_path} (code {code})")
        # The KV cache (and any saved prompt states) were computed under the old adapter.
        self.llm.reset()
        if self.llm.cache is not None:
            self.llm.set_cache(type(self.llm.cache)(capacity_bytes=self.llm.cache.capacity_bytes))
        self.active = wanted

    @property
    def vocab(self) -> Vocab:
        """Every token's bytes, read from the model once (or from the cache on disk)."""
        with self._vocab_lock:
            if self._vocab is None:
                self._vocab = Vocab.of(self.llm, model_path=self.path)
            return self._vocab

    def _build_masks(self) -> Masks | None:
        try:
            return Masks(self.llm, self.vocab.pieces)
        except Exception as exc:  # a vocabulary llguidance cannot take: GBNF still works
            warnings.warn(
                f"token masks are not available for {self.path.name} ({exc}); using llama.cpp's "
                "grammar instead",
                RuntimeWarning,
                stacklevel=1,
            )
            return None

    @property
    def masks(self) -> Masks | None:
        """Token masks for this model, or None where llguidance is not installed (GBNF is used)."""
        return self._masks.result() if self._masks is not None else None

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

    def grammar_for(self, schema: dict[str, Any], *, opened: bool = False) -> Any:
        """The GBNF grammar for ``schema``; ``opened``: the answer's "{" is already in the prompt
        (None when the schema's answer does not start with one)."""
        from llama_cpp.llama_grammar import LlamaGrammar

        key = json.dumps(schema) + (
            "|opened" if opened else ""
        )  # key order matters: the grammar keeps it
        if key in self.grammars:
            self.grammars.move_to_end(key)
            return self.grammars[key]
        text = json_schema_grammar(json.dumps(schema), opened=opened)
        grammar = None
        if text is not None:
            try:
                grammar = LlamaGrammar.from_string(text, verbose=False)
            except Exception as exc:  # the converter raises bare exceptions
                raise ConfigError(
                    f"llama.cpp cannot turn this JSON schema into a grammar: {exc}"
                ) from exc
        self.grammars[key] = grammar
        if len(self.grammars) > 64:
            self.grammars.popitem(last=False)
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


#: Whitespace between JSON tokens: one space, or a new line and an indent of at most 20. A base
#: model often starts an object with a new line (pretty JSON is valid JSON); no run can loop.
JSON_SPACE_GBNF = '| " " | "\\n" [ \\t]{0,20}'


def json_schema_grammar(schema_json: str, *, opened: bool = False) -> str | None:
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
            escaped = (
                literal.replace("\\", "\\\\")
                .replace("\r", "\\r")
                .replace("\n", "\\n")
                .replace('"', '\\"')
            )
            return f'"{escaped}"'

    # llama-cpp-python's converter is untyped: it is used through Any.
    make: Any = _Converter
    converter = make(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    converter._rules["space"] = JSON_SPACE_GBNF
    schema = converter.resolve_refs(_loosen_long_strings(json.loads(schema_json)), "stdin")
    converter.visit(schema, "")
    # The prompt ends at "Assistant:"; the answer may start with the space the examples put there.
    # (A rule name the converter never writes: it has a "value" rule of its own for free JSON.)
    grammar: str = converter.format_grammar().replace("root ::=", "json-answer ::=", 1)
    if not opened:
        return 'root ::= " "? json-answer\n' + grammar
    # The "{" is written already: the answer is the rest of the object.
    head = 'json-answer ::= "{" '
    start = grammar.find("\n" + head)
    start = 0 if grammar.startswith(head) else start + 1 if start >= 0 else -1
    if start < 0:
        return None
    end = grammar.find("\n", start)
    rest = grammar[start + len(head) : end if end >= 0 else len(grammar)]
    return f"root ::= {rest}\n" + grammar


_engines: dict[tuple[Any, ...], Engine] = {}
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


def load_engine(
    path: Path, *, n_ctx: int, n_threads: int, prefix_cache_mb: int, seed: int
) -> Engine:
    """The shared llama.cpp context for these settings (adapters are set per call, not here)."""
    key = (str(path), n_ctx, n_threads, prefix_cache_mb, seed)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_cache import LlamaRAMCache
        except ImportError:
            raise MissingExtraError(
                "llama-cpp-python", "local", "The embedded model (local backend)"
            ) from None
        started = time.perf_counter()
        try:
            with quiet_stderr():
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
        engine = Engine(llm, time.perf_counter() - started, path)
        _engines[key] = engine
        return engine


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
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
