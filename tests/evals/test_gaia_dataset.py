"""The bundled GAIA-style dataset: well-formed, reproducible, and answerable from what it points to.

Its generator is a maintainer's script (``scripts/build_gaia.py``), not part of the package.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from dramaturg.evals.gaia import bundled_gaia_dir, gaia_score, load_gaia
from dramaturg.tools.files import FileReader
from dramaturg.worlds import make_world

DATA = bundled_gaia_dir()
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_gaia.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_gaia", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tasks():
    return load_gaia(DATA)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """The generator's output in a fresh folder, and its questions (with evidence)."""
    out = tmp_path_factory.mktemp("gaia-style")
    return out, _load_script().build(out)


def test_bundled_dataset_is_well_formed(tasks):
    assert len(tasks) >= 60
    levels = Counter(t["Level"] for t in tasks)
    assert set(levels) == {1, 2, 3}
    assert levels[1] >= 20 and levels[2] >= 18 and levels[3] >= 10
    assert len({t["task_id"] for t in tasks}) == len(tasks)
    assert len({t["Question"] for t in tasks}) == len(tasks)


def test_every_file_is_readable_by_the_file_reader(tasks):
    reader = FileReader(DATA)
    named = {t["file_name"] for t in tasks if t["file_name"]}
    kinds = Counter(name.rsplit(".", 1)[-1] for name in named)
    assert all(kinds[k] >= 3 for k in ("txt", "csv", "json", "xlsx", "pdf")), kinds
    for name in sorted(named):
        text = reader.read(name)
        assert len(text) > 80, name
        assert "truncated" not in text and "more rows not shown" not in text, name
    on_disk = {f"files/{p.name}" for p in (DATA / "files").iterdir()}
    assert on_disk == named  # no orphan files
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 300_000


def test_answers_are_written_gaia_style(tasks):
    for t in tasks:
        answer = t["Final answer"]
        assert answer and answer == answer.strip(), t["task_id"]
        assert gaia_score(answer, answer), answer
        bare = answer.replace("$", "").replace("%", "").replace(",", "")
        try:
            float(bare)
        except ValueError:
            continue
        # a number must be written bare, or GAIA's scorer would not read it as one
        float(answer)


def test_bundled_folder_matches_the_generator(rebuilt):
    out, _ = rebuilt
    assert (out / "metadata.jsonl").read_text() == (DATA / "metadata.jsonl").read_text()
    assert (out / "README.md").read_text() == (DATA / "README.md").read_text()
    fresh, bundled = FileReader(out), FileReader(DATA)
    names = sorted(p.name for p in (out / "files").iterdir())
    assert names == sorted(p.name for p in (DATA / "files").iterdir())
    for name in names:
        assert fresh.read(f"files/{name}") == bundled.read(f"files/{name}"), name


def test_the_script_runs_from_the_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"to {tmp_path}" in done.stdout
    assert (tmp_path / "metadata.jsonl").read_bytes() == (DATA / "metadata.jsonl").read_bytes()


def test_generator_questions_match_the_metadata(rebuilt, tasks):
    _, questions = rebuilt
    assert [q.record() for q in questions] == [
        json.loads(line) for line in (DATA / "metadata.jsonl").read_text().splitlines()
    ]
    by_id = {t["task_id"]: t for t in tasks}
    for q in questions:
        assert by_id[q.task_id]["Final answer"] == q.answer
        assert q.evidence, q.key


def test_file_evidence_is_visible_to_the_file_reader(rebuilt):
    _, questions = rebuilt
    reader = FileReader(DATA / "files")
    texts: dict[str, str] = {}
    checked = 0
    for q in questions:
        for source, snippet in q.evidence:
            if source.startswith("/"):
                continue
            assert source == q.file, q.key  # evidence comes from the task's own file
            if source not in texts:
                texts[source] = _flat(reader.read(source))
            assert _flat(snippet) in texts[source], (q.key, source, snippet)
            checked += 1
    assert checked >= 100


def test_web_questions_name_the_site(rebuilt):
    _, questions = rebuilt
    web = [q for q in questions if q.web]
    assert 12 <= len(web) <= 20
    assert {q.level for q in web} == {1, 2, 3}
    for q in web:
        paths = [s for s, _ in q.evidence if s.startswith("/")]
        if any(p.startswith("/wiki/") for p in paths):
            assert "the local wiki" in q.question.lower(), q.key
        if any(p.startswith("/shop/") for p in paths):
            assert "the local shop" in q.question.lower(), q.key
    for q in questions:
        if not q.web:
            assert "local wiki" not in q.question and "local shop" not in q.question, q.key
            assert q.file, q.key


def test_web_evidence_is_served_after_reset_seed_0(rebuilt):
    _, questions = rebuilt
    needed = {
        (s, snippet) for q in questions if q.web for s, snippet in q.evidence if s.startswith("/")
    }
    assert len(needed) >= 15
    seen: dict[str, str] = {}
    with (
        make_world("web/wiki", page_lines=2000) as wiki,
        make_world("web/shop", page_lines=2000) as shop,
    ):
        wiki.reset(seed=0)
        shop.reset(seed=0)
        for path, snippet in sorted(needed):
            world = wiki if path.startswith("/wiki/") else shop
            if path not in seen:
                obs, *_, info = world.step(f"goto {path}")
                assert info["error"] is None and "HTTP status" not in obs, obs
                seen[path] = _flat(obs)
            assert _flat(snippet) in seen[path], (path, snippet)
