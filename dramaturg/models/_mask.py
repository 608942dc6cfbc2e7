"""JSON-schema constrained decoding with token masks (llguidance).

llama.cpp's own grammar sampler checks every one of Gemma's 262,144 tokens
against the grammar at every step: about 13 tokens/s here against about 40
for free decoding. llguidance computes the set of allowed tokens as a bit
mask in about 0.2 ms from a token trie, so constrained decoding runs at the
speed of free decoding (benchmarks/RESULTS.md). It plugs into llama.cpp's
sampling as a logits processor: the mask sets every token the schema does
not allow at this point to -inf, and llama.cpp's sampler chain (repeat
penalty, top-k/p, temperature, greedy) runs on what is left.

The grammar mirrors the GBNF one (``_engine.json_schema_grammar``): an
optional space before the value (the prompt ends at "Assistant:"), between
tokens one space or a new line with an indent of at most 20, objects closed
to keys their schema does not name.

llguidance is a dependency of the local backend; without it (an unusual
platform) the local backend falls back to GBNF.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from dramaturg.errors import ConfigError

__all__ = ["MaskProcessor", "Masks", "available", "grammar_for_schema"]


def available() -> bool:
    """Whether llguidance can be imported here."""
    try:
        import llguidance  # noqa: F401
    except ImportError:
        return False
    return True


def _close_objects(node: Any, depth: int = 0) -> Any:
    """Every object schema that names its properties and says nothing of others is closed.

    JSON Schema reads a missing ``additionalProperties`` as "anything else
    too", and a small model then invents keys until the token limit; llama.cpp's
    converter reads it as closed. This does the same.
    """
    if depth > 64:
        return node
    if isinstance(node, dict):
        out = {k: _close_objects(v, depth + 1) for k, v in node.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and "patternProperties" not in out
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_close_objects(v, depth + 1) for v in node]
    return node


def grammar_for_schema(schema: dict[str, Any]) -> str:
    """The llguidance grammar for ``schema``; :class:`ConfigError` if llguidance cannot use it."""
    import llguidance

    # lenient: keywords and string formats it does not know (pydantic writes "format": "path")
    # are ignored, as llama.cpp's converter ignores them.
    # Whitespace as the GBNF grammar allows it (_engine.JSON_SPACE_GBNF): one space, or a new line
    # and an indent of at most 20.
    options = {"lenient": True, "whitespace_pattern": r"( |\n[ \t]{0,20})?"}
    closed = _close_objects(schema)
    closed = {**closed, "x-guidance": {**options, **closed.get("x-guidance", {})}}
    grammar = llguidance.LLMatcher.grammar_from_lark(
        'start: " "? value\nvalue: %json ' + json.dumps(closed)
    )
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise ConfigError(
            f"this JSON schema cannot be turned into a token mask: {messages[0] if messages else '?'}"
        )
    return grammar


class Masks:
    """llguidance's tokenizer for one loaded model, and one compiled matcher per schema.

    Building the tokenizer from the model's 262k tokens takes about 1.5 s, once per
    process; compiling a schema 3-5 ms, once per schema; each call then gets a copy.
    """

    def __init__(self, llm: Any, pieces: list[bytes]) -> None:
        import ctypes

        import llama_cpp
        import llguidance

        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        # llguidance calls llama.cpp's own llama_tokenize (through this pointer) when it must
        # tokenize text, as llguidance.llamacpp.lltokenizer_from_vocab does.
        tokenize = ctypes.cast(llama_cpp.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
        self.tokenizer = llguidance.LLTokenizer.from_llamacpp(  # type: ignore[attr-defined]
            tokens=pieces,
            vocab_ptr=vocab,
            tokenize_fptr=tokenize,
            eos_token=llama_cpp.llama_vocab_eos(vocab),
            slices=None,
        )
        self.n_vocab = len(pieces)
        self.eos = int(llama_cpp.llama_vocab_eos(vocab))
        self._matchers: OrderedDict[str, Any] = OrderedDict()

    def processor(self, schema: dict[str, Any]) -> MaskProcessor:
        """A fresh logits processor for one generation under ``schema``."""
        import llguidance

        key = json.dumps(schema)  # property order matters: the grammar keeps the schema's order
        base = self._matchers.get(key)
        if base is None:
            base = llguidance.LLMatcher(self.tokenizer, grammar_for_schema(schema), log_level=0)
            if base.is_error():
                raise ConfigError(
                    f"this JSON schema cannot be turned into a token mask: {base.get_error()}"
                )
            self._matchers[key] = base
            if len(self._matchers) > 64:
                self._matchers.popitem(last=False)
        else:
            self._matchers.move_to_end(key)
        return MaskProcessor(base.deep_copy(), self.n_vocab, self.eos)


class MaskProcessor:
    """A llama-cpp-python logits processor that lets through only what the schema allows next.

    llama-cpp-python calls it once per sampled position with ``input_ids``
    (the prompt and everything generated so far) and the logits of every
    token in id order (it is the first sampler in the chain). The first call
    records the prompt's length; each later call feeds the matcher the tokens
    added since. Once the value is complete only end-of-text is allowed.
    """

    def __init__(self, matcher: Any, n_vocab: int, eos: int) -> None:
        import numpy as np

        self.matcher = matcher
        self.n_vocab = n_vocab
        self.eos = eos
        self._bits = np.zeros(((n_vocab + 31) // 32,), dtype=np.int32)
        self._seen: int | None = None
        #: whether the mask overruled the model's most likely token at some step: for greedy
        #: decoding, exactly "the free answer would not have fitted the schema".
        self.forced = False

    def prefeed(self, tokens: list[int]) -> bool:
        """Tell the matcher that ``tokens`` (the end of the prompt) are already written; False if refused."""
        return (
            all(self.matcher.consume_token(int(t)) for t in tokens) and not self.matcher.is_error()
        )

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np

        matcher = self.matcher
        if self._seen is None:
            self._seen = len(input_ids)
        else:
            for token in input_ids[self._seen :]:
                matcher.consume_token(int(token))
            self._seen = len(input_ids)
        if matcher.is_error():  # cannot happen for tokens it allowed; end the answer if it does
            scores[:] = -np.inf
            scores[self.eos] = 0.0
            return scores
        matcher.unsafe_compute_mask_ptr(self._bits.ctypes.data, self._bits.nbytes)
        allowed = np.unpackbits(self._bits.view(np.uint8), bitorder="little")[: self.n_vocab].view(
            np.bool_
        )
        if not self.forced and not allowed[int(np.argmax(scores))]:
            self.forced = True  # the model's own first choice was not allowed here
        scores[~allowed] = -np.inf
        return scores
