"""Fixtures for the graph tests: a real PostgreSQL server for the checkpointer."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from ._pg import postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a database on a private PostgreSQL server on 127.0.0.1, shared by the session."""
    if importlib.util.find_spec("langgraph.checkpoint.postgres") is None:
        pytest.fail(
            'langgraph-checkpoint-postgres is not installed; pip install "dramaturg[postgres]"',
            pytrace=False,
        )
    with postgres_server() as url:
        yield url
