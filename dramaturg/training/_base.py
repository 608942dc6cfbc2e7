"""The base model for training, and examples as the tokens the local backend feeds it.

Two things must match inference exactly, or the adapter learns the wrong
task:

* The text: the prompt is rendered by the backend's own transcript renderer
  (:func:`dramaturg.models._prompt.render_prompt`) and the answer starts
  where :class:`~dramaturg.models.LocalModel` starts a structured answer: it
  appends ``" {"`` to the prompt and lets the model continue the object.
* The tokens: they come from llama.cpp's tokenizer of the same GGUF file
  (loaded vocabulary-only, in about a second), with the same flags the
  backend uses, not from a converted copy.

The model is loaded from the GGUF through transformers (``gguf_file=``),
dequantized to float32. One setting is corrected to match llama.cpp: Gemma 3
scales attention by ``head_dim ** -0.5`` (``n_embd / n_head`` for the 27B),
which llama.cpp derives from the shape while transformers' GGUF loader
leaves its default of 256 (the same for every released size but the 27B,
not for other shapes).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.models._prompt import render_prompt
from dramaturg.models.base import Message

__all__ = [
    "ANSWER_OPENER",
    "GGUFTokenizer",
    "encode_example",
    "inference_prompt",
    "load_base_model",
]

#: LocalModel writes a structured answer after "Assistant: " and starts an object with "{".
ANSWER_OPENER = " {"


def inference_prompt(messages: list[Message]) -> str:
    """The text the local backend gives the model for a structured call on ``messages``."""
    return render_prompt(messages, fmt="transcript")[0] + ANSWER_OPENER


class GGUFTokenizer:
    """llama.cpp's tokenizer of a GGUF file (vocabulary only, no weights)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise MissingExtraError(
                "llama-cpp-python", "local", "Tokenizing for training"
            ) from None
        from dramaturg.models._engine import quiet_stderr as _quiet_stderr

        with _quiet_stderr():
            self._llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.pad_id = 0  # padded positions are masked out, so any id works

    def encode(self, text: str, *, bos: bool, special: bool) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    def close(self) -> None:
        self._llm.close()


def encode_example(
    tok: GGUFTokenizer, messages: list[Message], *, max_len: int
) -> tuple[list[int], int] | None:
    """``(token ids, where the answer starts)`` for prompt + answer, or None when longer than ``max_len``.

    The prompt is tokenized exactly as the backend tokenizes it (with BOS,
    special tokens parsed); the answer (the JSON object after its opening
    brace) is tokenized on its own, as the model generates it.
    """
    answer = messages[-1]["content"]
    if not answer.startswith("{"):
        raise ConfigError(f"a training answer must be a JSON object, got {answer[:40]!r}")
    prompt_ids = tok.encode(inference_prompt(messages[:-1]), bos=True, special=True)
    answer_ids = tok.encode(answer[1:], bos=False, special=False)
    ids = prompt_ids + answer_ids
    if len(ids) > max_len:
        return None
    return ids, len(prompt_ids)


def load_base_model(
    gguf: str | os.PathLike[str], *, device: str = "cpu", progress: bool = False
) -> Any:
    """The GGUF's model in transformers, dequantized to float32, matched to llama.cpp."""
    try:
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise MissingExtraError("transformers", "train", "LoRA training") from None
    path = Path(gguf)
    if not path.is_file():
        raise ConfigError(f"base model not found: {path}")
    bars = hf_logging.is_progress_bar_enabled()
    with contextlib.ExitStack() as stack:
        if not progress:
            hf_logging.disable_progress_bar()
            stack.callback(hf_logging.enable_progress_bar if bars else lambda: None)
            stack.enter_context(_quiet_gguf_bar())
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=torch.float32
            )
        except (ValueError, OSError, KeyError) as exc:
            raise ConfigError(f"transformers could not load {path}: {exc}") from exc
    _match_llama_cpp(model)
    return model.to(device)


@contextlib.contextmanager
def _quiet_gguf_bar():
    """transformers' GGUF reader draws a bare tqdm bar that its progress setting does not reach."""
    import functools

    from transformers import modeling_gguf_pytorch_utils as reader

    bar = getattr(reader, "tqdm", None)
    if bar is None:
        yield
        return
    reader.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        reader.tqdm = bar


def _match_llama_cpp(model: Any) -> None:
    import torch

    for name, module in model.named_modules():
        if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) and not isinstance(
            module, torch.nn.Linear
        ):
            raise ConfigError(
                f"transformers kept {name} packed ({type(module).__name__}); LoRA needs plain float "
                "layers. Uninstall the `kernels` package, or pass a dequantized (F16/F32) GGUF as the base"
            )
    config = model.config
    if getattr(config, "model_type", "") != "gemma3_text":
        return
    # llama.cpp: the 27B (62 layers) scales by n_embd / n_head, every other size by head_dim.
    heads = config.num_attention_heads
    scalar = config.hidden_size // heads if config.num_hidden_layers == 62 else config.head_dim
    config.query_pre_attn_scalar = scalar
    for layer in model.model.layers:
        layer.self_attn.scaling = scalar**-0.5
