"""LoRA training, GGUF export and loading in llama.cpp, on a tiny random Gemma 3.

Must-hold 1: an adapter trained with transformers + PEFT and exported to GGUF
gives, in llama.cpp, the next-token logits transformers gives. Tolerance:
``max |logit_llama.cpp - logit_transformers| <= 1e-3 * max |logit|`` over every
position of the prompt, with F32 weights, adapter and KV cache (measured:
about 2e-4; the rest of the gap is llama.cpp's float16 GELU table). The
adapter must also move the logits by far more than that, so the comparison
cannot pass with the adapter ignored.

Must-hold 3: an adapter made for another base model, and a file that is not
an adapter, are refused with a clear error.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dramaturg.errors import ConfigError
from dramaturg.models import assistant, system, user
from dramaturg.models._gguf import read_gguf_metadata, read_gguf_tensors
from dramaturg.models.adapters import check_adapter_base
from dramaturg.training import SFTExample, export_lora_gguf, train_lora

from ._tiny import TINY, write_lora_adapter

TOLERANCE = 1e-3  # relative to the largest logit


def _examples(n: int = 6) -> list[SFTExample]:
    return [
        SFTExample(
            messages=[
                system("You play a text game.\nGoal: take the key"),
                user(f"You see a key {i}.\nCommands: take key {i}, look"),
                assistant(json.dumps({"command": f"take key {i}"})),
            ],
            game=f"g/{i}",
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_gguf, _tiny_loaded):
    """Four LoRA steps on the tiny model, exported to GGUF."""
    import copy

    from dramaturg.training import _base

    out = tmp_path_factory.mktemp("lora")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            _base,
            "load_base_model",
            lambda gguf, device="cpu", progress=False: copy.deepcopy(_tiny_loaded),
        )
        result = train_lora(
            _examples(), out=out / "run", base=tiny_gguf, steps=4, batch=3, lr=1e-2, progress=False
        )
    adapter = export_lora_gguf(result.adapter_dir, out / "tiny-lora.gguf")
    return result, adapter


def _llama_logits(model: Path, adapter: Path | None, text: str) -> tuple[list[int], np.ndarray]:
    from llama_cpp import Llama

    from dramaturg.models._engine import quiet_stderr as _quiet_stderr

    with _quiet_stderr():
        llm = Llama(
            model_path=str(model),
            lora_path=str(adapter) if adapter else None,
            n_ctx=128,
            n_threads=1,
            logits_all=True,
            type_k=0,
            type_v=0,
            flash_attn=False,
            verbose=False,
        )  # F32 KV cache
    try:
        ids = llm.tokenize(text.encode(), add_bos=True, special=True)
        llm.eval(ids)
        return ids, np.array(llm.scores[: len(ids)])
    finally:
        llm.close()


def test_llama_cpp_with_the_exported_adapter_agrees_with_transformers(trained, tiny_gguf):
    import torch

    result, adapter = trained
    # 16 tokens: longer than the sliding window (4), so the windowed attention is compared too.
    text = "You play a text game.\n\nUser: You see a key 3.\nAssistant: {"
    ids, with_adapter = _llama_logits(tiny_gguf, adapter, text)
    _, without = _llama_logits(tiny_gguf, None, text)
    assert len(ids) > TINY["window"] * 3
    model = result.model.eval()
    with torch.no_grad():
        hf = model(input_ids=torch.tensor([ids])).logits[0].numpy()
        with model.disable_adapter():
            hf_base = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    scale = float(np.abs(hf).max())
    tol = TOLERANCE * scale
    assert np.abs(without - hf_base).max() <= tol  # the base model itself is read alike
    assert np.abs(with_adapter - hf).max() <= tol
    change = np.abs(with_adapter - without).max()
    assert change > 100 * tol, f"the adapter barely changes the logits ({change:.4f})"
    assert np.abs(hf - hf_base).max() == pytest.approx(change, rel=0.05)


def test_training_reports_what_it_did(trained):
    result, _ = trained
    assert result.steps == 4 and result.examples == 6 and result.skipped == 0
    assert len(result.losses) == 4 and result.losses[-1] < result.losses[0]
    assert result.device == "cpu" and result.resumed_from == 0
    assert (result.adapter_dir / "adapter_config.json").is_file()
    assert not (result.adapter_dir.parent / "checkpoints").exists()  # cleaned up once finished


def test_the_exported_adapter_follows_llama_cpps_layout(trained, tiny_gguf):
    result, adapter = trained
    meta, shapes = read_gguf_tensors(adapter)
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora"
    assert meta["general.architecture"] == "gemma3" and meta["adapter.lora.alpha"] == 16.0
    assert meta["dramaturg.base.embedding_length"] == TINY["hidden"]
    assert meta["dramaturg.base.block_count"] == TINY["layers"]
    q_dim, kv_dim, r = TINY["heads"] * TINY["head_dim"], TINY["kv_heads"] * TINY["head_dim"], 8
    assert len(shapes) == TINY["layers"] * 4 * 2  # q, k, v, o: A and B each
    # ggml order (ne0 first): A is (in, rank), B is (rank, out).
    assert shapes["blk.1.attn_q.weight.lora_a"] == (TINY["hidden"], r)
    assert shapes["blk.1.attn_q.weight.lora_b"] == (r, q_dim)
    assert shapes["blk.0.attn_k.weight.lora_b"] == (r, kv_dim)
    assert shapes["blk.0.attn_output.weight.lora_a"] == (q_dim, r)
    check_adapter_base(adapter, base=tiny_gguf)  # fits its own base
    half = export_lora_gguf(result.adapter_dir, adapter.with_name("half.gguf"), dtype="f16")
    assert half.stat().st_size < 0.6 * adapter.stat().st_size


def test_an_adapter_for_another_base_model_is_refused(trained, real_base, tiny_gguf, tmp_path):
    result, adapter = trained
    with pytest.raises(ConfigError) as err:
        check_adapter_base(adapter, base=real_base)
    message = str(err.value)
    assert "trained on another base model" in message
    assert "64 wide, 2 layers" in message and "640 wide, 18 layers" in message
    with pytest.raises(ConfigError, match="was trained on gemma3 \\(64 wide"):
        export_lora_gguf(result.adapter_dir, tmp_path / "x.gguf", base_gguf=real_base)
    assert not (tmp_path / "x.gguf").exists()
    # An adapter from another tool (no identity recorded) is caught by its tensor shapes.
    foreign = write_lora_adapter(tmp_path / "foreign.gguf")
    check_adapter_base(foreign, base=tiny_gguf)
    with pytest.raises(ConfigError, match="does not fit the base model"):
        check_adapter_base(foreign, base=real_base)


def test_a_model_file_is_not_an_adapter(tiny_gguf, real_base, tmp_path):
    with pytest.raises(ConfigError, match="is not a LoRA adapter"):
        check_adapter_base(tiny_gguf, base=real_base)
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf at all")
    with pytest.raises(ConfigError, match="cannot read"):
        check_adapter_base(tmp_path / "junk.gguf", base=real_base)
    with pytest.raises(ConfigError, match="not a PEFT adapter folder"):
        export_lora_gguf(tmp_path, tmp_path / "y.gguf", base_gguf=tiny_gguf)


@pytest.mark.model
def test_the_local_backend_refuses_an_adapter_for_another_base(trained):
    from dramaturg.models import LocalModel

    _, adapter = trained
    with pytest.raises(ConfigError, match="another base model"):
        LocalModel(lora_path=adapter, n_ctx=256).load()  # load only: a call would crash the process


# ------------------------------------------------------------------ resuming
def test_a_stopped_run_resumes_from_its_last_checkpoint(tiny_base, tmp_path, monkeypatch):
    from dramaturg.training import lora

    settings = {
        "base": tiny_base,
        "steps": 5,
        "batch": 2,
        "lr": 1e-2,
        "save_every": 2,
        "progress": False,
    }
    straight = train_lora(_examples(), out=tmp_path / "straight", **settings)

    real_loss, calls = lora._loss, []

    def failing(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # killed during step 4: the checkpoint of step 2 is the last one
        return real_loss(*args)

    monkeypatch.setattr(lora, "_loss", failing)
    with pytest.raises(KeyboardInterrupt):
        train_lora(_examples(), out=tmp_path / "stopped", **settings)
    assert [p.name for p in (tmp_path / "stopped" / "checkpoints").iterdir()] == ["step-000002"]
    monkeypatch.setattr(lora, "_loss", real_loss)
    resumed = train_lora(_examples(), out=tmp_path / "stopped", **settings)
    assert resumed.resumed_from == 2 and resumed.steps == 5
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-5)

    from safetensors.numpy import load_file

    a = load_file(str(straight.adapter_dir / "adapter_model.safetensors"))
    b = load_file(str(resumed.adapter_dir / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=1e-6) for k in a)

    again = train_lora(
        _examples(), out=tmp_path / "stopped", **settings
    )  # finished: returns at once
    assert again.model is None and again.losses == resumed.losses
    with pytest.raises(ConfigError, match="holds a different training run"):
        train_lora(_examples(), out=tmp_path / "stopped", **{**settings, "lr": 5e-3})


def test_examples_longer_than_max_len_are_left_out_and_counted(tiny_base, tmp_path, capsys):
    long = SFTExample(
        messages=[user("word " * 400), assistant('{"command": "look"}')], game="g/long"
    )
    result = train_lora(
        [*_examples(2), long],
        out=tmp_path / "run",
        base=tiny_base,
        steps=1,
        max_len=128,
        progress=False,
    )
    assert (result.examples, result.skipped) == (2, 1)
    assert "LoRA step 1/1: loss" in capsys.readouterr().err  # without a bar, plain log lines
    with pytest.raises(ConfigError, match="fits in max_len=8"):
        train_lora(
            _examples(2), out=tmp_path / "run2", base=tiny_base, steps=1, max_len=8, progress=False
        )


def test_training_data_with_a_broken_line_names_it(tiny_base, tmp_path):
    from dramaturg.evals import DatasetError

    path = tmp_path / "data.jsonl"
    lines = [json.dumps(e.to_json()) for e in _examples(2)] + ['{"messages": [], "game": "g"}']
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="line 3, field 'messages'"):
        train_lora(path, out=tmp_path / "run", base=tiny_base, steps=1, progress=False)


def test_metadata_reader_sees_the_adapter_identity(trained):
    _, adapter = trained
    meta = read_gguf_metadata(adapter)
    assert len(meta["dramaturg.base.fingerprint"]) == 16


# ------------------------------------------------------------------ one base, many adapters
@pytest.mark.model
def test_adapters_share_one_base_and_are_swapped_per_call(trained, tiny_gguf, tmp_path):
    """Tool agents with different adapters share one llama.cpp model and context; each call
    sees exactly its own adapter (the logits a model loaded for that adapter alone gives)."""
    from dramaturg.models import LocalModel

    _, trained_adapter = trained
    other = write_lora_adapter(tmp_path / "other.gguf", seed=3)
    specs = [None, trained_adapter, other]
    msgs = [system("You play a text game."), user("You see a key 3.")]

    def logits(model: LocalModel) -> np.ndarray:
        """The next-token logits at the end of the prompt of a real call."""
        import llama_cpp

        model.complete_sync(msgs, max_tokens=1, temperature=0)
        llm = model.engine.llm
        row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).copy()

    # A different seed is a different engine: each of these has a context to itself.
    alone = [
        logits(LocalModel(tiny_gguf, lora_path=s, n_ctx=256, seed=100 + i))
        for i, s in enumerate(specs)
    ]
    shared = [LocalModel(tiny_gguf, lora_path=s, n_ctx=256, seed=7) for s in specs]
    assert shared[0].engine is shared[1].engine is shared[2].engine
    assert len(shared[0].engine.adapters) == 2
    for i in (1, 0, 2, 1, 2, 0, 0, 1):  # switching, and the same adapter twice running
        got = logits(shared[i])
        assert np.abs(got - alone[i]).max() < 1e-4, (
            f"a call with adapter {specs[i]} saw another one"
        )
    for a in range(3):  # the adapters move the logits, so a mix-up would show
        for b in range(a):
            assert np.abs(alone[a] - alone[b]).max() > 0.1
