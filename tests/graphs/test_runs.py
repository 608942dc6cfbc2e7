"""GraphRun: a recorded, resumable run from Python (what `dramaturg run` shows live)."""

from __future__ import annotations

import json
from contextlib import aclosing

import pytest

from dramaturg.errors import ConfigError
from dramaturg.graphs import GraphRun
from dramaturg.graphs.runs import runs_dir


@pytest.fixture
def stand_in(monkeypatch):
    from dramaturg.models.loader import default_spec, parse_spec
    from dramaturg.testing import SchemaModel

    def load_model(spec=None, **kw):
        parse_spec(default_spec(spec))  # a bad spec fails as the real loader's does
        return SchemaModel()

    monkeypatch.setattr("dramaturg.models.load_model", load_model)


async def test_a_run_records_every_step_and_resumes_as_finished(_isolated_home, stand_in):
    run = GraphRun.start(graph="react", world="theatre/elsinore", model="local", max_steps=2)
    seen = []
    async with aclosing(run.updates()) as updates:
        async for node, _update in updates:
            seen.append(node)
    assert run.final["outcome"] == "max_steps" and seen
    logged = [json.loads(line)["node"] for line in (run.folder / "steps.jsonl").open()]
    assert logged == seen
    assert {"run.json", "steps.jsonl", "checkpoints.sqlite", "usage.json"} <= {
        p.name for p in run.folder.iterdir()
    }
    assert json.loads((run.folder / "run.json").read_text())["world"] == "theatre/elsinore"

    again = GraphRun.resume(run.run_id)
    await again.open()
    assert again.finished and again.final["outcome"] == run.final["outcome"]
    await again.close()


async def test_a_run_that_cannot_start_leaves_no_folder(_isolated_home, stand_in):
    run = GraphRun.start(graph="react", world="nowhere/at-all")
    with pytest.raises(ConfigError, match="unknown world id"):
        await run.open()
    assert not run.folder.exists() and list(runs_dir().iterdir()) == []


async def test_leaving_the_loop_early_keeps_the_steps_and_closes_the_run(_isolated_home, stand_in):
    run = GraphRun.start(graph="react", world="theatre/elsinore", max_steps=3)
    async with aclosing(run.updates()) as updates:
        async for _ in updates:
            break
    assert run.folder.is_dir() and (run.folder / "steps.jsonl").read_text()
    assert run._stack is None  # checkpointer and world closed


def test_bad_requests_are_refused_before_a_folder_exists(_isolated_home):
    with pytest.raises(ConfigError, match="unknown graph"):
        GraphRun.start(graph="dag", world="theatre/elsinore")
    with pytest.raises(ConfigError, match="needs --task"):
        GraphRun.start(graph="workforce")
    with pytest.raises(ConfigError, match="acts in a world"):
        GraphRun.start(graph="embodied")
    with pytest.raises(ConfigError, match="no run 'nope'"):
        GraphRun.resume("nope")
    assert list(runs_dir().iterdir()) == []
