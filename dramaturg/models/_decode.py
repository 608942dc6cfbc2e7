"""One generation on a loaded llama.cpp context: streamed, watched, bounded in time.

Token healing (:func:`heal`), the JSON watch that stops an answer as soon as
it closes or loops (``JsonEnd``), a first-token restriction and an optional
token mask or GBNF grammar all apply to the same stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dramaturg.errors import ModelError
from dramaturg.models._json import JsonEnd

__all__ = ["Run", "answer_opener", "common_prefix", "generate", "heal"]


@dataclass(kw_only=True, slots=True)
class Run:
    text: str = ""
    n_generated: int = 0
    finish_reason: str = "stop"
    ttft: float | None = None
    wasted: bool = False


def answer_opener(schema: dict[str, Any]) -> str:
    """How an answer to ``schema`` starts, after the prompt's "Assistant:"."""
    return {"object": " {", "array": " ["}.get(str(schema.get("type")), "")


def heal(engine: Any, text: str, *, enabled: bool = True) -> tuple[list[int], Any, int]:
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


def generate(
    llm: Any,
    tokens: list[int],
    max_tokens: int,
    sampling: dict[str, Any],
    stops: list[str],
    *,
    deadline: float | None = None,
    scanner: JsonEnd | None = None,
    grammar: Any = None,
    processor: Any = None,
    opener: str = "",
    first_pieces: Any = None,
    skip: int = 0,
) -> Run:
    """One streamed generation.

    With a ``scanner``, it stops where the JSON value closes, and stops early
    (``finish_reason`` ``"loop"``) when the value cannot be used: not JSON,
    too long, or repeating itself. ``opener`` is text already placed at the
    end of the prompt as the start of the answer; it is counted as part of
    the answer. ``first_pieces`` (token ids) restricts the first token, and
    the first ``skip`` characters generated are the prompt's own (token
    healing, see :func:`heal`). ``processor`` is a token mask
    (:class:`~dramaturg.models._mask.MaskProcessor`), the fast alternative to
    a GBNF ``grammar``. Past ``deadline`` (``time.perf_counter()``)
    the run stops with ``finish_reason`` ``"timeout"``.
    """
    started = time.perf_counter()
    run = Run(finish_reason="length")
    pieces: list[str] = [opener] if opener else []
    if scanner is not None and opener:
        scanner.feed(opener)
    processors = [
        p
        for p in (_FirstTokenOnly(first_pieces) if first_pieces is not None else None, processor)
        if p
    ]
    try:
        stream = llm.create_completion(
            tokens,
            max_tokens=max_tokens,
            stop=stops or None,
            grammar=grammar,
            stream=True,
            logits_processor=processors or None,
            **sampling,
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


def common_prefix(llm: Any, tokens: list[int]) -> int:
    """How many leading prompt tokens are already in the KV cache."""
    n = 0
    for a, b in zip(llm._input_ids[: llm.n_tokens], tokens, strict=False):
        if a != b:
            break
        n += 1
    return n
