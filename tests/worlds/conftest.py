"""Fixtures for the worlds tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def games_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One game cache for the whole run: generated games are reused across tests,
    never taken from (or left in) the user's cache."""
    path = tmp_path_factory.mktemp("games-cache")
    return path


@pytest.fixture(autouse=True)
def _games_cache_env(games_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAMATURG_CACHE", str(games_cache))
