"""A tiny, randomly initialised Gemma-3-shaped GGUF for the training tests.

It has the real Gemma 3 vocabulary and tokenizer (copied from the packaged
270M GGUF), so llama.cpp loads it and tokenizes exactly as it does the real
model, but only 2 layers of width 64: training a few LoRA steps and comparing
llama.cpp with transformers takes seconds, not minutes.

Gemma's conventions in GGUF, which both loaders undo or apply the same way:
RMS norm weights are stored as ``1 + w`` (llama.cpp multiplies by the stored
value; transformers' GGUF loader subtracts 1 again), and tensors are written
in PyTorch orientation (``(out, in)``), which the writer reverses into
ggml's ``ne`` order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dramaturg.models._gguf import read_gguf_metadata

__all__ = ["TINY", "write_lora_adapter", "write_tiny_gemma3"]

#: The tiny model's shape (every layer is a sliding-window one: Gemma 3 makes
#: every sixth layer global, and there are only two).
TINY = {
    "hidden": 64,
    "layers": 2,
    "heads": 4,
    "kv_heads": 1,
    "head_dim": 16,
    "ffn": 128,
    "window": 4,
}

_TOKENIZER_KEYS = ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id")
_TOKENIZER_FLAGS = ("add_bos_token", "add_eos_token", "add_sep_token", "add_space_prefix")


def write_tiny_gemma3(path: Path, *, vocab_from: Path, seed: int = 0, **shape: int) -> Path:
    """Write a random Gemma 3 model with ``vocab_from``'s tokenizer to ``path`` (F32 tensors)."""
    import gguf

    dims = {**TINY, **shape}
    meta = read_gguf_metadata(vocab_from, keep_arrays=True)
    rng = np.random.default_rng(seed)
    hidden, hd, ffn = dims["hidden"], dims["head_dim"], dims["ffn"]
    q_dim, kv_dim = dims["heads"] * hd, dims["kv_heads"] * hd

    def dense(out: int, inp: int) -> np.ndarray:
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    def norm(n: int) -> np.ndarray:  # stored as 1 + w
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name("tiny gemma3 (random)")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(2048)
    writer.add_embedding_length(hidden)
    writer.add_block_count(dims["layers"])
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(dims["heads"])
    writer.add_head_count_kv(dims["kv_heads"])
    writer.add_key_length(hd)
    writer.add_value_length(hd)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_sliding_window(dims["window"])
    writer.add_tokenizer_model(meta["tokenizer.ggml.model"])
    writer.add_tokenizer_pre(meta["tokenizer.ggml.pre"])
    writer.add_token_list(meta["tokenizer.ggml.tokens"])
    writer.add_token_scores(meta["tokenizer.ggml.scores"])
    writer.add_token_types(meta["tokenizer.ggml.token_type"])
    for key in _TOKENIZER_KEYS:
        writer.add_uint32(f"tokenizer.ggml.{key}", meta[f"tokenizer.ggml.{key}"])
    for key in _TOKENIZER_FLAGS:
        writer.add_bool(f"tokenizer.ggml.{key}", meta[f"tokenizer.ggml.{key}"])
    vocab = len(meta["tokenizer.ggml.tokens"])
    # Tied output: the embedding is also the output matrix; 0.3 gives logits of a few units.
    writer.add_tensor(
        "token_embd.weight", (0.3 * rng.standard_normal((vocab, hidden))).astype(np.float32)
    )
    writer.add_tensor("output_norm.weight", norm(hidden))
    for i in range(dims["layers"]):
        blk = f"blk.{i}."
        writer.add_tensor(blk + "attn_norm.weight", norm(hidden))
        writer.add_tensor(blk + "attn_q.weight", dense(q_dim, hidden))
        writer.add_tensor(blk + "attn_k.weight", dense(kv_dim, hidden))
        writer.add_tensor(blk + "attn_v.weight", dense(kv_dim, hidden))
        writer.add_tensor(blk + "attn_q_norm.weight", norm(hd))
        writer.add_tensor(blk + "attn_k_norm.weight", norm(hd))
        writer.add_tensor(blk + "attn_output.weight", dense(hidden, q_dim))
        writer.add_tensor(blk + "post_attention_norm.weight", norm(hidden))
        writer.add_tensor(blk + "ffn_norm.weight", norm(hidden))
        writer.add_tensor(blk + "ffn_gate.weight", dense(ffn, hidden))
        writer.add_tensor(blk + "ffn_up.weight", dense(ffn, hidden))
        writer.add_tensor(blk + "ffn_down.weight", dense(hidden, ffn))
        writer.add_tensor(blk + "post_ffw_norm.weight", norm(hidden))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_lora_adapter(
    path: Path, *, rank: int = 4, seed: int = 0, meta: dict[str, int] | None = None, **shape: int
) -> Path:
    """A GGUF LoRA adapter for the tiny model's q projections, as another tool would write it
    (no ``dramaturg.base.*`` identity keys; ``meta``: more integer keys)."""
    import gguf

    dims = {**TINY, **shape}
    rng = np.random.default_rng(seed)
    hidden, q_dim = dims["hidden"], dims["heads"] * dims["head_dim"]
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(rank))
    for key, value in (meta or {}).items():
        writer.add_uint32(key, value)
    for i in range(dims["layers"]):
        writer.add_tensor(
            f"blk.{i}.attn_q.weight.lora_a", rng.standard_normal((rank, hidden)).astype(np.float32)
        )
        writer.add_tensor(
            f"blk.{i}.attn_q.weight.lora_b", rng.standard_normal((q_dim, rank)).astype(np.float32)
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
