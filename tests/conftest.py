"""Fixtures shared by the whole suite.

Every test runs with the network blocked (only loopback is reachable), with
litellm told to use its bundled cost map instead of fetching one, and with
dramaturg's home folder in a temporary directory so tests never touch a
user's cache or sessions. The embedded model's weights are the one thing
shared across tests: they are large and read-only.
"""

from __future__ import annotations

import os

import pytest

from dramaturg.testing import block_network

# Before anything imports litellm: never fetch the remote cost map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _no_network():
    with block_network():
        yield


@pytest.fixture(autouse=True)
def _no_shipped_adapters(monkeypatch):
    """Tests see no shipped adapter unless they ask for them (the ``shipped`` fixture): what a
    test plays must not change when a better adapter ships."""
    monkeypatch.setenv("DRAMATURG_NO_SHIPPED_ADAPTERS", "1")  # worker processes inherit it


@pytest.fixture
def shipped(monkeypatch):
    """The adapters that ship with the package, as users get them."""
    from dramaturg.models import adapters

    monkeypatch.delenv("DRAMATURG_NO_SHIPPED_ADAPTERS")
    return adapters.SHIPPED_DIR


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "dramaturg-home"
    monkeypatch.setenv("DRAMATURG_HOME", str(home))
    # The assembled GGUF is kept in the real cache so each test does not
    # re-assemble 250 MB; it is verified by sha256 on first use.
    yield home
