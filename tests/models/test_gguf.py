from __future__ import annotations

import struct

import pytest

from dramaturg.errors import ConfigError
from dramaturg.models._gguf import read_gguf_metadata
from dramaturg.models._weights import default_weights
from dramaturg.models.adapters import check_adapter


def _write_gguf(path, kv: dict[str, str]) -> None:
    """A metadata-only GGUF (no tensors)."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, value in kv.items():
        body += s(key) + struct.pack("<I", 8) + s(value)
    path.write_bytes(body)


def test_reads_the_packaged_model_metadata():
    meta = read_gguf_metadata(default_weights())
    assert meta["general.architecture"] == "gemma3" and meta["general.type"] == "model"
    assert meta["gemma3.block_count"] == 18


def test_not_gguf_and_truncated_files_are_errors(tmp_path):
    (tmp_path / "a.gguf").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_gguf_metadata(tmp_path / "a.gguf")
    (tmp_path / "b.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 5))
    with pytest.raises(ValueError, match="end of file"):
        read_gguf_metadata(tmp_path / "b.gguf")


def test_an_adapter_for_another_base_model_is_refused(tmp_path):
    lora = tmp_path / "llama-lora.gguf"
    _write_gguf(
        lora, {"general.architecture": "llama", "general.type": "adapter", "adapter.type": "lora"}
    )
    with pytest.raises(ConfigError, match=r"made for a 'llama' model.*'gemma3'"):
        check_adapter(lora, base=default_weights())


def test_a_model_is_not_an_adapter(tmp_path):
    with pytest.raises(ConfigError, match="is not a LoRA adapter"):
        check_adapter(default_weights(), base=default_weights())
    with pytest.raises(ConfigError, match="not found"):
        check_adapter(tmp_path / "missing.gguf", base=default_weights())


def test_a_matching_adapter_header_passes(tmp_path):
    lora = tmp_path / "gemma-lora.gguf"
    _write_gguf(
        lora, {"general.architecture": "gemma3", "general.type": "adapter", "adapter.type": "lora"}
    )
    check_adapter(lora, base=default_weights())  # no error
